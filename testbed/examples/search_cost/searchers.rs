//! The two searchers of the benchmark, run until their recommendation is truly feasible:
//! Compass's composed search (alone, or on the profiles its earlier queries left behind)
//! and Vulcan's per-placement search on whole plans.

use compass_planners::model::{AppModel, Config, Device, OperatorModel, Plan, Query};
use compass_planners::online::rounds::{next_round, Rounds};
use compass_planners::online::stats::Moments;
use compass_planners::search::bo::{Measured, Search, Settings};
use compass_planners::search::vulcan::Vulcan;
use compass_schemas::{ProfileRequest, StratumQuota};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::{profile_means, Deployed, World};

/// Inputs per profile, both searchers.
pub const INPUTS: i32 = 16;
/// Compass's profiles per search (the prototype's cap), inherited ones included.
pub const BUDGET: usize = 40;

/// What one searcher spent until its recommendation was truly feasible.
#[derive(Clone, Copy, Default)]
pub struct Spent {
    pub profiles: usize,
    pub gpu_s: f64,
    pub reached: bool,
}

/// One query's search problem, and the ground truth's verdict on each plan.
pub struct Space<'a> {
    pub plans: &'a [Plan],
    pub devices: &'a [Device],
    pub query: &'a Query,
    pub truly: &'a [bool],
}

/// A configuration's profiles as the application's statistics keep them: per-operator
/// reference latency (the mean over its rounds) and the accuracy samples measured on the
/// query's stratum. Online these are shared by every cluster of the application
/// (`compass_planners::online::search`).
pub struct Observation {
    pub config: Config,
    pub reference_ms: Vec<f64>,
    pub accuracy: Moments,
    rounds: u32,
}

impl Observation {
    /// The accuracy as the search is told it: with its standard error only under
    /// `SEARCH_KNOWN_NOISE`, as online (`planner.known_noise`).
    fn told(&self) -> Measured {
        let mut m = self.accuracy.measured();
        if std::env::var_os("SEARCH_KNOWN_NOISE").is_none() {
            m.se = 0.0;
        }
        m
    }
}

/// Compass's search for one query. It starts from `known` (the application's profiles so
/// far; empty for a search alone), appends each profile it pays for, and counts only those.
/// With `known` already enough for a truly feasible recommendation, it spends nothing.
///
/// With `rounds` (online: `planner.profile_rounds`), a recommended configuration whose
/// accuracy interval still straddles the query's threshold is measured again, a round of
/// [`INPUTS`] fresh inputs at a time, before anything new is profiled; and a search with
/// nothing new to ask and no candidate measures its nearest undecided miss again
/// ([`undecided`]) instead of ending.
pub fn compass(
    app: &AppModel,
    space: &Space,
    world: &mut World,
    seed: u64,
    rounds: Option<Rounds>,
    known: &mut Vec<Observation>,
) -> Spent {
    let (plans, devices, query) = (space.plans, space.devices, space.query);
    let settings = Settings {
        seed,
        budget: BUDGET,
        ..Settings::default()
    };
    let rebuild = |known: &[Observation]| {
        let mut search = Search::new(app, plans, devices, query, settings.clone());
        if !known.is_empty() {
            search.tell_many(
                known
                    .iter()
                    .map(|o| (&o.config, o.reference_ms.as_slice(), Some(o.told()))),
            );
        }
        search
    };
    let recommends_feasible =
        |s: &Search| s.candidates().first().is_some_and(|p| space.truly[p.plan]);
    let mut search = rebuild(known);
    let mut spent = Spent::default();
    if !known.is_empty() && recommends_feasible(&search) {
        spent.reached = true;
        return spent;
    }
    // As online, the budget counts every profile of the application's statistics, the
    // inherited ones included (the rounds of a configuration count once).
    loop {
        let again = |search: &Search, exhausted| {
            rounds.and_then(|r| undecided(search, space, known, r, exhausted))
        };
        let (config, round) = match again(&search, false) {
            Some(k) => (known[k].config.clone(), known[k].rounds),
            None => match search.ask() {
                Some(c) => (c, 0),
                None => match again(&search, true) {
                    Some(k) => (known[k].config.clone(), known[k].rounds),
                    None => break,
                },
            },
        };
        let req = ProfileRequest {
            request_id: format!("c{seed}-{}-{}", query.id, spent.profiles),
            app_id: app.id().into(),
            hardware_class: "a100-80gb".into(),
            operators: app.operator_choices(&config, app.operator_count()),
            quotas: vec![StratumQuota {
                stratum: query.stratum.clone(),
                inputs: INPUTS,
            }],
            decision_epoch: 0,
            reason: String::new(),
            event_time_ms: 0,
        };
        let Ok(samples) = world.answer(&req, 0) else {
            break;
        };
        spent.profiles += 1;
        spent.gpu_s += samples.iter().map(|s| s.gpu_seconds).sum::<f64>();
        let (reference, _) = profile_means(&samples, app.operator_count());
        let mut moments = Moments::default();
        samples
            .iter()
            .filter_map(|s| s.accuracy)
            .for_each(|a| moments.push(a));
        if round == 0 {
            let o = Observation {
                config,
                reference_ms: reference,
                accuracy: moments,
                rounds: 1,
            };
            search.tell(&o.config, &o.reference_ms, o.told());
            known.push(o);
        } else if let Some(o) = known.iter_mut().find(|o| o.config == config) {
            let w = f64::from(o.rounds);
            for (r, x) in o.reference_ms.iter_mut().zip(&reference) {
                *r = (*r * w + x) / (w + 1.0);
            }
            for s in samples.iter().filter_map(|s| s.accuracy) {
                o.accuracy.push(s);
            }
            o.rounds += 1;
            search = rebuild(known);
        }
        if recommends_feasible(&search) {
            spent.reached = true;
            break;
        }
    }
    spent
}

