//! One timely worker's side of `compass run`: records in (decoded, validated, handed to the
//! planner or dead-lettered), changes out (encoded, produced, flushed), offsets committed
//! behind the barrier, and what the metrics endpoint reports. The delivery semantics are
//! stated in the parent module.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use compass_connectors::dlq::dead_letter;
use compass_connectors::kafka::{PartitionReader, Tp};
use compass_connectors::{Codec, InboundRecord, OutboundRecord};
use compass_dataflow::records::{self, Outbound};
use compass_dataflow::Planner;
use compass_schemas::{Application, DeviceTelemetry, ProfileSample, QueryEvent, QueryEventKind};
use tracing::{debug, warn};

use super::publisher::{Batch, Publisher};
use super::{ServeOptions, ServeReport};
use crate::service::metrics::{PartitionLabels, WorkerLabels};
use crate::service::{now_ms, progress, ServiceError, HEADER_BUILT_AT, HEADER_EPOCH};

pub(super) struct Worker<'a> {
    pub(super) opts: &'a ServeOptions,
    pub(super) planner: Planner,
    pub(super) index: usize,
    pub(super) codec: Codec,
    /// Produces the outputs and the progress markers, in order, on a thread of its own.
    pub(super) publisher: Publisher,
    pub(super) publishes_apps: bool,
    /// Next offsets to commit, by the epoch their records went into.
    pub(super) offsets: BTreeMap<u64, BTreeMap<Tp, i64>>,
    pub(super) dlq: Vec<OutboundRecord>,
    pub(super) report: ServeReport,
    /// Per query this worker publishes for: whether it is served, where, and its predicted
    /// probability of meeting its SLOs (for churn and predicted goodput).
    pub(super) placements: HashMap<String, (u64, f64)>,
    /// Outputs of epochs before this one were produced by an earlier run (the progress
    /// marker at start); they are recomputed but not produced again.
    pub(super) resume: u64,
    /// The highest progress marker written (global worker 0 writes them).
    pub(super) marked: u64,
    /// The group's committed offsets at start: records before them were handled (and
    /// dead-lettered where bad) by an earlier run.
    pub(super) committed: BTreeMap<Tp, i64>,
    /// The latest epoch this worker fed a record into.
    pub(super) last_epoch: u64,
}

