//! `compass bench`'s report: the JSON (one object per planner, and the ground-truth bound
//! when asked for), the markdown table beside it, and the goodput plot.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use compass_testbed::bound::Bound;
use serde::Serialize;

use compass::embedded::{percentile, RunReport};
use compass::plot::{line_chart, Series};

/// Percentiles of a sample; `null` in JSON (and `–` in the table) when it is empty.
#[derive(Serialize)]
struct Latency {
    p50: Option<f64>,
    p99: Option<f64>,
}

impl Latency {
    fn of(xs: &[f64]) -> Self {
        let p = |q: f64| (!xs.is_empty()).then(|| percentile(xs, q));
        Latency {
            p50: p(50.0),
            p99: p(99.0),
        }
    }

    fn cell(&self) -> String {
        match (self.p50, self.p99) {
            (Some(a), Some(b)) => format!("{a:.1} / {b:.1}"),
            _ => "–".into(),
        }
    }
}

#[derive(Serialize)]
struct PlannerResult {
    goodput: f64,
    slo_attainment: f64,
    cost_usd: f64,
    /// The part of `cost_usd` spent on queries that missed some SLO.
    cost_missed_usd: f64,
    planning_latency_ms: Latency,
    /// Arrival → first plan in simulated seconds (non-zero when profiling takes time).
    time_to_plan_s: Latency,
    /// Queries never assigned a plan.
    never_planned: u64,
    profiles: u64,
    profile_gpu_seconds: f64,
    churn: usize,
    wall_s: f64,
    /// With `--bound`: the least cost at which any planner realizes this goodput, by the
    /// ground truth with no capacity limit (`Bound::least_cost_for`).
    #[serde(skip_serializing_if = "Option::is_none")]
    least_cost_usd: Option<f64>,
    /// With `--bound`: the least cost at which the very queries this planner served within
    /// their SLOs could have been served, window by window (ground truth, idle machines).
    #[serde(skip_serializing_if = "Option::is_none")]
    least_cost_met_usd: Option<f64>,
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    seed: u64,
    /// Simulated profiling GPUs; absent: profiles answered at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_gpus: Option<u64>,
    planners: BTreeMap<String, PlannerResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bound: Option<BoundResult>,
}

/// The ground-truth bound of the scenario (`--bound`).
#[derive(Serialize)]
pub(super) struct BoundResult {
    /// DNN GPU shares the bound's plans may hold.
    pub(super) shares: Vec<f64>,
    /// Σ over windows of the weights of queries some plan can serve within every SLO.
    pub(super) goodput: f64,
    /// Σ over windows of live queries.
    pub(super) query_windows: u64,
    /// The least cost of serving those, USD.
    pub(super) cost_usd: f64,
    pub(super) wall_s: f64,
}

/// Write `json`, the table beside it (`.md`, also printed) and the goodput plot (`.png`).
pub(super) fn write(
    json: &Path,
    scenario: &str,
    seed: u64,
    profile_gpus: Option<u64>,
    results: &[(String, RunReport)],
    bound: Option<(Bound, BoundResult)>,
) -> anyhow::Result<()> {
    let (bound, bound_result) = bound.unzip();
    // Per planner: the least cost any planner pays for its goodput (`--bound`).
    let least = |goodput: f64| bound.as_ref().and_then(|b| b.least_cost_for(goodput));
    let report = Report {
        scenario: scenario.to_string(),
        seed,
        profile_gpus,
        planners: results
            .iter()
            .map(|(n, r)| {
                (
                    n.clone(),
                    PlannerResult {
                        goodput: r.goodput,
                        slo_attainment: r.slo_attainment,
                        cost_usd: r.cost_usd,
                        cost_missed_usd: r.cost_missed_usd,
                        planning_latency_ms: Latency::of(&r.latency_ms),
                        time_to_plan_s: Latency::of(&r.plan_wait_s),
                        never_planned: r.never_planned,
                        profiles: r.profiles,
                        profile_gpu_seconds: r.profile_gpu_seconds,
                        churn: r.churn,
                        wall_s: r.wall_s,
                        least_cost_usd: least(r.goodput),
                        least_cost_met_usd: r.least_cost_met_usd,
                    },
                )
            })
            .collect(),
        bound: bound_result,
    };
    std::fs::write(json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let with_bound = report.bound.is_some();
    let (head, rule) = if with_bound {
        (
            " least cost of its met queries USD | least cost of this goodput USD |",
            "---|---|",
        )
    } else {
        ("", "")
    };
    let mut md = format!(
        "| planner ({}, seed {}) | goodput | SLO attainment | cost USD | of it on misses | latency p50/p99 ms | time to plan p50/p99 s | never planned | profiles | GPU-s | churn | wall s |{head}\n|---|---|---|---|---|---|---|---|---|---|---|---|{rule}\n",
        scenario, seed
    );
    for (n, r) in results {
        let cell = |x: Option<f64>| x.map_or(" – |".to_string(), |c| format!(" {c:.2} |"));
        let least_cell = if with_bound {
            cell(r.least_cost_met_usd) + &cell(least(r.goodput))
        } else {
            String::new()
        };
        md.push_str(&format!(
            "| {n} | {:.1} | {:.1}% | {:.2} | {:.2} | {} | {} | {} | {} | {:.0} | {} | {:.1} |{least_cell}\n",
            r.goodput,
            100.0 * r.slo_attainment,
            r.cost_usd,
            r.cost_missed_usd,
            Latency::of(&r.latency_ms).cell(),
            Latency::of(&r.plan_wait_s).cell(),
            r.never_planned,
            r.profiles,
            r.profile_gpu_seconds,
            r.churn,
            r.wall_s
        ));
    }
    if let Some(b) = &report.bound {
        md.push_str(&format!(
            "| bound (ground truth, no capacity limit, shares {:?}) | {:.1} | {:.1}% | {:.2} | 0.00 | – | – | – | – | – | – | {:.1} | {:.2} | {:.2} |\n",
            b.shares,
            b.goodput,
            100.0 * b.goodput / (b.query_windows.max(1) as f64),
            b.cost_usd,
            b.wall_s,
            b.cost_usd,
            b.cost_usd
        ));
    }
    print!("{md}");
    let md_path = json.with_extension("md");
    std::fs::write(&md_path, &md)?;
    let png = json.with_extension("png");
    let mut series: Vec<Series> = results
        .iter()
        .map(|(n, r)| Series {
            name: n,
            points: r
                .windows
                .iter()
                .map(|w| (w.window as f64 * r.window_s, w.goodput))
                .collect(),
        })
        .collect();
    // The bound per window, on the same time axis (every run shares the scenario's windows).
    if let (Some(b), Some((_, r))) = (&bound, results.first()) {
        series.push(Series {
            name: "bound",
            points: b
                .windows
                .iter()
                .enumerate()
                .map(|(w, (goodput, _))| (w as f64 * r.window_s, *goodput))
                .collect(),
        });
    }
    line_chart(
        &png,
        &format!("goodput per window: {scenario}"),
        "simulated seconds",
        "weighted queries meeting SLOs",
        &series,
    )?;
    eprintln!(
        "wrote {}, {} and {}",
        json.display(),
        md_path.display(),
        png.display()
    );
    Ok(())
}
