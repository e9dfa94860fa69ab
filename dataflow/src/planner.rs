//! One worker's handle on the dataflow: fold records into its inputs, advance an epoch,
//! take the changes that epoch produced.
//!
//! Input-side state is what upsert semantics need: to replace a device's telemetry or
//! retract a departed query, the worker must know the row it inserted. Each worker holds only
//! the keys of the records it consumed (with Kafka: its partitions), so state is split the
//! way the input is.
//!
//! Limit today: [`Planner::advance`] drains this worker's output buffers only. With several
//! workers each would see just the decisions of the keys it owns, so the embedded harness
//! runs one worker; routing outputs to the producing worker (and the cross-worker flush
//! barrier before committing offsets) comes with `compass run`.

use std::collections::{BTreeMap, HashMap};

use compass_planners::online::rows::{Decision, DeviceRow, QueryRow};
use compass_planners::online::stats::{ConfigStats, StatsError};
use compass_schemas::{Application, DeviceTelemetry, ProfileSample, QueryEvent, QueryEventKind};
use thiserror::Error;

use crate::graph::{self, model_of, AppEntry, Ask, Handles};
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
    #[error("configuration index does not fit in 64 bits")]
    HugeSpace,
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
    apps: HashMap<String, AppEntry>,
    queries: HashMap<String, QueryRow>,
    devices: HashMap<String, DeviceRow>,
    stats: BTreeMap<(String, u64), ConfigStats>,
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
            apps: HashMap::new(),
            queries: HashMap::new(),
            devices: HashMap::new(),
            stats: BTreeMap::new(),
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

    pub fn app(&mut self, app: &Application) {
        let entry = AppEntry::new(app);
        if let Some(old) = self.apps.insert(app.app_id.clone(), entry.clone()) {
            if old == entry {
                return;
            }
            self.handles.apps.remove((app.app_id.clone(), old));
        }
        self.handles.apps.insert((app.app_id.clone(), entry));
    }

    pub fn query(&mut self, ev: &QueryEvent) -> Result<(), InputError> {
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
        if let Some(old) = old {
            self.handles.queries.remove((ev.query_id.clone(), old));
        }
        if let Some(new) = new {
            self.handles.queries.insert((ev.query_id.clone(), new));
        }
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
        if let Some(old) = self.devices.insert(t.device_id.clone(), row.clone()) {
            if old == row {
                return Ok(());
            }
            self.handles.devices.remove((t.device_id.clone(), old));
        }
        self.handles.devices.insert((t.device_id.clone(), row));
        Ok(())
    }

    pub fn sample(&mut self, s: &ProfileSample) -> Result<(), InputError> {
        let speed = self.speed(&s.hardware_class)?;
        let app = self
            .apps
            .get(&s.app_id)
            .and_then(|e| model_of(&e.json))
            .ok_or_else(|| InputError::UnknownApp(s.app_id.clone()))?;
        let config = compass_planners::online::stats::config_of(&app, s)?;
        let index = u64::try_from(app.index_of(&config).map_err(|_| InputError::HugeSpace)?)
            .map_err(|_| InputError::HugeSpace)?;
        let key = (s.app_id.clone(), index);
        let old = self.stats.get(&key).cloned();
        let mut new = old.clone().unwrap_or_default();
        new.add(&app, s, speed)?;
        if let Some(old) = old {
            self.handles.stats.remove((key.clone(), old));
        }
        self.handles.stats.insert((key.clone(), new.clone()));
        self.stats.insert(key, new);
        Ok(())
    }

    /// Close the current epoch: run the dataflow until every output for it is complete, and
    /// return what changed. Inputs fed afterwards belong to the next epoch.
    pub fn advance(&mut self, worker: &mut timely::worker::Worker) -> Vec<Change> {
        let done = self.epoch;
        self.epoch += 1;
        let h = &mut self.handles;
        h.apps.advance_to(self.epoch);
        h.queries.advance_to(self.epoch);
        h.devices.advance_to(self.epoch);
        h.stats.advance_to(self.epoch);
        h.apps.flush();
        h.queries.flush();
        h.devices.flush();
        h.stats.flush();
        let probe = h.probe.clone();
        let upto = self.epoch;
        worker.step_while(|| probe.less_than(&upto));
        self.drain(done)
    }

    fn drain(&mut self, upto: u64) -> Vec<Change> {
        let mut out = Vec::new();
        let outcomes: Vec<_> = take(upto, &self.handles.outcomes);
        self.searches += outcomes.iter().filter(|(_, _, r)| *r > 0).count() as u64;
        // Per query: the newest insertion wins; a retraction with no insertion is a departure.
        // Net change per decision first (updates of one epoch may arrive in pieces).
        let mut net: BTreeMap<Decision, isize> = BTreeMap::new();
        for (d, _, r) in take(upto, &self.handles.decisions) {
            *net.entry(d).or_default() += r;
        }
        let mut by_query: BTreeMap<String, (Option<Decision>, Option<Decision>)> = BTreeMap::new();
        for (d, r) in net.into_iter().filter(|(_, r)| *r != 0) {
            let e = by_query.entry(d.query_id.clone()).or_default();
            if r > 0 {
                e.0 = Some(d);
            } else {
                e.1 = Some(d);
            }
        }
        for (query_id, (added, removed)) in by_query {
            match (added, removed) {
                (Some(decision), _) => out.push(Change::Decided {
                    epoch: upto,
                    decision,
                }),
                (None, Some(old)) => out.push(Change::Withdrawn {
                    epoch: upto,
                    query_id,
                    app_id: old.app_id,
                }),
                (None, None) => {}
            }
        }
        let mut asks: Vec<Ask> = take(upto, &self.handles.asks)
            .into_iter()
            .filter(|(_, _, r)| *r > 0)
            .map(|(a, _, _)| a)
            .collect();
        asks.sort();
        out.extend(
            asks.into_iter()
                .map(|ask| Change::Profile { epoch: upto, ask }),
        );
        out
    }
}

/// The buffered outputs at epochs up to `upto`; later ones stay.
fn take<D>(upto: u64, buf: &graph::Buffer<D>) -> Vec<(D, u64, isize)> {
    let mut b = buf.borrow_mut();
    let (now, later): (Vec<_>, Vec<_>) = b.drain(..).partition(|(_, t, _)| *t <= upto);
    *b = later;
    now
}
