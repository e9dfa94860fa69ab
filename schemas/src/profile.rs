//! `ProfileSample` and `ProfileRequest`: measurements of operator prefixes, and the
//! planner's requests for them (schemas/profile_sample.avsc, schemas/profile_request.avsc).

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

use crate::common::KnobSetting;

/// One measurement on `compass.profiles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct ProfileSample {
    pub plan_key: String,
    pub app_id: String,
    pub hardware_class: String,
    pub request_id: Option<String>,
    pub operators: Vec<OperatorMeasurement>,
    pub input_id: String,
    pub stratum: String,
    pub accuracy: Option<f64>,
    pub gpu_seconds: f64,
    pub event_time_ms: i64,
}

/// One operator of a measured prefix, with its compute latency on the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct OperatorMeasurement {
    pub operator: String,
    pub knobs: Vec<KnobSetting>,
    pub latency_ms: f64,
}

/// A request on `compass.profile-requests` for GPU workers to measure an operator prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct ProfileRequest {
    pub request_id: String,
    pub app_id: String,
    pub hardware_class: String,
    pub operators: Vec<OperatorChoice>,
    pub quotas: Vec<StratumQuota>,
    pub decision_epoch: i64,
    pub reason: String,
    pub event_time_ms: i64,
}

/// An operator and the knob values to run it with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct OperatorChoice {
    pub operator: String,
    pub knobs: Vec<KnobSetting>,
}

/// How many inputs to draw from one data stratum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct StratumQuota {
    pub stratum: String,
    pub inputs: i32,
}
