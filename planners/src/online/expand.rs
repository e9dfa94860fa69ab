//! Expansion and matching for one resource partition: bind each member's tier-level
//! candidates to concrete machines, then choose at most one plan per query under machine
//! capacities (GPU share and GPU memory), warm-started from the current decisions.
//!
//! Binding spreads load without knowing it: a query tries `spread` machines of each class,
//! starting at a position given by a hash of its id, so that queries of one cluster land on
//! different machines and the matcher has room to move them. Edge servers are bound only
//! within the source device's metro pool. A query's current machines are always among its
//! options, so that keeping it where it is stays possible.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::rows::{tier_code, Decision, DeviceRow, PlacedRow, QueryRow};
use super::search::TierPlan;
use super::Fx;
use crate::matching::baselines;
use crate::matching::greedy::{self, Options};
use crate::matching::{Candidate, Instance, Mode, QueryDemand, Resource};
use crate::search::acquisition::{normal_cdf, prob_at_most};

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
fn ilp(inst: &Instance, settings: &MatchSettings) -> crate::matching::Matching {
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
fn ilp(inst: &Instance, settings: &MatchSettings) -> crate::matching::Matching {
    fallback(inst, settings)
}

/// Which global step decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// The fast incremental matcher ([`greedy::solve`]).
    Compass,
    /// Each query takes its own best plan ([`baselines::vulcan`]).
    Vulcan,
    /// Greedy marginal utility per resource ([`baselines::videostorm`]).
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
    pub mode: Mode,
    /// Machines tried per server class and candidate.
    pub spread: usize,
    /// A candidate counts as meeting a member's SLO at this probability.
    pub confidence: f64,
    pub churn_penalty: f64,
    pub options: Options,
    /// CBC's time limit per partition and epoch for [`Algorithm::Ilp`].
    pub ilp_time_limit_s: f64,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            algorithm: Algorithm::Compass,
            mode: Mode::Goodput,
            spread: 3,
            confidence: 0.9,
            churn_penalty: 0.05,
            options: Options {
                lns_budget: 20_000,
                ..Options::default()
            },
            ilp_time_limit_s: 10.0,
        }
    }
}

/// A live query with its source device and its cluster's candidates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Member {
    pub query: QueryRow,
    pub higher_is_better: bool,
    pub source: DeviceRow,
    pub candidates: Vec<TierPlan>,
    /// The cluster's search still wants profiles.
    pub searching: bool,
}

/// Probability that a candidate meets this member's own SLOs.
pub fn member_probability(m: &Member, t: &TierPlan) -> f64 {
    let slo = m.query.query(m.higher_is_better).slo;
    if !slo.cost_met(t.cost_usd_per_hour.0) {
        return 0.0;
    }
    let p_lat = if t.latency_ms.0.is_finite() && t.latency_ms.0 > 0.0 {
        normal_cdf((slo.latency_ms.ln() - t.latency_ms.0.ln()) / t.latency_log_sd.0.max(1e-6))
    } else {
        0.0
    };
    let p_acc = match slo.accuracy {
        None => 1.0,
        Some(_) if t.accuracy.0.is_nan() => 0.5,
        Some(b) if b.higher_is_better => {
            1.0 - prob_at_most(t.accuracy.0, t.accuracy_sd.0, b.threshold)
        }
        Some(b) => prob_at_most(t.accuracy.0, t.accuracy_sd.0, b.threshold),
    };
    p_lat * p_acc
}

/// A stable hash of a query id (FNV-1a), so that binding does not depend on the process.
fn spread_hash(id: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as usize
}

struct Bound {
    member: usize,
    plan: usize,
    devices: Vec<String>,
    probability: f64,
}

