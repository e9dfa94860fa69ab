//! Simulated GPU workers: they realize each deployed plan's latency, accuracy and cost per
//! window from the ground truth under the actual co-location on each machine, and answer
//! profile requests with per-input samples, charging simulated GPU-seconds.
//!
//! Contention, per machine:
//! - **Memory is a hard limit.** Operators are loaded in deployment order; one that does not
//!   fit fails, and its query realizes infinite latency.
//! - **Compute shares.** When the shares on a machine add up to more than its GPUs, every
//!   share shrinks in proportion.
//! - **Interference.** Processes sharing a GPU slow each other down: service time grows by
//!   `1 + κ·(processes per GPU − 1)`. The authors' prototype models the same effect; κ is
//!   not published in the data, so it is a parameter (default 0.05, an assumption).
//!
//! A dead machine (telemetry `alive = false`) fails every operator on it.

use std::collections::{BTreeMap, HashMap};

use compass_planners::model::{perf, Device, OperatorModel, Placement, Plan, Query};
use compass_planners::online::stats::Moments;
use compass_planners::search::bo::Measured;
use compass_schemas::{
    Assignment, AssignmentStatus, DeviceTelemetry, OperatorKind, OperatorMeasurement,
    ProfileRequest, ProfileSample,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::fleet::Tables;
use crate::trace::AccuracyDrift;
use crate::truth::GroundTruth;

/// Default slowdown per extra process sharing a GPU (an assumption; see the module doc).
pub const DEFAULT_INTERFERENCE: f64 = 0.05;

/// Most inputs sampled per query and window.
const MAX_SAMPLES: usize = 64;

/// A query running a plan; the plan's placements index into [`World::devices`].
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    pub query: Query,
    pub plan: Plan,
}

/// What the workers measured for one query in one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Realized {
    pub query_id: String,
    /// At the query's percentile; infinite when an operator could not run.
    pub latency_ms: f64,
    pub accuracy: f64,
    pub cost_usd_per_hour: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("unknown application `{0}`")]
    UnknownApp(String),
    #[error("unknown hardware class `{0}`")]
    UnknownHardware(String),
    #[error("profile request {request}: {detail}")]
    BadRequest { request: String, detail: String },
    #[error("assignment for {query}: {detail}")]
    BadAssignment { query: String, detail: String },
}

/// The simulated world the workers run in.
pub struct World {
    pub truths: BTreeMap<String, GroundTruth>,
    pub devices: Vec<Device>,
    index: HashMap<String, usize>,
    tables: Tables,
    pub interference: f64,
    rng: ChaCha8Rng,
}

