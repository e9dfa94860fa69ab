//! Similarity clusters: queries that ask alike share one search.
//!
//! A query's key is its application, its SLOs bucketed on a log scale (by default 25% per
//! bucket), and its source device's class: tier, hardware class, uplink bucket (a factor of
//! 2 per bucket). Members of a cluster differ by less than one bucket in every SLO, so one
//! search, aimed at the cluster's tightest SLOs, serves them all. Each member still receives
//! only the candidates whose predictions meet *its own* SLOs with the required probability.

use compass_schemas::Tier;

use super::acquisition::{feasibility, Belief, Constraints};
use crate::model::{Device, Query, SloTargets};

/// Bucket widths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Buckets {
    /// Ratio between neighbouring SLO buckets (latency, accuracy, cost).
    pub slo_ratio: f64,
    /// Ratio between neighbouring uplink buckets.
    pub uplink_ratio: f64,
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets {
            slo_ratio: 1.25,
            uplink_ratio: 2.0,
        }
    }
}

/// The bucket of a positive value on a log scale; non-positive values share bucket i32::MIN.
pub fn log_bucket(value: f64, ratio: f64) -> i32 {
    if value > 0.0 && value.is_finite() {
        (value.ln() / ratio.ln()).floor() as i32
    } else {
        i32::MIN
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    pub app_id: String,
    pub latency: i32,
    pub accuracy: Option<i32>,
    pub cost: Option<i32>,
    pub tier: Tier,
    pub hardware_class: String,
    pub uplink: i32,
}

pub fn cluster_key(q: &Query, source: &Device, b: &Buckets) -> ClusterKey {
    let slo = SloBuckets::of(&q.slo, b);
    ClusterKey {
        app_id: q.app_id.clone(),
        latency: slo.latency,
        accuracy: slo.accuracy,
        cost: slo.cost,
        tier: source.tier,
        hardware_class: source.hardware_class.clone(),
        uplink: b.uplink(source.link.uplink_mbps),
    }
}

/// The bucketed parts of a key that are numbers: for callers that hold the ids already
/// and need not build a [`Query`] and a [`Device`] to key a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SloBuckets {
    pub latency: i32,
    pub accuracy: Option<i32>,
    pub cost: Option<i32>,
}

impl SloBuckets {
    pub fn of(slo: &SloTargets, b: &Buckets) -> Self {
        SloBuckets {
            latency: log_bucket(slo.latency_ms, b.slo_ratio),
            accuracy: slo.accuracy.map(|a| log_bucket(a.threshold, b.slo_ratio)),
            cost: slo
                .max_cost_usd_per_hour
                .map(|c| log_bucket(c, b.slo_ratio)),
        }
    }
}

impl Buckets {
    /// The bucket of a source device's uplink.
    pub fn uplink(&self, mbps: f64) -> i32 {
        log_bucket(mbps, self.uplink_ratio)
    }
}

/// The SLOs the cluster's search aims at: every member's strictest bound.
pub fn tightest<'a>(members: impl IntoIterator<Item = &'a SloTargets>) -> Option<SloTargets> {
    members
        .into_iter()
        .fold(None, |acc: Option<SloTargets>, s| {
            Some(match acc {
                None => *s,
                Some(t) => SloTargets {
                    latency_ms: t.latency_ms.min(s.latency_ms),
                    latency_percentile: t.latency_percentile.max(s.latency_percentile),
                    accuracy: match (t.accuracy, s.accuracy) {
                        (Some(a), Some(b)) => {
                            Some(if a.higher_is_better == (a.threshold >= b.threshold) {
                                a
                            } else {
                                b
                            })
                        }
                        (a, b) => a.or(b),
                    },
                    max_cost_usd_per_hour: match (t.max_cost_usd_per_hour, s.max_cost_usd_per_hour)
                    {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                },
            })
        })
}

/// A candidate plan's predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predicted {
    pub latency_ms: Belief,
    pub accuracy: Belief,
    pub cost_usd_per_hour: f64,
}

/// Probability that `p` meets `slo` (cost is taken as known).
pub fn meets(p: &Predicted, slo: &SloTargets) -> f64 {
    if !slo.cost_met(p.cost_usd_per_hour) {
        return 0.0;
    }
    let c = Constraints {
        latency_at_most: slo.latency_ms,
        accuracy: slo.accuracy.map(|a| (a.threshold, a.higher_is_better)),
    };
    feasibility(p.latency_ms, p.accuracy, &c)
}

