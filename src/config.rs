//! `compass.toml`: the configuration of `compass run` and `compass worker --simulated`.
//!
//! One TOML file; every key can be overridden by an environment variable
//! `COMPASS__SECTION__KEY` (for example `COMPASS__PLANNER__EPOCH_MS=250`). Values from the
//! environment are read as TOML values when they parse as one (numbers, booleans) and as
//! strings otherwise. The `[kafka]` section is passed to librdkafka verbatim; dotted keys
//! may be written bare (`security.protocol = "SASL_SSL"`), and in its environment overrides
//! `_` stands for `.` (`COMPASS__KAFKA__SASL_MECHANISM` sets `sasl.mechanism`), since
//! librdkafka's property names have dots and no underscores.

use std::collections::BTreeMap;
use std::path::Path;

use compass_connectors::kafka::KafkaSettings;
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// librdkafka properties, verbatim (`bootstrap.servers` is required).
    pub kafka: BTreeMap<String, String>,
    pub topics: TopicsConfig,
    pub planner: PlannerConfig,
    pub metrics: MetricsConfig,
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Prefix of every topic name in the catalogue.
    pub prefix: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            prefix: "compass.".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerConfig {
    /// Consumer group the planner commits its input offsets for.
    pub group: String,
    /// Timely worker threads in this process.
    pub workers: usize,
    /// Processes in the timely cluster (1: this process alone).
    pub processes: usize,
    /// This process's index in the cluster, `0..processes`.
    pub process: usize,
    /// File with one `host:port` per line, one line per process in index order (needed
    /// when `processes > 1`).
    pub hostfile: String,
    /// Epoch length: records are batched by event time into epochs of this many ms.
    pub epoch_ms: u64,
    /// How long an idle, caught-up partition waits for late records before the epoch
    /// closes without them (a record later than this joins the open epoch).
    pub lateness_ms: u64,
    /// Matching partitions (1: one global matching).
    pub partitions: u32,
    /// Solve a matching partition in full at every this many matchings (and whenever its
    /// machines change); in between only repair it (1: always in full).
    pub full_every: u32,
    /// A server that sends no telemetry for this long (event time) is declared lost and its
    /// queries re-planned; 0 never declares one lost (telemetry then only reports changes).
    pub machine_timeout_ms: u64,
    /// Serve every query at least cost instead of maximizing goodput.
    pub cost_mode: bool,
    /// Hardware class that profile requests ask for.
    pub profile_class: String,
    /// Inputs measured per profile request.
    pub profile_inputs: i32,
    /// Profile requests a cluster's search has out at once (batched proposals).
    pub profile_batch: usize,
    /// Most rounds of `profile_inputs` inputs a candidate's configuration is measured in
    /// while its accuracy interval straddles the SLO threshold (precision-aware profiling);
    /// 1: one round, whatever it shows.
    pub profile_rounds: u64,
    /// Tell each cluster's search its configurations' accuracy standard errors (known noise
    /// for the accuracy surrogate).
    pub known_noise: bool,
    /// GPU shares a DNN operator may hold, each in (0, 1]; every share multiplies the plans
    /// a search weighs. A finer grid packs more queries onto contended GPUs and serves at
    /// lower cost, but picks plans closer to their latency SLO and matches more slowly
    /// (BENCHMARKS.md, seventeenth session).
    pub gpu_shares: Vec<f64>,
    /// Stop once every input partition has been read to its end and every epoch is closed
    /// (batch replays and tests); a service leaves this off.
    pub exit_when_caught_up: bool,
    /// Speed of each hardware class relative to the reference GPU; absent classes take the
    /// testbed's published figures.
    pub hardware_speed: BTreeMap<String, f64>,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            group: "compass-planner".into(),
            workers: 1,
            processes: 1,
            process: 0,
            hostfile: String::new(),
            epoch_ms: 100,
            lateness_ms: 200,
            partitions: 1,
            full_every: 10,
            machine_timeout_ms: 0,
            cost_mode: false,
            profile_class: crate::embedded::PROFILE_CLASS.into(),
            profile_inputs: 16,
            profile_batch: 1,
            profile_rounds: 1,
            known_noise: false,
            gpu_shares: compass_planners::online::search::OnlineSettings::default().shares,
            exit_when_caught_up: false,
            hardware_speed: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the Prometheus endpoint; empty turns it off.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

/// Size limits on input records; a record over one goes to the dead-letter topic with the
/// limit it broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest record value, in bytes.
    pub max_record_bytes: usize,
    /// Largest knob space (plans) of one application.
    pub max_knob_space: u64,
    /// Most operators in one application's pipeline.
    pub max_operators: usize,
    /// Longest identifier, in bytes.
    pub max_id_len: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = compass_schemas::Limits::default();
        LimitsConfig {
            max_record_bytes: 1 << 20,
            max_knob_space: u64::try_from(l.max_knob_space).unwrap_or(u64::MAX),
            max_operators: l.max_operators,
            max_id_len: l.max_id_len,
        }
    }
}