impl World {
    pub fn new(truths: Vec<GroundTruth>, devices: Vec<Device>, tables: Tables, seed: u64) -> Self {
        let index = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        World {
            truths: truths
                .into_iter()
                .map(|t| (t.spec.app_id.clone(), t))
                .collect(),
            devices,
            index,
            tables,
            interference: DEFAULT_INTERFERENCE,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn device_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The deployment an `Assignment` record asks for: its plan's knob settings and device
    /// ids resolved against this world. `None` for a rejected or withdrawn query.
    pub fn deployment(
        &self,
        assignment: &Assignment,
        query: &Query,
    ) -> Result<Option<Deployed>, WorkerError> {
        if assignment.status != AssignmentStatus::Assigned {
            return Ok(None);
        }
        let bad = |detail: String| WorkerError::BadAssignment {
            query: assignment.query_id.clone(),
            detail,
        };
        let plan = assignment
            .plan
            .as_ref()
            .ok_or_else(|| bad("assigned without a plan".into()))?;
        let truth = self
            .truths
            .get(&plan.app_id)
            .ok_or_else(|| WorkerError::UnknownApp(plan.app_id.clone()))?;
        if plan.operators.len() != truth.spec.operators.len() {
            return Err(bad(format!(
                "{} operators placed, the application has {}",
                plan.operators.len(),
                truth.spec.operators.len()
            )));
        }
        let picks: Vec<(&str, &str, &str)> = plan
            .operators
            .iter()
            .flat_map(|o| {
                o.knobs
                    .iter()
                    .map(move |k| (o.operator.as_str(), k.knob.as_str(), k.value.as_str()))
            })
            .collect();
        let config = truth
            .config_with(&picks)
            .ok_or_else(|| bad("unknown knob or value".into()))?;
        let mut placements = vec![
            Placement {
                device: 0,
                gpu_share: 0.0
            };
            plan.operators.len()
        ];
        for o in &plan.operators {
            let op = truth
                .op(&o.operator)
                .ok_or_else(|| bad(format!("unknown operator `{}`", o.operator)))?;
            let device = self
                .device_index(&o.device_id)
                .ok_or_else(|| bad(format!("unknown device `{}`", o.device_id)))?;
            placements[op] = Placement {
                device,
                gpu_share: o.gpu_share,
            };
        }
        Ok(Some(Deployed {
            query: query.clone(),
            plan: Plan { config, placements },
        }))
    }

    /// A device's new state (drift: bandwidth drop, machine failure).
    pub fn apply_telemetry(&mut self, t: &DeviceTelemetry) {
        if let Some(&i) = self.index.get(&t.device_id) {
            let d = &mut self.devices[i];
            d.alive = t.alive;
            d.link.uplink_mbps = t.uplink_mbps;
            d.link.rtt_ms = t.rtt_ms;
        }
    }

    pub fn apply_accuracy_drift(&mut self, d: &AccuracyDrift) {
        if let Some(t) = self.truths.get_mut(&d.app_id) {
            *t.accuracy_shift.entry(d.stratum.clone()).or_default() += d.delta;
        }
    }

    /// Devices as contention leaves them for this window, and the deployments that fail
    /// (out of memory or on a dead machine).
    fn contended(&self, deployed: &[Deployed]) -> (Vec<Device>, Vec<bool>) {
        let n = self.devices.len();
        let mut memory = vec![0.0f64; n];
        let mut share = vec![0.0f64; n];
        let mut procs = vec![0usize; n];
        let mut failed = vec![false; deployed.len()];
        for (qi, d) in deployed.iter().enumerate() {
            let Some(truth) = self.truths.get(&d.query.app_id) else {
                failed[qi] = true;
                continue;
            };
            for (op, p) in d.plan.placements.iter().enumerate() {
                let Some(dev) = self.devices.get(p.device) else {
                    failed[qi] = true;
                    continue;
                };
                if !dev.alive {
                    failed[qi] = true;
                }
                if truth.model.kind(op) != OperatorKind::Dnn {
                    continue;
                }
                let need = truth.model.gpu_memory_mb(&d.plan.config, op);
                if memory[p.device] + need > dev.gpu_memory_mb + 1e-9 {
                    failed[qi] = true;
                    continue;
                }
                memory[p.device] += need;
                share[p.device] += p.gpu_share;
                procs[p.device] += 1;
            }
        }
        let adjusted = self
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let gpus = f64::from(d.gpu_count.max(1));
                let scale = if share[i] > gpus {
                    gpus / share[i]
                } else {
                    1.0
                };
                let per_gpu = procs[i] as f64 / gpus;
                let slowdown = 1.0 + self.interference * (per_gpu - 1.0).max(0.0);
                Device {
                    speed: d.speed * scale / slowdown,
                    ..d.clone()
                }
            })
            .collect();
        (adjusted, failed)
    }

    /// Realize every deployment over a window of `window_s` seconds.
    pub fn realize(&mut self, deployed: &[Deployed], window_s: f64) -> Vec<Realized> {
        let (devices, failed) = self.contended(deployed);
        let mut out = Vec::with_capacity(deployed.len());
        for (d, failed) in deployed.iter().zip(failed) {
            let Some(truth) = self.truths.get(&d.query.app_id) else {
                continue;
            };
            let est = if failed {
                None
            } else {
                perf::estimate(truth, &truth.model, &d.plan, &d.query, &devices).ok()
            };
            let Some(est) = est else {
                out.push(Realized {
                    query_id: d.query.id.clone(),
                    latency_ms: f64::INFINITY,
                    accuracy: truth.accuracy(&truth.model, &d.plan.config, &d.query.stratum),
                    cost_usd_per_hour: 0.0,
                });
                continue;
            };
            let k = ((d.query.rate_per_s * window_s).round() as usize).clamp(1, MAX_SAMPLES);
            let compute = est.latency_ms - est.transfer_ms;
            let mut lat: Vec<f64> = (0..k)
                .map(|_| est.transfer_ms + compute * truth.latency_noise(&mut self.rng))
                .collect();
            lat.sort_by(f64::total_cmp);
            let rank = ((d.query.slo.latency_percentile / 100.0) * k as f64).ceil() as usize;
            let accuracy = (0..k)
                .map(|_| truth.sample_accuracy(&d.plan.config, &d.query.stratum, &mut self.rng))
                .sum::<f64>()
                / k as f64;
            out.push(Realized {
                query_id: d.query.id.clone(),
                latency_ms: lat[rank.clamp(1, k) - 1],
                accuracy,
                cost_usd_per_hour: est.cost_usd_per_hour,
            });
        }
        out
    }

