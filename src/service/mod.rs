//! Compass on Kafka: the planner service (`compass run`) and the simulated GPU workers
//! (`compass worker --simulated`), with what they share: topic names and event-time epochs.

pub mod load;
pub mod metrics;
pub mod planner;
pub mod progress;
pub mod simworker;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use compass_connectors::topics::{Catalogue, CatalogueError};
use thiserror::Error;

/// Errors of the Kafka services.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Bus(#[from] compass_connectors::bus::BusError),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("encoding a record: {0}")]
    Encode(#[from] compass_connectors::EncodeError),
    #[error("the testbed: {0}")]
    Testbed(String),
    #[error("a timely worker failed: {0}")]
    Worker(String),
    #[error("the planner's progress marker: {0}")]
    Progress(String),
    #[error("cannot serve metrics on {listen}: {detail}")]
    Metrics { listen: String, detail: String },
    #[error("the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Full names of the topics the services use.
#[derive(Debug, Clone)]
pub struct Topics {
    pub apps: String,
    pub queries: String,
    pub telemetry: String,
    pub profiles: String,
    pub requests: String,
    pub assignments: String,
    pub dlq: String,
    pub progress: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Result<Self, ServiceError> {
        let c = Catalogue::builtin(prefix);
        Ok(Topics {
            apps: c.topic("apps")?,
            queries: c.topic("queries")?,
            telemetry: c.topic("telemetry")?,
            profiles: c.topic("profiles")?,
            requests: c.topic("profile-requests")?,
            assignments: c.topic("assignments")?,
            dlq: c.topic("dlq")?,
            progress: c.topic("planner-progress")?,
        })
    }
}

/// Header carrying a record's decision epoch (decimal), for consumers that do not decode.
pub const HEADER_EPOCH: &str = "compass.epoch";

/// Header carrying the planner's wall clock (ms since the Unix epoch, decimal) when it built
/// the record. Records are stamped with their epoch's event time, so that the same inputs give
/// the same records; this header is what tells when a decision was actually made (latency
/// breakdowns, `compass load`). It differs between a run and its replay.
pub const HEADER_BUILT_AT: &str = "compass.built_at_ms";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The speed of each hardware class: the testbed's published figures, overridden by the
/// configuration's.
pub fn hardware_speeds(
    overrides: &BTreeMap<String, f64>,
) -> Result<BTreeMap<String, f64>, ServiceError> {
    let tables = compass_testbed::fleet::Tables::builtin()
        .map_err(|e| ServiceError::Testbed(e.to_string()))?;
    let mut out: BTreeMap<String, f64> = tables
        .classes
        .iter()
        .map(|(n, c)| (n.clone(), c.speed))
        .collect();
    out.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
    Ok(out)
}
