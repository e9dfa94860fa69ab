//! The state downstream schedulers see on the assignments topic, and the invariants every
//! broker test checks on it: per query the highest decision epoch wins; a live query holds
//! exactly one current record (assigned or rejected), a departed one is withdrawn, and the
//! current plans never put more on a machine than its capacity.

use std::collections::{BTreeMap, BTreeSet};

use compass_testbed::sim::{Scenario, Simulation};
use serde_json::Value;

use super::compass;

/// Per query: its highest decision epoch and the distinct records at that epoch.
pub type Current = BTreeMap<String, (i64, Vec<Value>)>;

/// Every record on `{prefix}assignments`, read to its end by `compass consume`.
pub fn current(prefix: &str) -> Current {
    current_on(prefix, &super::brokers())
}

/// [`current`] on the broker at `brokers`.
pub fn current_on(prefix: &str, brokers: &str) -> Current {
    let out = compass()
        .env("COMPASS_BROKERS", brokers)
        .args(["consume", "--type", "assignment", "--idle-exit-ms", "5000"])
        .args(["--topic", &format!("{prefix}assignments")])
        .args(["--group", &format!("{prefix}check")])
        .output()
        .expect("consume assignments");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut latest = Current::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).expect("json line");
        let a = &v["value"];
        let id = a["query_id"].as_str().expect("query id").to_string();
        let epoch = a["decision_epoch"].as_i64().expect("epoch");
        let e = latest.entry(id).or_insert((i64::MIN, Vec::new()));
        if epoch > e.0 {
            *e = (epoch, vec![a.clone()]);
        } else if epoch == e.0 && !e.1.contains(a) {
            e.1.push(a.clone());
        }
    }
    latest
}

/// Plays `scenario`'s trace once and checks `latest` against its end: every live query holds
/// one current record ([`check_one_each`]) and no machine is over its capacity at the end,
/// a machine last reported dead having none ([`check_capacity`]). Returns the live queries.
pub fn check_end_state(latest: &Current, scenario: &Scenario) -> BTreeSet<String> {
    let mut world = Simulation::new(scenario.clone()).expect("world");
    let mut last = BTreeMap::new();
    for t in world.initial_telemetry() {
        last.insert(t.device_id.clone(), t);
    }
    for w in 0..world.windows() {
        for t in world.window_inputs(w).1 {
            last.insert(t.device_id.clone(), t);
        }
    }
    let capacity: BTreeMap<String, (f64, f64)> = last
        .into_iter()
        .map(|(id, t)| {
            let cap = if t.alive {
                (f64::from(t.gpu_count), t.gpu_memory_total_mb)
            } else {
                (0.0, 0.0)
            };
            (id, cap)
        })
        .collect();
    let live: BTreeSet<String> = world.live_ids().into_iter().collect();
    check_one_each(latest, &live);
    check_capacity(latest, &capacity);
    live
}

/// Panics unless every live query holds exactly one current assigned or rejected record and
/// every other query seen is withdrawn.
pub fn check_one_each(latest: &Current, live: &BTreeSet<String>) {
    for id in live {
        let (_, current) = latest
            .get(id)
            .unwrap_or_else(|| panic!("live query {id} has no assignment record"));
        assert_eq!(
            current.len(),
            1,
            "live query {id} has {} current records",
            current.len()
        );
        let status = current[0]["status"].as_str().unwrap_or_default();
        assert!(
            status == "assigned" || status == "rejected",
            "live query {id} is {status}"
        );
    }
    for (id, (_, current)) in latest {
        if !live.contains(id) {
            assert_eq!(current.len(), 1, "departed query {id}");
            assert_eq!(
                current[0]["status"], "withdrawn",
                "departed query {id} not withdrawn"
            );
        }
    }
}

/// Panics if the current assigned plans put more GPU share or memory on a machine than
/// `capacity` gives it (edge devices, absent from `capacity`, run no GPU share).
pub fn check_capacity(latest: &Current, capacity: &BTreeMap<String, (f64, f64)>) {
    let mut used: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (_, current) in latest.values() {
        for a in current.iter().filter(|a| a["status"] == "assigned") {
            let ops = a["plan"]["operators"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for op in ops {
                let share = op["gpu_share"].as_f64().unwrap_or(0.0);
                let mem = op["gpu_memory_mb"].as_f64().unwrap_or(0.0);
                if share == 0.0 && mem == 0.0 {
                    continue;
                }
                let dev = op["device_id"].as_str().unwrap_or_default().to_string();
                let u = used.entry(dev).or_default();
                u.0 += share;
                u.1 += mem;
            }
        }
    }
    for (dev, (share, mem)) in used {
        let (gpus, total) = capacity
            .get(&dev)
            .copied()
            .unwrap_or_else(|| panic!("a plan uses unknown machine {dev}"));
        assert!(
            share <= gpus + 1e-6,
            "machine {dev} over-committed: GPU share {share:.3} of {gpus}"
        );
        assert!(
            mem <= total + 1e-3,
            "machine {dev} over-committed: {mem:.0} MB of {total:.0} MB GPU memory"
        );
    }
}
