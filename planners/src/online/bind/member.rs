//! Binding one member: its candidates on concrete machines of their classes, each with its
//! probability of meeting the member's SLOs and its resource use, as the matcher's options.

use std::collections::BTreeMap;

use super::registry::Registry;
use super::{Bound, Entry};
use crate::matching::{Candidate, Mode, QueryDemand};
use crate::online::expand::{spread_hash, MatchSettings, Member};
use crate::online::objective::{videostorm_utility, Objective, VULCAN_GAMMA};
use crate::online::rows::{tier_code, Decision, DeviceRow};
use crate::online::search::TierPlan;
use crate::online::Name;
use crate::search::vulcan;

/// The partition's machines, looked up while binding.
pub(super) struct Machines<'a> {
    by_class: BTreeMap<&'a str, Vec<&'a DeviceRow>>,
    /// Edge servers by class, then metro pool.
    edge_pools: BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a DeviceRow>>>,
    pub(super) by_id: foldhash::HashMap<&'a str, &'a DeviceRow>,
}

impl<'a> Machines<'a> {
    pub(super) fn new(machines: &[&'a DeviceRow]) -> Self {
        let edge_server = tier_code(compass_schemas::Tier::EdgeServer);
        let mut m = Machines {
            by_class: BTreeMap::new(),
            edge_pools: BTreeMap::new(),
            by_id: machines.iter().map(|d| (d.id.as_str(), *d)).collect(),
        };
        for d in machines.iter().filter(|d| d.alive) {
            if d.tier == edge_server {
                m.edge_pools
                    .entry(d.hardware_class.as_str())
                    .or_default()
                    .entry(d.pool.as_str())
                    .or_default()
                    .push(d);
            } else {
                m.by_class
                    .entry(d.hardware_class.as_str())
                    .or_default()
                    .push(d);
            }
        }
        m
    }

    /// Machines a slot of class `class` may use for a query from `pool`.
    fn of_class(&self, class: &str, pool: &str) -> Option<&Vec<&'a DeviceRow>> {
        self.by_class
            .get(class)
            .or_else(|| self.edge_pools.get(class).and_then(|p| p.get(pool)))
    }
}

/// Whether a plan in force still matches candidate `t`: same knobs, its devices alive and of
/// the slots' classes (the source for a source slot), same GPU share.
fn runs(prev: &Decision, m: &Member, t: &TierPlan, machines: &Machines) -> bool {
    prev.operators.len() == t.ops.len()
        && prev
            .operators
            .iter()
            .zip(&t.ops)
            .all(|(a, b)| a.knobs == b.knobs)
        && prev.operators.iter().zip(&t.slots).all(|(a, s)| match s {
            None => m.source.id == a.device_id,
            Some(c) => machines
                .by_id
                .get(a.device_id.as_str())
                .is_some_and(|d| d.alive && &d.hardware_class == c),
        })
        && prev
            .operators
            .first()
            .is_none_or(|a| a.gpu_share == t.gpu_share || !t.ops[0].dnn)
}

/// Bind one member's candidates: its options and its demand.
pub(super) fn bind(
    m: &Member,
    prev: Option<&Decision>,
    machines: &Machines,
    registry: &mut Registry,
    settings: &MatchSettings,
) -> Entry {
    let h = spread_hash(&m.query.id);
    let slo = m.query.slo(m.higher_is_better);
    let mut options: Vec<Bound> = Vec::new();
    for (pi, t) in m.candidates.iter().enumerate() {
        // Probability that the candidate meets the member's own SLOs: latency and accuracy,
        // then all of them.
        let p_la = t.p_latency_accuracy(&slo);
        let p = if slo.cost_met(t.cost_usd_per_hour.0) {
            p_la
        } else {
            0.0
        };
        let (lat, acc) = (t.latency_ms.0, t.accuracy.0);
        let (acceptable, utility) = match settings.objective {
            Objective::Slo => (p >= settings.confidence, f64::NEG_INFINITY),
            Objective::Vulcan => (
                p_la >= settings.confidence,
                vulcan::utility(&slo, VULCAN_GAMMA, lat, acc, t.resources.0),
            ),
            // VideoStorm has no SLOs to filter by: every plan of its profile is an option.
            Objective::VideoStorm => (true, videostorm_utility(&slo, lat, acc)),
        };
        let utility = if utility.is_finite() {
            utility
        } else {
            f64::NEG_INFINITY
        };
        if settings.mode == Mode::Goodput && !acceptable {
            continue;
        }
        let mut tries: Vec<Vec<Name>> = Vec::new();
        if let Some(prev) = prev.filter(|d| runs(d, m, t, machines)) {
            tries.push(
                prev.operators
                    .iter()
                    .map(|a| Name::from(&a.device_id))
                    .collect(),
            );
        }
        for j in 0..settings.spread.max(1) {
            let mut devices = Vec::with_capacity(t.slots.len());
            for s in &t.slots {
                match s {
                    None => devices.push(m.source.id.clone()),
                    Some(c) => match machines.of_class(c, &m.source.pool) {
                        Some(list) if !list.is_empty() => {
                            devices.push(list[h.wrapping_add(j) % list.len()].id.clone())
                        }
                        _ => break,
                    },
                }
            }
            if devices.len() == t.slots.len() && !tries.contains(&devices) {
                tries.push(devices);
            }
        }
        options.extend(tries.into_iter().map(|devices| Bound {
            plan: pi,
            devices,
            probability: p,
            utility,
        }));
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
            let device = if *dev == m.source.id {
                Some(&m.source)
            } else {
                machines.by_id.get(dev.as_str()).copied()
            };
            let Some(device) = device else { continue };
            let r = registry.gpu(device);
            *uses.entry(r).or_default() += t.gpu_share.0;
            *uses.entry(r + 1).or_default() += op.gpu_memory_mb.0;
        }
        if let Some(prev) = prev {
            if prev
                .operators
                .iter()
                .map(|a| a.device_id.as_str())
                .eq(b.devices.iter().map(Name::as_str))
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
    Entry {
        options,
        demand: QueryDemand {
            id: m.query.id.to_string(),
            weight: m.query.weight.0,
            candidates,
            current,
        },
    }
}
