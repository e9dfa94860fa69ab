//! One cluster's search, rebuilt from its application's profile statistics.
//!
//! The search is a function of its inputs: the cluster's specification, the server classes
//! alive in the fleet, and the statistics measured so far. Rebuilding it whenever one of
//! them changes (rather than keeping a live ask/tell object) is what lets the dataflow
//! re-run only the clusters whose inputs changed, replay from the topics after a restart,
//! and give the same answer on every worker. The cost is one surrogate fit per rerun.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::clusters::{ClusterId, ClusterSpec};
use super::objective::{self, Objective};
use super::rounds::{self, Rounds};
use super::rows::{tier_code, DeviceRow};
use super::stats::ConfigStats;
use super::{Fx, Name};
use crate::model::{enumerate_plans, AppModel, Config, Device, Plan, SloTargets};
use crate::search::acquisition::p_latency_accuracy;
use crate::search::bo::{Measured, Search, Settings};
use crate::search::gp::Gp;
use crate::search::{vulcan, warm};

/// A class of server machines (edge server or cloud) as the search sees it: one machine,
/// renamed after its class and stripped of its pool, stands for all machines of the class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServerClass(pub DeviceRow);

impl ServerClass {
    pub fn of(d: &DeviceRow) -> Self {
        ServerClass(DeviceRow {
            id: d.hardware_class.clone(),
            pool: Name::default(),
            alive: true,
            ..d.clone()
        })
    }

    fn device(&self) -> Device {
        self.0.device()
    }
}

/// A candidate plan at the level of tiers: each operator on the query's own device (slot
/// `None`) or on some machine of a server class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TierPlan {
    pub config: u64,
    /// Per operator: its name, knob settings, GPU memory and whether it is a DNN (holds a
    /// GPU share).
    pub ops: Vec<OpChoice>,
    pub slots: Vec<Option<String>>,
    pub gpu_share: Fx,
    pub latency_ms: Fx,
    pub latency_log_sd: Fx,
    pub accuracy: Fx,
    pub accuracy_sd: Fx,
    pub cost_usd_per_hour: Fx,
    pub p_feasible: Fx,
    /// What the plan holds in Vulcan's utility: GPU shares plus megabytes across tiers per
    /// input ([`crate::search::vulcan::resources`]).
    pub resources: Fx,
}

impl TierPlan {
    /// Probability that the plan meets the latency and accuracy bounds of `slo` (the cost
    /// bound is known exactly: [`crate::model::SloTargets::cost_met`]).
    pub fn p_latency_accuracy(&self, slo: &SloTargets) -> f64 {
        p_latency_accuracy(
            slo,
            self.latency_ms.0,
            self.latency_log_sd.0,
            self.accuracy.0,
            self.accuracy_sd.0,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpChoice {
    pub name: String,
    pub knobs: Vec<(String, String)>,
    pub gpu_memory_mb: Fx,
    pub dnn: bool,
}

fn op_choices(app: &AppModel, config: &Config) -> Vec<OpChoice> {
    (0..app.operator_count())
        .map(|op| OpChoice {
            name: app.app.operators[op].name.clone(),
            knobs: app
                .knob_settings(config, op)
                .into_iter()
                .map(|k| (k.knob, k.value))
                .collect(),
            gpu_memory_mb: Fx(app.gpu_memory_mb(config, op)),
            dnn: app.kind(op) == compass_schemas::OperatorKind::Dnn,
        })
        .collect()
}

/// A configuration the search wants measured.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NextProfile {
    pub config: u64,
    pub ops: Vec<OpChoice>,
    /// 0 for a first measurement; k for the (k+1)-th round of inputs of a configuration
    /// whose accuracy is still undecided ([`super::rounds`]).
    pub round: u32,
}

/// What a cluster's search yields now.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Outcome {
    /// Shared with every member of the cluster (see [`super::expand::Member::candidates`]).
    pub candidates: Arc<Vec<TierPlan>>,
    /// The configurations worth profiling next (at most `OnlineSettings::profile_batch`,
    /// all measured in parallel); empty when the search is done.
    pub next: Vec<NextProfile>,
    pub profiled: u64,
}

/// Online search settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineSettings {
    pub search: Settings,
    /// GPU shares a DNN operator may hold (each is a separate plan).
    pub shares: Vec<f64>,
    /// Candidates handed to the matcher per cluster.
    pub candidates: usize,
    /// Warm-start a young cluster from the accuracy models of its application's other data
    /// strata, and use latencies measured on them (see `search::warm`). Off by default: in
    /// the embedded scenarios it helped `constrained-small` (+2.8% goodput) and hurt the
    /// demo (−6.6%), see BENCHMARKS.md; `compass bench --planner warm-start` turns it on.
    pub warm_start: bool,
    /// Profiles a cluster asks for at once (`Search::ask_batch`): more run in parallel, so
    /// a new cluster reaches candidates in fewer round trips.
    pub profile_batch: usize,
    /// Whose objective picks the candidates ([`Objective`]); the matcher's
    /// [`super::expand::MatchSettings::objective`] must agree.
    pub objective: Objective,
    /// Tell the search each configuration's accuracy standard error (known noise for its
    /// surrogate). Off by default: honest doubt keeps plans below the candidate confidence
    /// that end to end mostly meet their SLOs anyway, and cost 6.5% of demo goodput over six
    /// seeds (BENCHMARKS.md, tenth session); `compass bench --planner known-noise`.
    pub known_noise: bool,
    /// Inputs measured per profile request (spread over the request's stratum); a round of
    /// [`Self::rounds`] is one request.
    pub profile_inputs: i32,
    /// Measure a candidate's configuration again, a round of inputs at a time, while its
    /// accuracy interval straddles the cluster's threshold ([`super::rounds`]); `None`: one
    /// round, whatever it shows.
    pub rounds: Option<Rounds>,
}

