//! One worker's handle on the dataflow: fold records into its inputs, advance an epoch,
//! take the changes that epoch produced.
//!
//! Input-side state is what upsert semantics need: to replace a device's telemetry or
//! retract a departed query, the worker must know the row it inserted. Each worker holds only
//! the keys of the records it consumed (with Kafka: its partitions), so state is split the
//! way the input is.
//!
//! Time: updates go in at the planner's *update time* ([`Planner::set_time`], at least the
//! open epoch), so a service can place a record in the epoch of its event time while earlier
//! epochs are still open. [`Planner::close_to`] promises no more updates before an epoch;
//! [`Planner::take_complete`] returns the changes of every epoch the whole dataflow (all
//! workers) has finished, one epoch at a time, so the same inputs at the same epochs give
//! the same changes however often it is called. [`Planner::advance`] is the embedded
//! harness's lockstep: close one epoch, step until it completes, take it.
//!
//! Outputs stay on the worker that computed them: each worker publishes its own share (a
//! query's decisions are always computed on one worker, the owner of its matching
//! partition), so with several workers no worker sees every decision.

use std::collections::{BTreeMap, HashMap};

use compass_planners::online::rows::{Decision, DeviceRow, QueryRow};
use compass_planners::online::stats::{SampleRow, StatsError};
use compass_planners::online::Name;
use compass_schemas::{
    Application, DeviceTelemetry, ProfileSample, QueryEvent, QueryEventKind, Tier,
};
use thiserror::Error;

use differential_dataflow::input::InputSession;

use crate::graph::{self, model_of, AppEntry, Ask, Handles};
use crate::liveness::Deadlines;
use crate::settings::Settings;

/// A record the planner could not take; the caller dead-letters it with this reason.
#[derive(Debug, Error, PartialEq)]
pub enum InputError {
    #[error("query `{0}` arrives without a spec")]
    NoSpec(String),
    #[error("hardware class `{0}` has no known speed")]
    UnknownHardware(String),
    #[error("profile sample for unknown application `{0}`")]
    UnknownApp(String),
    #[error("profile sample: {0}")]
    Stats(#[from] StatsError),
    #[error("query `{0}` arrived again while live (duplicate query id)")]
    DuplicateQuery(String),
    #[error("configuration index does not fit in 64 bits")]
    HugeSpace,
}

impl InputError {
    /// A stable token for the dead-letter header and the metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            InputError::NoSpec(_) => "no_spec",
            InputError::UnknownHardware(_) => "unknown_hardware",
            InputError::UnknownApp(_) => "unknown_application",
            InputError::Stats(_) => "bad_sample",
            InputError::DuplicateQuery(_) => "duplicate_query",
            InputError::HugeSpace => "huge_space",
        }
    }
}

/// What an epoch changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The query's decision is now this (assigned or rejected).
    Decided { epoch: u64, decision: Decision },
    /// The query departed; its decision is withdrawn.
    Withdrawn {
        epoch: u64,
        query_id: String,
        app_id: String,
    },
    /// A search wants this configuration measured.
    Profile { epoch: u64, ask: Ask },
}

pub struct Planner {
    handles: Handles,
    settings: Settings,
    epoch: u64,
    /// Time of the next updates (≥ `epoch`).
    at: u64,
    /// Every epoch up to this one has been taken.
    taken: Option<u64>,
    apps: HashMap<String, AppEntry>,
    queries: HashMap<String, QueryRow>,
    devices: HashMap<String, DeviceRow>,
    /// When each server is declared lost unless it reports (see [`crate::liveness`]).
    deadlines: Deadlines,
    /// Servers declared lost so far: for reports.
    pub lost: u64,
    /// Searches rerun so far (cluster, epoch): for reports.
    pub searches: u64,
}

impl Planner {
    pub fn new(worker: &mut timely::worker::Worker, settings: Settings) -> Self {
        let handles = graph::build(worker, &settings);
        Planner {
            handles,
            settings,
            epoch: 0,
            at: 0,
            taken: None,
            apps: HashMap::new(),
            queries: HashMap::new(),
            devices: HashMap::new(),
            deadlines: Deadlines::default(),
            lost: 0,
            searches: 0,
        }
    }

