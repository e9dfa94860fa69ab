//! Query traces: arrivals (Poisson, bursty, diurnal) and departures, SLOs drawn from each
//! application's SLO classes, and drift events (a device's bandwidth drops, an
//! application's accuracy shifts on new data, a machine fails).
//!
//! A trace is the records the topics carry, in time order: `QueryEvent`s and
//! `DeviceTelemetry` updates, saved as Avro object container files (`queries.avro`,
//! `telemetry.avro`) with a sync marker derived from the seed, so that the same seed gives
//! byte-identical files. Accuracy drift changes the ground truth, not a topic, so it is kept
//! beside them as `truth-drift.json`.

use std::path::Path;

use compass_planners::model::Device;
use compass_schemas::{QueryEvent, QueryEventKind, Tier};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use crate::fleet::telemetry;
use crate::ocf::{read_ocf, write_ocf};
use crate::truth::GroundTruth;

/// How queries arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    Poisson {
        rate_per_s: f64,
    },
    /// A two-state Markov-modulated Poisson process: calm and burst periods with
    /// exponentially distributed lengths.
    Bursty {
        calm_rate_per_s: f64,
        burst_rate_per_s: f64,
        mean_calm_s: f64,
        mean_burst_s: f64,
    },
    /// Arrivals at these times (seconds from the start), e.g. one query alone.
    At {
        times_s: Vec<f64>,
    },
    /// Rate `mean · (1 + amplitude · sin(2πt / period))`, by thinning.
    Diurnal {
        mean_rate_per_s: f64,
        amplitude: f64,
        period_s: f64,
    },
}

/// A scheduled change of the world.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// At `at_s`, a fraction of the edge devices see their uplink multiplied by `factor`.
    BandwidthDrop {
        at_s: f64,
        fraction: f64,
        factor: f64,
    },
    /// At `at_s`, the accuracy of `app_id` on `stratum` shifts by `delta` (new data).
    AccuracyShift {
        at_s: f64,
        app_id: String,
        stratum: String,
        delta: f64,
    },
    /// At `at_s`, `count` cloud machines fail (telemetry `alive = false`).
    MachineFailure { at_s: f64, count: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpec {
    pub seed: u64,
    pub start_ms: i64,
    pub duration_s: f64,
    pub arrival: Arrival,
    pub mean_lifetime_s: f64,
    /// Applications with their shares of arrivals.
    pub app_mix: Vec<(String, f64)>,
    pub drift: Vec<Drift>,
}

/// An accuracy shift, as saved beside the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyDrift {
    pub time_ms: i64,
    pub app_id: String,
    pub stratum: String,
    pub delta: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    /// Arrivals and departures, by event time.
    pub queries: Vec<QueryEvent>,
    /// Telemetry changes caused by drift, by event time.
    pub telemetry: Vec<compass_schemas::DeviceTelemetry>,
    pub accuracy_drift: Vec<AccuracyDrift>,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("unknown application `{0}` in the trace's mix")]
    UnknownApp(String),
    #[error("the fleet has no edge devices to send queries from")]
    NoEdgeDevices,
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{path}: {detail}")]
    Avro { path: String, detail: String },
}

fn exp<R: Rng>(rng: &mut R, rate: f64) -> f64 {
    if rate <= 0.0 {
        return f64::INFINITY;
    }
    Exp::new(rate)
        .map(|d| d.sample(rng))
        .unwrap_or(f64::INFINITY)
}

/// Arrival times in seconds within `[0, duration)`.
fn arrivals<R: Rng>(spec: &Arrival, duration: f64, rng: &mut R) -> Vec<f64> {
    let mut out = Vec::new();
    match *spec {
        Arrival::At { ref times_s } => {
            out.extend(
                times_s
                    .iter()
                    .copied()
                    .filter(|t| (0.0..duration).contains(t)),
            );
            out.sort_by(f64::total_cmp);
        }
        Arrival::Poisson { rate_per_s } => {
            let mut t = exp(rng, rate_per_s);
            while t < duration {
                out.push(t);
                t += exp(rng, rate_per_s);
            }
        }
        Arrival::Bursty {
            calm_rate_per_s,
            burst_rate_per_s,
            mean_calm_s,
            mean_burst_s,
        } => {
            let (mut t, mut burst) = (0.0, false);
            while t < duration {
                let len = exp(rng, 1.0 / if burst { mean_burst_s } else { mean_calm_s });
                let end = (t + len).min(duration);
                let rate = if burst {
                    burst_rate_per_s
                } else {
                    calm_rate_per_s
                };
                let mut a = t + exp(rng, rate);
                while a < end {
                    out.push(a);
                    a += exp(rng, rate);
                }
                t = end;
                burst = !burst;
            }
        }
        Arrival::Diurnal {
            mean_rate_per_s,
            amplitude,
            period_s,
        } => {
            let a = amplitude.clamp(0.0, 1.0);
            let max = mean_rate_per_s * (1.0 + a);
            let mut t = exp(rng, max);
            while t < duration {
                let rate =
                    mean_rate_per_s * (1.0 + a * (std::f64::consts::TAU * t / period_s).sin());
                if rng.random::<f64>() * max < rate {
                    out.push(t);
                }
                t += exp(rng, max);
            }
        }
    }
    out
}

