//! Application files (`testbed/apps/*.toml`): an application's operators and knobs, the
//! ground truth of every knob choice with the source of its number, data strata, the noise
//! model, and the SLO classes of the workload. A new application needs only a new file.
//!
//! Per operator, exactly one knob is its *base*: every choice gives the operator's latency
//! on the reference GPU (`latency_ms`). Other knobs scale latencies (`latency_factor`, per
//! operator name). Per application, exactly one knob gives absolute accuracy per stratum
//! (`accuracy`); other knobs shift it (`accuracy_delta`, per stratum or `"*"` for all).

use std::collections::BTreeMap;
use std::path::Path;

use compass_schemas::{
    Application, Knob, KnobChoice, Operator, OperatorKind, QuerySpec, Slo, Tier,
};
use serde::Deserialize;

/// The applications shipped with the testbed, compiled in.
pub const BUILTIN: [(&str, &str); 6] = [
    (
        "speech-recognition.toml",
        include_str!("../apps/speech-recognition.toml"),
    ),
    (
        "visual-tracking.toml",
        include_str!("../apps/visual-tracking.toml"),
    ),
    ("video-qa.toml", include_str!("../apps/video-qa.toml")),
    (
        "dense-video-captioning.toml",
        include_str!("../apps/dense-video-captioning.toml"),
    ),
    (
        "code-generation.toml",
        include_str!("../apps/code-generation.toml"),
    ),
    (
        "live-video-chat.toml",
        include_str!("../apps/live-video-chat.toml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: {detail}")]
    Parse { file: String, detail: String },
    #[error("{file}: {detail}")]
    Invalid { file: String, detail: String },
    #[error("cannot read {file}: {detail}")]
    Io { file: String, detail: String },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub app_id: String,
    pub description: String,
    pub accuracy_metric: String,
    pub higher_is_better: bool,
    pub accuracy_range: [f64; 2],
    /// Input items per second of one query.
    pub rate_per_s: f64,
    pub noise: Noise,
    pub strata: Vec<Stratum>,
    pub slo_class: Vec<SloClass>,
    pub operators: Vec<OperatorSpec>,
}

/// Per-input variation around the ground truth.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Coefficient of variation of an operator's latency per input (log-normal).
    pub latency_cv: f64,
    /// Standard deviation of the per-input accuracy score around its stratum mean.
    pub accuracy_sd: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stratum {
    pub name: String,
    /// Share of the application's inputs from this stratum.
    pub weight: f64,
    pub source: String,
}

