//! Helpers for the binary's tests against a real broker (see connectors/tests/support for
//! why these fail rather than skip without one).

#![allow(dead_code)]

pub mod assignments;
pub mod topics;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn brokers() -> String {
    std::env::var("COMPASS_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "test.{name}.{}.{}",
        std::process::id(),
        nanos % 1_000_000_000
    )
}

/// The `compass` binary built for these tests, pointed at the test broker.
pub fn compass() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_compass"));
    c.env("COMPASS_BROKERS", brokers());
    c
}

/// A fresh prefix with the whole topic catalogue created under it.
pub fn create_topics(name: &str) -> String {
    create_topics_on(name, &brokers())
}

/// [`create_topics`] on the broker at `brokers`.
pub fn create_topics_on(name: &str, brokers: &str) -> String {
    create_with(name, brokers, None)
}

/// [`create_topics`], every topic with `cleanup.policy=delete`: for tests that compare whole
/// histories. The test broker compacts eagerly (tansu's maintenance deletes every record of
/// a compacted topic that a later record with the same key supersedes, every few seconds),
/// so a copy or a second read of a compacted topic can miss records the first read saw.
/// The catalogue's compacted topics are exercised by the fault tests.
pub fn create_uncompacted_topics(name: &str) -> String {
    let catalogue = include_str!("../../topics/catalogue.toml").replace(
        r#"cleanup_policy = "compact""#,
        r#"cleanup_policy = "delete""#,
    );
    let path = std::env::temp_dir().join(format!("{}.catalogue.toml", unique(name)));
    std::fs::write(&path, catalogue).expect("write the test catalogue");
    let prefix = create_with(name, &brokers(), Some(&path));
    let _ = std::fs::remove_file(&path);
    prefix
}

fn create_with(name: &str, brokers: &str, catalogue: Option<&std::path::Path>) -> String {
    let prefix = format!("{}.", unique(name));
    let mut cmd = compass();
    cmd.env("COMPASS_BROKERS", brokers)
        .args(["topics", "create", "--prefix", &prefix]);
    if let Some(c) = catalogue {
        cmd.arg("--catalogue").arg(c);
    }
    let created = cmd.output().expect("run compass topics create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    prefix
}

/// The child's exit status; kill it and fail with `why` if it runs past `deadline`.
pub fn wait_until(
    child: &mut std::process::Child,
    deadline: Instant,
    why: &str,
) -> std::process::ExitStatus {
    loop {
        if let Some(s) = child.try_wait().expect("wait for a child") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{why}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nothing listens on now (the OS's pick, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// SIGTERM `child` (the planner finishes its epoch, flushes, commits) and wait up to 30 s
/// for it to exit; its exit status.
pub fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_until(
        child,
        Instant::now() + Duration::from_secs(30),
        "the planner did not stop within 30 s of SIGTERM",
    )
}

/// Kills every process it tracks when dropped, so that a failing test leaves no planner or
/// simulated worker running behind it (they would hold the broker and the CPU).
#[derive(Default)]
pub struct Cleanup {
    pids: std::cell::RefCell<Vec<u32>>,
}

impl Cleanup {
    pub fn track(&self, child: std::process::Child) -> std::process::Child {
        self.pids.borrow_mut().push(child.id());
        child
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in self.pids.borrow().iter() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// The body of `GET /metrics`, or `None` while nothing answers.
pub fn scrape(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    std::io::Write::write_fmt(
        &mut s,
        format_args!("GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n"),
    )
    .ok()?;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).ok()?;
    Some(out)
}

/// The value of an unlabelled sample in a scrape.
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}
