//! The embedded run: the testbed's simulated deployment and the planner's dataflow in one
//! process, one timely worker, no broker. Used by `compass demo` and `compass bench`.
//!
//! Per simulated window: feed the window's records, then run planner epochs until no profile
//! samples come back for the next one (the searches stop asking, or what they asked is still
//! running on the profiling pool when the window ends, see `compass_testbed::profiling`) or the
//! round limit is reached, then realize the window with the assignments in force.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use compass_dataflow::log::Input;
use compass_dataflow::records::{self, Outbound};
use compass_dataflow::{Planner, Settings};
use compass_schemas::AssignmentStatus;
use compass_testbed::goodput::WindowReport;
use compass_testbed::sim::{Scenario, Simulation};
use serde::Serialize;

/// Hardware class that answers profile requests (the reference GPU).
pub const PROFILE_CLASS: &str = "a100-80gb";

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Planner epochs per window at most.
    pub max_rounds: usize,
    /// Print a live progress line on stderr.
    pub progress: bool,
    /// Bound each window from the ground truth, through this cache (and over its GPU
    /// shares; [`RunReport::least_cost_met_usd`]).
    pub bound: Option<compass_testbed::bound::Cache>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            max_rounds: compass_testbed::sim::ROUNDS_PER_WINDOW,
            progress: false,
            bound: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub window: u64,
    pub live: usize,
    pub assigned: usize,
    pub met: usize,
    pub goodput: f64,
    pub cost_usd: f64,
    /// The part of `cost_usd` spent on queries that missed some SLO.
    pub cost_missed_usd: f64,
    /// The least cost at which the queries that met every SLO could have met them
    /// (ground truth, idle machines), when the run was bounded.
    pub least_cost_met_usd: Option<f64>,
    pub churn: usize,
    pub rounds: usize,
    pub planning_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    /// Simulated seconds per window.
    pub window_s: f64,
    pub windows: Vec<Window>,
    /// Σ over windows of the weighted number of queries that met every SLO.
    pub goodput: f64,
    /// Σ met / Σ live over windows.
    pub slo_attainment: f64,
    pub cost_usd: f64,
    /// The part of `cost_usd` spent on queries that missed some SLO.
    pub cost_missed_usd: f64,
    /// Σ over windows of [`Window::least_cost_met_usd`], when the run was bounded.
    pub least_cost_met_usd: Option<f64>,
    /// Arrival → first assigned record, wall clock, for the arrivals assigned in the window
    /// that brought them.
    pub latency_ms: Vec<f64>,
    /// Arrival → first assigned plan in simulated seconds (profiling on the simulated pool
    /// takes simulated time), per query that got one.
    pub plan_wait_s: Vec<f64>,
    /// Queries never assigned a plan (departed first, or still waiting at the end).
    pub never_planned: u64,
    pub profiles: u64,
    pub profile_gpu_seconds: f64,
    pub churn: usize,
    pub searches: u64,
    pub wall_s: f64,
    pub bad_assignments: u64,
    /// At the end: live queries by the reason of their current record.
    pub reasons: std::collections::BTreeMap<String, usize>,
    /// Most live queries without any assignment record after a window's planning
    /// (should be 0).
    pub uncovered: usize,
    /// Machines whose GPU share or memory the assignments in force over-committed after
    /// some window's planning (should be empty).
    pub overcommitted: Vec<String>,
}

impl Window {
    /// The record of window `w`, realized as `r`.
    pub fn of(r: &WindowReport, w: u64, rounds: usize, planning_ms: f64) -> Self {
        Window {
            window: w,
            live: r.live,
            assigned: r.assigned,
            met: r.met,
            goodput: r.weighted_goodput,
            cost_usd: r.cost_usd,
            cost_missed_usd: r.cost_missed_usd,
            least_cost_met_usd: r.least_cost_met_usd,
            churn: r.churn,
            rounds,
            planning_ms,
        }
    }
}

