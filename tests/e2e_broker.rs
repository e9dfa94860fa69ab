//! End to end on the real broker: `compass run` (the planner) and `compass worker
//! --simulated` (users, devices and GPU workers) talk only through Kafka topics. The trace
//! has over 1,000 query arrivals; at the end every live query holds exactly one current
//! assignment (its latest record), and the realized goodput equals the embedded run's on
//! the same scenario and seed within 2%. Then the recorded inputs are replayed through fresh
//! planners (one worker; two worker threads; a cluster of two processes): the multi-worker
//! replays re-emit exactly the one-worker replay's assignments and profile requests, and so
//! does the live run unless it had late records (then it batched differently, and the test
//! says so).
//!
//! Every topic here is created with `cleanup.policy=delete` (see
//! `support::create_uncompacted_topics`): the test broker compacts within seconds, and a
//! copy of a compacted telemetry topic, or a read of compacted assignments, would compare
//! different histories. Restarts on the compacted catalogue are tested in faults_broker.rs.

mod support;

use support::{assignments, topics};

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compass::embedded::{self, RunOptions};
use compass_dataflow::Settings;
use compass_testbed::sim::{Scenario, Simulation};
use serde_json::Value;
use support::{brokers, compass, create_uncompacted_topics, free_port, unique, wait_until};

const SEED: u64 = 3;

/// Lateness covers the time the simulated workers take to produce a batch (a few hundred ms
/// on the test broker): every record of a batch carries one event time, so with no record
/// late the batch lands in one epoch, as the embedded run feeds it. With a shorter lateness
/// a batch can straddle an epoch boundary and goodput drifts by a few percent run to run.
fn with_env(c: &mut Command, prefix: &str) {
    c.env("COMPASS__TOPICS__PREFIX", prefix)
        .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", brokers())
        .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
        .env("COMPASS__PLANNER__EPOCH_MS", "50")
        .env("COMPASS__PLANNER__LATENESS_MS", "1000")
        .env("COMPASS__METRICS__LISTEN", "");
}