impl LimitsConfig {
    /// The validator's limits.
    pub fn schema_limits(&self) -> compass_schemas::Limits {
        compass_schemas::Limits {
            max_knob_space: u128::from(self.max_knob_space),
            max_operators: self.max_operators,
            max_id_len: self.max_id_len,
        }
    }
}

impl Config {
    /// Read `path` (or only defaults, if `None`), then apply `env` overrides.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|source| ConfigError::Parse {
                        path: p.display().to_string(),
                        source: Box::new(source),
                    })?
            }
            None => toml::Table::new(),
        };
        if let Some(toml::Value::Table(k)) = table.get_mut("kafka") {
            *k = flatten(k);
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("COMPASS__") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                return Err(ConfigError::Invalid(format!(
                    "environment variable {name}: expected COMPASS__SECTION__KEY"
                )));
            };
            let section = section.to_ascii_lowercase();
            let mut key = key.to_ascii_lowercase();
            let value = if section == "kafka" {
                key = key.replace('_', ".");
                toml::Value::String(value)
            } else {
                parse_value(&value)
            };
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => {
                    t.insert(key, value);
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "environment variable {name}: `{section}` is not a section"
                    )))
                }
            }
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let p = &self.planner;
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if p.workers == 0 {
            return bad("planner.workers must be at least 1");
        }
        if p.processes == 0 {
            return bad("planner.processes must be at least 1");
        }
        if p.epoch_ms == 0 {
            return bad("planner.epoch_ms must be at least 1");
        }
        if p.profile_batch == 0 {
            return bad("planner.profile_batch must be at least 1");
        }
        if p.full_every == 0 {
            return bad("planner.full_every must be at least 1");
        }
        if p.partitions == 0 {
            return bad("planner.partitions must be at least 1");
        }
        let l = &self.limits;
        if l.max_record_bytes == 0
            || l.max_knob_space == 0
            || l.max_operators == 0
            || l.max_id_len == 0
        {
            return bad("every [limits] value must be at least 1");
        }
        if l.max_record_bytes > compass_connectors::codec::MAX_DECODE_ALLOCATION {
            return Err(ConfigError::Invalid(format!(
                "limits.max_record_bytes = {}: at most {} (the decoder's allocation limit)",
                l.max_record_bytes,
                compass_connectors::codec::MAX_DECODE_ALLOCATION
            )));
        }
        let valid = compass_planners::model::valid_gpu_share;
        if p.gpu_shares.is_empty() || !p.gpu_shares.iter().all(|&s| valid(s)) {
            return Err(ConfigError::Invalid(format!(
                "planner.gpu_shares = {:?}: give at least one share, each in (0, 1]",
                p.gpu_shares
            )));
        }
        if p.profile_inputs <= 0 {
            return bad("planner.profile_inputs must be positive");
        }
        if let Some((k, v)) = p
            .hardware_speed
            .iter()
            .find(|(_, v)| !(v.is_finite() && **v > 0.0))
        {
            return Err(ConfigError::Invalid(format!(
                "planner.hardware_speed.{k} = {v}: a speed must be a positive number"
            )));
        }
        Ok(())
    }

    /// The Kafka client settings: `bootstrap.servers` plus every other property.
    pub fn kafka_settings(&self) -> KafkaSettings {
        let brokers = self
            .kafka
            .get("bootstrap.servers")
            .cloned()
            .unwrap_or_else(|| "127.0.0.1:9092".into());
        let mut s = KafkaSettings::new(brokers);
        for (k, v) in self.kafka.iter().filter(|(k, _)| *k != "bootstrap.servers") {
            s = s.with(k, v);
        }
        s
    }
}

/// `a.b = "x"` is a nested table in TOML; librdkafka wants `"a.b"`. Leaves become strings.
fn flatten(t: &toml::Table) -> toml::Table {
    fn walk(prefix: &str, v: &toml::Value, out: &mut toml::Table) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            toml::Value::String(s) => {
                out.insert(prefix.to_string(), toml::Value::String(s.clone()));
            }
            other => {
                out.insert(prefix.to_string(), toml::Value::String(other.to_string()));
            }
        }
    }
    let mut out = toml::Table::new();
    walk("", &toml::Value::Table(t.clone()), &mut out);
    out
}

