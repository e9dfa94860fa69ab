//! Dataflow throughput: a recorded run (every input record, batched by epoch) replayed into
//! a fresh planner as fast as it goes, from Avro bytes: decode, feed, advance the epoch,
//! wait for every output of it. This is the rate at which a restarted `compass run` catches
//! up on its topics, without the broker; Kafka's own read cost is not in it.

use std::sync::Arc;
use std::time::Instant;

use compass_connectors::Codec;
use compass_dataflow::log::Input;
use compass_dataflow::{Planner, Settings};
use serde::Serialize;

/// Which topic an encoded record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    App,
    Telemetry,
    Query,
    Sample,
}

/// An input record as its Kafka value.
#[derive(Debug, Clone)]
pub struct Encoded {
    kind: Kind,
    key: String,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub workers: usize,
    pub records: u64,
    pub epochs: usize,
    pub wall_s: f64,
    pub records_per_s: f64,
}

/// Encode a recorded log the way producers write it (single-object Avro).
pub fn encode(log: &[Vec<Input>]) -> anyhow::Result<Vec<Vec<Encoded>>> {
    let codec = Codec::single_object();
    log.iter()
        .map(|batch| {
            batch
                .iter()
                .map(|i| {
                    let (kind, bytes) = match i {
                        Input::App(a) => (Kind::App, codec.encode("apps", a)?),
                        Input::Telemetry(t) => (Kind::Telemetry, codec.encode("telemetry", t)?),
                        Input::Query(q) => (Kind::Query, codec.encode("queries", q)?),
                        Input::Sample(s) => (Kind::Sample, codec.encode("profiles", s)?),
                    };
                    Ok(Encoded {
                        kind,
                        key: i.key().to_string(),
                        bytes,
                    })
                })
                .collect()
        })
        .collect()
}

fn decode(codec: &Codec, e: &Encoded) -> Option<Input> {
    match e.kind {
        Kind::App => codec.decode(&e.bytes).ok().map(Input::App),
        Kind::Telemetry => codec.decode(&e.bytes).ok().map(Input::Telemetry),
        Kind::Query => codec.decode(&e.bytes).ok().map(Input::Query),
        Kind::Sample => codec.decode(&e.bytes).ok().map(Input::Sample),
    }
}

/// Replay `log` on `workers` timely workers (each decodes and feeds the records whose key
/// it owns; applications go to all) and time it.
pub fn replay(
    log: Arc<Vec<Vec<Encoded>>>,
    settings: Settings,
    workers: usize,
) -> anyhow::Result<Throughput> {
    let records: u64 = log.iter().map(|b| b.len() as u64).sum();
    let epochs = log.len();
    let started = Instant::now();
    let guards = timely::execute(timely::Config::process(workers.max(1)), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let codec = Codec::single_object();
        let mut planner = Planner::new(worker, settings.clone());
        let mut refused = 0u64;
        for batch in log.iter() {
            for e in batch {
                if !compass_dataflow::log::read_by(e.kind == Kind::App, &e.key, index, peers) {
                    continue;
                }
                match decode(&codec, e) {
                    Some(i) => refused += u64::from(i.feed(&mut planner, index == 0).is_err()),
                    None => refused += 1,
                }
            }
            planner.advance(worker);
        }
        refused
    })
    .map_err(|e| anyhow::anyhow!("timely: {e}"))?;
    let mut refused = 0;
    for r in guards.join() {
        refused += r.map_err(|e| anyhow::anyhow!("a worker failed: {e}"))?;
    }
    let wall_s = started.elapsed().as_secs_f64();
    tracing::debug!(refused, "replayed");
    Ok(Throughput {
        workers,
        records,
        epochs,
        wall_s,
        records_per_s: records as f64 / wall_s.max(1e-9),
    })
}
