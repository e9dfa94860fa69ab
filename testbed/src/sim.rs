//! A whole simulated deployment, planner-agnostic: the fleet, the trace cut into windows,
//! the simulated GPU workers and the goodput accountant. A driver feeds each window's
//! records to a planner, hands the planner's assignments and profile requests back here,
//! and asks for the window to be realized.
//!
//! Simulated time stands still while the planner works on a window: planning latency is
//! measured in wall time by the driver, goodput in simulated windows here. This is what
//! makes an embedded run and a run through Kafka comparable on the same seed.

use std::collections::{BTreeMap, HashMap};

use compass_planners::model::{Plan, Query};
use compass_schemas::{
    Application, Assignment, AssignmentStatus, DeviceTelemetry, ProfileRequest, ProfileSample,
    QueryEvent,
};

use crate::bound;
use crate::catalog::{self, CatalogError};
use crate::fleet::{self, FleetError, FleetSpec, Tables};
use crate::goodput::{Accountant, LeastCost, WindowReport};
use crate::profiling::Pool;
use crate::trace::{self, Arrival, Drift, Trace, TraceError, TraceSpec};
use crate::truth::GroundTruth;
use crate::worker::{WorkerError, World};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("application model: {0}")]
    Model(String),
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub edge_devices: usize,
    /// Scale the fleet's server machines (1.0: [`FleetSpec::sized`]).
    pub server_scale: f64,
    pub trace: TraceSpec,
    pub window_s: f64,
    /// GPUs of the reference class that answer profile requests ([`crate::profiling`]);
    /// `None`: every request is answered at once, so profiling costs no time.
    pub profile_gpus: Option<usize>,
}

impl Scenario {
    /// The default demo: 300 users of all six applications for 10 simulated minutes, a
    /// bandwidth drop, an accuracy shift and a machine failure along the way.
    pub fn demo(seed: u64) -> Self {
        let apps = [
            "speech-recognition",
            "visual-tracking",
            "video-qa",
            "dense-video-captioning",
            "code-generation",
            "live-video-chat",
        ];
        Scenario {
            name: "demo".into(),
            seed,
            edge_devices: 300,
            server_scale: 1.0,
            trace: TraceSpec {
                seed,
                start_ms: 0,
                duration_s: 600.0,
                arrival: Arrival::Poisson { rate_per_s: 0.5 },
                mean_lifetime_s: 240.0,
                app_mix: apps.iter().map(|a| (a.to_string(), 1.0)).collect(),
                drift: vec![
                    Drift::BandwidthDrop {
                        at_s: 200.0,
                        fraction: 0.3,
                        factor: 0.25,
                    },
                    Drift::AccuracyShift {
                        at_s: 300.0,
                        app_id: "visual-tracking".into(),
                        stratum: "crowded".into(),
                        delta: -5.0,
                    },
                    Drift::MachineFailure {
                        at_s: 400.0,
                        count: 2,
                    },
                ],
            },
            window_s: 10.0,
            profile_gpus: None,
        }
    }

    pub fn windows(&self) -> u64 {
        (self.trace.duration_s / self.window_s).ceil() as u64
    }

