//! `Assignment`: a planning decision for one query (schemas/assignment.avsc).

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

use crate::common::{KnobSetting, Tier};

/// A decision on `compass.assignments`; per query, the highest `decision_epoch` wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Assignment {
    pub query_id: String,
    pub decision_epoch: i64,
    pub status: AssignmentStatus,
    pub plan: Option<Plan>,
    pub predicted: Option<Prediction>,
    pub reason: String,
    pub decided_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    Assigned,
    Rejected,
    Withdrawn,
}

/// Per operator: knobs, placement and resource share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Plan {
    pub app_id: String,
    pub operators: Vec<PlacedOperator>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct PlacedOperator {
    pub operator: String,
    pub knobs: Vec<KnobSetting>,
    pub tier: Tier,
    pub device_id: String,
    pub gpu_share: f64,
    pub gpu_memory_mb: f64,
}

/// The planner's prediction for a plan, each metric with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Prediction {
    pub latency_ms: Estimate,
    pub accuracy: Estimate,
    pub cost_usd_per_hour: Estimate,
    pub slo_probability: f64,
}

/// A point estimate with its standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Estimate {
    pub mean: f64,
    pub stddev: f64,
}
