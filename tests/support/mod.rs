//! Helpers for the binary's tests against a real broker (see connectors/tests/support for
//! why these fail rather than skip without one).

#![allow(dead_code)]

pub mod topics;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

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
