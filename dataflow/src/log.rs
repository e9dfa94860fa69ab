//! A recorded input log: the records fed to a planner between two epoch advances, batch by
//! batch, so that a run can be replayed: on more workers (each feeding its own share, as
//! each Kafka consumer reads its own partitions) or as fast as the dataflow goes (the
//! throughput benchmark, which is also how fast a restarted planner catches up).

use compass_schemas::{Application, DeviceTelemetry, ProfileSample, QueryEvent};

use crate::{InputError, Planner};

/// One input record.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    App(Application),
    Telemetry(DeviceTelemetry),
    Query(QueryEvent),
    Sample(ProfileSample),
}

impl Input {
    /// The record's Kafka key (what decides its partition).
    pub fn key(&self) -> &str {
        match self {
            Input::App(a) => &a.app_id,
            Input::Telemetry(t) => &t.device_id,
            Input::Query(q) => &q.query_id,
            Input::Sample(s) => &s.plan_key,
        }
    }

    /// Feed the record to `planner`. Applications go to every worker; only the one that
    /// `publishes_apps` puts them into the dataflow.
    pub fn feed(&self, planner: &mut Planner, publishes_apps: bool) -> Result<(), InputError> {
        match self {
            Input::App(a) if publishes_apps => planner.app(a),
            Input::App(a) => {
                planner.know_app(a);
            }
            Input::Telemetry(t) => planner.telemetry(t)?,
            Input::Query(q) => planner.query(q)?,
            Input::Sample(s) => planner.sample(s)?,
        }
        Ok(())
    }

    /// Whether worker `index` of `peers` reads this record: applications go to all, every
    /// other record to the worker its key hashes to (a stand-in for Kafka's partitioner).
    pub fn read_by(&self, index: usize, peers: usize) -> bool {
        read_by(matches!(self, Input::App(_)), self.key(), index, peers)
    }
}

/// [`Input::read_by`] before decoding: whether worker `index` of `peers` reads a record
/// with this key (`app`: an application record, read by all).
pub fn read_by(app: bool, key: &str, index: usize, peers: usize) -> bool {
    app || owner(key, peers) == index
}

/// The worker of `peers` that a key belongs to.
pub fn owner(key: &str, peers: usize) -> usize {
    (fnv(key) % peers.max(1) as u64) as usize
}

/// FNV-1a: a stable hash (the same in every process and build).
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