/// The live progress line (stderr) after the last of `windows`.
pub fn progress(windows: &[Window], total: u64, profiles: u64) {
    if let Some(x) = windows.last() {
        eprint!(
            "\r\x1b[2Kwindow {}/{}  live {}  assigned {}  met {}  profiles {}  planning {:.0} ms",
            x.window + 1,
            total,
            x.live,
            x.assigned,
            x.met,
            profiles,
            x.planning_ms
        );
    }
}

/// Machines whose capacity the assignments in force exceed.
fn overcommitted(sim: &Simulation) -> Vec<String> {
    let mut share: HashMap<&str, f64> = HashMap::new();
    let mut memory: HashMap<&str, f64> = HashMap::new();
    for a in sim.current().values() {
        for o in a.plan.iter().flat_map(|p| &p.operators) {
            *share.entry(&o.device_id).or_default() += o.gpu_share;
            *memory.entry(&o.device_id).or_default() += o.gpu_memory_mb;
        }
    }
    let mut out: Vec<String> = sim
        .world
        .devices
        .iter()
        .filter(|d| {
            share
                .get(d.id.as_str())
                .is_some_and(|&s| s > f64::from(d.gpu_count) + 1e-6)
                || memory
                    .get(d.id.as_str())
                    .is_some_and(|&m| m > d.gpu_memory_mb + 1e-6)
        })
        .map(|d| d.id.clone())
        .collect();
    out.sort();
    out
}

pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Run `scenario` with the planner configured by `settings`.
pub fn run(scenario: Scenario, settings: Settings, opts: RunOptions) -> anyhow::Result<RunReport> {
    Ok(run_recorded(scenario, settings, opts, false)?.report)
}

/// A run and what it was fed.
pub struct Recorded {
    pub report: RunReport,
    /// Every record fed to the planner, one batch per epoch (empty unless recorded).
    pub log: Vec<Vec<Input>>,
    /// The settings the planner ran with (hardware speeds filled in from the world).
    pub settings: Settings,
}

/// [`run`], also returning (when `record`) every record fed to the planner, to replay the
/// run elsewhere with the same settings.
pub fn run_recorded(
    scenario: Scenario,
    settings: Settings,
    opts: RunOptions,
    record: bool,
) -> anyhow::Result<Recorded> {
    let mut sim = Simulation::new(scenario).context("building the simulated world")?;
    if let Some(cache) = &opts.bound {
        sim.bound_with(cache.clone());
    }
    let mut settings = settings;
    settings.hardware_speed = sim.hardware_speed();
    let used = settings.clone();
    timely::execute_directly(move |worker| {
        let mut log = Log {
            on: record,
            batches: Vec::new(),
            open: Vec::new(),
        };
        let report = drive(worker, &mut sim, settings, &opts, &mut log)?;
        Ok(Recorded {
            report,
            log: log.batches,
            settings: used,
        })
    })
}

/// The records fed so far, batched by epoch (kept only when `on`).
struct Log {
    on: bool,
    batches: Vec<Vec<Input>>,
    open: Vec<Input>,
}

impl Log {
    fn push(&mut self, i: impl FnOnce() -> Input) {
        if self.on {
            self.open.push(i());
        }
    }

    fn cut(&mut self) {
        if self.on {
            self.batches.push(std::mem::take(&mut self.open));
        }
    }
}

