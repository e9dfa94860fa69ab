//! `compass bench` as a user runs it: the JSON, the table and the plot it writes, the
//! ground-truth bound beside the planners, and bad arguments refused before any run.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// `compass bench --scenario single-query --planner PLANNERS EXTRA… --json JSON`.
fn bench(planners: &str, extra: &[&str], json: &Path) -> Output {
    support::compass()
        .args(["bench", "--scenario", "single-query", "--planner", planners])
        .args(extra)
        .arg("--json")
        .arg(json)
        .output()
        .expect("run compass bench")
}

#[test]
fn bench_writes_its_report_with_the_bound_and_refuses_bad_shares() {
    let dir = std::env::temp_dir().join(support::unique("bench"));
    std::fs::create_dir_all(&dir).expect("dir");
    let json = dir.join("sq.json");
    let out = bench("compass,vulcan", &["--bound"], &json);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("sq.md").exists() && dir.join("sq.png").exists());
    assert!(stdout.contains("| bound (ground truth"), "{stdout}");

    let r: Value = serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("parses");
    assert_eq!(r["scenario"], "single-query");
    let bound = &r["bound"];
    let windows = bound["query_windows"].as_u64().expect("query windows");
    assert!(windows > 0, "{bound}");
    let bound_goodput = bound["goodput"].as_f64().expect("bound goodput");
    for name in ["compass", "vulcan"] {
        let p = &r["planners"][name];
        let goodput = p["goodput"].as_f64().expect("goodput");
        let cost = p["cost_usd"].as_f64().expect("cost");
        let missed = p["cost_missed_usd"].as_f64().expect("cost on misses");
        assert!(
            goodput > 0.0 && goodput <= bound_goodput,
            "{name}: {goodput} > {bound_goodput}"
        );
        assert!(
            (0.0..=cost + 1e-12).contains(&missed),
            "{name}: {missed} of {cost}"
        );
        // The least cost of its goodput never exceeds the least cost of the whole bound.
        let least = p["least_cost_usd"]
            .as_f64()
            .expect("least cost of its goodput");
        assert!(least <= bound["cost_usd"].as_f64().expect("bound cost") + 1e-12);
        assert!(p["least_cost_met_usd"].as_f64().is_some(), "{p}");
    }

    for bad in [["--bound", "0,1"], ["--shares", "1.5"]] {
        let out = bench("compass", &bad, &dir.join("bad.json"));
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("must lie in (0, 1]"), "{bad:?}: {err}");
        assert!(
            !dir.join("bad.json").exists(),
            "{bad:?} ran before refusing"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
