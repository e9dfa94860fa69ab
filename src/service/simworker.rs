//! `compass worker --simulated`: the testbed's users, devices and GPU workers on Kafka.
//!
//! It plays a scenario window by window: produce the window's query events and telemetry,
//! then wait until the planner has caught up (its group has committed every input offset
//! produced so far, which the planner does only after every output of those epochs is
//! durable), read the assignments and profile requests up to their high watermarks, apply
//! the assignments (latest decision epoch wins), start the profile requests on the simulated
//! profiling pool and send the samples of those done, and repeat until no samples come back;
//! then run the window on the simulated machines and account its goodput. This lockstep
//! makes the result comparable with the embedded run of the same scenario and seed.
//!
//! Delivery: the worker reads outputs from the end offsets it found at start and never
//! commits; a profile request seen twice (same id and epoch, as after a planner restart) is
//! answered once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use compass_connectors::kafka::{CommitWatcher, KafkaSettings, KafkaSink, PartitionReader, Tp};
use compass_connectors::{Codec, OutboundRecord};
use compass_schemas::{Assignment, AssignmentStatus, ProfileRequest};
use compass_testbed::sim::{Scenario, Simulation};
use tracing::debug;

use super::{now_ms, ServiceError, Topics};
use crate::embedded::{RunReport, Window};

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub kafka: KafkaSettings,
    pub topics: Topics,
    /// The planner's consumer group, watched for its commits.
    pub planner_group: String,
    pub max_rounds: usize,
    /// How long to wait for the planner in one round before giving up.
    pub patience: Duration,
    pub progress: bool,
}

struct Bus {
    topics: Topics,
    sink: KafkaSink,
    codec: Codec,
    runtime: tokio::runtime::Runtime,
    watcher: CommitWatcher,
    outputs: PartitionReader,
    /// Next offset per input partition produced so far: the planner must commit this far.
    produced: BTreeMap<Tp, i64>,
    patience: Duration,
}

impl Bus {
    fn send(&mut self, records: Vec<OutboundRecord>) -> Result<(), ServiceError> {
        let topics: Vec<String> = records.iter().map(|r| r.topic.clone()).collect();
        let delivered = self.runtime.block_on(self.sink.send_all(records))?;
        for (t, d) in topics.into_iter().zip(delivered) {
            if t == self.topics.apps {
                // The planner re-reads applications from the beginning and commits none.
                continue;
            }
            let e = self.produced.entry((t, d.partition)).or_insert(0);
            *e = (*e).max(d.offset + 1);
        }
        Ok(())
    }

    fn record<T: compass_schemas::Record>(
        &self,
        topic: &str,
        key: &str,
        value: &T,
        at: i64,
    ) -> Result<OutboundRecord, ServiceError> {
        Ok(OutboundRecord::new(topic, key, self.codec.encode(topic, value)?).at(at))
    }

