//! `compass topics create|check` against the broker: idempotent creation, and drift (a
//! missing topic, fewer partitions, another cleanup policy) reported with exit code 3.

mod support;

use std::process::Output;

fn run(args: &[&str]) -> Output {
    support::compass().args(args).output().expect("run compass")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn create_is_idempotent_and_check_reports_drift() {
    let prefix = format!("{}.", support::unique("cat"));
    let missing = run(&["topics", "check", "--prefix", &prefix]);
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing));
    assert!(
        text(&missing).contains(&format!("{prefix}queries: missing")),
        "{}",
        text(&missing)
    );

    let created = run(&["topics", "create", "--prefix", &prefix]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created));
    assert_eq!(
        text(&created).matches("created  ").count(),
        8,
        "{}",
        text(&created)
    );
    let again = run(&["topics", "create", "--prefix", &prefix]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        text(&again).matches("created  ").count(),
        0,
        "second create creates nothing"
    );

    // A catalogue that asks for more partitions and another policy than the broker has.
    let drifted = compass_connectors::topics::BUILTIN_CATALOGUE
        .replace("partitions = 8", "partitions = 16")
        .replacen(
            "cleanup_policy = \"compact\"",
            "cleanup_policy = \"delete\"",
            1,
        );
    let path = std::env::temp_dir().join(format!("{}.toml", support::unique("catalogue")));
    std::fs::write(&path, drifted).expect("write catalogue");
    let check = run(&[
        "topics",
        "check",
        "--prefix",
        &prefix,
        "--catalogue",
        path.to_str().expect("utf8"),
    ]);
    let out = text(&check);
    assert_eq!(check.status.code(), Some(3), "{out}");
    assert!(
        out.contains(&format!(
            "{prefix}queries: 8 partitions, the catalogue asks for 16"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{prefix}apps: cleanup.policy is `compact`")),
        "{out}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    let out = support::compass()
        .args(["topics", "check", "--brokers", "127.0.0.1:1"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: reading topic metadata failed"),
        "{err}"
    );
    assert!(
        err.contains("hint: is a Kafka broker listening on 127.0.0.1:1?"),
        "{err}"
    );
}
