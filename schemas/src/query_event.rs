//! `QueryEvent`: a query arrives, changes or departs (schemas/query_event.avsc).

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

/// A query's lifecycle event on `compass.queries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct QueryEvent {
    pub query_id: String,
    pub kind: QueryEventKind,
    pub event_time_ms: i64,
    pub spec: Option<QuerySpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
#[serde(rename_all = "snake_case")]
pub enum QueryEventKind {
    Arrive,
    Update,
    Depart,
}

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct QuerySpec {
    pub app_id: String,
    pub source_device_id: String,
    pub rate_per_s: f64,
    pub weight: f64,
    pub slo: Slo,
    pub data_stratum: String,
}

/// A query's service-level objectives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct Slo {
    pub latency_ms: f64,
    pub latency_percentile: f64,
    pub accuracy_threshold: Option<f64>,
    pub max_cost_usd_per_hour: Option<f64>,
}