    /// The benchmark scenarios by name (see BENCHMARKS.md): `constrained-small` (about 100
    /// live queries, servers at a quarter of the sized fleet), `constrained-large` (about
    /// 1,500), `abundant` (servers at four times the sized fleet; cost mode is the planner's
    /// setting), `dynamics` (the demo's drift events), `single-query` (one query alone),
    /// `oracle` (small and tight: the MILP proves each epoch), `scale` (10,000 users),
    /// `ablation` (constrained-small's world for the ablated planners).
    pub fn named(name: &str, seed: u64) -> Option<Self> {
        let mut s = Scenario::demo(seed);
        s.name = name.to_string();
        // A steady Poisson trace with no drift events, on `users` devices and the servers
        // scaled by `servers`.
        let steady = |s: &mut Scenario, users: usize, servers: f64, rate_per_s: f64| {
            s.edge_devices = users;
            s.server_scale = servers;
            s.trace.arrival = Arrival::Poisson { rate_per_s };
            s.trace.drift.clear();
        };
        match name {
            // `ablation`: constrained-small's world and trace, for the ablated planners.
            "constrained-small" | "ablation" => steady(&mut s, 200, 0.25, 0.4),
            "constrained-large" => steady(&mut s, 3000, 0.25, 6.0),
            "abundant" => steady(&mut s, 200, 4.0, 0.4),
            "e2e" => {
                // The end-to-end test's trace: over 1,000 arrivals in five minutes, in ten
                // windows (each window costs broker round trips per planning round).
                s.trace.duration_s = 300.0;
                s.trace.arrival = Arrival::Poisson { rate_per_s: 3.6 };
                s.trace.mean_lifetime_s = 120.0;
                s.window_s = 30.0;
            }
            "faults" => {
                // The fault tests' trace: a few hundred arrivals in two minutes, in twelve
                // windows, so that a planner killed several times still finishes quickly.
                s.trace.duration_s = 120.0;
                s.trace.arrival = Arrival::Poisson { rate_per_s: 2.0 };
                s.trace.mean_lifetime_s = 60.0;
                s.window_s = 10.0;
            }
            "single-query" => {
                // One query, alive for the whole run: the cost of planning it alone.
                s.edge_devices = 50;
                s.trace.duration_s = 300.0;
                s.trace.arrival = Arrival::At { times_s: vec![1.0] };
                s.trace.mean_lifetime_s = 1e9;
                s.trace.drift.clear();
            }
            "oracle" => {
                // Small enough that CBC proves each epoch's matching (about 20 live queries)
                // and tight enough that the matching matters.
                steady(&mut s, 60, 0.1, 0.1);
                s.trace.duration_s = 300.0;
            }
            "scale" => {
                // 10,000 users, about 3,400 live queries at the end.
                steady(&mut s, 10_000, 0.25, 20.0);
                s.trace.duration_s = 300.0;
            }
            "dynamics" | "demo" => {}
            _ => return None,
        }
        Some(s)
    }
}

pub struct Simulation {
    pub scenario: Scenario,
    pub world: World,
    pub tables: Tables,
    trace: Trace,
    next_query: usize,
    next_telemetry: usize,
    next_drift: usize,
    live: BTreeMap<String, Query>,
    current: HashMap<String, Assignment>,
    accountant: Accountant,
    pub reports: Vec<WindowReport>,
    pub profiles: u64,
    pub profile_gpu_seconds: f64,
    pub bad_assignments: u64,
    pool: Pool,
    /// Live queries without an assigned plan yet: since when (simulated seconds; an arrival
    /// counts from the start of the window that brings it, when the planner sees it).
    unplanned_since: HashMap<String, f64>,
    /// Simulated seconds from arrival to the first assigned plan, per query that got one.
    pub plan_wait_s: Vec<f64>,
    /// Queries that departed before any plan was assigned to them.
    departed_unplanned: u64,
    /// The ground-truth bound of each window's met queries, when asked for.
    bound: Option<bound::Cache>,
}

/// Planner rounds per window at most (the embedded run's and the simulated workers' limit);
/// the profiling pool's clock moves at least `window_s / ROUNDS_PER_WINDOW` per round.
pub const ROUNDS_PER_WINDOW: usize = 16;

impl Simulation {
    pub fn new(scenario: Scenario) -> Result<Self, SimError> {
        let tables = Tables::builtin()?;
        let truths: Vec<GroundTruth> = catalog::builtin()?
            .into_iter()
            .map(GroundTruth::new)
            .collect::<Result<_, _>>()
            .map_err(|e| SimError::Model(e.to_string()))?;
        let mut spec = FleetSpec::sized(scenario.edge_devices, scenario.seed);
        let scale = |n: usize| ((n as f64 * scenario.server_scale).round() as usize).max(1);
        spec.edge_servers = scale(spec.edge_servers);
        for c in &mut spec.cloud {
            c.1 = scale(c.1);
        }
        let devices = fleet::generate(&spec, &tables)?;
        let trace = trace::generate(&scenario.trace, &truths, &devices)?;
        let world = World::new(truths, devices, tables.clone(), scenario.seed ^ 0x5eed);
        let pool = match scenario.profile_gpus {
            Some(gpus) => Pool::new(gpus, scenario.window_s / ROUNDS_PER_WINDOW as f64),
            None => Pool::instant(),
        };
        Ok(Simulation {
            scenario,
            world,
            tables,
            trace,
            next_query: 0,
            next_telemetry: 0,
            next_drift: 0,
            live: BTreeMap::new(),
            current: HashMap::new(),
            accountant: Accountant::new(),
            reports: Vec::new(),
            profiles: 0,
            profile_gpu_seconds: 0.0,
            bad_assignments: 0,
            pool,
            unplanned_since: HashMap::new(),
            plan_wait_s: Vec::new(),
            departed_unplanned: 0,
            bound: None,
        })
    }

