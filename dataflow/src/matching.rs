//! The global matching step: a timely operator that keeps each partition's members and
//! machines itself and emits only the decisions that changed.
//!
//! Why not a differential `reduce` keyed by partition (the first version): at every changed
//! time a reduce hands its logic every value of the key, replayed from the arrangement's
//! history, and then compares the whole new output with the old. With one key per partition
//! and 10,000 live members, that replay, the clones and the comparisons cost far more than
//! the matching itself: `perf` of the planner under `compass load` at 1,000 arrivals/s put
//! about 70% of its time in memmove, memcmp and malloc under the reduce, and the planner fell
//! behind the arrivals. Here each partition's contents live in a sorted map updated by the
//! changes, so an epoch costs the changes plus one matching of the touched partitions.
//!
//! Same meaning as the reduce: a partition is matched at an epoch exactly when its inputs
//! changed at that epoch, on its accumulated contents at that epoch, epochs in order, the
//! members in their sorted order; the previous decisions warm-start the matcher. So the
//! decisions do not depend on the number of workers (each partition lives on one worker).

use std::cell::RefCell;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Instant;

use compass_planners::online::bind::Bindings;
use compass_planners::online::expand::{without_candidates, MatchSettings, Member};
use compass_planners::online::rows::{Decision, DeviceRow};
use compass_planners::online::Name;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use tracing::debug;

use crate::graph::Timings;

/// What a partition holds: the machines it matches onto and the members it matches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Item {
    Machine(DeviceRow),
    Member(Member),
}

/// A change to a partition's contents, as a differential update.
pub type ItemUpdate = ((u32, Item), u64, isize);

/// A change in decisions, as a differential update.
pub type DecisionUpdate = (Decision, u64, isize);

/// An epoch's changes not yet applied, with the capability to emit at that epoch.
type Pending = (Capability<u64>, Vec<(u32, Item, isize)>);

/// One partition's state.
#[derive(Default)]
struct Partition {
    /// Machines with their counts; a machine leaves when its count reaches zero.
    machines: BTreeMap<DeviceRow, isize>,
    /// Members by query id (a changed member is briefly two versions), with their counts.
    members: BTreeMap<Name, BTreeMap<Member, isize>>,
    /// Members changed since the last matching.
    touched: BTreeSet<Name>,
    /// The decisions in force, by query id.
    decided: foldhash::HashMap<String, Decision>,
    /// Matchings since the last full solve; `None` until the first, and again whenever the
    /// machines change (capacities moved: repair alone could keep plans that no longer
    /// make sense).
    since_full: Option<u32>,
    /// Members' candidates bound to machines, kept between matchings.
    bindings: Bindings,
}

fn count<K: Ord>(map: &mut BTreeMap<K, isize>, key: K, diff: isize) {
    match map.entry(key) {
        Entry::Occupied(mut e) => {
            *e.get_mut() += diff;
            if *e.get() == 0 {
                e.remove();
            }
        }
        Entry::Vacant(e) => {
            if diff != 0 {
                e.insert(diff);
            }
        }
    }
}

/// The version of a member in force (a positive count).
fn live(versions: &BTreeMap<Member, isize>) -> Option<&Member> {
    versions
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(m, _)| m)
        .next_back()
}