fn pick_weighted<'a, R: Rng, T>(rng: &mut R, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut x = rng.random::<f64>() * total;
    for it in items {
        if x < weight(it) {
            return it;
        }
        x -= weight(it);
    }
    &items[items.len() - 1]
}

/// Generate a trace over `fleet` for the applications in `truths`.
pub fn generate(
    spec: &TraceSpec,
    truths: &[GroundTruth],
    fleet: &[Device],
) -> Result<Trace, TraceError> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let edge: Vec<&Device> = fleet.iter().filter(|d| d.tier == Tier::Edge).collect();
    if edge.is_empty() {
        return Err(TraceError::NoEdgeDevices);
    }
    let apps: Vec<(&GroundTruth, f64)> = spec
        .app_mix
        .iter()
        .map(|(id, w)| {
            truths
                .iter()
                .find(|t| t.spec.app_id == *id)
                .map(|t| (t, *w))
                .ok_or_else(|| TraceError::UnknownApp(id.clone()))
        })
        .collect::<Result<_, _>>()?;
    let ms = |s: f64| spec.start_ms + (s * 1000.0).round() as i64;
    let mut events: Vec<QueryEvent> = Vec::new();
    for (i, t) in arrivals(&spec.arrival, spec.duration_s, &mut rng)
        .into_iter()
        .enumerate()
    {
        let (truth, _) = *pick_weighted(&mut rng, &apps, |(_, w)| *w);
        let class = pick_weighted(&mut rng, &truth.spec.slo_class, |c| c.weight);
        let device = edge[rng.random_range(0..edge.len())];
        let stratum = truth.sample_stratum(&mut rng).to_string();
        let id = format!("q-{i}");
        events.push(QueryEvent {
            query_id: id.clone(),
            kind: QueryEventKind::Arrive,
            event_time_ms: ms(t),
            spec: Some(truth.spec.query_spec(class, &device.id, &stratum)),
        });
        let leave = t + exp(&mut rng, 1.0 / spec.mean_lifetime_s);
        if leave < spec.duration_s {
            events.push(QueryEvent {
                query_id: id,
                kind: QueryEventKind::Depart,
                event_time_ms: ms(leave),
                spec: None,
            });
        }
    }
    events.sort_by(|a, b| {
        a.event_time_ms
            .cmp(&b.event_time_ms)
            .then_with(|| a.query_id.cmp(&b.query_id))
    });

    let mut trace = Trace {
        queries: events,
        ..Trace::default()
    };
    for d in &spec.drift {
        match d {
            Drift::BandwidthDrop {
                at_s,
                fraction,
                factor,
            } => {
                for dev in &edge {
                    if rng.random::<f64>() < *fraction {
                        let mut t = telemetry(dev, ms(*at_s));
                        t.uplink_mbps *= factor;
                        trace.telemetry.push(t);
                    }
                }
            }
            Drift::AccuracyShift {
                at_s,
                app_id,
                stratum,
                delta,
            } => trace.accuracy_drift.push(AccuracyDrift {
                time_ms: ms(*at_s),
                app_id: app_id.clone(),
                stratum: stratum.clone(),
                delta: *delta,
            }),
            Drift::MachineFailure { at_s, count } => {
                let cloud: Vec<&Device> = fleet.iter().filter(|d| d.tier == Tier::Cloud).collect();
                for _ in 0..(*count).min(cloud.len()) {
                    let mut t = telemetry(cloud[rng.random_range(0..cloud.len())], ms(*at_s));
                    t.alive = false;
                    t.gpu_memory_free_mb = 0.0;
                    t.gpu_share_free = 0.0;
                    trace.telemetry.push(t);
                }
            }
        }
    }
    trace.telemetry.sort_by(|a, b| {
        a.event_time_ms
            .cmp(&b.event_time_ms)
            .then_with(|| a.device_id.cmp(&b.device_id))
    });
    trace
        .telemetry
        .dedup_by(|a, b| a.device_id == b.device_id && a.event_time_ms == b.event_time_ms);
    trace.accuracy_drift.sort_by_key(|d| d.time_ms);
    Ok(trace)
}

impl Trace {
    /// Save as `queries.avro`, `telemetry.avro` and `truth-drift.json` in `dir`.
    pub fn save(&self, dir: &Path, seed: u64) -> Result<(), TraceError> {
        std::fs::create_dir_all(dir).map_err(|e| TraceError::Io {
            path: dir.display().to_string(),
            detail: e.to_string(),
        })?;
        write_ocf(&dir.join("queries.avro"), &self.queries, seed)?;
        write_ocf(&dir.join("telemetry.avro"), &self.telemetry, seed)?;
        let path = dir.join("truth-drift.json");
        let json =
            serde_json::to_string_pretty(&self.accuracy_drift).map_err(|e| TraceError::Io {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
        std::fs::write(&path, json).map_err(|e| TraceError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    pub fn load(dir: &Path) -> Result<Self, TraceError> {
        let path = dir.join("truth-drift.json");
        let text = std::fs::read_to_string(&path).map_err(|e| TraceError::Io {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Ok(Trace {
            queries: read_ocf(&dir.join("queries.avro"))?,
            telemetry: read_ocf(&dir.join("telemetry.avro"))?,
            accuracy_drift: serde_json::from_str(&text).map_err(|e| TraceError::Io {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?,
        })
    }
}