/// The index in `known` of the configuration to measure again, if any ([`next_round`]: its
/// accuracy interval straddles the threshold and rounds are left): the recommended plan's,
/// or, once the search has nothing new to ask (`exhausted`) and no plan clears its
/// confidence, that of the most probably feasible plan still undecided, so that a near miss
/// measured unluckily does not end the search.
fn undecided(
    search: &Search,
    space: &Space,
    known: &[Observation],
    rounds: Rounds,
    exhausted: bool,
) -> Option<usize> {
    let bound = space.query.slo.accuracy?;
    let inputs = u64::try_from(INPUTS).ok()?;
    let undecided = |plan: usize| {
        let config = &space.plans[plan].config;
        let k = known.iter().position(|o| &o.config == config)?;
        next_round(&known[k].accuracy, &bound, &rounds, inputs).map(|_| k)
    };
    if let Some(top) = search.candidates().first() {
        return if exhausted { None } else { undecided(top.plan) };
    }
    if !exhausted {
        return None;
    }
    let mut all = search.predict();
    all.sort_by(|a, b| {
        b.p_feasible
            .total_cmp(&a.p_feasible)
            .then(a.plan.cmp(&b.plan))
    });
    all.iter().find_map(|p| undecided(p.plan))
}

pub fn vulcan(truth: &GroundTruth, space: &Space, world: &mut World, seed: u64) -> Spent {
    let (plans, devices, query) = (space.plans, space.devices, space.query);
    let mut v = Vulcan::new(&truth.model, plans, devices, query, seed);
    let mut spent = Spent::default();
    // A window that holds INPUTS inputs at the query's rate.
    let window_s = f64::from(INPUTS) / query.rate_per_s.max(1e-9);
    while let Some(i) = v.ask() {
        let d = Deployed {
            query: query.clone(),
            plan: plans[i].clone(),
        };
        let r = world.realize(&[d], window_s);
        let Some(r) = r.first() else { break };
        spent.profiles += 1;
        spent.gpu_s += busy_s(truth, &plans[i]);
        v.tell(i, r.latency_ms, r.accuracy);
        if v.best().is_some_and(|b| space.truly[b]) {
            spent.reached = true;
            break;
        }
    }
    spent
}

/// A100-equivalent GPU-seconds of one end-to-end profile of [`INPUTS`] inputs: each
/// operator's busy time on its machine times that machine's speed relative to an A100 (the
/// paper reports profiling cost in A100 GPU-hours), which is its reference latency.
pub fn busy_s(truth: &GroundTruth, p: &Plan) -> f64 {
    let per_input: f64 = (0..truth.model.operator_count())
        .map(|op| truth.reference_ms(&truth.model, op, &p.config))
        .sum();
    f64::from(INPUTS) * per_input / 1000.0
}