fn drive(
    worker: &mut timely::worker::Worker,
    sim: &mut Simulation,
    settings: Settings,
    opts: &RunOptions,
    log: &mut Log,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let inputs = settings.search.profile_inputs;
    let mut planner = Planner::new(worker, settings);
    for app in sim.applications() {
        planner.app(&app);
        log.push(|| Input::App(app.clone()));
    }
    for t in sim.initial_telemetry() {
        planner.telemetry(&t).context("initial telemetry")?;
        log.push(|| Input::Telemetry(t.clone()));
    }
    let mut windows = Vec::new();
    let mut latency_ms = Vec::new();
    let (mut uncovered, mut over) = (0usize, Vec::new());
    let total = sim.windows();
    for w in 0..total {
        let t0 = Instant::now();
        let (queries, telemetry) = sim.window_inputs(w);
        let mut waiting: HashMap<String, Instant> = HashMap::new();
        for q in &queries {
            if planner.query(q).is_ok() && q.spec.is_some() {
                waiting.insert(q.query_id.clone(), t0);
            }
            log.push(|| Input::Query(q.clone()));
        }
        for t in &telemetry {
            planner.telemetry(t).context("drift telemetry")?;
            log.push(|| Input::Telemetry(t.clone()));
        }
        let mut rounds = 0;
        while rounds < opts.max_rounds {
            rounds += 1;
            log.cut();
            let changes = planner.advance(worker);
            let mut requests = Vec::new();
            for c in &changes {
                match records::record_of(c, PROFILE_CLASS, inputs, 0) {
                    Outbound::Assignment(a) => {
                        if a.status == AssignmentStatus::Assigned {
                            if let Some(t) = waiting.remove(&a.query_id) {
                                latency_ms.push(t.elapsed().as_secs_f64() * 1e3);
                            }
                        }
                        sim.apply(&a);
                    }
                    Outbound::Request(req) => requests.push(req),
                }
            }
            let samples = sim.profile_round(&requests).context("profiling")?;
            if samples.is_empty() {
                break;
            }
            for s in samples {
                planner.sample(&s).context("profile sample")?;
                log.push(|| Input::Sample(s.clone()));
            }
        }
        let planning_ms = t0.elapsed().as_secs_f64() * 1e3;
        let (live, covered) = sim.coverage();
        uncovered = uncovered.max(live - covered);
        for m in overcommitted(sim) {
            if !over.contains(&m) {
                over.push(m);
            }
        }
        let r: WindowReport = sim.realize(w);
        windows.push(Window::of(&r, w, rounds, planning_ms));
        if opts.progress {
            progress(&windows, total, sim.profiles);
        }
    }
    if opts.progress {
        eprintln!();
    }
    Ok(report_of(
        sim,
        windows,
        latency_ms,
        planner.searches,
        started,
        uncovered,
        over,
    ))
}

/// The run's report from its windows and the simulation's counters.
pub fn report_of(
    sim: &Simulation,
    windows: Vec<Window>,
    latency_ms: Vec<f64>,
    searches: u64,
    started: Instant,
    uncovered: usize,
    overcommitted: Vec<String>,
) -> RunReport {
    let live: usize = windows.iter().map(|w| w.live).sum();
    let met: usize = windows.iter().map(|w| w.met).sum();
    RunReport {
        scenario: sim.scenario.name.clone(),
        seed: sim.scenario.seed,
        window_s: sim.scenario.window_s,
        goodput: windows.iter().map(|w| w.goodput).sum(),
        slo_attainment: met as f64 / live.max(1) as f64,
        cost_usd: windows.iter().map(|w| w.cost_usd).sum(),
        cost_missed_usd: windows.iter().map(|w| w.cost_missed_usd).sum(),
        least_cost_met_usd: windows.iter().map(|w| w.least_cost_met_usd).sum(),
        churn: windows.iter().map(|w| w.churn).sum(),
        windows,
        latency_ms,
        plan_wait_s: sim.plan_wait_s.clone(),
        never_planned: sim.never_planned(),
        profiles: sim.profiles,
        profile_gpu_seconds: sim.profile_gpu_seconds,
        searches,
        wall_s: started.elapsed().as_secs_f64(),
        bad_assignments: sim.bad_assignments,
        uncovered,
        overcommitted,
        reasons: sim.current().values().fold(Default::default(), |mut m, a| {
            *m.entry(a.reason.clone()).or_default() += 1;
            m
        }),
    }
}
