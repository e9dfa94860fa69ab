//! `DeviceTelemetry`: the latest state of a device or machine (schemas/device_telemetry.avsc).

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

use crate::common::Tier;

/// One observation of a device's state on `compass.telemetry` (latest per key wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "compass.v1")]
pub struct DeviceTelemetry {
    pub device_id: String,
    pub event_time_ms: i64,
    pub tier: Tier,
    pub hardware_class: String,
    pub pool: String,
    pub alive: bool,
    pub speed_factor: f64,
    pub gpu_count: i32,
    pub gpu_memory_total_mb: f64,
    pub gpu_memory_free_mb: f64,
    pub gpu_share_free: f64,
    pub uplink_mbps: f64,
    pub rtt_ms: f64,
    pub price_usd_per_hour: f64,
}