    /// The epoch inputs go into now.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn live_queries(&self) -> usize {
        self.queries.len()
    }

    /// Put the next updates at `epoch` (or at the open epoch, if `epoch` is already closed).
    /// Returns the epoch used.
    pub fn set_time(&mut self, epoch: u64) -> u64 {
        self.at = epoch.max(self.epoch);
        self.at
    }

    fn update<D>(at: u64, session: &mut InputSession<u64, D, isize>, old: Option<D>, new: Option<D>)
    where
        D: differential_dataflow::Data,
    {
        if let Some(old) = old {
            session.update_at(old, at, -1);
        }
        if let Some(new) = new {
            session.update_at(new, at, 1);
        }
    }

    /// Learn an application and publish it into the dataflow.
    pub fn app(&mut self, app: &Application) {
        if let Some(old) = self.know_app(app) {
            let new = self.apps.get(&app.app_id).cloned();
            let key = Name::from(&app.app_id);
            Self::update(
                self.at,
                &mut self.handles.apps,
                old.map(|o| (key.clone(), o)),
                new.map(|n| (key.clone(), n)),
            );
        }
    }

    /// Learn an application for decoding profile samples without publishing it (with several
    /// workers, every worker must know each application but only one publishes it).
    /// Returns `Some(previous entry)` when the entry changed.
    pub fn know_app(&mut self, app: &Application) -> Option<Option<AppEntry>> {
        let entry = AppEntry::new(app);
        let old = self.apps.insert(app.app_id.clone(), entry.clone());
        (old.as_ref() != Some(&entry)).then_some(old)
    }

    pub fn query(&mut self, ev: &QueryEvent) -> Result<(), InputError> {
        if ev.kind == QueryEventKind::Arrive && self.queries.contains_key(&ev.query_id) {
            // An arrival for a live query: a second query under a taken id, or a duplicate
            // delivery. Either way the live query is left as it is.
            return Err(InputError::DuplicateQuery(ev.query_id.clone()));
        }
        let new = match ev.kind {
            QueryEventKind::Depart => None,
            _ => Some(QueryRow::from_spec(
                &ev.query_id,
                ev.spec
                    .as_ref()
                    .ok_or_else(|| InputError::NoSpec(ev.query_id.clone()))?,
            )),
        };
        let old = match &new {
            Some(row) => self.queries.insert(ev.query_id.clone(), row.clone()),
            None => self.queries.remove(&ev.query_id),
        };
        if old == new {
            return Ok(());
        }
        Self::update(
            self.at,
            &mut self.handles.queries,
            old.map(|o| (o.id.clone(), o)),
            new.map(|n| (n.id.clone(), n)),
        );
        Ok(())
    }

    fn speed(&self, class: &str) -> Result<f64, InputError> {
        self.settings
            .hardware_speed
            .get(class)
            .copied()
            .ok_or_else(|| InputError::UnknownHardware(class.to_string()))
    }

    pub fn telemetry(&mut self, t: &DeviceTelemetry) -> Result<(), InputError> {
        let row = DeviceRow::from_telemetry(t, self.speed(&t.hardware_class)?);
        let timeout = self.settings.machine_timeout_epochs;
        if timeout > 0 && t.tier != Tier::Edge && t.alive {
            self.deadlines.seen(&t.device_id, self.at, timeout);
        } else {
            self.deadlines.forget(&t.device_id);
        }
        let old = self.devices.insert(t.device_id.clone(), row.clone());
        if old.as_ref() == Some(&row) {
            return Ok(());
        }
        Self::update(
            self.at,
            &mut self.handles.devices,
            old.map(|o| (o.id.clone(), o)),
            Some((row.id.clone(), row)),
        );
        Ok(())
    }

    pub fn sample(&mut self, s: &ProfileSample) -> Result<(), InputError> {
        let speed = self.speed(&s.hardware_class)?;
        let app = self
            .apps
            .get(&s.app_id)
            .and_then(|e| model_of(&e.json))
            .ok_or_else(|| InputError::UnknownApp(s.app_id.clone()))?;
        let (config, row) = SampleRow::of(&app, s, speed)?;
        let index = u64::try_from(app.index_of(&config).map_err(|_| InputError::HugeSpace)?)
            .map_err(|_| InputError::HugeSpace)?;
        self.handles
            .samples
            .update_at(((Name::from(&s.app_id), index), row), self.at, 1);
        Ok(())
    }

    /// Promise no more updates before `epoch` (no-op if already promised) and send what was
    /// fed into the dataflow.
    pub fn close_to(&mut self, epoch: u64) {
        // Servers silent past their deadline leave at the epoch of the deadline, before it
        // closes (see `liveness` for why in event time).
        for (due, id) in self.deadlines.due_before(epoch) {
            if let Some(old) = self.devices.remove(&id) {
                tracing::info!(device = %id, epoch = due, "no telemetry within the timeout: machine declared lost");
                self.lost += 1;
                self.handles
                    .devices
                    .update_at((old.id.clone(), old), due.max(self.epoch), -1);
            }
        }
        if epoch > self.epoch {
            self.epoch = epoch;
            self.at = self.at.max(epoch);
            let h = &mut self.handles;
            h.apps.advance_to(epoch);
            h.queries.advance_to(epoch);
            h.devices.advance_to(epoch);
            h.samples.advance_to(epoch);
        }
        let h = &mut self.handles;
        h.apps.flush();
        h.queries.flush();
        h.devices.flush();
        h.samples.flush();
    }

    /// The first epoch the dataflow has not finished (on every worker); `None` once all are.
    pub fn incomplete(&self) -> Option<u64> {
        self.handles.probe.with_frontier(|f| f.first().copied())
    }

    /// The changes of every finished epoch not taken yet, epoch by epoch.
    pub fn take_complete(&mut self) -> Vec<Change> {
        let Some(upto) = self
            .incomplete()
            .map_or(Some(u64::MAX), |f| f.checked_sub(1))
        else {
            return Vec::new();
        };
        // Each buffer is taken once; its updates are then grouped by epoch.
        let outcomes = take(upto, &self.handles.outcomes);
        self.searches += outcomes.iter().filter(|(_, _, r)| *r > 0).count() as u64;
        let mut decisions: BTreeMap<u64, Vec<(Decision, isize)>> = BTreeMap::new();
        for (d, t, r) in take(upto, &self.handles.decisions) {
            decisions.entry(t).or_default().push((d, r));
        }
        let mut asks: BTreeMap<u64, Vec<Ask>> = BTreeMap::new();
        for (a, t, r) in take(upto, &self.handles.asks) {
            if r > 0 {
                asks.entry(t).or_default().push(a);
            }
        }
        let mut times: Vec<u64> = decisions.keys().chain(asks.keys()).copied().collect();
        times.sort_unstable();
        times.dedup();
        let mut out = Vec::new();
        for t in times {
            changes_at(
                t,
                decisions.remove(&t).unwrap_or_default(),
                asks.remove(&t).unwrap_or_default(),
                &mut out,
            );
        }
        if upto != u64::MAX {
            self.taken = Some(self.taken.map_or(upto, |t| t.max(upto)));
        }
        out
    }

    /// The search and matching times measured since the last call.
    pub fn take_timings(&mut self) -> graph::Timings {
        std::mem::take(&mut *self.handles.timings.borrow_mut())
    }

    /// Every epoch up to this one has been taken by [`Planner::take_complete`].
    pub fn taken(&self) -> Option<u64> {
        self.taken
    }

    /// Close the current epoch: run the dataflow until every output for it is complete, and
    /// return what changed. Inputs fed afterwards belong to the next epoch.
    pub fn advance(&mut self, worker: &mut timely::worker::Worker) -> Vec<Change> {
        let next = self.epoch + 1;
        self.close_to(next);
        let probe = self.handles.probe.clone();
        worker.step_while(|| probe.less_than(&next));
        self.take_complete()
    }
}

