//! A partition's bindings, kept from one matching to the next: each member's candidates
//! bound to concrete machines, as the options and demand the matcher sees.
//!
//! Why keep them: binding is most of an epoch's work that does not depend on the epoch's
//! changes. `perf` of the steady stream of `compass bench --throughput` (10,000 live
//! queries) put a quarter of the planner in rebuilding every member's options (machine ids
//! cloned per option, SLO probabilities, resource maps) although few members had changed.
//! Here a member is bound again only when it changed, or when the partition's machines
//! changed (a fingerprint of the machine rows is compared at every call); every other
//! member's options and demand are reused, full solves included, and only the decisions that
//! may differ are rebuilt. A binding depends on nothing else: the member's row, its previous
//! plan (kept current in the entry as the matcher moves it) and the machines.
//!
//! Binding spreads load without knowing it: a query tries `spread` machines of each class,
//! starting at a position given by a hash of its id, so that queries of one cluster land on
//! different machines and the matcher has room to move them. Edge servers are bound only
//! within the source device's metro pool. A query's current machines are always among its
//! options, so that keeping it where it is stays possible.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use super::expand::{decide, spread_hash, without_candidates, Algorithm, MatchSettings, Member};
use super::objective::{videostorm_utility, Objective, VULCAN_GAMMA};
use super::rows::{tier_code, Decision, DeviceRow};
use super::Name;
use crate::matching::repair::repair_settled;
use crate::matching::{baselines, greedy};
use crate::matching::{Candidate, Instance, Matching, Mode, QueryDemand, Resource};
use crate::search::vulcan;

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

/// The partition's machines, looked up while binding.
struct Machines<'a> {
    by_class: BTreeMap<&'a str, Vec<&'a DeviceRow>>,
    /// Edge servers by class, then metro pool.
    edge_pools: BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a DeviceRow>>>,
    by_id: foldhash::HashMap<&'a str, &'a DeviceRow>,
}