fn parse_value(s: &str) -> toml::Value {
    format!("v = {s}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::Temp {
        tempfile_path::Temp::new(text)
    }

    /// A file under the target directory that removes itself.
    mod tempfile_path {
        pub struct Temp(pub std::path::PathBuf);
        impl Temp {
            pub fn new(text: &str) -> Self {
                let dir = std::env::temp_dir();
                let p = dir.join(format!(
                    "compass-config-{}-{:?}.toml",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::write(&p, text).expect("write temp config");
                Temp(p)
            }
        }
        impl Drop for Temp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn file_then_environment_and_dotted_kafka_keys() {
        let f = write(
            "[kafka]\nbootstrap.servers = \"b:9092\"\nsecurity.protocol = \"SASL_SSL\"\nlinger.ms = 7\n\
             [planner]\nepoch_ms = 200\nworkers = 2\n",
        );
        let env = vec![
            ("COMPASS__PLANNER__EPOCH_MS".to_string(), "250".to_string()),
            ("COMPASS__PLANNER__COST_MODE".into(), "true".into()),
            ("COMPASS__TOPICS__PREFIX".into(), "t.".into()),
            ("COMPASS__KAFKA__SASL_MECHANISM".into(), "PLAIN".into()),
            ("OTHER".into(), "x".into()),
        ];
        let c = Config::load(Some(&f.0), env).expect("valid");
        assert_eq!(c.planner.epoch_ms, 250);
        assert_eq!(c.planner.workers, 2);
        assert!(c.planner.cost_mode);
        assert_eq!(c.topics.prefix, "t.");
        let k = c.kafka_settings();
        assert_eq!(k.brokers, "b:9092");
        assert_eq!(k.properties["security.protocol"], "SASL_SSL");
        assert_eq!(k.properties["sasl.mechanism"], "PLAIN");
        assert_eq!(k.properties["linger.ms"], "7");
    }

    #[test]
    fn the_example_file_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("compass.example.toml");
        let c = Config::load(Some(&path), vec![]).expect("the example parses");
        assert_eq!(c.planner, PlannerConfig::default());
        assert_eq!(c.topics, TopicsConfig::default());
        assert_eq!(c.metrics, MetricsConfig::default());
        assert_eq!(c.kafka_settings().brokers, "127.0.0.1:9092");
    }

    #[test]
    fn the_low_latency_file_parses_to_what_it_says() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/local/low-latency.toml");
        let c = Config::load(Some(&path), vec![]).expect("the file parses");
        assert_eq!((c.planner.epoch_ms, c.planner.lateness_ms), (5, 5));
        let k = c.kafka_settings();
        assert_eq!(k.properties["fetch.wait.max.ms"], "1");
        assert_eq!(k.properties["linger.ms"], "1");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let f = write("[planner]\nepoch_msec = 5\n");
        let e = Config::load(Some(&f.0), vec![]).expect_err("unknown key");
        assert!(e.to_string().contains("epoch_msec"), "{e}");
        let e = Config::load(None, vec![("COMPASS__PLANNER__WORKERS".into(), "0".into())])
            .expect_err("zero workers");
        assert!(e.to_string().contains("workers"), "{e}");
        let e =
            Config::load(None, vec![("COMPASS__PLANNER".into(), "1".into())]).expect_err("no key");
        assert!(e.to_string().contains("COMPASS__SECTION__KEY"), "{e}");
        for bad in ["[]", "[0.0, 1.0]", "[0.5, 1.5]"] {
            let e = Config::load(
                None,
                vec![("COMPASS__PLANNER__GPU_SHARES".into(), bad.into())],
            )
            .expect_err(bad);
            assert!(e.to_string().contains("gpu_shares"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_share_grid_is_a_list_in_the_file_and_the_environment() {
        let f = write("[planner]\ngpu_shares = [0.5, 1.0]\n");
        let c = Config::load(Some(&f.0), vec![]).expect("valid");
        assert_eq!(c.planner.gpu_shares, vec![0.5, 1.0]);
        let env = vec![(
            "COMPASS__PLANNER__GPU_SHARES".to_string(),
            "[0.125, 0.25, 0.5, 1.0]".to_string(),
        )];
        let c = Config::load(Some(&f.0), env).expect("valid");
        assert_eq!(c.planner.gpu_shares, vec![0.125, 0.25, 0.5, 1.0]);
    }
}
