//! The performance model: a plan's latency, accuracy and cost.
//!
//! - **Compute.** An operator's service time on a device is its latency on the reference
//!   hardware (one whole NVIDIA A100) divided by the device's relative speed and, for DNN
//!   operators, by the GPU share it holds: under MPS-style spatial sharing a kernel given a
//!   fraction of the SMs runs proportionally longer. CPU (`basic`) operators scale with speed
//!   only; `api` operators take their reference latency as is.
//! - **Queueing.** Inputs arrive at the query's rate; an operator is a single deterministic
//!   server, so the mean wait is M/D/1's ρ·s / (2(1−ρ)) with ρ = rate·s. At percentile p the
//!   wait is taken as mean · ln(1/(1−p)), the exponential tail approximation. ρ ≥ 1 is
//!   unstable: infinite latency.
//! - **Transfer.** An operator's output crosses exactly the links between its device and its
//!   consumer's: edge → edge server uses the edge device's uplink, edge server → cloud uses
//!   the edge server's uplink, and edge → cloud uses the device's uplink and then the cloud
//!   machine's backhaul link. Each link costs bytes / bandwidth + one RTT. Same tier: free.
//! - **Latency** is the longest path through the DAG of (service + wait) and transfers; for a
//!   chain, the sum. The returned result to the user is not charged (outputs are small).
//! - **Accuracy** depends on the configuration and the query's data stratum, never on
//!   placement.
//! - **Cost** per hour = Σ over DNN operators of GPU share × the machine's per-GPU price +
//!   Σ over API operators of calls per hour × price per call. CPU work and user-owned
//!   devices are free.

use compass_schemas::OperatorKind;

use super::app::{AppModel, Config};
use super::device::Device;
use super::plan::{level, Plan, PlanError};
use super::query::Query;

/// What the performance model needs to know about an application's operators.
pub trait OperatorModel {
    /// Latency in ms of operator `op` for one input item under `config`, on the reference
    /// hardware with a whole GPU and no queueing.
    fn reference_ms(&self, app: &AppModel, op: usize, config: &Config) -> f64;
    /// Accuracy of the pipeline's output under `config` on data of `stratum`.
    fn accuracy(&self, app: &AppModel, config: &Config, stratum: &str) -> f64;
}

/// A plan's predicted (or realized) performance.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanEstimate {
    /// End-to-end latency at the query's percentile, ms.
    pub latency_ms: f64,
    pub accuracy: f64,
    pub cost_usd_per_hour: f64,
    /// Per operator: service time plus queueing wait, ms.
    pub operator_ms: Vec<f64>,
    /// Sum of transfer times on the critical path, ms.
    pub transfer_ms: f64,
}

/// Service time of one input, ms.
pub fn service_ms(reference_ms: f64, kind: OperatorKind, speed: f64, gpu_share: f64) -> f64 {
    match kind {
        OperatorKind::Api => reference_ms,
        OperatorKind::Basic => reference_ms / speed,
        OperatorKind::Dnn => reference_ms / (speed * gpu_share),
    }
}

/// Queueing wait at percentile `p` (in (0, 100)) of an M/D/1 server with service time
/// `service_ms` at `rate_per_s` arrivals; infinite when the server cannot keep up.
pub fn wait_ms(service_ms: f64, rate_per_s: f64, percentile: f64) -> f64 {
    let rho = rate_per_s * service_ms / 1000.0;
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    let mean = rho * service_ms / (2.0 * (1.0 - rho));
    let p = (percentile / 100.0).clamp(0.0, 0.999);
    mean * (1.0 / (1.0 - p)).ln()
}

/// Transfer time of `bytes` from `from` to `to`, over exactly the links between their tiers.
pub fn transfer_ms(bytes: f64, from: &Device, to: &Device) -> f64 {
    let (a, b) = (level(from.tier), level(to.tier));
    if a >= b || bytes <= 0.0 {
        return 0.0;
    }
    let mut total = from.link.transfer_ms(bytes);
    if a == 0 && b == 2 {
        total += to.link.transfer_ms(bytes);
    }
    total
}

/// Latency, accuracy and cost of `plan` for `query` on `devices`.
pub fn estimate<M: OperatorModel>(
    model: &M,
    app: &AppModel,
    plan: &Plan,
    query: &Query,
    devices: &[Device],
) -> Result<PlanEstimate, PlanError> {
    plan.check(app, devices)?;
    let n = app.operator_count();
    let mut operator_ms = vec![0.0; n];
    let mut finish = vec![0.0f64; n];
    let mut transfer_on_path = vec![0.0f64; n];
    let mut cost = 0.0;
    for &op in &app.order {
        let p = &plan.placements[op];
        let dev = &devices[p.device];
        let kind = app.kind(op);
        let s = service_ms(
            model.reference_ms(app, op, &plan.config),
            kind,
            dev.speed,
            p.gpu_share,
        );
        let w = if kind == OperatorKind::Api {
            0.0
        } else {
            wait_ms(s, query.rate_per_s, query.slo.latency_percentile)
        };
        operator_ms[op] = s + w;
        let (mut start, mut tr) = (0.0f64, 0.0f64);
        for &u in &app.upstream[op] {
            let t = transfer_ms(
                app.output_bytes(&plan.config, u),
                &devices[plan.placements[u].device],
                dev,
            );
            if finish[u] + t >= start {
                start = finish[u] + t;
                tr = transfer_on_path[u] + t;
            }
        }
        finish[op] = start + operator_ms[op];
        transfer_on_path[op] = tr;
        cost += match kind {
            OperatorKind::Dnn => p.gpu_share * dev.gpu_price_usd_per_hour(),
            OperatorKind::Api => query.rate_per_s * 3600.0 * app.api_usd_per_call(&plan.config, op),
            OperatorKind::Basic => 0.0,
        };
    }
    let last = (0..n)
        .max_by(|&a, &b| finish[a].total_cmp(&finish[b]))
        .unwrap_or(0);
    Ok(PlanEstimate {
        latency_ms: finish[last],
        accuracy: model.accuracy(app, &plan.config, &query.stratum),
        cost_usd_per_hour: cost,
        operator_ms,
        transfer_ms: transfer_on_path[last],
    })
}

#[cfg(test)]
mod tests;
