//! Stateless validation of records: what can be judged from one record alone.
//!
//! Checks that need state (an unknown application, a duplicate query id) belong to the
//! dataflow. Everything here is cheap and bounded, so hostile records (knob spaces of 10^9
//! plans, cyclic pipelines, NaN SLOs) are rejected before they reach the planner.

use std::collections::{HashMap, HashSet};

use crate::{
    Application, Assignment, AssignmentStatus, DeviceTelemetry, ProfileRequest, ProfileSample,
    QueryEvent, QueryEventKind,
};

/// Size limits, configurable by the operator of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest allowed knob space (product of the knobs' choice counts) of one application.
    pub max_knob_space: u128,
    /// Largest allowed number of operators in one application.
    pub max_operators: usize,
    /// Longest allowed identifier (ids, names), in bytes.
    pub max_id_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_knob_space: 1_000_000,
            max_operators: 64,
            max_id_len: 256,
        }
    }
}

/// Why a record that decoded is still not acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("field `{field}` is empty")]
    Empty { field: String },
    #[error("field `{field}` is {len} bytes long, over the limit of {limit}")]
    TooLong {
        field: String,
        len: usize,
        limit: usize,
    },
    #[error("field `{field}` is not a finite number ({value})")]
    NotFinite { field: String, value: f64 },
    #[error("field `{field}` is {value}, expected {expected}")]
    OutOfRange {
        field: String,
        value: f64,
        expected: &'static str,
    },
    #[error("{what} `{name}` appears more than once")]
    Duplicate { what: &'static str, name: String },
    #[error(
        "operator `{operator}` reads from `{input}`, which is not an operator of the application"
    )]
    UnknownInput { operator: String, input: String },
    #[error("the pipeline has a cycle through operator `{operator}`")]
    Cyclic { operator: String },
    #[error("the knob space has {size} plans, over the limit of {limit}")]
    KnobSpaceTooLarge { size: u128, limit: u128 },
    #[error("{what}: {count}, over the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("a `{kind}` event must carry a spec")]
    MissingSpec { kind: &'static str },
    #[error("an `assigned` decision must carry a plan")]
    MissingPlan,
}

fn id(field: &str, value: &str, limits: &Limits) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Empty {
            field: field.to_string(),
        });
    }
    if value.len() > limits.max_id_len {
        return Err(ValidationError::TooLong {
            field: field.to_string(),
            len: value.len(),
            limit: limits.max_id_len,
        });
    }
    Ok(())
}

fn finite(field: &str, value: f64) -> Result<f64, ValidationError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ValidationError::NotFinite {
            field: field.to_string(),
            value,
        })
    }
}

fn non_negative(field: &str, value: f64) -> Result<(), ValidationError> {
    if finite(field, value)? < 0.0 {
        return Err(ValidationError::OutOfRange {
            field: field.to_string(),
            value,
            expected: ">= 0",
        });
    }
    Ok(())
}

fn positive(field: &str, value: f64) -> Result<(), ValidationError> {
    if finite(field, value)? <= 0.0 {
        return Err(ValidationError::OutOfRange {
            field: field.to_string(),
            value,
            expected: "> 0",
        });
    }
    Ok(())
}

pub(crate) fn application(app: &Application, limits: &Limits) -> Result<(), ValidationError> {
    id("app_id", &app.app_id, limits)?;
    id("accuracy_metric", &app.accuracy_metric, limits)?;
    if app.operators.is_empty() {
        return Err(ValidationError::Empty {
            field: "operators".into(),
        });
    }
    if app.operators.len() > limits.max_operators {
        return Err(ValidationError::TooMany {
            what: "operators",
            count: app.operators.len(),
            limit: limits.max_operators,
        });
    }
    let mut index = HashMap::new();
    for (i, op) in app.operators.iter().enumerate() {
        id("operators.name", &op.name, limits)?;
        if index.insert(op.name.as_str(), i).is_some() {
            return Err(ValidationError::Duplicate {
                what: "operator",
                name: op.name.clone(),
            });
        }
        if op.allowed_tiers.is_empty() {
            return Err(ValidationError::Empty {
                field: format!("operators[{}].allowed_tiers", op.name),
            });
        }
        let mut knob_names = HashSet::new();
        for knob in &op.knobs {
            id("knobs.name", &knob.name, limits)?;
            if !knob_names.insert(knob.name.as_str()) {
                return Err(ValidationError::Duplicate {
                    what: "knob",
                    name: knob.name.clone(),
                });
            }
            if knob.choices.is_empty() {
                return Err(ValidationError::Empty {
                    field: format!("knobs[{}].choices", knob.name),
                });
            }
            let mut values = HashSet::new();
            for c in &knob.choices {
                if !values.insert(c.value.as_str()) {
                    return Err(ValidationError::Duplicate {
                        what: "knob value",
                        name: c.value.clone(),
                    });
                }
                non_negative("gpu_memory_mb", c.gpu_memory_mb)?;
                non_negative("work_gflop_per_input", c.work_gflop_per_input)?;
                non_negative("output_bytes_per_input", c.output_bytes_per_input)?;
                non_negative("api_usd_per_call", c.api_usd_per_call)?;
                positive("gpu_memory_factor", c.gpu_memory_factor)?;
            }
        }
    }
    for op in &app.operators {
        for input in &op.inputs {
            if !index.contains_key(input.as_str()) {
                return Err(ValidationError::UnknownInput {
                    operator: op.name.clone(),
                    input: input.clone(),
                });
            }
        }
    }
    acyclic(app, &index)?;
    let size = app.knob_space_size();
    if size > limits.max_knob_space {
        return Err(ValidationError::KnobSpaceTooLarge {
            size,
            limit: limits.max_knob_space,
        });
    }
    Ok(())
}