/// The changes of one epoch from its decision updates and profile asks.
fn changes_at(
    epoch: u64,
    decisions: Vec<(Decision, isize)>,
    mut asks: Vec<Ask>,
    out: &mut Vec<Change>,
) {
    // Per query: the newest insertion wins; a retraction with no insertion is a departure.
    // Net change per decision first (updates of one epoch may arrive in pieces).
    let mut net: BTreeMap<Decision, isize> = BTreeMap::new();
    for (d, r) in decisions {
        *net.entry(d).or_default() += r;
    }
    let mut by_query: BTreeMap<String, (Option<Decision>, Option<Decision>)> = BTreeMap::new();
    for (d, r) in net.into_iter().filter(|(_, r)| *r != 0) {
        let e = by_query.entry(d.query_id.clone()).or_default();
        if r > 0 {
            // Every live query has exactly one decision: two insertions for one query in one
            // epoch (or one inserted twice) is a defect of the dataflow, not of the input.
            debug_assert!(
                e.0.is_none() && r == 1,
                "query {} decided twice at epoch {epoch}: {:?} and {d:?} ({r:+})",
                d.query_id,
                e.0
            );
            e.0 = Some(d);
        } else {
            e.1 = Some(d);
        }
    }
    for (query_id, (added, removed)) in by_query {
        match (added, removed) {
            (Some(decision), _) => out.push(Change::Decided { epoch, decision }),
            (None, Some(old)) => out.push(Change::Withdrawn {
                epoch,
                query_id,
                app_id: old.app_id,
            }),
            (None, None) => {}
        }
    }
    asks.sort();
    out.extend(asks.into_iter().map(|ask| Change::Profile { epoch, ask }));
}

/// The buffered outputs at epochs up to `upto`; later ones stay.
fn take<D>(upto: u64, buf: &graph::Buffer<D>) -> Vec<(D, u64, isize)> {
    let mut b = buf.borrow_mut();
    let (now, later): (Vec<_>, Vec<_>) = b.drain(..).partition(|(_, t, _)| *t <= upto);
    *b = later;
    now
}
