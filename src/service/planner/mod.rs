//! `compass run`: the planner's dataflow between Kafka topics, on timely workers.
//!
//! Delivery: at-least-once in, effectively-once out.
//! - Each worker reads its share of the input partitions (queries, telemetry, profiles; by
//!   index, no group rebalancing) from the **beginning**: the dataflow's state is rebuilt by
//!   replaying its inputs, so a restarted planner converges to the same decisions.
//! - Event time: a record's Kafka timestamp puts it in epoch `timestamp / epoch_ms`. A
//!   worker closes an epoch once every partition it reads has passed it: a partition that is
//!   not caught up holds the epoch at its last record's time; a caught-up (idle) one lets
//!   time pass `lateness_ms` behind the wall clock. A record later than that joins the open
//!   epoch (it is counted as late), the one case where a replay may batch differently.
//! - Outputs (assignments, profile requests) of a finished epoch are produced by the worker
//!   that computed them, keyed (query id, hardware class), stamped with their decision epoch,
//!   and flushed in order by the worker's publisher thread while the worker goes on planning
//!   (`publisher`). Once they are durable the worker acknowledges the epoch on a second,
//!   data-free dataflow;
//!   its frontier is the barrier: input offsets of an epoch are committed only once **every**
//!   worker has flushed that epoch's outputs.
//! - Caveat: no Kafka transactions (the test broker has no EndTxn), so a crash between a
//!   flush and its commit re-emits that epoch's outputs after the restart; they carry the
//!   same decision epoch, so consumers that keep the highest epoch per query are unaffected.
//! - Bad records (undecodable, invalid, or refused by the planner) go to the dead-letter
//!   topic with their reason, and are committed like any other record.
//!
//! Applications (one small compacted topic) are read by every worker, since each needs them
//! to decode profile samples; worker 0 alone publishes them into the dataflow.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use compass_connectors::kafka::{CommitWatcher, KafkaSettings, PartitionReader, Tp};
use compass_connectors::Codec;
use compass_dataflow::{Planner, Settings};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::probe::Handle as Probe;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe as _};
use timely::dataflow::InputHandle;
use tracing::{debug, info};

use super::metrics::Metrics;
use super::{now_ms, progress, ServiceError, Topics};
use publisher::Publisher;
use worker::Worker;

mod publisher;
mod worker;

/// What one service run needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub kafka: KafkaSettings,
    pub topics: Topics,
    pub group: String,
    /// Worker threads here, and this process's place in a timely cluster.
    pub cluster: crate::cluster::Cluster,
    pub epoch_ms: u64,
    pub lateness_ms: u64,
    pub settings: Settings,
    pub profile_class: String,
    /// Return once every input has been read to its end and every epoch is closed.
    pub exit_when_caught_up: bool,
    /// What the workers count, for the `/metrics` endpoint.
    pub metrics: Arc<Metrics>,
    /// Limits the validator applies to decoded records.
    pub limits: compass_schemas::Limits,
    /// Largest record value accepted, in bytes.
    pub max_record_bytes: usize,
}

/// What a worker did, summed over workers at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServeReport {
    pub records: u64,
    pub late: u64,
    pub dead_lettered: u64,
    pub assignments: u64,
    pub requests: u64,
}

/// Run the planner until `stop` turns true (or, with `exit_when_caught_up`, the input ends).
pub fn serve(opts: ServeOptions, stop: Arc<AtomicBool>) -> Result<ServeReport, ServiceError> {
    let t = &opts.topics;
    let counts = PartitionReader::partition_counts(
        &opts.kafka,
        &[&t.apps, &t.queries, &t.telemetry, &t.profiles],
        Duration::from_secs(10),
    )?;
    let mut inputs: Vec<Tp> = Vec::new();
    for topic in [&t.queries, &t.telemetry, &t.profiles] {
        inputs.extend((0..counts[topic.as_str()]).map(|p| (topic.clone(), p)));
    }
    let apps: Vec<Tp> = (0..counts[t.apps.as_str()])
        .map(|p| (t.apps.clone(), p))
        .collect();
    info!(
        workers = opts.cluster.workers,
        process = opts.cluster.process,
        processes = opts.cluster.addresses.len().max(1),
        partitions = inputs.len(),
        epoch_ms = opts.epoch_ms,
        "planner starting"
    );
    let resume = progress::read(&opts.kafka, &t.progress, &opts.group)?;
    let config = opts.cluster.timely();
    let guards = timely::execute(config, move |worker| {
        let mine: Vec<Tp> = inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % worker.peers() == worker.index())
            .map(|(_, tp)| tp.clone())
            .collect();
        run_worker(worker, &opts, mine, &apps, resume, &stop)
    })
    .map_err(ServiceError::Worker)?;
    let mut total = ServeReport::default();
    for r in guards.join() {
        let r = r.map_err(ServiceError::Worker)??;
        total.records += r.records;
        total.late += r.late;
        total.dead_lettered += r.dead_lettered;
        total.assignments += r.assignments;
        total.requests += r.requests;
    }
    Ok(total)
}

