//! Secrets never reach the logs: `compass run` is given a SASL password and a key password
//! (in the file and through the environment), asked for its most verbose logs, Compass's and
//! librdkafka's (`debug=all`), and pointed at the test broker, which speaks no SASL, so that
//! the error path runs too. Nothing it prints may contain either secret; the redacted
//! configuration line must be there (else the test would prove nothing).

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{brokers, compass, create_topics, unique};

const FILE_SECRET: &str = "planted-file-secret-7f3a";
const ENV_SECRET: &str = "planted-env-secret-91c2";

#[test]
fn planted_secrets_appear_in_no_log_line() {
    let prefix = create_topics("secrets");
    let dir = std::env::temp_dir().join(unique("secrets"));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("compass.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\n\
             bootstrap.servers = \"{}\"\n\
             security.protocol = \"SASL_PLAINTEXT\"\n\
             sasl.mechanism = \"SCRAM-SHA-512\"\n\
             sasl.username = \"compass\"\n\
             sasl.password = \"{FILE_SECRET}\"\n\
             debug = \"all\"\n\
             [topics]\n\
             prefix = \"{prefix}\"\n\
             [metrics]\n\
             listen = \"\"\n",
            brokers()
        ),
    )
    .expect("config");
    let out = dir.join("out.log");
    let mut child = compass()
        .args(["run", "--config"])
        .arg(&config)
        .env("COMPASS__KAFKA__SSL_KEY_PASSWORD", ENV_SECRET)
        .env("COMPASS_LOG", "trace")
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&out)
                .expect("out"),
        ))
        .spawn()
        .expect("start compass run");
    // It cannot authenticate; give it time to try, log and fail (or be stopped).
    let status = wait_until_or_stop(&mut child, Duration::from_secs(40));
    let text = std::fs::read_to_string(&out).expect("log");
    eprintln!(
        "compass run ended with {status} after {} log lines",
        text.lines().count()
    );
    assert!(
        text.contains("sasl.password") && text.contains("******"),
        "the redacted configuration line is missing; the scan would prove nothing"
    );
    assert!(
        text.contains("detail:"),
        "the error report is missing; the error path did not run"
    );
    for secret in [FILE_SECRET, ENV_SECRET] {
        let leaks: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(leaks.is_empty(), "secret leaked into the logs: {leaks:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child's exit status if it ends within `limit`; otherwise SIGTERM it and wait.
fn wait_until_or_stop(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    support::terminate(child)
}
