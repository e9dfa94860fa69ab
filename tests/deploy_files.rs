//! deploy/compose and deploy/k8s cannot run here (no container engine, no cluster), so this
//! test reads them and checks what can be checked without one: they parse; their
//! configuration is valid for `compass run` (unknown keys are errors); every
//! `COMPASS__SECTION__KEY` they set names a real key; the topic prefix agrees with the
//! catalogue's topics; and the timely cluster's size agrees across the StatefulSet, the
//! command line, the configuration and the hostfile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use compass::config::Config;
use compass_connectors::topics::Catalogue;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map_or(Value::Null, Value::from),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.clone()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => json(other).to_string(),
                    };
                    (key, json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .map(json)
        .collect()
}

/// The `COMPASS__*` variables of an environment block (map or list form).
fn compass_env(env: &Value) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = match env {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
            .collect(),
        Value::Array(a) => a
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or_default().to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter(|(k, _)| k.starts_with("COMPASS__"))
        .collect()
}

fn load_config(text: &str, env: Vec<(String, String)>, what: &str) -> Config {
    let dir = std::env::temp_dir().join(format!("compass-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(format!("{what}.toml"));
    std::fs::write(&path, text).expect("write");
    let c = Config::load(Some(&path), env).unwrap_or_else(|e| panic!("{what}: {e}"));
    let _ = std::fs::remove_file(&path);
    c
}

/// Every topic of the catalogue under `prefix`.
fn catalogue_topics(prefix: &str) -> Vec<String> {
    let c = Catalogue::builtin(prefix);
    [
        "apps",
        "queries",
        "telemetry",
        "profiles",
        "profile-requests",
        "assignments",
        "dlq",
        "planner-progress",
    ]
    .iter()
    .map(|n| c.topic(n).unwrap_or_else(|e| panic!("catalogue: {e}")))
    .collect()
}

#[test]
fn compose_file_agrees_with_the_config_schema_and_the_catalogue() {
    let dir = root().join("deploy/compose");
    let doc = &yaml_docs(&dir.join("docker-compose.yml"))[0];
    let services = doc["services"].as_object().expect("services");
    for name in ["kafka", "schema-registry", "topics", "planner", "workers"] {
        assert!(services.contains_key(name), "compose: no service `{name}`");
    }
    // Kafka in KRaft mode: it is its own controller, no ZooKeeper.
    let kafka = &services["kafka"];
    assert!(kafka["image"]
        .as_str()
        .unwrap_or_default()
        .starts_with("apache/kafka"));
    let roles = kafka["environment"]["KAFKA_PROCESS_ROLES"]
        .as_str()
        .unwrap_or_default();
    assert!(
        roles.contains("controller") && roles.contains("broker"),
        "{roles}"
    );
    assert!(!services.contains_key("zookeeper"));

    let cmd = |s: &str| -> Vec<String> {
        services[s]["command"]
            .as_array()
            .unwrap_or_else(|| panic!("{s}: command"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let text = std::fs::read_to_string(dir.join("compass.toml")).expect("compass.toml");
    for svc in ["planner", "workers"] {
        let c = cmd(svc);
        assert!(c.iter().any(|a| a == "--config"), "{svc}: {c:?}");
        let mounted = services[svc]["volumes"].as_array().expect("volumes");
        assert!(
            mounted.iter().any(|v| v
                .as_str()
                .unwrap_or_default()
                .starts_with("./compass.toml:")),
            "{svc} does not mount compass.toml"
        );
        let config = load_config(&text, compass_env(&services[svc]["environment"]), svc);
        assert_eq!(config.kafka["bootstrap.servers"], "kafka:9092");
        // The topics the planner uses are the ones `topics` creates.
        let t = cmd("topics");
        let at = t
            .iter()
            .position(|a| a == "--prefix")
            .expect("topics --prefix");
        assert_eq!(t[at + 1], config.topics.prefix, "{svc}: topic prefix");
        assert_eq!(
            catalogue_topics(&t[at + 1]),
            catalogue_topics(&config.topics.prefix)
        );
    }
    assert_eq!(cmd("planner")[0], "run");
    assert_eq!(&cmd("workers")[..2], ["worker", "--simulated"]);
    let config = load_config(
        &text,
        compass_env(&services["planner"]["environment"]),
        "planner",
    );
    let port = config.metrics.listen.rsplit(':').next().expect("port");
    let ports: Vec<String> = services["planner"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
        "metrics port {port} not published: {ports:?}"
    );
}

#[test]
fn k8s_manifests_form_one_consistent_timely_cluster() {
    let docs = yaml_docs(&root().join("deploy/k8s/compass.yaml"));
    let mut by_kind: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for d in &docs {
        by_kind
            .entry(d["kind"].as_str().expect("kind").to_string())
            .or_default()
            .push(d);
    }
    let cm = by_kind["ConfigMap"][0];
    let sts = by_kind["StatefulSet"][0];
    let services = &by_kind["Service"];

    let replicas = sts["spec"]["replicas"].as_i64().expect("replicas") as usize;
    let name = sts["metadata"]["name"].as_str().expect("name");
    let svc_name = sts["spec"]["serviceName"].as_str().expect("serviceName");
    let headless = services
        .iter()
        .find(|s| s["metadata"]["name"] == svc_name)
        .expect("the StatefulSet's service");
    assert_eq!(
        headless["spec"]["clusterIP"], "None",
        "the peer service must be headless"
    );

    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    let env = compass_env(&container["env"]);
    let config = load_config(
        cm["data"]["compass.toml"].as_str().expect("compass.toml"),
        env,
        "k8s",
    );
    assert_eq!(
        config.planner.processes, replicas,
        "planner.processes vs replicas"
    );

    let args = container["args"][0].as_str().expect("args");
    assert!(args.contains("compass run"), "{args}");
    assert!(
        args.contains(&format!("-n {replicas}")),
        "-n must equal replicas: {args}"
    );
    assert!(
        args.contains("-p \"${HOSTNAME##*-}\""),
        "process index from the ordinal: {args}"
    );

    // The hostfile: one line per pod, in ordinal order, under the headless service, on the
    // timely port the service and container declare.
    let hosts: Vec<&str> = cm["data"]["hostfile"]
        .as_str()
        .expect("hostfile")
        .lines()
        .collect();
    assert_eq!(hosts.len(), replicas, "hostfile lines vs replicas");
    let timely_port = headless["spec"]["ports"][0]["port"].as_i64().expect("port");
    for (i, h) in hosts.iter().enumerate() {
        let want = format!("{name}-{i}.{svc_name}.");
        assert!(h.starts_with(&want), "line {i}: {h} (want {want}…)");
        assert!(h.ends_with(&format!(":{timely_port}")), "line {i}: {h}");
    }
    let mount = container["volumeMounts"][0]["mountPath"]
        .as_str()
        .expect("mount");
    assert_eq!(config.planner.hostfile, format!("{mount}/hostfile"));

    // The metrics service points at the port compass listens on.
    let port: i64 = config
        .metrics
        .listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("metrics port");
    let metrics_svc = services
        .iter()
        .find(|s| s["metadata"]["name"] == "compass-metrics")
        .expect("metrics service");
    assert_eq!(metrics_svc["spec"]["ports"][0]["port"].as_i64(), Some(port));
    let declared = container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == "metrics")
        .expect("metrics port");
    assert_eq!(declared["containerPort"].as_i64(), Some(port));
    assert!(
        !config.metrics.listen.starts_with("127."),
        "in a pod, metrics must listen beyond loopback"
    );
    assert!(!catalogue_topics(&config.topics.prefix).is_empty());
}
