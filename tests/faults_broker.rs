//! Faults on the real broker, each bounded in time.
//!
//! - The planner is killed with SIGKILL at five random points (seeded) while the simulated
//!   workers play a steady trace, and restarted at once; then stopped with SIGTERM and
//!   restarted once more. At the end every live query holds exactly one current assignment,
//!   every departed one is withdrawn, and the current plans never over-commit a machine.
//! - After SIGTERM, the restarted planner produces nothing for the epochs the stopped one
//!   had flushed: duplicates are confined to the epochs after its last progress marker.
//! - While it runs, `/metrics` answers with the counters of the run.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use compass_testbed::sim::Scenario;
use support::{assignments, brokers, compass, create_topics, free_port, topics, wait_until};

const SEED: u64 = 5;

fn planner(prefix: &str, metrics_port: u16, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("planner log");
    compass()
        .arg("run")
        .env("COMPASS__TOPICS__PREFIX", prefix)
        .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", brokers())
        .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
        .env("COMPASS__PLANNER__EPOCH_MS", "50")
        .env("COMPASS__PLANNER__LATENESS_MS", "1000")
        .env(
            "COMPASS__METRICS__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("COMPASS_LOG", "compass=debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start compass run")
}

/// A small seeded generator (xorshift), enough to pick kill times.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} failed");
}

/// Per key on the assignments topic, the decision epochs of its records (in offset order).
/// Every assignment record's (key, partition, offset, decision epoch), in offset order per
/// partition. The assignments topic is compacted, and the test broker compacts within
/// seconds: a later read can lack records an earlier one saw, so reads are compared by
/// offset, never by position.
fn epochs_by_offset(prefix: &str) -> Vec<(Vec<u8>, i32, i64, i64)> {
    // The decision epoch from the record's value, which is authoritative: the `compass.epoch`
    // header was once missing on the test broker after a kill -9 (tansu stores headers apart
    // from the record).
    let codec = compass_connectors::Codec::single_object();
    topics::read_all(&[format!("{prefix}assignments")])
        .into_iter()
        .map(|r| {
            let bytes = r.payload.as_deref().expect("an assignment without a value");
            let a: compass_schemas::Assignment =
                codec.decode(bytes).expect("an undecodable assignment");
            (
                r.key.unwrap_or_default(),
                r.partition,
                r.offset,
                a.decision_epoch,
            )
        })
        .collect()
}