impl Partition {
    fn apply(&mut self, item: Item, diff: isize) {
        match item {
            Item::Machine(d) => {
                count(&mut self.machines, d, diff);
                self.since_full = None;
            }
            Item::Member(m) => {
                let id = m.query.id.clone();
                let versions = self.members.entry(id.clone()).or_default();
                count(versions, m, diff);
                if versions.is_empty() {
                    self.members.remove(&id);
                }
                self.touched.insert(id);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.machines.is_empty() && self.members.is_empty() && self.decided.is_empty()
    }

    /// Match the current contents; the changes from the decisions in force, as updates at `t`.
    ///
    /// Members whose cluster has no candidate take no part in the matching (nothing to
    /// place) and their decision depends on them alone: it is recomputed only when they
    /// changed. So an epoch costs the matching of the members with candidates plus the
    /// changes, not a pass over every member.
    ///
    /// Returns whether it was a full solve (rather than a repair).
    fn rematch(&mut self, settings: &MatchSettings, t: u64, out: &mut Vec<DecisionUpdate>) -> bool {
        let machines: Vec<&DeviceRow> = self
            .machines
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(d, _)| d)
            .collect();
        let matched: Vec<&Member> = self
            .members
            .values()
            .filter_map(live)
            .filter(|m| !m.candidates.is_empty())
            .collect();
        let full = matched.len() < settings.repair_above
            || self
                .since_full
                .is_none_or(|n| n + 1 >= settings.full_every.max(1));
        let touched = std::mem::take(&mut self.touched);
        // Which members changed, found by walking the changed ids beside the members (both
        // in id order) rather than looking each member up.
        let mut changed = vec![false; matched.len()];
        let mut ids = touched.iter().peekable();
        for (i, m) in matched.iter().enumerate() {
            while ids.next_if(|id| **id < m.query.id).is_some() {}
            changed[i] = ids.peek().is_some_and(|id| **id == m.query.id);
        }
        let mut decided = if matched.is_empty() {
            Vec::new()
        } else {
            self.bindings
                .plan(&matched, &machines, &self.decided, settings, full, |i| {
                    changed[i]
                })
        };
        self.since_full = if full {
            Some(0)
        } else {
            self.since_full.map(|n| n + 1)
        };
        let mut left: Vec<Name> = Vec::new();
        for id in touched {
            match self.members.get(&id).and_then(live) {
                Some(m) if m.candidates.is_empty() => decided.push(without_candidates(m)),
                Some(_) => {}
                None => left.push(id),
            }
        }
        // The decisions in force are updated in place: most stay as they were.
        let mut gone: Vec<Decision> = Vec::new();
        let mut new: Vec<Decision> = Vec::new();
        for d in decided {
            match self.decided.get_mut(&d.query_id) {
                Some(was) if *was == d => {}
                Some(was) => {
                    gone.push(std::mem::replace(was, d.clone()));
                    new.push(d);
                }
                None => {
                    self.decided.insert(d.query_id.clone(), d.clone());
                    new.push(d);
                }
            }
        }
        for q in left {
            if let Some(d) = self.decided.remove(q.as_str()) {
                gone.push(d);
            }
        }
        // Retractions before insertions, each in query order: the output does not depend on
        // the map's iteration order.
        gone.sort_by(|a, b| a.query_id.cmp(&b.query_id));
        new.sort_by(|a, b| a.query_id.cmp(&b.query_id));
        out.extend(gone.into_iter().map(|d| (d, t, -1)));
        out.extend(new.into_iter().map(|d| (d, t, 1)));
        full
    }
}

/// Match the partitions of `items` (partition id, machine or member) epoch by epoch; the
/// result is the change in decisions, a differential collection's stream. The time spent
/// per partition matching is noted in `clock`.
pub fn match_partitions<'s>(
    items: Stream<'s, u64, Vec<ItemUpdate>>,
    settings: MatchSettings,
    clock: Rc<RefCell<Timings>>,
) -> Stream<'s, u64, Vec<DecisionUpdate>> {
    let by_partition = Exchange::new(|u: &ItemUpdate| u64::from(u.0 .0));
    items.unary_frontier::<CapacityContainerBuilder<Vec<DecisionUpdate>>, _, _, _>(
        by_partition,
        "MatchPartitions",
        move |_cap, _info| {
            let mut parts: BTreeMap<u32, Partition> = BTreeMap::new();
            // Changes not yet applied, by epoch, with a capability to emit at that epoch.
            let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
            let mut out: Vec<DecisionUpdate> = Vec::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for ((part, item), t, diff) in data.drain(..) {
                        pending
                            .entry(t)
                            .or_insert_with(|| (cap.delayed(&t, 0), Vec::new()))
                            .1
                            .push((part, item, diff));
                    }
                });
                // Epochs complete in order: no worker can still send changes before the
                // frontier.
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (t, (cap, changes)) = entry.remove_entry();
                    // Consolidated first: a retraction and an insertion of the same item
                    // (a cluster's outcome changed in nothing a member carries) is no change,
                    // and a partition without a change is not matched again.
                    let mut net: BTreeMap<(u32, Item), isize> = BTreeMap::new();
                    for (part, item, diff) in changes {
                        *net.entry((part, item)).or_insert(0) += diff;
                    }
                    let mut touched: BTreeSet<u32> = BTreeSet::new();
                    for ((part, item), diff) in net.into_iter().filter(|(_, d)| *d != 0) {
                        parts.entry(part).or_default().apply(item, diff);
                        touched.insert(part);
                    }
                    for part in touched {
                        let Some(p) = parts.get_mut(&part) else {
                            continue;
                        };
                        let started = Instant::now();
                        let before = out.len();
                        let full = p.rematch(&settings, t, &mut out);
                        Timings::note(&mut clock.borrow_mut().matchings, started);
                        debug!(
                            epoch = t,
                            partition = part,
                            full,
                            members = p.members.len(),
                            changed = out.len() - before,
                            ms = started.elapsed().as_secs_f64() * 1e3,
                            "partition matched"
                        );
                        if p.is_empty() {
                            parts.remove(&part);
                        }
                    }
                    if !out.is_empty() {
                        output.session(&cap).give_iterator(out.drain(..));
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use compass_planners::online::fx::Fx;
    use compass_planners::online::rows::QueryRow;

    fn member(id: &str, searching: bool) -> Member {
        Member {
            query: QueryRow {
                id: id.into(),
                app_id: "asr".into(),
                source_device_id: "phone".into(),
                rate_per_s: Fx(1.0),
                weight: Fx(1.0),
                latency_ms: Fx(100.0),
                latency_percentile: Fx(95.0),
                accuracy_threshold: None,
                max_cost_usd_per_hour: None,
                stratum: "s".into(),
            },
            higher_is_better: true,
            source: DeviceRow {
                id: "phone".into(),
                tier: 0,
                hardware_class: "phone".into(),
                pool: Name::default(),
                speed: Fx(1.0),
                gpu_count: 0,
                gpu_memory_mb: Fx(0.0),
                price_usd_per_hour: Fx(0.0),
                uplink_mbps: Fx(10.0),
                rtt_ms: Fx(20.0),
                alive: true,
            },
            candidates: Default::default(),
            searching,
        }
    }

    fn step(p: &mut Partition, t: u64, changes: Vec<(Member, isize)>) -> Vec<DecisionUpdate> {
        for (m, d) in changes {
            p.apply(Item::Member(m), d);
        }
        let mut out = Vec::new();
        p.rematch(&MatchSettings::default(), t, &mut out);
        out
    }

    #[test]
    fn only_changed_decisions_leave_and_departures_are_retracted() {
        let mut p = Partition::default();
        let out = step(
            &mut p,
            1,
            vec![(member("a", true), 1), (member("b", true), 1)],
        );
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|(d, t, r)| *t == 1 && *r == 1 && !d.assigned()));

        // "b" stops searching: its decision's reason changes; "a" says nothing.
        let out = step(
            &mut p,
            2,
            vec![(member("b", true), -1), (member("b", false), 1)],
        );
        let got: Vec<(&str, &str, isize)> = out
            .iter()
            .map(|(d, _, r)| (d.query_id.as_str(), d.reason.as_str(), *r))
            .collect();
        assert_eq!(
            got,
            vec![
                ("b", "search in progress", -1),
                ("b", "no plan predicted to meet the SLOs", 1)
            ]
        );

        // "a" departs: its decision is retracted, and the partition holds only "b".
        let out = step(&mut p, 3, vec![(member("a", true), -1)]);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].0.query_id.as_str(), out[0].2), ("a", -1));
        assert_eq!(p.decided.len(), 1);
        assert!(step(&mut p, 4, Vec::new()).is_empty());
    }
}