/// A kind of query in the workload, with its SLOs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloClass {
    pub name: String,
    pub weight: f64,
    pub latency_ms: f64,
    pub accuracy_threshold: Option<f64>,
    pub max_cost_usd_per_hour: Option<f64>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    pub name: String,
    pub kind: OperatorKind,
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub inputs: Vec<String>,
    pub knobs: Vec<KnobSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobSpec {
    pub name: String,
    pub choices: Vec<ChoiceSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceSpec {
    pub value: String,
    /// Latency of this knob's operator on the reference GPU, ms (base knobs only).
    pub latency_ms: Option<f64>,
    /// Multipliers of operators' latencies, by operator name.
    #[serde(default)]
    pub latency_factor: BTreeMap<String, f64>,
    /// Absolute accuracy per stratum (the application's one accuracy knob).
    #[serde(default)]
    pub accuracy: BTreeMap<String, f64>,
    /// Accuracy shift per stratum, or `"*"` for every stratum.
    #[serde(default)]
    pub accuracy_delta: BTreeMap<String, f64>,
    #[serde(default)]
    pub gpu_memory_mb: f64,
    #[serde(default = "one")]
    pub gpu_memory_factor: f64,
    #[serde(default)]
    pub output_bytes: f64,
    #[serde(default)]
    pub api_usd_per_call: f64,
    /// Where the numbers come from: URLs, or how they were derived.
    pub source: String,
}

fn one() -> f64 {
    1.0
}

impl AppSpec {
    /// The query a user of this application asks from `source_device_id` with SLO class
    /// `class` on data stratum `stratum` (weight 1, p95 latency), as a trace's arrival
    /// carries it.
    pub fn query_spec(&self, class: &SloClass, source_device_id: &str, stratum: &str) -> QuerySpec {
        QuerySpec {
            app_id: self.app_id.clone(),
            source_device_id: source_device_id.to_string(),
            rate_per_s: self.rate_per_s,
            weight: 1.0,
            slo: Slo {
                latency_ms: class.latency_ms,
                latency_percentile: 95.0,
                accuracy_threshold: class.accuracy_threshold,
                max_cost_usd_per_hour: class.max_cost_usd_per_hour,
            },
            data_stratum: stratum.to_string(),
        }
    }

    /// Parse and check one application file's text.
    pub fn parse(file: &str, text: &str) -> Result<Self, CatalogError> {
        let spec: AppSpec = toml::from_str(text).map_err(|e| CatalogError::Parse {
            file: file.into(),
            detail: e.to_string(),
        })?;
        spec.check().map_err(|detail| CatalogError::Invalid {
            file: file.into(),
            detail,
        })?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), String> {
        let strata: Vec<&str> = self.strata.iter().map(|s| s.name.as_str()).collect();
        if strata.is_empty() {
            return Err("no data strata".into());
        }
        let mut accuracy_knobs = 0;
        for op in &self.operators {
            let base = op
                .knobs
                .iter()
                .filter(|k| k.choices.iter().all(|c| c.latency_ms.is_some()))
                .count();
            if base != 1 {
                return Err(format!("operator `{}` needs exactly one knob whose every choice has latency_ms, has {base}", op.name));
            }
            for k in &op.knobs {
                if k.choices.iter().any(|c| !c.accuracy.is_empty()) {
                    accuracy_knobs += 1;
                    for c in &k.choices {
                        for s in &strata {
                            if !c.accuracy.contains_key(*s) {
                                return Err(format!(
                                    "choice `{}` of knob `{}` has no accuracy for stratum `{s}`",
                                    c.value, k.name
                                ));
                            }
                        }
                    }
                }
                for c in &k.choices {
                    if c.source.trim().is_empty() {
                        return Err(format!(
                            "choice `{}` of knob `{}` has no source",
                            c.value, k.name
                        ));
                    }
                    for target in c.latency_factor.keys() {
                        if !self.operators.iter().any(|o| &o.name == target) {
                            return Err(format!(
                                "choice `{}` scales unknown operator `{target}`",
                                c.value
                            ));
                        }
                    }
                    for s in c.accuracy_delta.keys() {
                        if s != "*" && !strata.contains(&s.as_str()) {
                            return Err(format!(
                                "choice `{}` shifts unknown stratum `{s}`",
                                c.value
                            ));
                        }
                    }
                }
            }
        }
        if accuracy_knobs != 1 {
            return Err(format!(
                "exactly one knob must give absolute accuracy, found {accuracy_knobs}"
            ));
        }
        Ok(())
    }

    /// The application as it is registered on `compass.apps`: operators, knobs and resource
    /// facts, without the ground truth.
    pub fn application(&self) -> Application {
        Application {
            app_id: self.app_id.clone(),
            version: 1,
            description: self.description.clone(),
            accuracy_metric: self.accuracy_metric.clone(),
            accuracy_higher_is_better: self.higher_is_better,
            operators: self
                .operators
                .iter()
                .map(|o| Operator {
                    name: o.name.clone(),
                    kind: o.kind,
                    inputs: o.inputs.clone(),
                    allowed_tiers: o.tiers.clone(),
                    knobs: o
                        .knobs
                        .iter()
                        .map(|k| Knob {
                            name: k.name.clone(),
                            choices: k
                                .choices
                                .iter()
                                .map(|c| KnobChoice {
                                    value: c.value.clone(),
                                    gpu_memory_mb: c.gpu_memory_mb,
                                    work_gflop_per_input: 0.0,
                                    output_bytes_per_input: c.output_bytes,
                                    api_usd_per_call: c.api_usd_per_call,
                                    gpu_memory_factor: c.gpu_memory_factor,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Every application shipped with the testbed.
pub fn builtin() -> Result<Vec<AppSpec>, CatalogError> {
    BUILTIN
        .iter()
        .map(|(file, text)| AppSpec::parse(file, text))
        .collect()
}

/// Every `*.toml` application file in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<AppSpec>, CatalogError> {
    let io = |e: std::io::Error| CatalogError::Io {
        file: dir.display().to_string(),
        detail: e.to_string(),
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| CatalogError::Io {
                file: p.display().to_string(),
                detail: e.to_string(),
            })?;
            AppSpec::parse(&p.display().to_string(), &text)
        })
        .collect()
}