#[test]
fn killed_and_restarted_planner_loses_nothing_and_over_commits_nothing() {
    let prefix = create_topics("faults");
    let dir = std::env::temp_dir().join(support::unique("faults"));
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("planner.log");
    let port = free_port();
    let cleanup = support::Cleanup::default();
    let mut run = cleanup.track(planner(&prefix, port, &log));

    let sim = compass()
        .args(["worker", "--simulated", "--scenario", "faults"])
        .args(["--seed", &SEED.to_string(), "--patience-s", "120"])
        .env("COMPASS__TOPICS__PREFIX", &prefix)
        .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", brokers())
        .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the simulated workers");
    let mut sim = cleanup.track(sim);

    // The endpoint answers with the run's counters once records flow.
    let deadline = Instant::now() + Duration::from_secs(60);
    let records = loop {
        let n = support::scrape(port)
            .and_then(|b| support::sample(&b, "compass_input_records_total"))
            .unwrap_or(0.0);
        if n > 0.0 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "no records counted on /metrics in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("/metrics: {records} input records so far");

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ SEED);
    for k in 0..5 {
        let wait = 1.0 + 5.0 * rng.next_f64();
        std::thread::sleep(Duration::from_secs_f64(wait));
        if sim.try_wait().expect("sim").is_some() {
            panic!("the trace ended before kill {k}; the test would not test restarts");
        }
        signal(&run, "-KILL");
        let _ = run.wait();
        eprintln!("kill -9 #{k} after {wait:.1} s; restarting");
        run = cleanup.track(planner(&prefix, port, &log));
    }

    // A graceful stop and restart while the trace still runs.
    std::thread::sleep(Duration::from_secs(2));
    let before_term = epochs_by_offset(&prefix).len();
    let status = support::terminate(&mut run);
    assert!(
        status.success(),
        "the planner exited with {status} after SIGTERM"
    );
    let after_term = epochs_by_offset(&prefix);
    let marker = last_marker(&prefix);
    assert!(marker > 0, "the stopped planner wrote no progress marker");
    run = cleanup.track(planner(&prefix, port, &log));

    let status = wait_until(
        &mut sim,
        Instant::now() + Duration::from_secs(300),
        "the simulated workers did not finish in 300 s",
    );
    assert!(status.success(), "the simulated workers failed: {status}");
    let status = support::terminate(&mut run);
    assert!(status.success(), "the planner exited with {status}");

    // Nothing lost, nothing over-committed.
    let scenario = Scenario::named("faults", SEED).expect("scenario");
    let latest = assignments::current(&prefix);
    let live = assignments::check_end_state(&latest, &scenario);
    assert!(live.len() > 20, "only {} live queries", live.len());

    // After the SIGTERM restart: no record of an epoch the stopped planner had marked as
    // flushed is produced again; what is repeated lies after its last marker.
    // Compaction never removes a partition's last record (nothing supersedes it), so the
    // read after SIGTERM ends at each partition's end offset then.
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    let mut newest_old: BTreeMap<&[u8], i64> = BTreeMap::new();
    for (key, p, o, e) in &after_term {
        let end = ends.entry(*p).or_default();
        *end = (*end).max(o + 1);
        let n = newest_old.entry(key.as_slice()).or_insert(i64::MIN);
        *n = (*n).max(*e);
    }
    let mut repeated = 0usize;
    let mut new_records = 0usize;
    for (key, p, o, e) in epochs_by_offset(&prefix) {
        if o < ends.get(&p).copied().unwrap_or(0) {
            continue;
        }
        new_records += 1;
        assert!(
            e >= marker,
            "epoch {e} re-emitted after a graceful restart, before the marker {marker}"
        );
        repeated += usize::from(newest_old.get(key.as_slice()).is_some_and(|&n| e <= n));
    }
    eprintln!(
        "assignment records read before SIGTERM {before_term}, after it {}; marker {marker}; \
         written after the restart {new_records}, of which re-emitted {repeated}",
        after_term.len()
    );
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("resuming"),
        "the restarted planner did not resume from a marker"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The highest progress marker on the topic (0 if none).
fn last_marker(prefix: &str) -> i64 {
    topics::read_all(&[format!("{prefix}planner-progress")])
        .iter()
        .filter_map(|r| r.payload.as_deref())
        .filter_map(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// A server that stops sending telemetry is declared lost after `machine_timeout_ms`, and
/// the queries it served are re-planned elsewhere (or rejected), while servers that keep
/// reporting keep theirs.
#[test]
fn a_silent_machine_is_declared_lost_and_its_queries_replanned() {
    use compass_connectors::kafka::KafkaSink;
    use compass_connectors::{Codec, OutboundRecord};
    use compass_schemas::Tier;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let prefix = create_topics("loss");
    let cleanup = support::Cleanup::default();
    let log = std::env::temp_dir().join(format!("{}.log", support::unique("loss")));
    let run = compass()
        .arg("run")
        .env("COMPASS__TOPICS__PREFIX", &prefix)
        .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", brokers())
        .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
        .env("COMPASS__PLANNER__EPOCH_MS", "100")
        .env("COMPASS__PLANNER__LATENESS_MS", "300")
        .env("COMPASS__PLANNER__MACHINE_TIMEOUT_MS", "2000")
        .env("COMPASS__METRICS__LISTEN", "")
        .env("COMPASS_LOG", "compass=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start compass run");
    let mut run = cleanup.track(run);

    // The simulated workers play the trace (queries, profiles); the servers' heartbeats come
    // from this test, every 250 ms, except the victim's once it is chosen.
    let workers = compass()
        .args([
            "worker",
            "--simulated",
            "--scenario",
            "faults",
            "--seed",
            "4",
        ])
        .env("COMPASS__TOPICS__PREFIX", &prefix)
        .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", brokers())
        .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the simulated workers");
    let mut workers = cleanup.track(workers);
    let scenario = Scenario::named("faults", 4).expect("scenario");
    let fleet = compass_testbed::sim::Simulation::new(scenario)
        .expect("world")
        .initial_telemetry();
    // Servers report every 250 ms, except the victim once it is chosen.
    let servers: Vec<_> = fleet.into_iter().filter(|d| d.tier != Tier::Edge).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let victim: Arc<Mutex<Option<String>>> = Arc::default();
    let beat = {
        let (stop, victim, prefix) = (stop.clone(), victim.clone(), prefix.clone());
        std::thread::spawn(move || {
            let sink = KafkaSink::new(&topics::settings()).expect("producer");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let codec = Codec::single_object();
            let topic = format!("{prefix}telemetry");
            while !stop.load(Ordering::Relaxed) {
                let now = compass::service::now_ms();
                let silent = victim.lock().map(|v| v.clone()).unwrap_or_default();
                let beats: Vec<OutboundRecord> = servers
                    .iter()
                    .filter(|d| Some(&d.device_id) != silent.as_ref())
                    .map(|d| {
                        let mut d = d.clone();
                        d.event_time_ms = now;
                        let b = codec.encode(&topic, &d).expect("encode");
                        OutboundRecord::new(topic.clone(), d.device_id.clone(), b).at(now)
                    })
                    .collect();
                rt.block_on(sink.send_all(beats)).expect("heartbeat");
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    // The server carrying the most operators becomes the victim.
    let on = |latest: &assignments::Current, dev: &str| -> Vec<String> {
        latest
            .iter()
            .filter(|(_, (_, c))| {
                c.iter().any(|a| {
                    a["status"] == "assigned"
                        && a["plan"]["operators"]
                            .as_array()
                            .is_some_and(|ops| ops.iter().any(|o| o["device_id"] == dev))
                })
            })
            .map(|(id, _)| id.clone())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (chosen, before) = loop {
        std::thread::sleep(Duration::from_secs(2));
        let latest = assignments::current(&prefix);
        let mut load: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, (_, c)) in &latest {
            for a in c.iter().filter(|a| a["status"] == "assigned") {
                for o in a["plan"]["operators"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    let dev = o["device_id"].as_str().unwrap_or_default().to_string();
                    if o["tier"] != "edge" && o["gpu_share"].as_f64().unwrap_or(0.0) > 0.0 {
                        load.entry(dev).or_default().push(id.clone());
                    }
                }
            }
        }
        if let Some((dev, ids)) = load.into_iter().max_by_key(|(_, ids)| ids.len()) {
            break (dev, ids);
        }
        assert!(
            Instant::now() < deadline,
            "no query was placed on a server in 60 s"
        );
    };
    eprintln!(
        "victim {chosen} serves {} queries; it goes silent",
        before.len()
    );
    if let Ok(mut v) = victim.lock() {
        *v = Some(chosen.clone());
    }

    // After the timeout (2 s) and some slack, nothing is placed on it any more.
    let deadline = Instant::now() + Duration::from_secs(60);
    let moved = loop {
        std::thread::sleep(Duration::from_secs(2));
        let latest = assignments::current(&prefix);
        if on(&latest, &chosen).is_empty() {
            break latest;
        }
        assert!(
            Instant::now() < deadline,
            "queries still on the silent machine {chosen} after 60 s"
        );
    };
    stop.store(true, Ordering::Relaxed);
    let _ = beat.join();
    let _ = workers.kill();
    let _ = workers.wait();
    let status = support::terminate(&mut run);
    assert!(status.success(), "the planner exited with {status}");
    let replanned = before
        .iter()
        .filter(|id| moved[*id].1[0]["status"] == "assigned")
        .count();
    eprintln!(
        "{} queries left {chosen}: {replanned} re-assigned elsewhere, {} rejected",
        before.len(),
        before.len() - replanned
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.contains("machine declared lost") && l.contains(chosen.as_str())),
        "the planner did not declare {chosen} lost"
    );
    let _ = std::fs::remove_file(&log);
}