/// Decide every member of one partition. `machines` are the partition's server machines;
/// `previous` the decisions in force (by query id).
pub fn plan_partition(
    members: &[&Member],
    machines: &[&DeviceRow],
    previous: &HashMap<String, Decision>,
    settings: &MatchSettings,
) -> Vec<Decision> {
    let mut by_class: BTreeMap<String, Vec<&DeviceRow>> = BTreeMap::new();
    let mut edge_pools: BTreeMap<(String, String), Vec<&DeviceRow>> = BTreeMap::new();
    let edge_server = tier_code(compass_schemas::Tier::EdgeServer);
    for d in machines.iter().filter(|d| d.alive) {
        if d.tier == edge_server {
            edge_pools
                .entry((d.hardware_class.clone(), d.pool.clone()))
                .or_default()
                .push(d);
        } else {
            by_class
                .entry(d.hardware_class.clone())
                .or_default()
                .push(d);
        }
    }
    let device_of: HashMap<&str, &DeviceRow> = machines
        .iter()
        .copied()
        .chain(members.iter().map(|m| &m.source))
        .map(|d| (d.id.as_str(), d))
        .collect();

    let mut resources: Vec<Resource> = Vec::new();
    let mut res_of: HashMap<String, u32> = HashMap::new();
    let mut resource = |id: &str, resources: &mut Vec<Resource>| -> u32 {
        *res_of.entry(id.to_string()).or_insert_with(|| {
            let d = device_of[id];
            resources.push(Resource {
                name: format!("gpu:{id}"),
                capacity: f64::from(d.gpu_count),
                pool: 0,
            });
            resources.push(Resource {
                name: format!("mem:{id}"),
                capacity: d.gpu_memory_mb.0,
                pool: 0,
            });
            (resources.len() - 2) as u32
        })
    };

    let mut bounds: Vec<Vec<Bound>> = Vec::with_capacity(members.len());
    let mut demands = Vec::with_capacity(members.len());
    for (mi, m) in members.iter().enumerate() {
        let prev = previous.get(&m.query.id).filter(|d| d.assigned());
        let h = spread_hash(&m.query.id);
        let mut options: Vec<Bound> = Vec::new();
        for (pi, t) in m.candidates.iter().enumerate() {
            let p = member_probability(m, t);
            let meets = p >= settings.confidence;
            if settings.mode == Mode::Goodput && !meets {
                continue;
            }
            let mut tries: Vec<Vec<String>> = Vec::new();
            if let Some(prev) = prev {
                let same = prev.operators.len() == t.ops.len()
                    && prev
                        .operators
                        .iter()
                        .zip(&t.ops)
                        .all(|(a, b)| a.knobs == b.knobs)
                    && prev.operators.iter().zip(&t.slots).all(|(a, s)| match s {
                        None => a.device_id == m.source.id,
                        Some(c) => device_of
                            .get(a.device_id.as_str())
                            .is_some_and(|d| d.alive && &d.hardware_class == c),
                    })
                    && prev
                        .operators
                        .first()
                        .is_none_or(|a| a.gpu_share == t.gpu_share || !t.ops[0].dnn);
                if same {
                    tries.push(prev.operators.iter().map(|a| a.device_id.clone()).collect());
                }
            }
            for j in 0..settings.spread.max(1) {
                let mut devices = Vec::with_capacity(t.slots.len());
                for s in &t.slots {
                    match s {
                        None => devices.push(m.source.id.clone()),
                        Some(c) => match by_class
                            .get(c)
                            .or_else(|| edge_pools.get(&(c.clone(), m.source.pool.clone())))
                        {
                            Some(list) if !list.is_empty() => {
                                devices.push(list[(h.wrapping_add(j)) % list.len()].id.clone())
                            }
                            _ => break,
                        },
                    }
                }
                if devices.len() == t.slots.len() && !tries.contains(&devices) {
                    tries.push(devices);
                }
            }
            for devices in tries {
                options.push(Bound {
                    member: mi,
                    plan: pi,
                    devices,
                    probability: p,
                });
            }
        }
        let mut candidates = Vec::with_capacity(options.len());
        let mut current = None;
        for (ci, b) in options.iter().enumerate() {
            let t = &m.candidates[b.plan];
            let mut uses: BTreeMap<u32, f64> = BTreeMap::new();
            for (op, dev) in t.ops.iter().zip(&b.devices) {
                if !op.dnn {
                    continue;
                }
                let r = resource(dev, &mut resources);
                *uses.entry(r).or_default() += t.gpu_share.0;
                *uses.entry(r + 1).or_default() += op.gpu_memory_mb.0;
            }
            if let Some(prev) = prev {
                if prev
                    .operators
                    .iter()
                    .map(|a| &a.device_id)
                    .eq(b.devices.iter())
                    && prev
                        .operators
                        .iter()
                        .zip(&t.ops)
                        .all(|(a, o)| a.knobs == o.knobs)
                {
                    current = Some(ci as u32);
                }
            }
            candidates.push(Candidate {
                uses: uses.into_iter().collect(),
                cost_usd_per_hour: t.cost_usd_per_hour.0,
                meets_slo: b.probability >= settings.confidence,
            });
        }
        debug_assert!(options.iter().all(|b| b.member == mi));
        bounds.push(options);
        demands.push(QueryDemand {
            id: m.query.id.clone(),
            weight: m.query.weight.0,
            candidates,
            current,
        });
    }
    let inst = Instance {
        resources,
        queries: demands,
        mode: settings.mode,
        churn_penalty: settings.churn_penalty,
    };
    let matching = match settings.algorithm {
        Algorithm::Compass => greedy::solve(&inst, &settings.options),
        Algorithm::Vulcan => baselines::vulcan(&inst),
        Algorithm::VideoStorm => baselines::videostorm(&inst),
        Algorithm::Ilp => ilp(&inst, settings),
    };
    members
        .iter()
        .zip(&bounds)
        .zip(&matching.choice)
        .map(|((m, options), choice)| match choice {
            Some(c) => {
                let b = &options[*c as usize];
                let t = &m.candidates[b.plan];
                decision(m, t, b, |id| device_of.get(id).map_or(0, |d| d.tier))
            }
            None if m.candidates.is_empty() => without_candidates(m),
            None if options.is_empty() => Decision::rejected(
                &m.query.id,
                &m.query.app_id,
                "no candidate meets this query's SLOs",
            ),
            None => Decision::rejected(&m.query.id, &m.query.app_id, "not enough capacity"),
        })
        .collect()
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

fn decision(m: &Member, t: &TierPlan, b: &Bound, tier: impl Fn(&str) -> u8) -> Decision {
    Decision {
        query_id: m.query.id.clone(),
        app_id: m.query.app_id.clone(),
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
                device_id: dev.clone(),
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
