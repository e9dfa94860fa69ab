//! Expansion and matching for one resource partition: what a member is, how likely a
//! candidate meets its SLOs, which global step decides, and the decisions that come out.
//! Binding candidates to machines and matching them live in [`super::bind`].

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::bind::{Bindings, Bound};
use super::objective::Objective;
use super::rows::{Decision, DeviceRow, PlacedRow, QueryRow};
use super::search::TierPlan;
use super::Fx;
use crate::matching::greedy::{self, Options};
use crate::matching::{Instance, Mode};

/// What [`Algorithm::Ilp`] did on this thread: partition-epochs solved, of those not proven
/// optimal within the time limit (the incumbent is used), and those matched by the fast
/// matcher instead (the MILP failed, or the `milp` feature is off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IlpCounts {
    pub solved: u64,
    pub unproven: u64,
    pub fallbacks: u64,
}

thread_local! {
    static ILP: std::cell::Cell<IlpCounts> = const {
        std::cell::Cell::new(IlpCounts { solved: 0, unproven: 0, fallbacks: 0 })
    };
}

/// The [`IlpCounts`] of this thread so far.
pub fn ilp_counts() -> IlpCounts {
    ILP.with(|c| c.get())
}

fn count(f: impl FnOnce(&mut IlpCounts)) {
    ILP.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

fn fallback(inst: &Instance, settings: &MatchSettings) -> crate::matching::Matching {
    count(|c| c.fallbacks += 1);
    greedy::solve(inst, &settings.options)
}

#[cfg(feature = "milp")]
pub(super) fn ilp(inst: &Instance, settings: &MatchSettings) -> crate::matching::Matching {
    match crate::matching::milp::solve(inst, settings.ilp_time_limit_s) {
        Ok(r) => {
            count(|c| {
                c.solved += 1;
                c.unproven += u64::from(!r.proven_optimal);
            });
            r.matching
        }
        Err(_) => fallback(inst, settings),
    }
}

#[cfg(not(feature = "milp"))]
pub(super) fn ilp(inst: &Instance, settings: &MatchSettings) -> crate::matching::Matching {
    fallback(inst, settings)
}

/// Which global step decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// The fast incremental matcher ([`greedy::solve`]).
    Compass,
    /// Each query takes its own best plan ([`baselines::vulcan`](crate::matching::baselines::vulcan)).
    Vulcan,
    /// Greedy marginal utility per resource ([`baselines::videostorm`](crate::matching::baselines::videostorm)).
    VideoStorm,
    /// The exact MILP (`crate::matching::milp`, CBC) within `ilp_time_limit_s`: the
    /// oracle as a planner. Needs the `milp` feature; without it, or when CBC fails, the
    /// partition is matched by the fast matcher and [`ilp_counts`] says so.
    Ilp,
}

/// How a partition is matched.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchSettings {
    pub algorithm: Algorithm,
    /// Whose objective ranks a member's candidates and which ones it may take
    /// ([`Objective`]): Compass's SLO probability, or a baseline's own utility for
    /// [`Algorithm::Vulcan`] and [`Algorithm::VideoStorm`]. Must agree with the search's
    /// [`super::search::OnlineSettings::objective`].
    pub objective: Objective,
    pub mode: Mode,
    /// Machines tried per server class and candidate.
    pub spread: usize,
    /// A candidate counts as meeting a member's SLO at this probability.
    pub confidence: f64,
    pub churn_penalty: f64,
    pub options: Options,
    /// CBC's time limit per partition and epoch for [`Algorithm::Ilp`].
    pub ilp_time_limit_s: f64,
    /// [`Algorithm::Compass`] solves a partition in full at every this many matchings and
    /// whenever its machines change; in between it only repairs (`matching::repair`: plans
    /// in force stay, the queries left without one are placed). 1: always in full.
    pub full_every: u32,
    /// Partitions with fewer members than this (members with candidates) are always solved
    /// in full: there a full solve costs milliseconds, and a query the repair cannot place
    /// would wait for the next full solve to make room.
    pub repair_above: usize,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            algorithm: Algorithm::Compass,
            objective: Objective::Slo,
            mode: Mode::Goodput,
            spread: 3,
            confidence: 0.9,
            churn_penalty: 0.05,
            // The Lagrangian step (`certify_budget`) stays off online: on the bench scenarios
            // it moved goodput by +8 to −30 per run (−0.5% summed over seven runs, BENCHMARKS.md),
            // where the per-epoch repair and the true outcomes decide more than one unit of
            // predicted goodput per solve.
            options: Options {
                lns_budget: 20_000,
                certify_budget: 0,
                ..Options::default()
            },
            ilp_time_limit_s: 10.0,
            full_every: 10,
            repair_above: 300,
        }
    }
}

/// A live query with its source device and its cluster's candidates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Member {
    pub query: QueryRow,
    pub higher_is_better: bool,
    pub source: DeviceRow,
    /// The cluster's candidates, shared by its members: the dataflow hands every member of a
    /// cluster the same list, and a clone per member was a fifth of the allocations under the
    /// members' join (BENCHMARKS.md, eleventh session).
    pub candidates: Arc<Vec<TierPlan>>,
    /// The cluster's search still wants profiles.
    pub searching: bool,
}

/// A stable hash of a query id (FNV-1a), so that binding does not depend on the process.
pub(super) fn spread_hash(id: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as usize
}

/// Decide every member of one partition from scratch (a full solve, every member bound
/// afresh). `machines` are the partition's server machines; `previous` the decisions in
/// force (by query id). The online path keeps its bindings between matchings instead
/// ([`Bindings`]).
pub fn plan_partition<S: std::hash::BuildHasher>(
    members: &[&Member],
    machines: &[&DeviceRow],
    previous: &HashMap<String, Decision, S>,
    settings: &MatchSettings,
) -> Vec<Decision> {
    Bindings::default().plan(members, machines, previous, settings, true, |_| true)
}

/// The decision for a member whose cluster has no candidate: it depends on the member
/// alone, so an incremental caller need not match such members again until they change.
pub fn without_candidates(m: &Member) -> Decision {
    let reason = if m.searching {
        "search in progress"
    } else {
        "no plan predicted to meet the SLOs"
    };
    Decision::rejected(&m.query.id, &m.query.app_id, reason)
}

pub(super) fn decide(m: &Member, t: &TierPlan, b: &Bound, tier: impl Fn(&str) -> u8) -> Decision {
    Decision {
        query_id: m.query.id.to_string(),
        app_id: m.query.app_id.to_string(),
        operators: t
            .ops
            .iter()
            .zip(&b.devices)
            .zip(&t.slots)
            .map(|((op, dev), slot)| PlacedRow {
                operator: op.name.clone(),
                knobs: op.knobs.clone(),
                tier: match slot {
                    None => m.source.tier,
                    Some(_) => tier(dev),
                },
                device_id: dev.to_string(),
                gpu_share: if op.dnn { t.gpu_share } else { Fx(0.0) },
                gpu_memory_mb: if op.dnn { op.gpu_memory_mb } else { Fx(0.0) },
            })
            .collect(),
        latency_ms: t.latency_ms,
        latency_log_sd: t.latency_log_sd,
        accuracy: t.accuracy,
        accuracy_sd: t.accuracy_sd,
        cost_usd_per_hour: t.cost_usd_per_hour,
        slo_probability: Fx(b.probability),
        reason: "assigned".into(),
    }
}
