//! The share of arrivals that need no search: their similarity cluster already exists.
//!
//!     cargo run --release -p compass-testbed --example cluster_reuse
//!
//! A 10,000-query trace over a 10,000-device fleet, all six applications; a query's cluster
//! key is its application, its SLOs on a log scale and its device's class
//! (`compass_planners::search::cluster`). The first query of a cluster needs a search; later
//! arrivals reuse its candidates. Clusters are never dropped here, so this is an upper bound
//! for a planner that forgets idle clusters.

use std::collections::{BTreeMap, HashSet};

use compass_planners::model::Query;
use compass_planners::search::cluster::{cluster_key, Buckets};
use compass_schemas::QueryEventKind;
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::trace::{self, Arrival, TraceSpec};
use compass_testbed::truth::GroundTruth;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tables = Tables::builtin()?;
    let truths: Vec<GroundTruth> = catalog::builtin()?
        .into_iter()
        .map(GroundTruth::new)
        .collect::<Result<_, _>>()?;
    let devices = fleet::generate(&FleetSpec::sized(10_000, 3), &tables)?;
    let index: BTreeMap<&str, usize> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i))
        .collect();
    let higher: BTreeMap<&str, bool> = truths
        .iter()
        .map(|t| (t.spec.app_id.as_str(), t.spec.higher_is_better))
        .collect();
    let spec = TraceSpec {
        seed: 3,
        start_ms: 0,
        duration_s: 36_000.0,
        arrival: Arrival::Poisson {
            rate_per_s: 10_000.0 / 36_000.0,
        },
        mean_lifetime_s: 1_800.0,
        app_mix: truths
            .iter()
            .map(|t| (t.spec.app_id.clone(), 1.0))
            .collect(),
        drift: vec![],
    };
    let tr = trace::generate(&spec, &truths, &devices)?;
    println!(
        "| buckets (SLO ratio, uplink ratio) | arrivals | clusters | arrivals needing no search |"
    );
    println!("|---|---|---|---|");
    for b in [
        Buckets {
            slo_ratio: 1.25,
            uplink_ratio: 2.0,
        },
        Buckets {
            slo_ratio: 1.5,
            uplink_ratio: 4.0,
        },
    ] {
        let mut seen = HashSet::new();
        let (mut arrivals, mut reused) = (0usize, 0usize);
        for ev in tr
            .queries
            .iter()
            .filter(|e| e.kind == QueryEventKind::Arrive)
        {
            let Some(spec) = &ev.spec else { continue };
            let q = Query::from_spec(
                &ev.query_id,
                spec,
                higher.get(spec.app_id.as_str()).copied().unwrap_or(true),
            );
            let Some(&d) = index.get(q.source_device_id.as_str()) else {
                continue;
            };
            arrivals += 1;
            if !seen.insert(cluster_key(&q, &devices[d], &b)) {
                reused += 1;
            }
        }
        println!(
            "| {} , {} | {arrivals} | {} | {reused} ({:.1}%) |",
            b.slo_ratio,
            b.uplink_ratio,
            seen.len(),
            100.0 * reused as f64 / arrivals.max(1) as f64
        );
    }
    Ok(())
}