    /// Also bound each window: the least cost at which the queries that met every SLO could
    /// have met them alone on idle machines, from `cache` (and over its GPU shares)
    /// ([`WindowReport::least_cost_met_usd`]).
    pub fn bound_with(&mut self, cache: bound::Cache) {
        self.bound = Some(cache);
    }

    /// Speed of every hardware class, for the planner's settings.
    pub fn hardware_speed(&self) -> BTreeMap<String, f64> {
        self.tables
            .classes
            .iter()
            .map(|(n, c)| (n.clone(), c.speed))
            .collect()
    }

    pub fn applications(&self) -> Vec<Application> {
        self.world
            .truths
            .values()
            .map(|t| t.spec.application())
            .collect()
    }

    /// Every device's telemetry at time zero.
    pub fn initial_telemetry(&self) -> Vec<DeviceTelemetry> {
        self.world
            .devices
            .iter()
            .map(|d| fleet::telemetry(d, self.scenario.trace.start_ms))
            .collect()
    }

    pub fn windows(&self) -> u64 {
        self.scenario.windows()
    }

    fn window_end_ms(&self, w: u64) -> i64 {
        self.scenario.trace.start_ms + ((w + 1) as f64 * self.scenario.window_s * 1000.0) as i64
    }

    /// The records of window `w` (query events and drift telemetry, by event time); accuracy
    /// drift is applied to the world directly, since it is a property of the data.
    pub fn window_inputs(&mut self, w: u64) -> (Vec<QueryEvent>, Vec<DeviceTelemetry>) {
        let window = self.scenario.window_s;
        self.pool.window(w as f64 * window, (w + 1) as f64 * window);
        let end = self.window_end_ms(w);
        let mut queries = Vec::new();
        while let Some(ev) = self.trace.queries.get(self.next_query) {
            if ev.event_time_ms >= end {
                break;
            }
            let hib = ev
                .spec
                .as_ref()
                .and_then(|s| self.world.truths.get(&s.app_id))
                .is_none_or(|t| t.spec.higher_is_better);
            match Query::from_event(ev, hib) {
                Some(q) => {
                    self.live.insert(ev.query_id.clone(), q);
                    self.unplanned_since
                        .insert(ev.query_id.clone(), self.pool.now_s());
                }
                None => {
                    self.live.remove(&ev.query_id);
                    self.current.remove(&ev.query_id);
                    if self.unplanned_since.remove(&ev.query_id).is_some() {
                        self.departed_unplanned += 1;
                    }
                }
            }
            queries.push(ev.clone());
            self.next_query += 1;
        }
        let mut telemetry = Vec::new();
        while let Some(t) = self.trace.telemetry.get(self.next_telemetry) {
            if t.event_time_ms >= end {
                break;
            }
            self.world.apply_telemetry(t);
            telemetry.push(t.clone());
            self.next_telemetry += 1;
        }
        while let Some(d) = self.trace.accuracy_drift.get(self.next_drift) {
            if d.time_ms >= end {
                break;
            }
            let d = d.clone();
            self.world.apply_accuracy_drift(&d);
            self.next_drift += 1;
        }
        (queries, telemetry)
    }

