//! Dataflow throughput: a recorded run (every input record, batched by epoch) replayed into
//! a fresh planner as fast as it goes, from Avro bytes: decode, feed, advance the epoch,
//! wait for every output of it. This is the rate at which a restarted `compass run` catches
//! up on its topics, without the broker; Kafka's own read cost is not in it.
//!
//! A recorded run is dominated by the cluster searches its profile samples set off. The
//! steady phase after it ([`steady_stream`]) measures the incremental path alone: arrivals
//! that join clusters already searched and departures, as a live service sees most of the
//! time, through decoding, the dataflow's collections, expansion and matching.

use std::sync::Arc;
use std::time::Instant;

use compass_connectors::Codec;
use compass_dataflow::log::Input;
use compass_dataflow::{Planner, Settings};
use compass_schemas::{QueryEvent, QueryEventKind};
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
    /// The steady phase after the recorded run, timed on its own (absent when empty).
    pub steady: Option<Phase>,
}

/// One timed phase of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub records: u64,
    pub epochs: usize,
    pub wall_s: f64,
    pub records_per_s: f64,
    /// Seconds spent in the matching operator, summed over the workers (the rest of the
    /// phase is decoding, the dataflow's collections and waiting for the other workers).
    pub matching_s: f64,
}

/// A steady stream to follow a recorded `log`: `epochs` batches of `per_epoch` query
/// events, arrivals that copy the specs of the log's arrivals in turn (so they join clusters
/// whose search already ran) and, once `live` of them are up, as many departures of the
/// oldest, encoded as producers write them.
pub fn steady_stream(
    log: &[Vec<Input>],
    epochs: usize,
    per_epoch: usize,
    live: usize,
) -> anyhow::Result<Vec<Vec<Encoded>>> {
    let arrivals: Vec<&QueryEvent> = log
        .iter()
        .flatten()
        .filter_map(|i| match i {
            Input::Query(q) if q.kind == QueryEventKind::Arrive && q.spec.is_some() => Some(q),
            _ => None,
        })
        .collect();
    anyhow::ensure!(
        !arrivals.is_empty(),
        "the recorded run has no arrivals to copy"
    );
    let t0 = arrivals.iter().map(|q| q.event_time_ms).max().unwrap_or(0);
    let mut up = std::collections::VecDeque::new();
    let mut next = 0usize;
    let mut out = Vec::with_capacity(epochs);
    for e in 0..epochs {
        let mut batch = Vec::with_capacity(per_epoch);
        let at = t0 + 1 + e as i64;
        while batch.len() < per_epoch {
            let from = arrivals[next % arrivals.len()];
            let id = format!("steady-{next}");
            next += 1;
            up.push_back(id.clone());
            batch.push(Input::Query(QueryEvent {
                query_id: id,
                kind: QueryEventKind::Arrive,
                event_time_ms: at,
                spec: from.spec.clone(),
            }));
            if up.len() > live && batch.len() < per_epoch {
                if let Some(id) = up.pop_front() {
                    batch.push(Input::Query(QueryEvent {
                        query_id: id,
                        kind: QueryEventKind::Depart,
                        event_time_ms: at,
                        spec: None,
                    }));
                }
            }
        }
        out.push(batch);
    }
    encode(&out)
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
/// it owns; applications go to all) and time it; then `steady`, timed on its own.
pub fn replay(
    log: Arc<Vec<Vec<Encoded>>>,
    steady: Arc<Vec<Vec<Encoded>>>,
    settings: Settings,
    workers: usize,
) -> anyhow::Result<Throughput> {
    let records: u64 = log.iter().map(|b| b.len() as u64).sum();
    let steady_records: u64 = steady.iter().map(|b| b.len() as u64).sum();
    let epochs = log.len();
    let steady_epochs = steady.len();
    let started = Instant::now();
    let guards = timely::execute(timely::Config::process(workers.max(1)), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let codec = Codec::single_object();
        let mut planner = Planner::new(worker, settings.clone());
        let mut refused = 0u64;
        let mut feed =
            |planner: &mut Planner, worker: &mut timely::worker::Worker, batch: &[Encoded]| {
                for e in batch {
                    if !compass_dataflow::log::read_by(e.kind == Kind::App, &e.key, index, peers) {
                        continue;
                    }
                    match decode(&codec, e) {
                        Some(i) => refused += u64::from(i.feed(planner, index == 0).is_err()),
                        None => refused += 1,
                    }
                }
                planner.advance(worker);
            };
        for batch in log.iter() {
            feed(&mut planner, worker, batch);
        }
        let recorded_s = started.elapsed().as_secs_f64();
        planner.take_timings();
        let steady_started = Instant::now();
        for batch in steady.iter() {
            feed(&mut planner, worker, batch);
        }
        let steady_s = steady_started.elapsed().as_secs_f64();
        let matching_s: f64 = planner.take_timings().matchings.iter().sum();
        (refused, recorded_s, steady_s, matching_s)
    })
    .map_err(|e| anyhow::anyhow!("timely: {e}"))?;
    let (mut refused, mut wall_s, mut steady_s, mut matching_s) = (0, 0.0f64, 0.0f64, 0.0f64);
    for r in guards.join() {
        let (n, w, s, m) = r.map_err(|e| anyhow::anyhow!("a worker failed: {e}"))?;
        refused += n;
        wall_s = wall_s.max(w);
        steady_s = steady_s.max(s);
        matching_s += m;
    }
    tracing::debug!(refused, "replayed");
    Ok(Throughput {
        workers,
        records,
        epochs,
        wall_s,
        records_per_s: records as f64 / wall_s.max(1e-9),
        steady: (steady_records > 0).then(|| Phase {
            records: steady_records,
            epochs: steady_epochs,
            wall_s: steady_s,
            records_per_s: steady_records as f64 / steady_s.max(1e-9),
            matching_s,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use compass_schemas::{QuerySpec, Slo};

    fn arrival(id: &str, device: &str) -> Input {
        Input::Query(QueryEvent {
            query_id: id.into(),
            kind: QueryEventKind::Arrive,
            event_time_ms: 1_000,
            spec: Some(QuerySpec {
                app_id: "asr".into(),
                source_device_id: device.into(),
                rate_per_s: 1.0,
                weight: 1.0,
                slo: Slo {
                    latency_ms: 500.0,
                    latency_percentile: 95.0,
                    accuracy_threshold: None,
                    max_cost_usd_per_hour: None,
                },
                data_stratum: "clean".into(),
            }),
        })
    }

    #[test]
    fn the_steady_stream_copies_specs_and_keeps_the_live_count() {
        let log = vec![vec![arrival("a", "d1"), arrival("b", "d2")]];
        let stream = steady_stream(&log, 6, 4, 5).expect("stream");
        let codec = Codec::single_object();
        let mut live = std::collections::BTreeSet::new();
        let mut devices = std::collections::BTreeSet::new();
        for batch in &stream {
            assert_eq!(batch.len(), 4);
            for e in batch {
                let Some(Input::Query(q)) = decode(&codec, e) else {
                    panic!("a query event");
                };
                match q.kind {
                    QueryEventKind::Arrive => {
                        assert!(live.insert(q.query_id.clone()), "ids are fresh");
                        devices.insert(q.spec.expect("a spec").source_device_id);
                    }
                    _ => assert!(live.remove(&q.query_id), "only live queries depart"),
                }
            }
            assert!(live.len() <= 5 + 1, "{}", live.len());
        }
        assert_eq!(devices.len(), 2, "both recorded specs are copied");
        // Arrivals and departures in pairs once 5 are up (a pair may straddle two batches).
        assert!((5..=6).contains(&live.len()), "{}", live.len());
        let empty: Vec<Vec<Input>> = vec![vec![]];
        assert!(steady_stream(&empty, 1, 1, 1).is_err());
    }
}
