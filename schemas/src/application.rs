//! `Application`: an operator DAG with discrete knobs (schemas/application.avsc).

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

use crate::common::Tier;

/// A compound AI application, as registered on `compass.apps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Application {
    pub app_id: String,
    pub version: i32,
    pub description: String,
    pub accuracy_metric: String,
    pub accuracy_higher_is_better: bool,
    pub operators: Vec<Operator>,
}

/// One stage of an application's pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Operator {
    pub name: String,
    pub kind: OperatorKind,
    pub inputs: Vec<String>,
    pub allowed_tiers: Vec<Tier>,
    pub knobs: Vec<Knob>,
}

/// What kind of work an operator does; decides which resources it draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
#[serde(rename_all = "snake_case")]
pub enum OperatorKind {
    // A neural network on a GPU or accelerator.
    Dnn,
    // A CPU transform (decode, resample, crop).
    Basic,
    // A hosted model charged per call.
    Api,
}

/// A configuration dimension with discrete choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Knob {
    pub name: String,
    pub choices: Vec<KnobChoice>,
}

/// One value of a knob and its resource facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct KnobChoice {
    pub value: String,
    pub gpu_memory_mb: f64,
    pub work_gflop_per_input: f64,
    pub output_bytes_per_input: f64,
    pub api_usd_per_call: f64,
    pub gpu_memory_factor: f64,
}

impl Application {
    /// Number of distinct knob configurations (the product of the knobs' choice counts),
    /// saturating at `u128::MAX` so that a hostile record cannot overflow it.
    pub fn knob_space_size(&self) -> u128 {
        self.operators
            .iter()
            .flat_map(|op| op.knobs.iter())
            .fold(1u128, |acc, k| acc.saturating_mul(k.choices.len() as u128))
    }
}
