//! A partition's bindings, kept from one matching to the next: each member's candidates
//! bound to concrete machines, as the options and demand the matcher sees.
//!
//! Why keep them: binding is most of an epoch's work that does not depend on the epoch's
//! changes. `perf` of the steady stream of `compass bench --throughput` (10,000 live
//! queries) put a quarter of the planner in rebuilding every member's options (machine ids
//! cloned per option, SLO probabilities, resource maps) although few members had changed.
//! Here a member is bound again only when it changed, or when the partition's machines
//! changed (the machine rows are compared with the last call's); every other
//! member's options and demand are reused, full solves included, and only the decisions that
//! may differ are rebuilt. A binding depends on nothing else: the member's row, its previous
//! plan (kept current in the entry as the matcher moves it) and the machines.
//!
//! Binding spreads load without knowing it: a query tries `spread` machines of each class,
//! starting at a position given by a hash of its id, so that queries of one cluster land on
//! different machines and the matcher has room to move them. Edge servers are bound only
//! within the source device's metro pool. A query's current machines are always among its
//! options, so that keeping it where it is stays possible.
//!
//! This file keeps the entries and matches per call; `member.rs` binds one member and
//! `registry.rs` numbers the machines' resources.

mod member;
mod registry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::BuildHasher;

use super::expand::{decide, without_candidates, Algorithm, MatchSettings, Member};
use super::objective::Objective;
use super::rows::{Decision, DeviceRow};
use super::Name;
use crate::matching::repair::repair_settled;
use crate::matching::{baselines, greedy};
use crate::matching::{Instance, Matching, QueryDemand};
use member::{bind, Machines};
use registry::Registry;

/// One candidate of a member bound to machines.
#[derive(Debug, Clone)]
pub(super) struct Bound {
    /// Index into the member's candidates.
    pub plan: usize,
    /// A device per operator.
    pub devices: Vec<Name>,
    /// Probability that the candidate meets the member's own SLOs.
    pub probability: f64,
    /// The baseline's own utility of the candidate for this member (see
    /// [`MatchSettings::objective`]); −∞ when unknown, unused under Compass's objective.
    pub utility: f64,
}

/// A member's options and its demand in the matching instance.
#[derive(Debug, Default)]
struct Entry {
    options: Vec<Bound>,
    demand: QueryDemand,
}

/// A partition's bindings between matchings (see the module's documentation).
#[derive(Debug, Default)]
pub struct Bindings {
    /// Members' entries in query-id order, as of the last call: walked beside the members
    /// (also in id order), so that an epoch finds each member's entry without hashing ids.
    entries: Vec<(Name, Entry)>,
    registry: Registry,
    /// The machine rows the entries were bound against, in the caller's order.
    machines: Vec<DeviceRow>,
}