impl<'a> Machines<'a> {
    fn new(machines: &[&'a DeviceRow]) -> Self {
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

/// The resources of the instance: a device's GPU count and GPU memory, registered on first
/// use and kept until the next full solve.
#[derive(Debug, Default)]
struct Registry {
    resources: Vec<Resource>,
    of: foldhash::HashMap<Name, u32>,
}

impl Registry {
    /// Drop the resources no entry uses (the devices of members that left), keeping the
    /// others in their order, and renumber the entries' uses to match.
    fn compact(&mut self, entries: &mut [(Name, Entry)]) {
        let mut used = vec![false; self.resources.len()];
        for (_, e) in entries.iter() {
            for c in &e.demand.candidates {
                for &(r, _) in &c.uses {
                    // A device's GPU and memory are registered, and kept, together.
                    let gpu = (r & !1) as usize;
                    used[gpu] = true;
                    used[gpu + 1] = true;
                }
            }
        }
        if used.iter().all(|u| *u) {
            return;
        }
        let mut new_index = vec![u32::MAX; used.len()];
        let mut kept = Vec::with_capacity(used.len());
        for (i, r) in std::mem::take(&mut self.resources).into_iter().enumerate() {
            if used[i] {
                new_index[i] = kept.len() as u32;
                kept.push(r);
            }
        }
        self.resources = kept;
        self.of.retain(|_, i| used[*i as usize]);
        for i in self.of.values_mut() {
            *i = new_index[*i as usize];
        }
        for (_, e) in entries.iter_mut() {
            for c in &mut e.demand.candidates {
                for (r, _) in &mut c.uses {
                    *r = new_index[*r as usize];
                }
            }
        }
    }

    /// The index of `device`'s GPU resource (its memory is the next one); its capacities
    /// are refreshed from the row.
    fn gpu(&mut self, device: &DeviceRow) -> u32 {
        let i = match self.of.get(device.id.as_str()) {
            Some(&i) => i,
            None => {
                let i = self.resources.len() as u32;
                for kind in ["gpu", "mem"] {
                    self.resources.push(Resource {
                        name: format!("{kind}:{}", device.id),
                        capacity: 0.0,
                        pool: 0,
                    });
                }
                self.of.insert(device.id.clone(), i);
                i
            }
        };
        self.resources[i as usize].capacity = f64::from(device.gpu_count);
        self.resources[i as usize + 1].capacity = device.gpu_memory_mb.0;
        i
    }
}

/// A partition's bindings between matchings (see the module's documentation).
#[derive(Debug, Default)]
pub struct Bindings {
    /// Members' entries in query-id order, as of the last call: walked beside the members
    /// (also in id order), so that an epoch finds each member's entry without hashing ids.
    entries: Vec<(Name, Entry)>,
    registry: Registry,
    /// A hash of the machine rows the entries were bound against.
    machines: Option<u64>,
}

/// A fingerprint of the machine rows, in their order.
fn fingerprint(machines: &[&DeviceRow]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    machines.hash(&mut h);
    h.finish()
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
    /// Returns the decisions that may differ from `previous`: every member bound afresh,
    /// every member without a decision, and every member whose plan moved. The others'
    /// decisions stand.
    pub fn plan<S: BuildHasher>(
        &mut self,
        members: &[&Member],
        machines: &[&DeviceRow],
        previous: &HashMap<String, Decision, S>,
        settings: &MatchSettings,
        full: bool,
        changed: impl Fn(usize) -> bool,
    ) -> Vec<Decision> {
        let seen = Some(fingerprint(machines));
        if self.machines != seen {
            self.registry = Registry::default();
            self.entries.clear();
            self.machines = seen;
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
        // Left out by the last matching and unchanged since (see `repair_settled`).
        let settled = |q: usize| {
            !fresh[q]
                && previous
                    .get(members[q].query.id.as_str())
                    .is_some_and(|d| !d.assigned())
        };
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
            if !(fresh[i] || moved || !previous.contains_key(m.query.id.as_str())) {
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

/// Whether a plan in force still matches candidate `t`: same knobs, its devices alive and of
/// the slots' classes (the source for a source slot), same GPU share.
fn runs(prev: &Decision, m: &Member, t: &super::search::TierPlan, machines: &Machines) -> bool {
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
fn bind(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::fixtures::{device, query};
    use crate::online::search::{OpChoice, TierPlan};
    use crate::online::Fx;

    /// Decisions by query id, as the dataflow keeps them.
    fn by_id(decisions: &[Decision]) -> HashMap<String, Decision> {
        decisions
            .iter()
            .map(|d| (d.query_id.clone(), d.clone()))
            .collect()
    }

    /// A member whose one candidate runs a DNN on an `a10` with the given GPU share.
    fn member(id: usize, share: f64) -> Member {
        let source = device(&format!("phone-{id}"), 0, 0);
        Member {
            query: query(&format!("q{id:03}"), &source, None),
            higher_is_better: true,
            source,
            candidates: std::sync::Arc::new(vec![TierPlan {
                config: 1,
                ops: vec![OpChoice {
                    name: "dnn".into(),
                    knobs: vec![("model".into(), "small".into())],
                    gpu_memory_mb: Fx(4_000.0),
                    dnn: true,
                }],
                slots: vec![Some("a10".into())],
                gpu_share: Fx(share),
                latency_ms: Fx(50.0),
                latency_log_sd: Fx(0.1),
                accuracy: Fx(f64::NAN),
                accuracy_sd: Fx(0.0),
                cost_usd_per_hour: Fx(share),
                p_feasible: Fx(1.0),
                resources: Fx(share),
            }]),
            searching: false,
        }
    }

    /// Arrivals and departures epoch by epoch, full solves every fifth: the decisions in
    /// force never over-commit a machine, every live member has one, and an epoch without
    /// changes changes nothing.
    #[test]
    fn incremental_decisions_keep_capacity_and_cover_every_member() {
        let servers: Vec<DeviceRow> = (0..3).map(|i| device(&format!("s{i}"), 2, 1)).collect();
        let machines: Vec<&DeviceRow> = servers.iter().collect();
        let settings = MatchSettings::default();
        let mut live: BTreeMap<Name, Member> = BTreeMap::new();
        let mut decided: HashMap<String, Decision> = HashMap::new();
        let mut bindings = Bindings::default();
        let mut rng: u64 = 7;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) as usize
        };
        for epoch in 0..40 {
            let mut changed: std::collections::HashSet<Name> = Default::default();
            for _ in 0..3 {
                let id = next() % 20;
                let m = member(id, [0.2, 0.3, 0.5][next() % 3]);
                let key = m.query.id.clone();
                if live.remove(&key).is_some() {
                    decided.remove(key.as_str());
                } else {
                    live.insert(key.clone(), m);
                }
                changed.insert(key);
            }
            let members: Vec<&Member> = live.values().collect();
            let out = bindings.plan(
                &members,
                &machines,
                &decided,
                &settings,
                epoch % 5 == 0,
                |i| changed.contains(&members[i].query.id),
            );
            for d in out {
                decided.insert(d.query_id.clone(), d);
            }
            assert_eq!(decided.len(), live.len(), "epoch {epoch}");
            let mut share: HashMap<&str, f64> = HashMap::new();
            for d in decided.values() {
                for op in &d.operators {
                    *share.entry(op.device_id.as_str()).or_default() += op.gpu_share.0;
                }
            }
            for (dev, s) in share {
                assert!(s <= 1.0 + 1e-9, "epoch {epoch}: {dev} holds {s}");
            }
            assert!(decided.values().any(Decision::assigned));
        }
        let members: Vec<&Member> = live.values().collect();
        let out = bindings.plan(&members, &machines, &decided, &settings, false, |_| false);
        assert!(out.is_empty(), "{out:?}");
    }

    /// Members out of id order cannot be walked beside the kept entries: all are bound
    /// afresh (and decided again), rather than matched to the wrong entries.
    #[test]
    fn members_out_of_order_are_bound_afresh() {
        let servers: Vec<DeviceRow> = (0..2).map(|i| device(&format!("s{i}"), 2, 1)).collect();
        let machines: Vec<&DeviceRow> = servers.iter().collect();
        let members: Vec<Member> = (0..5).map(|i| member(i, 0.3)).collect();
        let mut refs: Vec<&Member> = members.iter().collect();
        let settings = MatchSettings::default();
        let mut b = Bindings::default();
        let first = b.plan(&refs, &machines, &HashMap::new(), &settings, true, |_| {
            false
        });
        let decided = by_id(&first);
        assert!(b
            .plan(&refs, &machines, &decided, &settings, false, |_| false)
            .is_empty());
        refs.reverse();
        let again = b.plan(&refs, &machines, &decided, &settings, false, |_| false);
        assert_eq!(again.len(), members.len());
        for d in &again {
            assert_eq!(Some(d), decided.get(&d.query_id), "a kept plan stays");
        }
    }

    /// A member whose one candidate runs its DNN on its own source device (one GPU).
    fn on_source(id: usize) -> Member {
        let mut m = member(id, 0.5);
        m.source = device(&format!("phone-{id}"), 0, 1);
        m.query.source_device_id = m.source.id.clone();
        let plan = &mut std::sync::Arc::make_mut(&mut m.candidates)[0];
        plan.slots = vec![None];
        m
    }

    /// The devices of members that left are dropped from the instance's resources at the
    /// next full solve, and the members that stay keep their plans.
    #[test]
    fn a_full_solve_drops_the_resources_of_members_that_left() {
        let settings = MatchSettings::default();
        let members: Vec<Member> = (0..6).map(on_source).collect();
        let mut b = Bindings::default();
        let all: Vec<&Member> = members.iter().collect();
        let first = b.plan(&all, &[], &HashMap::new(), &settings, true, |_| false);
        assert!(first.iter().all(Decision::assigned), "{first:?}");
        assert_eq!(
            b.registry.resources.len(),
            12,
            "a GPU and its memory per device"
        );
        let decided = by_id(&first);
        let stay: Vec<&Member> = members.iter().skip(4).collect();
        assert!(b
            .plan(&stay, &[], &decided, &settings, false, |_| false)
            .is_empty());
        assert_eq!(b.registry.resources.len(), 12, "a repair keeps them");
        assert!(b
            .plan(&stay, &[], &decided, &settings, true, |_| false)
            .is_empty());
        let names: Vec<&str> = b
            .registry
            .resources
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["gpu:phone-4", "mem:phone-4", "gpu:phone-5", "mem:phone-5"]
        );
        // The renumbered uses still point at each member's own device.
        for (id, e) in &b.entries {
            let phone = format!("phone-{}", &id[1..].trim_start_matches('0'));
            for c in &e.demand.candidates {
                for &(r, _) in &c.uses {
                    let name = &b.registry.resources[r as usize].name;
                    assert!(name.ends_with(&phone), "{id} uses {name}");
                }
            }
        }
        let again = b.plan(&stay, &[], &decided, &settings, false, |_| true);
        for d in &again {
            assert_eq!(Some(d), decided.get(&d.query_id), "a kept plan stays");
        }
        assert_eq!(b.registry.resources.len(), 4);
    }

    /// When the machines change, every member is bound afresh and decided again, even one
    /// that did not change; when they do not, a full solve reuses the bindings.
    #[test]
    fn members_are_bound_afresh_when_the_machines_change() {
        let servers: Vec<DeviceRow> = (0..3).map(|i| device(&format!("s{i}"), 2, 1)).collect();
        let two: Vec<&DeviceRow> = servers.iter().take(2).collect();
        let three: Vec<&DeviceRow> = servers.iter().collect();
        let members: Vec<Member> = (0..4).map(|i| member(i, 0.3)).collect();
        let refs: Vec<&Member> = members.iter().collect();
        let settings = MatchSettings::default();
        let mut b = Bindings::default();
        let first = b.plan(&refs, &two, &HashMap::new(), &settings, true, |_| false);
        let decided = by_id(&first);
        assert!(b
            .plan(&refs, &two, &decided, &settings, true, |_| false)
            .is_empty());
        let again = b.plan(&refs, &three, &decided, &settings, true, |_| false);
        assert_eq!(again.len(), members.len());
    }

    /// A full call decides exactly as `plan_partition` does.
    #[test]
    fn a_full_call_is_plan_partition() {
        let servers: Vec<DeviceRow> = (0..2).map(|i| device(&format!("s{i}"), 2, 1)).collect();
        let machines: Vec<&DeviceRow> = servers.iter().collect();
        let members: Vec<Member> = (0..9).map(|i| member(i, 0.3)).collect();
        let refs: Vec<&Member> = members.iter().collect();
        let settings = MatchSettings::default();
        let none = HashMap::new();
        let mut b = Bindings::default();
        let got = b.plan(&refs, &machines, &none, &settings, true, |_| false);
        let want = super::super::expand::plan_partition(&refs, &machines, &none, &settings);
        assert_eq!(got, want);
        assert_eq!(got.iter().filter(|d| d.assigned()).count(), 6);
    }
}
