//! Devices and machines as the planner sees them: a tier, a hardware class, a speed relative
//! to the reference hardware, GPU capacity, a price, and the uplink to the next tier.

use compass_schemas::{DeviceTelemetry, Tier};

/// The network link from a device to the next tier up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub uplink_mbps: f64,
    pub rtt_ms: f64,
}

impl Link {
    /// Time to move `bytes` across this link: serialization plus one round trip.
    pub fn transfer_ms(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        if self.uplink_mbps <= 0.0 {
            return f64::INFINITY;
        }
        bytes * 8.0 / (self.uplink_mbps * 1000.0) + self.rtt_ms
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: String,
    pub tier: Tier,
    pub hardware_class: String,
    /// Resource pool (cloud and edge-server machines); empty for edge devices.
    pub pool: String,
    /// Compute throughput relative to the reference hardware (1.0 = NVIDIA A100).
    pub speed: f64,
    pub gpu_count: u32,
    /// Accelerator memory over all GPUs, MiB.
    pub gpu_memory_mb: f64,
    /// Price of the whole machine per hour, USD (0 for user-owned devices).
    pub price_usd_per_hour: f64,
    pub link: Link,
    pub alive: bool,
}

impl Device {
    /// Price of one whole GPU per hour (the machine price split over its GPUs).
    pub fn gpu_price_usd_per_hour(&self) -> f64 {
        if self.gpu_count == 0 {
            0.0
        } else {
            self.price_usd_per_hour / f64::from(self.gpu_count)
        }
    }

    /// Build from telemetry; `speed` comes from the hardware class's profile, scaled by the
    /// device's reported `speed_factor`.
    pub fn from_telemetry(t: &DeviceTelemetry, class_speed: f64) -> Self {
        Device {
            id: t.device_id.clone(),
            tier: t.tier,
            hardware_class: t.hardware_class.clone(),
            pool: t.pool.clone(),
            speed: class_speed * t.speed_factor,
            gpu_count: t.gpu_count.max(0) as u32,
            gpu_memory_mb: t.gpu_memory_total_mb,
            price_usd_per_hour: t.price_usd_per_hour,
            link: Link {
                uplink_mbps: t.uplink_mbps,
                rtt_ms: t.rtt_ms,
            },
            alive: t.alive,
        }
    }
}