    /// `ask` the broker, retrying while it is unavailable (restarting), within the patience.
    fn patiently<T>(
        &self,
        ask: impl Fn() -> Result<T, compass_connectors::bus::BusError>,
    ) -> Result<T, ServiceError> {
        let started = Instant::now();
        loop {
            match ask() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && started.elapsed() < self.patience => {
                    debug!(error = %e, "broker unavailable; waiting");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Wait until the planner has committed everything produced so far.
    fn wait_caught_up(&self) -> Result<(), ServiceError> {
        let started = Instant::now();
        let parts: Vec<Tp> = self.produced.keys().cloned().collect();
        loop {
            let committed =
                self.patiently(|| self.watcher.committed(&parts, Duration::from_secs(5)))?;
            if self
                .produced
                .iter()
                .all(|(tp, o)| committed.get(tp).is_some_and(|c| c >= o))
            {
                return Ok(());
            }
            if started.elapsed() > self.patience {
                debug!(?committed, produced = ?self.produced, "planner behind");
                return Err(ServiceError::Worker(format!(
                    "the planner has not caught up in {:?} (is `compass run` running with this group and these topics?)",
                    self.patience
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Read every output record the planner has made durable (called once it has committed,
    /// which it does only after its outputs are durable): up to the high watermarks, asked of
    /// the broker in one request.
    fn read_outputs(&mut self) -> Result<(Vec<Assignment>, Vec<ProfileRequest>), ServiceError> {
        let parts: Vec<Tp> = self.outputs.assigned().iter().cloned().collect();
        let highs =
            self.patiently(|| self.watcher.high_watermarks(&parts, Duration::from_secs(5)))?;
        let (mut a, mut r) = (Vec::new(), Vec::new());
        let started = Instant::now();
        while highs
            .iter()
            .any(|(tp, h)| self.outputs.positions().get(tp).copied().unwrap_or(0) < *h)
        {
            if started.elapsed() > self.patience {
                return Err(ServiceError::Worker("outputs did not arrive".into()));
            }
            let Some(rec) = self.outputs.poll(Duration::from_millis(2))? else {
                continue;
            };
            let Some(bytes) = rec.payload.as_deref() else {
                continue;
            };
            if rec.topic == self.topics.assignments {
                match self.codec.decode::<Assignment>(bytes) {
                    Ok(x) => a.push(x),
                    Err(e) => debug!(error = %e, "undecodable assignment skipped"),
                }
            } else {
                match self.codec.decode::<ProfileRequest>(bytes) {
                    Ok(x) => r.push(x),
                    Err(e) => debug!(error = %e, "undecodable profile request skipped"),
                }
            }
        }
        Ok((a, r))
    }
}

/// Play `scenario` against a planner running on Kafka.
pub fn run_simulated(scenario: Scenario, opts: &SimOptions) -> Result<RunReport, ServiceError> {
    let started = Instant::now();
    let mut sim = Simulation::new(scenario).map_err(|e| ServiceError::Testbed(e.to_string()))?;
    let t = opts.topics.clone();
    let counts = PartitionReader::partition_counts(
        &opts.kafka,
        &[&t.assignments, &t.requests],
        Duration::from_secs(10),
    )?;
    let outs: Vec<Tp> = counts
        .iter()
        .flat_map(|(topic, n)| (0..*n).map(move |p| (topic.clone(), p)))
        .collect();
    let outputs = PartitionReader::new(&opts.kafka, "compass-simworker", &outs)?;
    let mut bus = Bus {
        topics: t.clone(),
        sink: KafkaSink::new(&opts.kafka)?,
        codec: Codec::single_object(),
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        watcher: CommitWatcher::new(&opts.kafka, &opts.planner_group)?,
        outputs,
        produced: BTreeMap::new(),
        patience: opts.patience,
    };
    // The catalogue and the fleet as it starts; they go in with window 0's records.
    let stamp = now_ms();
    let mut first = Vec::new();
    for app in sim.applications() {
        first.push(bus.record(&t.apps, &app.app_id, &app, stamp)?);
    }
    for tel in sim.initial_telemetry() {
        first.push(bus.record(&t.telemetry, &tel.device_id, &tel, stamp)?);
    }
    let mut answered: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut windows = Vec::new();
    let mut latency_ms = Vec::new();
    let total = sim.windows();
    for w in 0..total {
        let t0 = Instant::now();
        let stamp = now_ms();
        let (queries, telemetry) = sim.window_inputs(w);
        let mut batch = std::mem::take(&mut first);
        let mut waiting: HashMap<String, Instant> = HashMap::new();
        for q in &queries {
            if q.spec.is_some() {
                waiting.insert(q.query_id.clone(), t0);
            }
            batch.push(bus.record(&t.queries, &q.query_id, q, stamp)?);
        }
        for tel in &telemetry {
            batch.push(bus.record(&t.telemetry, &tel.device_id, tel, stamp)?);
        }
        bus.send(batch)?;
        let mut rounds = 0;
        while rounds < opts.max_rounds {
            rounds += 1;
            let t1 = Instant::now();
            bus.wait_caught_up()?;
            let t2 = Instant::now();
            let (assignments, requests) = bus.read_outputs()?;
            debug!(
                window = w,
                round = rounds,
                wait_ms = (t2 - t1).as_millis() as u64,
                read_ms = t2.elapsed().as_millis() as u64,
                assignments = assignments.len(),
                requests = requests.len(),
                "round"
            );
            for a in &assignments {
                if a.status == AssignmentStatus::Assigned {
                    if let Some(t) = waiting.remove(&a.query_id) {
                        latency_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
                sim.apply(a);
            }
            let fresh: Vec<ProfileRequest> = requests
                .into_iter()
                .filter(|req| answered.insert((req.request_id.clone(), req.decision_epoch)))
                .collect();
            let stamp = now_ms();
            let mut samples = Vec::new();
            for s in sim
                .profile_round(&fresh)
                .map_err(|e| ServiceError::Testbed(e.to_string()))?
            {
                samples.push(bus.record(&t.profiles, &s.plan_key, &s, stamp)?);
            }
            if samples.is_empty() {
                break;
            }
            bus.send(samples)?;
        }
        let planning_ms = t0.elapsed().as_secs_f64() * 1e3;
        let r = sim.realize(w);
        windows.push(Window::of(&r, w, rounds, planning_ms));
        if opts.progress {
            crate::embedded::progress(&windows, total, sim.profiles);
        }
    }
    if opts.progress {
        eprintln!();
    }
    Ok(crate::embedded::report_of(
        &sim,
        windows,
        latency_ms,
        0,
        started,
        0,
        Vec::new(),
    ))
}