/// Kahn's algorithm over the `inputs` edges; any operator left over lies on a cycle.
fn acyclic(app: &Application, index: &HashMap<&str, usize>) -> Result<(), ValidationError> {
    let n = app.operators.len();
    let mut indegree = vec![0usize; n];
    let mut downstream: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, op) in app.operators.iter().enumerate() {
        for input in &op.inputs {
            if let Some(&j) = index.get(input.as_str()) {
                indegree[i] += 1;
                downstream[j].push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for &d in &downstream[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.push(d);
            }
        }
    }
    if seen == n {
        return Ok(());
    }
    let stuck = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
    Err(ValidationError::Cyclic {
        operator: app.operators[stuck].name.clone(),
    })
}

pub(crate) fn query_event(ev: &QueryEvent, limits: &Limits) -> Result<(), ValidationError> {
    id("query_id", &ev.query_id, limits)?;
    let kind = match ev.kind {
        QueryEventKind::Arrive => "arrive",
        QueryEventKind::Update => "update",
        QueryEventKind::Depart => "depart",
    };
    // A departure needs no spec; one it carries must still be sane (found by the `validate`
    // fuzz target: a departure with NaN SLOs was accepted).
    let spec = match (&ev.spec, ev.kind) {
        (None, QueryEventKind::Depart) => return Ok(()),
        (None, _) => return Err(ValidationError::MissingSpec { kind }),
        (Some(spec), _) => spec,
    };
    id("spec.app_id", &spec.app_id, limits)?;
    id("spec.source_device_id", &spec.source_device_id, limits)?;
    positive("spec.rate_per_s", spec.rate_per_s)?;
    positive("spec.weight", spec.weight)?;
    positive("spec.slo.latency_ms", spec.slo.latency_ms)?;
    let p = finite("spec.slo.latency_percentile", spec.slo.latency_percentile)?;
    if !(p > 0.0 && p <= 100.0) {
        return Err(ValidationError::OutOfRange {
            field: "spec.slo.latency_percentile".into(),
            value: p,
            expected: "in (0, 100]",
        });
    }
    if let Some(a) = spec.slo.accuracy_threshold {
        finite("spec.slo.accuracy_threshold", a)?;
    }
    if let Some(c) = spec.slo.max_cost_usd_per_hour {
        non_negative("spec.slo.max_cost_usd_per_hour", c)?;
    }
    Ok(())
}

pub(crate) fn telemetry(t: &DeviceTelemetry, limits: &Limits) -> Result<(), ValidationError> {
    id("device_id", &t.device_id, limits)?;
    id("hardware_class", &t.hardware_class, limits)?;
    positive("speed_factor", t.speed_factor)?;
    non_negative("gpu_count", f64::from(t.gpu_count))?;
    non_negative("gpu_memory_total_mb", t.gpu_memory_total_mb)?;
    non_negative("gpu_memory_free_mb", t.gpu_memory_free_mb)?;
    non_negative("gpu_share_free", t.gpu_share_free)?;
    non_negative("uplink_mbps", t.uplink_mbps)?;
    non_negative("rtt_ms", t.rtt_ms)?;
    non_negative("price_usd_per_hour", t.price_usd_per_hour)
}

pub(crate) fn profile_sample(s: &ProfileSample, limits: &Limits) -> Result<(), ValidationError> {
    id("plan_key", &s.plan_key, limits)?;
    id("app_id", &s.app_id, limits)?;
    id("hardware_class", &s.hardware_class, limits)?;
    if s.operators.is_empty() {
        return Err(ValidationError::Empty {
            field: "operators".into(),
        });
    }
    if s.operators.len() > limits.max_operators {
        return Err(ValidationError::TooMany {
            what: "operators",
            count: s.operators.len(),
            limit: limits.max_operators,
        });
    }
    for op in &s.operators {
        non_negative("operators.latency_ms", op.latency_ms)?;
    }
    if let Some(a) = s.accuracy {
        finite("accuracy", a)?;
    }
    non_negative("gpu_seconds", s.gpu_seconds)
}

pub(crate) fn profile_request(r: &ProfileRequest, limits: &Limits) -> Result<(), ValidationError> {
    id("request_id", &r.request_id, limits)?;
    id("app_id", &r.app_id, limits)?;
    id("hardware_class", &r.hardware_class, limits)?;
    if r.operators.is_empty() {
        return Err(ValidationError::Empty {
            field: "operators".into(),
        });
    }
    for q in &r.quotas {
        if q.inputs < 1 {
            return Err(ValidationError::OutOfRange {
                field: "quotas.inputs".into(),
                value: f64::from(q.inputs),
                expected: ">= 1",
            });
        }
    }
    Ok(())
}

pub(crate) fn assignment(a: &Assignment, limits: &Limits) -> Result<(), ValidationError> {
    id("query_id", &a.query_id, limits)?;
    non_negative("decision_epoch", a.decision_epoch as f64)?;
    if a.status == AssignmentStatus::Assigned && a.plan.is_none() {
        return Err(ValidationError::MissingPlan);
    }
    if let Some(plan) = &a.plan {
        for op in &plan.operators {
            non_negative("plan.operators.gpu_share", op.gpu_share)?;
            non_negative("plan.operators.gpu_memory_mb", op.gpu_memory_mb)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