impl Default for OnlineSettings {
    fn default() -> Self {
        OnlineSettings {
            search: Settings::default(),
            shares: vec![0.25, 1.0],
            candidates: 6,
            warm_start: false,
            profile_batch: 1,
            objective: Objective::Slo,
            known_noise: false,
            profile_inputs: 16,
            rounds: None,
        }
    }
}

/// Rerun the search of cluster `id`. `stats` holds the application's statistics by
/// configuration index; only configurations with an accuracy measured on the cluster's
/// stratum count as profiled for it.
pub fn search_cluster(
    app: &AppModel,
    id: &ClusterId,
    spec: &ClusterSpec,
    servers: &[ServerClass],
    stats: &BTreeMap<u64, ConfigStats>,
    settings: &OnlineSettings,
) -> Outcome {
    let mut devices = vec![spec.source(id)];
    devices.extend(servers.iter().map(ServerClass::device));
    let all: Vec<usize> = (0..devices.len()).collect();
    let mut plans: Vec<Plan> = Vec::new();
    for &share in &settings.shares {
        match enumerate_plans(app, &devices, &all, share) {
            Ok(p) => plans.extend(p),
            Err(_) => return Outcome::default(),
        }
    }
    let query = spec.representative(id);
    let mut search = Search::new(app, &plans, &devices, &query, settings.search.clone());
    let observed: Vec<(Config, Vec<f64>, Measured)> = stats
        .iter()
        .filter_map(|(&i, s)| {
            let mut acc = s.accuracy.get(id.stratum.as_str())?.measured();
            if !settings.known_noise {
                acc.se = 0.0;
            }
            Some((app.config(u128::from(i)).ok()?, s.reference_ms()?, acc))
        })
        .collect();
    // Latency does not depend on the data: with the warm start, configurations profiled
    // only on other strata inform this cluster's latency surrogates too.
    let mut elsewhere: Vec<(Config, Vec<f64>)> = Vec::new();
    if settings.warm_start && observed.len() < warm::MATURE {
        search = search.with_history(history(app, &id.stratum, stats, settings.search.seed));
        elsewhere = stats
            .iter()
            .filter(|(_, s)| !s.accuracy.contains_key(id.stratum.as_str()))
            .filter_map(|(&i, s)| Some((app.config(u128::from(i)).ok()?, s.reference_ms()?)))
            .collect();
    }
    search.tell_many(
        elsewhere
            .iter()
            .map(|(c, m)| (c, m.as_slice(), None))
            .chain(observed.iter().map(|(c, m, a)| (c, m.as_slice(), Some(*a)))),
    );
    let asked: Vec<NextProfile> = search
        .ask_batch(settings.profile_batch.max(1))
        .into_iter()
        .filter_map(|c| {
            Some(NextProfile {
                config: u64::try_from(app.index_of(&c).ok()?).ok()?,
                ops: op_choices(app, &c),
                round: 0,
            })
        })
        .collect();
    let candidates: Vec<TierPlan> = objective::pick(
        settings.objective,
        &search,
        &plans,
        &devices,
        &query.slo,
        settings.search.confidence,
        settings.candidates,
    )
    .into_iter()
    .filter_map(|p| {
        let plan = &plans[p.plan];
        Some(TierPlan {
            config: u64::try_from(app.index_of(&plan.config).ok()?).ok()?,
            ops: op_choices(app, &plan.config),
            slots: plan
                .placements
                .iter()
                .map(|x| (x.device != 0).then(|| devices[x.device].hardware_class.clone()))
                .collect(),
            gpu_share: Fx(plan
                .placements
                .iter()
                .map(|x| x.gpu_share)
                .fold(0.0, f64::max)),
            latency_ms: Fx(p.latency_ms),
            latency_log_sd: Fx(p.latency_log_sd),
            accuracy: Fx(p.accuracy),
            accuracy_sd: Fx(p.accuracy_sd),
            cost_usd_per_hour: Fx(p.cost_usd_per_hour),
            p_feasible: Fx(p.p_feasible),
            resources: Fx(vulcan::resources(app, plan, &devices)),
        })
    })
    .collect();
    // Candidates still undecided are measured again first, then what the search asks.
    let mut next: Vec<NextProfile> = Vec::new();
    if let (Some(r), Some(bound)) = (&settings.rounds, query.slo.accuracy) {
        let inputs = u64::try_from(settings.profile_inputs).unwrap_or(1);
        let round_of = |config: u64| {
            let measured = stats.get(&config)?.accuracy.get(id.stratum.as_str())?;
            rounds::next_round(measured, &bound, r, inputs)
        };
        for plan in &candidates {
            if next.iter().any(|n| n.config == plan.config) {
                continue;
            }
            if let Some(round) = round_of(plan.config) {
                next.push(NextProfile {
                    config: plan.config,
                    ops: plan.ops.clone(),
                    round,
                });
            }
        }
        // A search with nothing new to ask and no candidate would leave the cluster without
        // plans for good, though a near miss measured unluckily may be what it needs: the
        // most probably feasible plan whose configuration is still undecided gets a round.
        if candidates.is_empty() && asked.is_empty() {
            let mut all = search.predict();
            all.sort_by(|a, b| {
                b.p_feasible
                    .total_cmp(&a.p_feasible)
                    .then(a.plan.cmp(&b.plan))
            });
            next.extend(all.iter().find_map(|p| {
                let config = &plans[p.plan].config;
                let index = u64::try_from(app.index_of(config).ok()?).ok()?;
                Some(NextProfile {
                    config: index,
                    ops: op_choices(app, config),
                    round: round_of(index)?,
                })
            }));
        }
    }
    next.extend(asked);
    Outcome {
        candidates: Arc::new(candidates),
        next,
        profiled: observed.len() as u64,
    }
}