    /// Measure the operator prefix a profile request names, on its hardware class, for the
    /// requested number of inputs per stratum. Accuracy is reported only when the prefix is
    /// the whole pipeline (a partial pipeline has no output to score).
    pub fn answer(
        &mut self,
        req: &ProfileRequest,
        now_ms: i64,
    ) -> Result<Vec<ProfileSample>, WorkerError> {
        let truth = self
            .truths
            .get(&req.app_id)
            .ok_or_else(|| WorkerError::UnknownApp(req.app_id.clone()))?;
        let class = self
            .tables
            .class(&req.hardware_class)
            .map_err(|_| WorkerError::UnknownHardware(req.hardware_class.clone()))?;
        let bad = |detail: String| WorkerError::BadRequest {
            request: req.request_id.clone(),
            detail,
        };
        let mut picks: Vec<(&str, &str, &str)> = Vec::new();
        let mut ops = Vec::new();
        for choice in &req.operators {
            let op = truth
                .op(&choice.operator)
                .ok_or_else(|| bad(format!("unknown operator `{}`", choice.operator)))?;
            ops.push(op);
            for k in &choice.knobs {
                picks.push((&choice.operator, &k.knob, &k.value));
            }
        }
        let config = truth
            .config_with(&picks)
            .ok_or_else(|| bad("unknown knob or value".into()))?;
        let whole = ops.len() == truth.spec.operators.len();
        let key = format!(
            "{}|{}",
            req.app_id,
            picks
                .iter()
                .map(|(o, k, v)| format!("{o}.{k}={v}"))
                .collect::<Vec<_>>()
                .join("|")
        );
        let mut samples = Vec::new();
        for quota in &req.quotas {
            for i in 0..quota.inputs.max(0) {
                let operators: Vec<OperatorMeasurement> = req
                    .operators
                    .iter()
                    .zip(&ops)
                    .map(|(c, &op)| OperatorMeasurement {
                        operator: c.operator.clone(),
                        knobs: c.knobs.clone(),
                        latency_ms: truth.reference_ms(&truth.model, op, &config) / class.speed
                            * truth.latency_noise(&mut self.rng),
                    })
                    .collect();
                let gpu_seconds = operators.iter().map(|o| o.latency_ms).sum::<f64>() / 1000.0;
                samples.push(ProfileSample {
                    plan_key: key.clone(),
                    app_id: req.app_id.clone(),
                    hardware_class: req.hardware_class.clone(),
                    request_id: Some(req.request_id.clone()),
                    operators,
                    input_id: format!("{}-{}-{i}", quota.stratum, req.request_id),
                    stratum: quota.stratum.clone(),
                    accuracy: whole
                        .then(|| truth.sample_accuracy(&config, &quota.stratum, &mut self.rng)),
                    gpu_seconds,
                    event_time_ms: now_ms,
                });
            }
        }
        Ok(samples)
    }
}

/// What a whole-pipeline profile tells a search: each of the first `operators` operators'
/// mean latency over the samples (in the units measured) and the accuracy of the samples
/// that have one: their mean (NaN when none does) and its standard error.
pub fn profile_means(samples: &[ProfileSample], operators: usize) -> (Vec<f64>, Measured) {
    let n = samples.len().max(1) as f64;
    let latency = (0..operators)
        .map(|op| {
            samples
                .iter()
                .filter_map(|s| s.operators.get(op))
                .map(|o| o.latency_ms)
                .sum::<f64>()
                / n
        })
        .collect();
    let mut accuracy = Moments::default();
    for score in samples.iter().filter_map(|s| s.accuracy) {
        accuracy.push(score);
    }
    (latency, accuracy.measured())
}