/// Per-partition event-time progress.
#[derive(Default)]
struct Watermarks {
    last: BTreeMap<Tp, i64>,
}

impl Watermarks {
    /// The time every partition in `parts` has passed.
    fn min(&self, reader: &PartitionReader, parts: &[Tp], idle_floor: i64) -> i64 {
        parts
            .iter()
            .map(|tp| {
                let last = self.last.get(tp).copied().unwrap_or(i64::MIN);
                if reader.caught_up(tp) {
                    last.max(idle_floor)
                } else {
                    last
                }
            })
            .min()
            .unwrap_or(idle_floor)
    }
}

fn run_worker(
    worker: &mut timely::worker::Worker,
    opts: &ServeOptions,
    mine: Vec<Tp>,
    apps: &[Tp],
    resume: u64,
    stop: &AtomicBool,
) -> Result<ServeReport, ServiceError> {
    let index = worker.index();
    let publishes_apps = index == 0;
    // Acknowledgements carry no data but one: at the end, each worker's last input epoch,
    // gathered on worker 0 for the final progress marker.
    let mut acks: InputHandle<u64, CapacityContainerBuilder<Vec<u64>>> = InputHandle::new();
    let barrier = Probe::new();
    let last_epoch = Rc::new(Cell::new(0u64));
    let seen = last_epoch.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut acks)
            .exchange(|_| 0)
            .inspect(move |e| seen.set(seen.get().max(*e)))
            .probe_with(&barrier);
    });
    let planner = Planner::new(worker, opts.settings.clone());
    let mut w = Worker {
        opts,
        planner,
        index,
        codec: Codec::single_object().with_limits(opts.limits.clone()),
        publisher: Publisher::start(&opts.kafka, index, opts.metrics.clone())?,
        publishes_apps,
        offsets: BTreeMap::new(),
        dlq: Vec::new(),
        report: ServeReport::default(),
        placements: HashMap::new(),
        resume,
        marked: resume,
        last_epoch: 0,
        committed: CommitWatcher::new(&opts.kafka, &opts.group)?
            .committed(&mine, Duration::from_secs(10))?,
    };
    // Applications first, to the end, so that profile samples can be decoded.
    let mut app_reader = PartitionReader::new(&opts.kafka, &opts.group, apps)?;
    while !app_reader.all_caught_up() && !stop.load(Ordering::Relaxed) {
        if let Some(r) = app_reader.poll(Duration::from_millis(50))? {
            w.take_app(&r);
        }
    }
    let mut reader = PartitionReader::new(&opts.kafka, &opts.group, &mine)?;
    // A run that stops at the end of its input reads to the end offsets the broker gives
    // now, as well as until the client's end-of-partition signal.
    let end = if opts.exit_when_caught_up && mine.is_empty() {
        Some(BTreeMap::new())
    } else if opts.exit_when_caught_up {
        Some(
            CommitWatcher::new(&opts.kafka, &opts.group)?
                .high_watermarks(&mine, Duration::from_secs(10))?,
        )
    } else {
        None
    };
    let mut marks = Watermarks::default();
    let mut last_log = std::time::Instant::now();
    let mut last_measure = last_log;
    let epoch_ms = opts.epoch_ms.max(1) as i64;
    // The epoch an event time falls in (times before 1970 in epoch 0).
    let epoch_of = |ts: i64| u64::try_from(ts.max(0) / epoch_ms).unwrap_or(0);
    debug!(worker = index, partitions = mine.len(), "worker reading");
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        // Read a batch: what the clients hold now, up to 1,024 records. Only an empty batch
        // waits (2 ms) for the next record: at a steady rate a record is nearly always due
        // within the wait, and a batch that waited for each would hold the dataflow back
        // until 1,024 had arrived (a second at 1,000 records/s).
        for n in 0..1024 {
            let wait = Duration::from_millis(if n == 0 { 2 } else { 0 });
            let got = match app_reader.poll(Duration::ZERO)? {
                Some(r) => Some(r),
                None => reader.poll(wait)?,
            };
            let Some(r) = got else { break };
            let ts = r.timestamp_ms.unwrap_or_else(now_ms);
            let tp = (r.topic.clone(), r.partition);
            // A record the last run did not commit goes into an epoch whose outputs were
            // not produced yet, whatever its time: its outputs must not be held back.
            let floor = if w.seen_before(&tp, r.offset) {
                0
            } else {
                resume
            };
            let event_epoch = epoch_of(ts).max(floor);
            let e = w.planner.set_time(event_epoch);
            w.last_epoch = w.last_epoch.max(e);
            if e > event_epoch {
                w.report.late += 1;
                opts.metrics.late.inc();
            }
            if r.topic == opts.topics.apps {
                w.take_app(&r);
            } else {
                w.take(&r, ts);
                w.offsets
                    .entry(e)
                    .or_default()
                    .insert(tp.clone(), r.offset + 1);
            }
            let last = marks.last.entry(tp).or_insert(ts);
            *last = (*last).max(ts);
        }
        // Close every epoch all watched partitions have passed.
        let idle_floor = now_ms() - opts.lateness_ms as i64;
        // Worker 0's event time also waits for the applications topic.
        let wm = marks
            .min(&reader, &mine, idle_floor)
            .min(if publishes_apps {
                marks.min(&app_reader, apps, idle_floor)
            } else {
                i64::MAX
            });
        let caught_up = reader.all_caught_up()
            && app_reader.all_caught_up()
            && end.as_ref().is_none_or(|h| reader.reached(h));
        let finishing = stopping || (opts.exit_when_caught_up && caught_up);
        w.planner
            .close_to(if finishing { u64::MAX } else { epoch_of(wm) });
        worker.step();
        // Publish finished epochs; acknowledge those already durable.
        w.publish()?;
        if let Some(done) = w.publisher.durable()? {
            let next = done.saturating_add(1);
            if next > *acks.time() {
                acks.advance_to(next);
            }
        }
        // Inputs stay open at the last time, so "done" is a frontier at `u64::MAX`.
        if finishing && w.planner.incomplete().is_none_or(|f| f == u64::MAX) {
            w.publisher.wait()?;
            acks.send(w.last_epoch);
            acks.close();
            // Let the other workers finish their epochs too.
            while !barrier.done() {
                worker.step();
                w.publish()?;
            }
            w.publisher.wait()?;
            // Every output of every epoch any worker fed is durable now.
            w.commit(
                &reader,
                None,
                Some(last_epoch.get().saturating_add(1)),
                true,
            )?;
            break;
        }
        worker.step();
        let passed = barrier.with_frontier(|f| f.first().copied());
        // Gauges read the client's watermarks per partition: a few times a second is enough.
        if last_measure.elapsed() >= Duration::from_millis(250) {
            last_measure = std::time::Instant::now();
            w.measure(&reader);
        }
        if last_log.elapsed() > Duration::from_secs(1) {
            last_log = std::time::Instant::now();
            debug!(worker = index, records = w.report.records, watermark_ms = wm, open_epoch = w.planner.epoch(),
                   incomplete = ?w.planner.incomplete(), taken = ?w.planner.taken(), barrier = ?passed,
                   caught_up, uncommitted_epochs = w.offsets.len(), "progress");
        }
        w.commit(&reader, passed, passed, false)?;
    }
    info!(
        worker = index,
        records = w.report.records,
        assignments = w.report.assignments,
        requests = w.report.requests,
        dead_lettered = w.report.dead_lettered,
        late = w.report.late,
        "worker done"
    );
    Ok(w.report)
}
