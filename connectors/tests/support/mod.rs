//! Helpers for tests against a real Kafka-protocol broker.
//!
//! The broker is the one `deploy/local/broker.sh start` runs (or any cluster named by
//! `COMPASS_TEST_BROKERS`). These tests fail, not skip, when no broker answers: a skipped
//! Kafka test would hide exactly what it exists to check.

#![allow(dead_code)]

pub mod mock_registry;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use compass_connectors::kafka::KafkaSettings;
use compass_connectors::topics::TopicAdmin;

pub fn brokers() -> String {
    std::env::var("COMPASS_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Settings for test clients: short session timeouts so group joins are quick.
pub fn settings() -> KafkaSettings {
    KafkaSettings::new(brokers())
        .with("session.timeout.ms", "6000")
        .with("heartbeat.interval.ms", "500")
}

/// A name no other test run uses, so runs never see each other's records.
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

/// Create topics, failing with a clear message when no broker answers.
pub async fn create_topics(topics: &[(&str, i32)]) -> TopicAdmin {
    let admin = TopicAdmin::new(&settings()).expect("admin client");
    let created = tokio::time::timeout(Duration::from_secs(20), admin.create_plain(topics)).await;
    match created {
        Ok(Ok(())) => admin,
        Ok(Err(e)) => panic!(
            "cannot create test topics on {}: {e}\nstart a broker with `deploy/local/broker.sh start`",
            brokers()
        ),
        Err(_) => panic!(
            "no Kafka broker answered on {} within 20 s\nstart one with `deploy/local/broker.sh start`",
            brokers()
        ),
    }
}