impl Worker<'_> {
    pub(super) fn take_app(&mut self, r: &InboundRecord) {
        let Some(bytes) = r.payload.as_deref() else {
            return;
        };
        if bytes.len() > self.opts.max_record_bytes {
            // Every worker reads the applications; the publishing one dead-letters.
            if self.publishes_apps {
                self.too_large(r, bytes.len());
            }
            return;
        }
        match self.codec.decode::<Application>(bytes) {
            Ok(app) => {
                if self.publishes_apps {
                    self.planner.app(&app);
                } else {
                    self.planner.know_app(&app);
                }
            }
            Err(e) if self.publishes_apps => self.reject(r, e.reason(), &e.to_string()),
            Err(_) => {}
        }
    }

    pub(super) fn take(&mut self, r: &InboundRecord, ts: i64) {
        self.report.records += 1;
        self.opts.metrics.records.inc();
        let Some(bytes) = r.payload.as_deref() else {
            // A tombstone on a compacted input: nothing to plan for (telemetry is upserted).
            return;
        };
        if bytes.len() > self.opts.max_record_bytes {
            self.too_large(r, bytes.len());
            return;
        }
        let t = &self.opts.topics;
        let result = if r.topic == t.queries {
            self.codec.decode::<QueryEvent>(bytes).map(|ev| {
                let m = &self.opts.metrics;
                match ev.kind {
                    QueryEventKind::Arrive => m.arrived(&ev.query_id, ts),
                    QueryEventKind::Depart => m.forget(&ev.query_id),
                    QueryEventKind::Update => {}
                }
                self.planner.query(&ev)
            })
        } else if r.topic == t.telemetry {
            self.codec
                .decode::<DeviceTelemetry>(bytes)
                .map(|ev| self.planner.telemetry(&ev))
        } else {
            self.codec
                .decode::<ProfileSample>(bytes)
                .map(|ev| self.planner.sample(&ev))
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.reject(r, e.reason(), &e.to_string()),
            Err(e) => self.reject(r, e.reason(), &e.to_string()),
        }
    }

    /// Dead-letter a record of `len` bytes, over the record size limit.
    fn too_large(&mut self, r: &InboundRecord, len: usize) {
        let detail = format!(
            "the record is {len} bytes, over the limit of {} (limits.max_record_bytes)",
            self.opts.max_record_bytes
        );
        self.reject(r, "too_large", &detail);
    }

    /// Whether an earlier run committed the record at `offset` of `tp` (so handled it, and
    /// flushed its outputs).
    pub(super) fn seen_before(&self, tp: &Tp, offset: i64) -> bool {
        !self.committed.is_empty() && self.committed.get(tp).is_some_and(|c| offset < *c)
    }

    pub(super) fn reject(&mut self, r: &InboundRecord, reason: &str, detail: &str) {
        if !self.committed.is_empty() && self.seen_before(&(r.topic.clone(), r.partition), r.offset)
        {
            // Dead-lettered by the run that committed it.
            return;
        }
        warn!(topic = %r.topic, partition = r.partition, offset = r.offset, reason, "dead-lettered");
        self.report.dead_lettered += 1;
        self.opts.metrics.dead_lettered.inc();
        self.opts.metrics.rejected(reason);
        self.dlq
            .push(dead_letter(r, &self.opts.topics.dlq, reason, detail));
    }

    /// Produce the changes of every finished epoch, and the dead letters so far, in the
    /// background ([`Publisher`]: the epochs count as flushed once it says they are durable).
    pub(super) fn publish(&mut self) -> Result<(), ServiceError> {
        let changes = self.planner.take_complete();
        let mut out = std::mem::take(&mut self.dlq);
        let epoch_ms = self.opts.epoch_ms as i64;
        let mut first_assigned = Vec::new();
        let mut held_back = 0u64;
        let built_at = now_ms().to_string();
        for c in &changes {
            let epoch = match c {
                compass_dataflow::Change::Decided { epoch, .. }
                | compass_dataflow::Change::Withdrawn { epoch, .. }
                | compass_dataflow::Change::Profile { epoch, .. } => *epoch,
            };
            if epoch < self.resume {
                // Produced by an earlier run (see `progress`).
                self.follow(c, &mut Vec::new());
                held_back += 1;
                continue;
            }
            self.follow(c, &mut first_assigned);
            // Stamped with the end of its epoch: the same inputs give the same records.
            let at = i64::try_from(epoch)
                .unwrap_or(i64::MAX / epoch_ms - 1)
                .saturating_add(1)
                * epoch_ms;
            let rec = match records::record_of(
                c,
                &self.opts.profile_class,
                self.opts.settings.search.profile_inputs,
                at,
            ) {
                Outbound::Assignment(a) => {
                    self.report.assignments += 1;
                    self.opts.metrics.assignments.inc();
                    OutboundRecord::new(
                        &self.opts.topics.assignments,
                        a.query_id.clone(),
                        self.codec.encode(&self.opts.topics.assignments, &a)?,
                    )
                }
                Outbound::Request(q) => {
                    self.report.requests += 1;
                    OutboundRecord::new(
                        &self.opts.topics.requests,
                        q.hardware_class.clone(),
                        self.codec.encode(&self.opts.topics.requests, &q)?,
                    )
                }
            };
            out.push(
                rec.with_header(HEADER_EPOCH, epoch.to_string())
                    .with_header(HEADER_BUILT_AT, built_at.as_str())
                    .at(at),
            );
        }
        if held_back > 0 {
            debug!(
                held_back,
                resume = self.resume,
                "outputs of epochs produced before the restart not produced again"
            );
        }
        self.publisher.send(Batch {
            through: self.planner.taken(),
            records: out,
            served: first_assigned,
        })
    }

    /// Track a change for the churn and predicted-goodput metrics; a query newly served is
    /// put in `served` (its arrival latency ends once the record is durable).
    pub(super) fn follow(&mut self, c: &compass_dataflow::Change, served: &mut Vec<String>) {
        use compass_dataflow::Change;
        let m = &self.opts.metrics;
        let (query, now) = match c {
            Change::Decided { decision: d, .. } => {
                let place = (!d.operators.is_empty()).then(|| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    d.operators.hash(&mut h);
                    (h.finish(), d.slo_probability.0)
                });
                (&d.query_id, place)
            }
            Change::Withdrawn { query_id, .. } => {
                m.forget(query_id);
                (query_id, None)
            }
            Change::Profile { .. } => return,
        };
        let before = match now {
            Some(p) => self.placements.insert(query.clone(), p),
            None => self.placements.remove(query),
        };
        match (before, now) {
            (Some((was, pb)), Some((is, pn))) => {
                if was != is {
                    m.churn.inc();
                }
                m.predicted_goodput.inc_by(pn - pb);
            }
            (None, Some((_, pn))) => {
                m.served.inc();
                m.predicted_goodput.inc_by(pn);
                served.push(query.clone());
            }
            (Some((_, pb)), None) => {
                m.served.dec();
                m.predicted_goodput.dec_by(pb);
            }
            (None, None) => {}
        }
    }

    /// Refresh the gauges that are read rather than counted, and drain the step timings.
    pub(super) fn measure(&mut self, reader: &PartitionReader) {
        let m = &self.opts.metrics;
        let t = self.planner.take_timings();
        m.searches.inc_by(t.searches.len() as u64);
        for s in t.searches {
            m.search_seconds.observe(s);
        }
        for s in t.matchings {
            m.matching_seconds.observe(s);
        }
        for ((topic, partition), lag) in reader.lag() {
            m.consumer_lag
                .get_or_create(&PartitionLabels { topic, partition })
                .set(lag);
        }
        let me = WorkerLabels {
            worker: self.index as u32,
        };
        m.live_queries
            .get_or_create(&me)
            .set(self.planner.live_queries() as i64);
        if let Some(done) = self.planner.taken() {
            let end = (done.saturating_add(1)).saturating_mul(self.opts.epoch_ms);
            let lag = now_ms() as f64 - end as f64;
            m.frontier_lag.get_or_create(&me).set(lag.max(0.0) / 1000.0);
        }
    }

    /// Commit the offsets of every epoch before `passed` (all of them when `None`), after
    /// marking the epochs before `flushed` as produced (global worker 0 only).
    ///
    /// The marker goes out through the publisher, behind the outputs it vouches for. While
    /// running (`finish` false) neither it nor the asynchronous offset commit is waited for.
    /// Both only ever name epochs the barrier has passed, so whichever lands first, and
    /// whichever a crash loses, a restart re-produces at most what was produced (the caveat
    /// in the parent module) and never skips an output. At the end (`finish`), both are
    /// waited for.
    pub(super) fn commit(
        &mut self,
        reader: &PartitionReader,
        passed: Option<u64>,
        flushed: Option<u64>,
        finish: bool,
    ) -> Result<(), ServiceError> {
        if let Some(p) = flushed.filter(|p| self.index == 0 && *p > self.marked) {
            // Every worker has flushed every epoch before `p`: say so.
            let m = progress::marker(&self.opts.topics.progress, &self.opts.group, p);
            self.publisher.send(Batch {
                through: None,
                records: vec![m],
                served: Vec::new(),
            })?;
            if finish {
                self.publisher.wait()?;
            }
            self.marked = p;
        }
        let mut next: BTreeMap<Tp, i64> = BTreeMap::new();
        let keep = match passed {
            Some(p) => self.offsets.split_off(&p),
            None => BTreeMap::new(),
        };
        for (_, offs) in std::mem::replace(&mut self.offsets, keep) {
            for (tp, o) in offs {
                let e = next.entry(tp).or_insert(o);
                *e = (*e).max(o);
            }
        }
        if !next.is_empty() {
            let t = std::time::Instant::now();
            let result = if finish {
                reader.commit(&next)
            } else {
                reader.commit_async(&next)
            };
            if let Err(e) = result {
                // The outputs are durable, so the commit may wait: keep the offsets for the
                // next attempt (a broker restart must not stop the planner).
                if !e.is_transient() {
                    return Err(e.into());
                }
                warn!(error = %e, partitions = next.len(), "commit failed; retrying with the next one");
                let first = self.offsets.keys().next().copied().unwrap_or(0);
                let slot = self.offsets.entry(first).or_default();
                for (tp, o) in next {
                    let e = slot.entry(tp).or_insert(o);
                    *e = (*e).max(o);
                }
                return Ok(());
            }
            debug!(
                partitions = next.len(),
                ms = t.elapsed().as_millis() as u64,
                "committed"
            );
        }
        Ok(())
    }
}