    /// Take an assignment record; the one with the highest decision epoch per query wins.
    pub fn apply(&mut self, a: &Assignment) {
        if !self.live.contains_key(&a.query_id) {
            return;
        }
        let newer = self
            .current
            .get(&a.query_id)
            .is_none_or(|old| old.decision_epoch <= a.decision_epoch);
        if newer {
            if a.status == AssignmentStatus::Assigned {
                if let Some(since) = self.unplanned_since.remove(&a.query_id) {
                    self.plan_wait_s.push(self.pool.now_s() - since);
                }
            }
            self.current.insert(a.query_id.clone(), a.clone());
        }
    }

    /// Measure what a profile request asks for, at once (whatever the profiling pool).
    pub fn answer(&mut self, r: &ProfileRequest) -> Result<Vec<ProfileSample>, WorkerError> {
        let start = self.scenario.trace.start_ms;
        let samples = self.world.answer(r, start)?;
        self.profiles += 1;
        self.profile_gpu_seconds += samples.iter().map(|s| s.gpu_seconds).sum::<f64>();
        Ok(samples)
    }

    /// One planner round of profiling: start this round's `requests` on the profiling pool
    /// and return the samples of every request done by the next round (those of earlier
    /// rounds and windows included). Empty when nothing comes back before the window ends:
    /// the planner's rounds for this window are over. Profiles and GPU-seconds are counted
    /// when a request is done.
    pub fn profile_round(
        &mut self,
        requests: &[ProfileRequest],
    ) -> Result<Vec<ProfileSample>, WorkerError> {
        let start = self.scenario.trace.start_ms;
        for r in requests {
            let samples = self.world.answer(r, start)?;
            self.pool.start(samples);
        }
        let done = self.pool.release();
        self.profiles += done.len() as u64;
        let samples: Vec<ProfileSample> = done.into_iter().flatten().collect();
        self.profile_gpu_seconds += samples.iter().map(|s| s.gpu_seconds).sum::<f64>();
        Ok(samples)
    }

    /// Queries never assigned a plan: departed before one, or live without one now.
    pub fn never_planned(&self) -> u64 {
        self.departed_unplanned + self.unplanned_since.len() as u64
    }

    /// Queries live now, and how many of them hold an assignment record (any status).
    pub fn coverage(&self) -> (usize, usize) {
        let covered = self
            .live
            .keys()
            .filter(|q| self.current.contains_key(*q))
            .count();
        (self.live.len(), covered)
    }

    /// The live queries, by id.
    pub fn live_queries(&self) -> impl Iterator<Item = &Query> {
        self.live.values()
    }

    /// Changes whenever the world's truth or devices change (telemetry or accuracy drift
    /// applied), so that a cache of what the truth says knows when to forget.
    pub fn world_version(&self) -> (usize, usize) {
        (self.next_telemetry, self.next_drift)
    }

    /// The ids of the queries live now.
    pub fn live_ids(&self) -> Vec<String> {
        self.live.keys().cloned().collect()
    }

    pub fn current(&self) -> &HashMap<String, Assignment> {
        &self.current
    }

    /// Run window `w` with the assignments in force and account it.
    pub fn realize(&mut self, w: u64) -> WindowReport {
        let mut deployed = Vec::new();
        let mut plans: HashMap<String, Plan> = HashMap::new();
        for (id, q) in &self.live {
            let Some(a) = self.current.get(id) else {
                continue;
            };
            if a.status != AssignmentStatus::Assigned {
                continue;
            }
            match self.world.deployment(a, q) {
                Ok(Some(d)) => {
                    plans.insert(id.clone(), d.plan.clone());
                    deployed.push(d);
                }
                Ok(None) => {}
                Err(_) => self.bad_assignments += 1,
            }
        }
        let realized = self.world.realize(&deployed, self.scenario.window_s);
        let live: Vec<Query> = self.live.values().cloned().collect();
        let (window_s, version) = (self.scenario.window_s, self.world_version());
        let world = &self.world;
        let mut least = self
            .bound
            .as_mut()
            .map(|cache| move |q: &Query| cache.least(world, version, q));
        let report = self.accountant.account(
            w,
            window_s,
            &live,
            &plans,
            &realized,
            least.as_mut().map(|f| f as &mut LeastCost<'_>),
        );
        self.reports.push(report.clone());
        report
    }
}
