//! Summarize the testbed: per application, the knob space and the range of realized latency
//! and accuracy across its configurations; then fleet and trace generation times.
//!
//!     cargo run --release -p compass-testbed --example world
//!
//! Each configuration is realized alone (no contention) with a canonical placement: the
//! source operator on a Wi-Fi laptop, DNN operators on a whole cloud A100 (an edge-server A10
//! where the cloud is not allowed), other operators next to their upstream. A run is
//! *unstable* when an operator cannot keep up with the input rate where it is placed.

use std::time::Instant;

use compass_planners::model::{Placement, Plan, Query, SloTargets};
use compass_schemas::{OperatorKind, Tier};
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::trace::{self, Arrival, TraceSpec};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::{Deployed, World};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tables = Tables::builtin()?;
    let truths: Vec<GroundTruth> = catalog::builtin()?
        .into_iter()
        .map(GroundTruth::new)
        .collect::<Result<_, _>>()?;
    let devices = fleet::generate(&FleetSpec::sized(200, 1), &tables)?;
    let laptop = devices
        .iter()
        .position(|d| d.hardware_class == "laptop-snapdragon-x-elite" && d.link.uplink_mbps > 20.0)
        .ok_or("no Wi-Fi laptop in the fleet")?;
    let a100 = devices
        .iter()
        .position(|d| d.hardware_class == "a100-80gb")
        .ok_or("no A100")?;
    let a10_edge = devices
        .iter()
        .position(|d| d.tier == Tier::EdgeServer)
        .ok_or("no edge server")?;
    let mut world = World::new(truths.clone(), devices.clone(), tables.clone(), 1);

    println!("| application | operators | knob space | realized p95 latency, ms | unstable | realized accuracy |");
    println!("|---|---|---|---|---|---|");
    for t in &truths {
        let (mut lat, mut acc) = ((f64::INFINITY, 0.0f64), (f64::INFINITY, f64::NEG_INFINITY));
        let (mut unstable, mut runs) = (0usize, 0usize);
        for i in 0..t.model.space_size() {
            let config = t.model.config(i)?;
            let mut placements: Vec<Placement> = Vec::new();
            for op in 0..t.model.operator_count() {
                let device = if t.model.upstream[op].is_empty() && t.model.allowed(op, Tier::Edge) {
                    laptop
                } else if t.model.kind(op) == OperatorKind::Dnn {
                    if t.model.allowed(op, Tier::Cloud) {
                        a100
                    } else {
                        a10_edge
                    }
                } else {
                    let up = t.model.upstream[op]
                        .iter()
                        .map(|&u| placements[u].device)
                        .max_by_key(|&d| devices[d].tier as u8);
                    up.filter(|&d| t.model.allowed(op, devices[d].tier))
                        .unwrap_or(a100)
                };
                let share = if t.model.kind(op) == OperatorKind::Dnn {
                    1.0
                } else {
                    0.0
                };
                placements.push(Placement {
                    device,
                    gpu_share: share,
                });
            }
            for stratum in &t.spec.strata {
                let query = Query {
                    id: format!("{}-{i}", t.spec.app_id),
                    app_id: t.spec.app_id.clone(),
                    source_device_id: devices[laptop].id.clone(),
                    rate_per_s: t.spec.rate_per_s,
                    weight: 1.0,
                    slo: SloTargets {
                        latency_ms: 1e9,
                        latency_percentile: 95.0,
                        accuracy: None,
                        max_cost_usd_per_hour: None,
                    },
                    stratum: stratum.name.clone(),
                };
                let r = world.realize(
                    &[Deployed {
                        query,
                        plan: Plan {
                            config: config.clone(),
                            placements: placements.clone(),
                        },
                    }],
                    60.0,
                );
                if let Some(r) = r.first() {
                    runs += 1;
                    if r.latency_ms.is_infinite() {
                        unstable += 1;
                    } else {
                        lat = (lat.0.min(r.latency_ms), lat.1.max(r.latency_ms));
                    }
                    acc = (acc.0.min(r.accuracy), acc.1.max(r.accuracy));
                }
            }
        }
        println!(
            "| {} | {} | {} | {:.1} – {:.1} | {unstable} of {runs} | {:.2} – {:.2} {} |",
            t.spec.app_id,
            t.model.operator_count(),
            t.model.space_size(),
            lat.0,
            lat.1,
            acc.0,
            acc.1,
            t.spec.accuracy_metric
        );
    }

    println!();
    for n in [10usize, 10_000, 100_000] {
        let start = Instant::now();
        let fleet = fleet::generate(&FleetSpec::sized(n, 7), &tables)?;
        println!(
            "fleet of {n} edge devices ({} devices and machines in all): {:.1} ms",
            fleet.len(),
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    let fleet = fleet::generate(&FleetSpec::sized(10_000, 7), &tables)?;
    let spec = TraceSpec {
        seed: 7,
        start_ms: 0,
        duration_s: 3_600.0,
        arrival: Arrival::Poisson {
            rate_per_s: 10_000.0 / 3_600.0,
        },
        mean_lifetime_s: 600.0,
        app_mix: truths
            .iter()
            .map(|t| (t.spec.app_id.clone(), 1.0))
            .collect(),
        drift: vec![],
    };
    let start = Instant::now();
    let tr = trace::generate(&spec, &truths, &fleet)?;
    println!(
        "trace of {} query events over 1 h: {:.1} ms",
        tr.queries.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
