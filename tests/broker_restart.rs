//! The broker restarts mid-run: a private test broker (its own port and data, started by
//! deploy/local/broker.sh, so the shared one is never disturbed) is stopped for a few
//! seconds while the planner and the simulated workers run, then started on the same data.
//! The same planner process reconnects and catches up with no operator action: the trace
//! completes, the planner stops cleanly on SIGTERM, and every live query ends with exactly
//! one current assignment on machines that are not over-committed.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use compass_testbed::sim::Scenario;
use support::{assignments, compass, create_topics_on, free_port, unique, wait_until};

const SEED: u64 = 8;

/// A broker of the test's own; stopped (and its data removed) on drop.
struct Broker {
    port: u16,
    data: PathBuf,
}

impl Broker {
    fn script(&self, what: &str) -> bool {
        Command::new("bash")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/local/broker.sh"))
            .arg(what)
            .env("COMPASS_BROKER_PORT", self.port.to_string())
            .env("COMPASS_BROKER_DATA", &self.data)
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.script("stop");
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[test]
fn planner_reconnects_after_a_broker_restart_and_catches_up() {
    let broker = Broker {
        port: free_port(),
        data: std::env::temp_dir().join(unique("broker")),
    };
    assert!(broker.script("start"), "the private broker did not start");
    let brokers = broker.address();
    let prefix = create_topics_on("restart", &brokers);
    let with_env = |c: &mut Command| {
        c.env("COMPASS_BROKERS", &brokers)
            .env("COMPASS__TOPICS__PREFIX", &prefix)
            .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", &brokers)
            .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
            .env("COMPASS__PLANNER__EPOCH_MS", "50")
            .env("COMPASS__PLANNER__LATENESS_MS", "1000")
            .env("COMPASS__METRICS__LISTEN", "");
    };
    let mut run = compass();
    with_env(&mut run);
    let mut planner = run
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start compass run");
    let mut worker = compass();
    with_env(&mut worker);
    let mut sim = worker
        .args(["worker", "--simulated", "--scenario", "faults"])
        .args(["--seed", &SEED.to_string(), "--patience-s", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the simulated workers");

    std::thread::sleep(Duration::from_secs(8));
    assert!(
        sim.try_wait().expect("sim").is_none(),
        "the trace ended before the broker restart"
    );
    let down = Instant::now();
    assert!(broker.script("stop"), "stopping the broker failed");
    std::thread::sleep(Duration::from_secs(3));
    assert!(broker.script("start"), "the broker did not start again");
    eprintln!("broker down for {:.1} s", down.elapsed().as_secs_f64());
    assert!(
        planner.try_wait().expect("planner").is_none(),
        "the planner exited during the broker restart"
    );

    let status = wait_until(
        &mut sim,
        Instant::now() + Duration::from_secs(300),
        "the simulated workers did not finish in 300 s",
    );
    assert!(status.success(), "the simulated workers failed: {status}");
    let status = support::terminate(&mut planner);
    assert!(status.success(), "the planner exited with {status}");

    let scenario = Scenario::named("faults", SEED).expect("scenario");
    let latest = assignments::current_on(&prefix, &brokers);
    assignments::check_end_state(&latest, &scenario);
}