#[test]
fn simulated_workers_through_kafka_match_the_embedded_run() {
    let prefix = create_uncompacted_topics("e2e");
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;

    let mut run = compass();
    with_env(&mut run, &prefix);
    let metrics_port = free_port();
    let mut planner = run
        .env(
            "COMPASS__METRICS__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start compass run");

    let dir = std::env::temp_dir().join(unique("e2e-report"));
    std::fs::create_dir_all(&dir).expect("report dir");
    let report_path = dir.join("report.json");
    let mut worker = compass();
    with_env(&mut worker, &prefix);
    let started = Instant::now();
    let sim = worker
        .args([
            "worker",
            "--simulated",
            "--scenario",
            "e2e",
            "--seed",
            &SEED.to_string(),
        ])
        .arg("--report")
        .arg(&report_path)
        .output()
        .expect("run compass worker");
    let kafka_wall = started.elapsed();
    // Records that arrived after their epoch closed (a slow machine can stretch a batch past
    // the lateness): the live run then batched differently from any replay.
    let late = support::scrape(metrics_port)
        .and_then(|b| support::sample(&b, "compass_late_records_total"))
        .expect("the live planner's /metrics");
    // SIGTERM: the planner finishes its epoch, flushes, commits and exits 0.
    let status = support::terminate(&mut planner);
    assert!(
        sim.status.success(),
        "simulated workers failed: {}",
        String::from_utf8_lossy(&sim.stderr)
    );
    assert!(status.success(), "the planner exited with {status}");

    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report")).expect("json");
    let kafka_goodput = report["goodput"].as_f64().expect("goodput");

    // The same scenario, embedded.
    let scenario = Scenario::named("e2e", SEED).expect("scenario");
    let local = embedded::run(scenario.clone(), Settings::default(), RunOptions::default())
        .expect("embedded run");
    eprintln!(
        "goodput: kafka {kafka_goodput:.1} ({:.0} s), embedded {:.1} ({:.1} s)",
        kafka_wall.as_secs_f64(),
        local.goodput,
        local.wall_s
    );
    assert!(local.goodput > 0.0);
    let gap = (kafka_goodput - local.goodput).abs() / local.goodput;
    assert!(
        gap <= 0.02,
        "goodput differs by {:.1}% (kafka {kafka_goodput}, embedded {})",
        gap * 100.0,
        local.goodput
    );

    // The trace and the queries live at its end.
    let mut world = Simulation::new(scenario.clone()).expect("world");
    let mut arrivals = 0;
    for w in 0..world.windows() {
        let (q, _) = world.window_inputs(w);
        arrivals += q.iter().filter(|e| e.spec.is_some()).count();
    }
    assert!(arrivals >= 1000, "only {arrivals} arrivals");

    // Every record on the assignments topic, latest decision epoch per query.
    let latest = assignments::current(&prefix);
    assignments::check_end_state(&latest, &scenario);

    // The same inputs, replayed by fresh planners: one worker, two worker threads, two
    // processes. Replays read recorded event times, so they batch identically whatever the
    // machine's speed; each must re-emit exactly the one-worker replay's outputs, and that
    // must equal the live run's unless the live run had late records.
    let live_outputs = topics::outputs(&prefix);
    assert!(!live_outputs.is_empty());
    // Every decision record says when the planner built it, by its wall clock (its own
    // timestamp is its epoch's event time).
    let built: Vec<Option<i64>> = topics::read_all(&[format!("{prefix}assignments")])
        .iter()
        .map(|r| {
            let b = r.header("compass.built_at_ms")?;
            std::str::from_utf8(b).ok()?.parse().ok()
        })
        .collect();
    assert!(!built.is_empty());
    assert!(
        built.iter().all(|b| b.is_some_and(|b| b >= started_ms)),
        "assignment records without a built-at time from this run: {:?}",
        built
            .iter()
            .filter(|b| !b.is_some_and(|b| b >= started_ms))
            .take(5)
            .collect::<Vec<_>>()
    );
    let differ = |a: &BTreeMap<_, _>, b: &BTreeMap<_, _>| -> usize {
        a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).count()
            + b.keys().filter(|k| !a.contains_key(*k)).count()
    };
    let one = topics::outputs(&replay(&prefix, "w1", 1, 1, &dir));
    if late == 0.0 {
        let n = differ(&live_outputs, &one);
        assert_eq!(
            n,
            0,
            "w1: {n} of {} keys differ from the live run",
            live_outputs.len()
        );
        eprintln!("w1: {} keys identical to the live run", live_outputs.len());
    } else {
        eprintln!(
            "w1: the live run had {late} late records; {} of {} keys differ from it",
            differ(&live_outputs, &one),
            live_outputs.len()
        );
    }
    for (name, processes, workers) in [("w2", 1, 2), ("n2", 2, 1)] {
        let replayed = topics::outputs(&replay(&prefix, name, processes, workers, &dir));
        let n = differ(&one, &replayed);
        assert_eq!(
            n,
            0,
            "{name}: {n} of {} keys differ from the one-worker replay",
            one.len()
        );
        eprintln!(
            "{name}: {} keys identical to the one-worker replay",
            one.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Copy the inputs under `prefix` to a new prefix and run `processes` planner processes
/// of `workers` threads on them until each has read them to the end. Returns the prefix.
fn replay(
    prefix: &str,
    name: &str,
    processes: usize,
    workers: usize,
    dir: &std::path::Path,
) -> String {
    let copy = create_uncompacted_topics(name);
    let n = topics::copy(prefix, &copy, &["apps", "queries", "telemetry", "profiles"]);
    assert!(n > 1000, "only {n} input records");
    let hostfile = dir.join(format!("{name}.hosts"));
    let ports: Vec<u16> = (0..processes).map(|_| free_port()).collect();
    let hosts: String = ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
    std::fs::write(&hostfile, hosts).expect("hostfile");
    let started = Instant::now();
    let mut children = Vec::new();
    for i in 0..processes {
        let mut c = compass();
        with_env(&mut c, &copy);
        c.env("COMPASS__PLANNER__EXIT_WHEN_CAUGHT_UP", "true")
            .args([
                "run",
                "-w",
                &workers.to_string(),
                "-n",
                &processes.to_string(),
            ])
            .args(["-p", &i.to_string(), "-h"])
            .arg(&hostfile)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        children.push(c.spawn().expect("start compass run"));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    for mut child in children {
        let status = wait_until(
            &mut child,
            deadline,
            &format!("{name}: the replay did not finish in 180 s"),
        );
        assert!(
            status.success(),
            "{name}: a replay process exited with {status}"
        );
    }
    eprintln!(
        "{name}: replayed {n} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    copy
}