/// History models for a cluster on `stratum`: one per other stratum of the application
/// with enough accuracy samples, the most sampled first, at most `warm::MAX_HISTORY`.
fn history(
    app: &AppModel,
    stratum: &str,
    stats: &BTreeMap<u64, ConfigStats>,
    seed: u64,
) -> Vec<Gp> {
    let mut by_stratum: BTreeMap<&str, Vec<(Config, f64)>> = BTreeMap::new();
    for (&i, s) in stats {
        let Ok(config) = app.config(u128::from(i)) else {
            continue;
        };
        for (other, acc) in s.accuracy.iter().filter(|(k, _)| k.as_str() != stratum) {
            by_stratum
                .entry(other.as_str())
                .or_default()
                .push((config.clone(), acc.mean.0));
        }
    }
    let mut strata: Vec<(&str, Vec<(Config, f64)>)> = by_stratum.into_iter().collect();
    strata.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    strata
        .iter()
        .take(warm::MAX_HISTORY)
        .filter_map(|(_, samples)| warm::history_model(app, samples, seed))
        .collect()
}

/// The server classes among `machines`, one per class (the first alive machine of each
/// speaks for it), ordered by tier and name.
pub fn server_classes<'a>(machines: impl IntoIterator<Item = &'a DeviceRow>) -> Vec<ServerClass> {
    let mut by: BTreeMap<(u8, Name), ServerClass> = BTreeMap::new();
    for d in machines {
        if d.alive && d.tier != tier_code(compass_schemas::Tier::Edge) {
            by.entry((d.tier, d.hardware_class.clone()))
                .or_insert_with(|| ServerClass::of(d));
        }
    }
    by.into_values().collect()
}
