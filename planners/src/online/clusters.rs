//! Similarity clusters for the online path: a query's cluster, and the one specification its
//! cluster's search aims at (every member's strictest SLO, the weakest source device).
//!
//! The key is [`crate::search::cluster::cluster_key`] (application, log-bucketed SLOs,
//! source device's tier, class and uplink bucket) plus the query's data stratum, because
//! accuracy depends on the data.

use serde::{Deserialize, Serialize};

use super::rows::{DeviceRow, QueryRow};
use super::{Fx, Name};
use crate::model::{AccuracyBound, Device, Query, SloTargets};
use crate::search::cluster::{tightest, Buckets, SloBuckets};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClusterId {
    pub app_id: Name,
    pub latency: i32,
    pub accuracy: Option<i32>,
    pub cost: Option<i32>,
    pub tier: u8,
    pub hardware_class: Name,
    pub uplink: i32,
    pub stratum: Name,
    /// Empty, or the one query of a cluster of its own (clustering turned off).
    pub solo: Name,
}

/// The cluster of a query whose source device is `source`.
pub fn cluster_of(
    q: &QueryRow,
    higher_is_better: bool,
    source: &DeviceRow,
    b: &Buckets,
) -> ClusterId {
    // The key of `cluster_key`, from the rows' own fields: the ids are shared, not copied,
    // and no model query or device is built (this runs for every member the join emits).
    let slo = SloBuckets::of(&q.slo(higher_is_better), b);
    ClusterId {
        app_id: q.app_id.clone(),
        latency: slo.latency,
        accuracy: slo.accuracy,
        cost: slo.cost,
        tier: source.tier,
        hardware_class: source.hardware_class.clone(),
        uplink: b.uplink(source.uplink_mbps.0),
        stratum: q.stratum.clone(),
        solo: Name::default(),
    }
}

/// What one cluster's search aims at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub higher_is_better: bool,
    pub latency_ms: Fx,
    pub latency_percentile: Fx,
    pub accuracy_threshold: Option<Fx>,
    pub max_cost_usd_per_hour: Option<Fx>,
    pub rate_per_s: Fx,
    /// The weakest member device: slowest, least memory, worst link.
    pub source_speed: Fx,
    pub source_gpus: u32,
    pub source_memory_mb: Fx,
    pub uplink_mbps: Fx,
    pub rtt_ms: Fx,
}

impl ClusterSpec {
    /// The specification of a cluster with these members (query, its device); `None` when
    /// empty.
    pub fn merge<'a>(
        members: impl IntoIterator<Item = (&'a QueryRow, &'a DeviceRow)>,
        higher_is_better: bool,
    ) -> Option<Self> {
        let mut slos = Vec::new();
        let mut out: Option<ClusterSpec> = None;
        for (q, d) in members {
            slos.push(q.slo(higher_is_better));
            let s = out.get_or_insert(ClusterSpec {
                higher_is_better,
                latency_ms: q.latency_ms,
                latency_percentile: q.latency_percentile,
                accuracy_threshold: None,
                max_cost_usd_per_hour: None,
                rate_per_s: q.rate_per_s,
                source_speed: d.speed,
                source_gpus: d.gpu_count,
                source_memory_mb: d.gpu_memory_mb,
                uplink_mbps: d.uplink_mbps,
                rtt_ms: d.rtt_ms,
            });
            s.rate_per_s = s.rate_per_s.max(q.rate_per_s);
            s.source_speed = s.source_speed.min(d.speed);
            s.source_gpus = s.source_gpus.min(d.gpu_count);
            s.source_memory_mb = s.source_memory_mb.min(d.gpu_memory_mb);
            s.uplink_mbps = s.uplink_mbps.min(d.uplink_mbps);
            s.rtt_ms = s.rtt_ms.max(d.rtt_ms);
        }
        let t = tightest(slos.iter())?;
        let mut s = out?;
        s.latency_ms = Fx(t.latency_ms);
        s.latency_percentile = Fx(t.latency_percentile);
        s.accuracy_threshold = t.accuracy.map(|a| Fx(a.threshold));
        s.max_cost_usd_per_hour = t.max_cost_usd_per_hour.map(Fx);
        Some(s)
    }

    pub fn slo(&self) -> SloTargets {
        SloTargets {
            latency_ms: self.latency_ms.0,
            latency_percentile: self.latency_percentile.0,
            accuracy: self.accuracy_threshold.map(|t| AccuracyBound {
                threshold: t.0,
                higher_is_better: self.higher_is_better,
            }),
            max_cost_usd_per_hour: self.max_cost_usd_per_hour.map(|c| c.0),
        }
    }

    /// A query standing for the whole cluster.
    pub fn representative(&self, id: &ClusterId) -> Query {
        Query {
            id: format!("cluster:{}", id.app_id),
            app_id: id.app_id.to_string(),
            source_device_id: "source".into(),
            rate_per_s: self.rate_per_s.0,
            weight: 1.0,
            slo: self.slo(),
            stratum: id.stratum.to_string(),
        }
    }

    /// The source device standing for every member's.
    pub fn source(&self, id: &ClusterId) -> Device {
        DeviceRow {
            id: "source".into(),
            tier: id.tier,
            hardware_class: id.hardware_class.clone(),
            pool: Name::default(),
            speed: self.source_speed,
            gpu_count: self.source_gpus,
            gpu_memory_mb: self.source_memory_mb,
            price_usd_per_hour: Fx(0.0),
            uplink_mbps: self.uplink_mbps,
            rtt_ms: self.rtt_ms,
            alive: true,
        }
        .device()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::fixtures::{device, query};
    use crate::search::cluster::cluster_key;

    /// `cluster_of` builds the key from the rows' fields; it must agree with `cluster_key`
    /// on the model types in every part, over SLOs, tiers and uplinks on both sides of
    /// bucket edges.
    #[test]
    fn cluster_of_is_cluster_key_plus_the_stratum() {
        let b = Buckets::default();
        for tier in 0..3u8 {
            for uplink in [0.0, 1.9, 2.0, 10.0, 1e4] {
                let mut source = device("src", tier, u32::from(tier > 0));
                source.uplink_mbps = Fx(uplink);
                for (latency, accuracy, cost, h) in [
                    (100.0, None, None, true),
                    (124.9, Some(0.9), Some(2.0), true),
                    (125.0, Some(12.0), None, false),
                    (1e-3, Some(0.0), Some(0.0), true),
                ] {
                    let mut q = query("q", &source, cost);
                    q.latency_ms = Fx(latency);
                    q.accuracy_threshold = accuracy.map(Fx);
                    let id = cluster_of(&q, h, &source, &b);
                    let k = cluster_key(&q.query(h), &source.device(), &b);
                    let from_key = ClusterId {
                        app_id: k.app_id.as_str().into(),
                        latency: k.latency,
                        accuracy: k.accuracy,
                        cost: k.cost,
                        tier: crate::online::rows::tier_code(k.tier),
                        hardware_class: k.hardware_class.as_str().into(),
                        uplink: k.uplink,
                        stratum: q.stratum.clone(),
                        solo: Name::default(),
                    };
                    assert_eq!(
                        id, from_key,
                        "tier {tier}, uplink {uplink}, latency {latency}"
                    );
                }
            }
        }
    }
}
