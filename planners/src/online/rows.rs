//! The rows the dataflow's collections hold: queries, devices, decisions. Each converts from
//! the record it comes from and into the model type the algorithms take.

use compass_schemas::{DeviceTelemetry, QuerySpec, Tier};
use serde::{Deserialize, Serialize};

use super::{Fx, Name};
use crate::model::{AccuracyBound, Device, Link, Query, SloTargets};

/// A live query, as its arrive or update event described it. The accuracy threshold's
/// direction belongs to the application, so it is applied when the two meet
/// ([`QueryRow::query`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueryRow {
    pub id: Name,
    pub app_id: Name,
    pub source_device_id: Name,
    pub rate_per_s: Fx,
    pub weight: Fx,
    pub latency_ms: Fx,
    pub latency_percentile: Fx,
    pub accuracy_threshold: Option<Fx>,
    pub max_cost_usd_per_hour: Option<Fx>,
    pub stratum: Name,
}

impl QueryRow {
    pub fn from_spec(id: &str, spec: &QuerySpec) -> Self {
        QueryRow {
            id: id.into(),
            app_id: Name::from(&spec.app_id),
            source_device_id: Name::from(&spec.source_device_id),
            rate_per_s: Fx(spec.rate_per_s),
            weight: Fx(spec.weight),
            latency_ms: Fx(spec.slo.latency_ms),
            latency_percentile: Fx(spec.slo.latency_percentile),
            accuracy_threshold: spec.slo.accuracy_threshold.map(Fx),
            max_cost_usd_per_hour: spec.slo.max_cost_usd_per_hour.map(Fx),
            stratum: Name::from(&spec.data_stratum),
        }
    }

    /// The model's query, with the application's accuracy direction.
    pub fn query(&self, higher_is_better: bool) -> Query {
        Query {
            id: self.id.to_string(),
            app_id: self.app_id.to_string(),
            source_device_id: self.source_device_id.to_string(),
            rate_per_s: self.rate_per_s.0,
            weight: self.weight.0,
            slo: self.slo(higher_is_better),
            stratum: self.stratum.to_string(),
        }
    }

    /// The query's SLO targets, with the application's accuracy direction (no ids copied).
    pub fn slo(&self, higher_is_better: bool) -> SloTargets {
        SloTargets {
            latency_ms: self.latency_ms.0,
            latency_percentile: self.latency_percentile.0,
            accuracy: self.accuracy_threshold.map(|t| AccuracyBound {
                threshold: t.0,
                higher_is_better,
            }),
            max_cost_usd_per_hour: self.max_cost_usd_per_hour.map(|c| c.0),
        }
    }
}

/// The tier as a small ordered number (the record enum has no order).
pub fn tier_code(t: Tier) -> u8 {
    match t {
        Tier::Edge => 0,
        Tier::EdgeServer => 1,
        Tier::Cloud => 2,
    }
}

pub fn tier_of(code: u8) -> Tier {
    match code {
        0 => Tier::Edge,
        1 => Tier::EdgeServer,
        _ => Tier::Cloud,
    }
}

/// A device as its latest telemetry describes it, with its class's speed resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceRow {
    pub id: Name,
    pub tier: u8,
    pub hardware_class: Name,
    pub pool: Name,
    pub speed: Fx,
    pub gpu_count: u32,
    pub gpu_memory_mb: Fx,
    pub price_usd_per_hour: Fx,
    pub uplink_mbps: Fx,
    pub rtt_ms: Fx,
    pub alive: bool,
}

impl DeviceRow {
    /// From telemetry; `class_speed` is the hardware class's speed relative to the reference
    /// GPU, which the record scales by its `speed_factor`.
    pub fn from_telemetry(t: &DeviceTelemetry, class_speed: f64) -> Self {
        Self::from_device(&Device::from_telemetry(t, class_speed))
    }

    pub fn from_device(d: &Device) -> Self {
        DeviceRow {
            id: Name::from(&d.id),
            tier: tier_code(d.tier),
            hardware_class: Name::from(&d.hardware_class),
            pool: Name::from(&d.pool),
            speed: Fx(d.speed),
            gpu_count: d.gpu_count,
            gpu_memory_mb: Fx(d.gpu_memory_mb),
            price_usd_per_hour: Fx(d.price_usd_per_hour),
            uplink_mbps: Fx(d.link.uplink_mbps),
            rtt_ms: Fx(d.link.rtt_ms),
            alive: d.alive,
        }
    }

    pub fn device(&self) -> Device {
        Device {
            id: self.id.to_string(),
            tier: tier_of(self.tier),
            hardware_class: self.hardware_class.to_string(),
            pool: self.pool.to_string(),
            speed: self.speed.0,
            gpu_count: self.gpu_count,
            gpu_memory_mb: self.gpu_memory_mb.0,
            price_usd_per_hour: self.price_usd_per_hour.0,
            link: Link {
                uplink_mbps: self.uplink_mbps.0,
                rtt_ms: self.rtt_ms.0,
            },
            alive: self.alive,
        }
    }
}

/// One operator of a decided plan, self-contained so that any worker can write the record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PlacedRow {
    pub operator: String,
    /// (knob, value) pairs.
    pub knobs: Vec<(String, String)>,
    pub tier: u8,
    pub device_id: String,
    pub gpu_share: Fx,
    pub gpu_memory_mb: Fx,
}

/// The planner's decision for one query.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Decision {
    pub query_id: String,
    pub app_id: String,
    /// Empty when the query is not served.
    pub operators: Vec<PlacedRow>,
    pub latency_ms: Fx,
    pub latency_log_sd: Fx,
    pub accuracy: Fx,
    pub accuracy_sd: Fx,
    pub cost_usd_per_hour: Fx,
    pub slo_probability: Fx,
    /// Why: "assigned", or why not.
    pub reason: String,
}

impl Decision {
    pub fn rejected(query_id: &str, app_id: &str, reason: &str) -> Self {
        Decision {
            query_id: query_id.to_string(),
            app_id: app_id.to_string(),
            operators: Vec::new(),
            latency_ms: Fx(0.0),
            latency_log_sd: Fx(0.0),
            accuracy: Fx(0.0),
            accuracy_sd: Fx(0.0),
            cost_usd_per_hour: Fx(0.0),
            slo_probability: Fx(0.0),
            reason: reason.to_string(),
        }
    }

    pub fn assigned(&self) -> bool {
        !self.operators.is_empty()
    }
}