impl Bindings {
    /// Decide the members of one partition (those with candidates), given in query-id
    /// order (members out of order are all bound afresh). `machines` are the partition's
    /// server machines; `previous` the decisions in force, by query id; `changed(i)`:
    /// `members[i]` changed since the last call. `full`: solve in full rather than repair
    /// (see [`MatchSettings::full_every`]; only [`Algorithm::Compass`] repairs); a full
    /// solve also drops the resources of members that left. When the machines differ from
    /// the last call's, every member is bound afresh.
    ///
    /// Returns the decisions that may differ from `previous`: every member bound afresh and
    /// every member whose plan moved. The others' decisions stand, so `previous` must hold
    /// every decision the earlier calls returned (the caller applies each call's output):
    /// a member bound before is known to have one without looking it up.
    pub fn plan<S: BuildHasher>(
        &mut self,
        members: &[&Member],
        machines: &[&DeviceRow],
        previous: &HashMap<String, Decision, S>,
        settings: &MatchSettings,
        full: bool,
        changed: impl Fn(usize) -> bool,
    ) -> Vec<Decision> {
        // Compared row by row rather than by a hash: a stale binding could hold capacities
        // that are no longer there.
        let same = self.machines.len() == machines.len()
            && self.machines.iter().zip(machines).all(|(a, b)| a == *b);
        if !same {
            self.registry = Registry::default();
            self.entries.clear();
            self.machines = machines.iter().map(|d| (*d).clone()).collect();
        }
        let in_order = members.windows(2).all(|w| w[0].query.id < w[1].query.id);
        if !in_order {
            self.entries.clear();
        }
        let machines = Machines::new(machines);
        let mut fresh = vec![false; members.len()];
        let mut queries = Vec::with_capacity(members.len());
        let own_utility = settings.objective != Objective::Slo;
        let mut utilities: Vec<Vec<f64>> = Vec::new();
        // The entries of members that left are dropped as the walk passes them.
        let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut entries: Vec<(Name, Entry)> = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            let id = &m.query.id;
            while old.next_if(|(k, _)| k < id).is_some() {}
            let kept = old.next_if(|(k, _)| k == id).map(|(_, e)| e);
            let mut entry = match kept {
                Some(e) if !changed(i) => e,
                _ => {
                    fresh[i] = true;
                    let prev = previous.get(id.as_str()).filter(|d| d.assigned());
                    bind(m, prev, &machines, &mut self.registry, settings)
                }
            };
            if own_utility {
                utilities.push(entry.options.iter().map(|b| b.utility).collect());
            }
            queries.push(std::mem::take(&mut entry.demand));
            entries.push((id.clone(), entry));
        }
        drop(old);
        let inst = Instance {
            resources: std::mem::take(&mut self.registry.resources),
            queries,
            mode: settings.mode,
            churn_penalty: settings.churn_penalty,
        };
        // Left out by the last matching and unchanged since (see `repair_settled`): a kept
        // entry's current choice is the last matching's.
        let settled = |q: usize| !fresh[q] && inst.queries[q].current.is_none();
        let matching = solve(&inst, settings, full, &utilities, settled);
        self.registry.resources = inst.resources;
        let mut out = Vec::new();
        for (i, ((m, demand), choice)) in members
            .iter()
            .zip(inst.queries)
            .zip(matching.choice)
            .enumerate()
        {
            let entry = &mut entries[i].1;
            let moved = choice != demand.current;
            entry.demand = demand;
            entry.demand.current = choice;
            if !(fresh[i] || moved) {
                continue;
            }
            out.push(match choice {
                Some(c) => {
                    let b = &entry.options[c as usize];
                    decide(m, &m.candidates[b.plan], b, |dev| {
                        machines.by_id.get(dev).map_or(0, |d| d.tier)
                    })
                }
                None if m.candidates.is_empty() => without_candidates(m),
                None if entry.options.is_empty() => Decision::rejected(
                    &m.query.id,
                    &m.query.app_id,
                    "no candidate meets this query's SLOs",
                ),
                None => Decision::rejected(&m.query.id, &m.query.app_id, "not enough capacity"),
            });
        }
        if full {
            self.registry.compact(&mut entries);
        }
        self.entries = entries;
        out
    }
}

/// Match `inst` by the settings' algorithm; `utility[q][c]` is the baseline's own utility of
/// candidate `c` of query `q` (empty under Compass's objective).
fn solve(
    inst: &Instance,
    settings: &MatchSettings,
    full: bool,
    utility: &[Vec<f64>],
    settled: impl Fn(usize) -> bool,
) -> Matching {
    let own = settings.objective != Objective::Slo;
    match settings.algorithm {
        Algorithm::Compass if full => greedy::solve(inst, &settings.options),
        Algorithm::Compass => repair_settled(inst, &settings.options, settled),
        Algorithm::Vulcan if own => {
            baselines::vulcan_by(inst, |q, c| Some(utility[q][c]).filter(|u| u.is_finite()))
        }
        Algorithm::Vulcan => baselines::vulcan(inst),
        Algorithm::VideoStorm if own => baselines::videostorm_by(inst, |q, c| utility[q][c]),
        Algorithm::VideoStorm => baselines::videostorm(inst),
        Algorithm::Ilp => super::expand::ilp(inst, settings),
    }
}