/// The cluster's candidates a member may receive: those predicted to meet its own SLOs
/// with probability at least `min_probability`, in the cluster's order.
pub fn for_member<'a>(
    candidates: &'a [Predicted],
    slo: &SloTargets,
    min_probability: f64,
) -> Vec<&'a Predicted> {
    candidates
        .iter()
        .filter(|p| meets(p, slo) >= min_probability)
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::{AccuracyBound, Link};

    fn device(mbps: f64) -> Device {
        Device {
            id: "d".into(),
            tier: Tier::Edge,
            hardware_class: "iphone-15-pro".into(),
            pool: String::new(),
            speed: 0.09,
            gpu_count: 1,
            gpu_memory_mb: 8192.0,
            price_usd_per_hour: 0.0,
            link: Link {
                uplink_mbps: mbps,
                rtt_ms: 40.0,
            },
            alive: true,
        }
    }

    fn query(latency: f64, accuracy: Option<f64>, cost: Option<f64>) -> Query {
        Query {
            id: "q".into(),
            app_id: "speech-recognition".into(),
            source_device_id: "d".into(),
            rate_per_s: 0.2,
            weight: 1.0,
            slo: SloTargets {
                latency_ms: latency,
                latency_percentile: 95.0,
                accuracy: accuracy.map(|t| AccuracyBound {
                    threshold: t,
                    higher_is_better: false,
                }),
                max_cost_usd_per_hour: cost,
            },
            stratum: "clean".into(),
        }
    }

    #[test]
    fn alike_queries_share_a_key_and_unlike_ones_do_not() {
        let b = Buckets::default();
        let k = |q: &Query, mbps| cluster_key(q, &device(mbps), &b);
        assert_eq!(
            k(&query(400.0, Some(8.0), None), 14.56),
            k(&query(410.0, Some(8.1), None), 13.3)
        );
        assert_ne!(
            k(&query(400.0, Some(8.0), None), 14.56),
            k(&query(800.0, Some(8.0), None), 14.56)
        );
        assert_ne!(
            k(&query(400.0, Some(8.0), None), 14.56),
            k(&query(400.0, Some(8.0), None), 5.74)
        );
        assert_ne!(
            k(&query(400.0, Some(8.0), None), 14.56),
            k(&query(400.0, None, None), 14.56)
        );
    }

    #[test]
    fn the_cluster_aims_at_its_strictest_member() {
        let a = query(400.0, Some(8.0), Some(0.5)).slo;
        let b = query(350.0, Some(9.0), None).slo;
        let t = tightest([&a, &b]).expect("members");
        assert_eq!(t.latency_ms, 350.0);
        assert_eq!(
            t.accuracy.map(|x| x.threshold),
            Some(8.0),
            "WER: lower is stricter"
        );
        assert_eq!(t.max_cost_usd_per_hour, Some(0.5));
    }

    proptest! {
        /// Whatever the cluster's candidates, a member only ever receives candidates
        /// predicted to meet its own SLOs with the required probability.
        #[test]
        fn a_member_never_gets_a_candidate_that_misses_its_own_slo(
            lat in 50.0f64..2000.0, acc in 1.0f64..20.0, cost in proptest::option::of(0.01f64..2.0),
            preds in proptest::collection::vec((10.0f64..3000.0, 1.0f64..200.0, 0.5f64..30.0, 0.1f64..5.0, 0.0f64..3.0), 1..40),
            min_p in 0.5f64..0.99,
        ) {
            let q = query(lat, Some(acc), cost);
            let candidates: Vec<Predicted> = preds
                .iter()
                .map(|&(lm, ls, am, asd, c)| Predicted {
                    latency_ms: Belief { mean: lm, sd: ls },
                    accuracy: Belief { mean: am, sd: asd },
                    cost_usd_per_hour: c,
                })
                .collect();
            for p in for_member(&candidates, &q.slo, min_p) {
                prop_assert!(meets(p, &q.slo) >= min_p);
                prop_assert!(q.slo.cost_met(p.cost_usd_per_hour));
            }
        }
    }
}
