//! Rows the online tests share.

use super::rows::{DeviceRow, QueryRow};
use super::Fx;

/// A machine (`a10` GPUs when `gpus` > 0, else a GPU-less `phone`) of `tier`, 24 GB per GPU,
/// 1 $/h, 10 Mbit/s uplink, 20 ms RTT.
pub(crate) fn device(id: &str, tier: u8, gpus: u32) -> DeviceRow {
    DeviceRow {
        id: id.into(),
        tier,
        hardware_class: if gpus > 0 { "a10" } else { "phone" }.into(),
        pool: Default::default(),
        speed: Fx(1.0),
        gpu_count: gpus,
        gpu_memory_mb: Fx(24_000.0 * f64::from(gpus)),
        price_usd_per_hour: Fx(1.0),
        uplink_mbps: Fx(10.0),
        rtt_ms: Fx(20.0),
        alive: true,
    }
}

/// A query of app `asr` from `source`: 1 input/s, weight 1, latency ≤ 100 ms at p95, no
/// accuracy SLO, cost at most `max_cost` $/h.
pub(crate) fn query(id: &str, source: &DeviceRow, max_cost: Option<f64>) -> QueryRow {
    QueryRow {
        id: id.into(),
        app_id: "asr".into(),
        source_device_id: source.id.clone(),
        rate_per_s: Fx(1.0),
        weight: Fx(1.0),
        latency_ms: Fx(100.0),
        latency_percentile: Fx(95.0),
        accuracy_threshold: None,
        max_cost_usd_per_hour: max_cost.map(Fx),
        stratum: "s".into(),
    }
}
