//! Queries and their SLOs, and the check of predicted or realized performance against them.

use compass_schemas::{QueryEvent, QuerySpec};

/// An accuracy objective in the application's metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccuracyBound {
    pub threshold: f64,
    /// True for metrics such as mAP (threshold is a minimum), false for error metrics such as
    /// WER (threshold is a maximum).
    pub higher_is_better: bool,
}

impl AccuracyBound {
    pub fn met_by(&self, accuracy: f64) -> bool {
        if self.higher_is_better {
            accuracy >= self.threshold
        } else {
            accuracy <= self.threshold
        }
    }
}

/// A query's SLOs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloTargets {
    pub latency_ms: f64,
    /// Percentile the latency bound applies to, in (0, 100].
    pub latency_percentile: f64,
    pub accuracy: Option<AccuracyBound>,
    pub max_cost_usd_per_hour: Option<f64>,
}

impl SloTargets {
    pub fn latency_met(&self, latency_ms: f64) -> bool {
        latency_ms <= self.latency_ms
    }

    pub fn accuracy_met(&self, accuracy: f64) -> bool {
        self.accuracy.is_none_or(|b| b.met_by(accuracy))
    }

    pub fn cost_met(&self, cost_usd_per_hour: f64) -> bool {
        self.max_cost_usd_per_hour
            .is_none_or(|c| cost_usd_per_hour <= c + 1e-12)
    }

    pub fn all_met(&self, latency_ms: f64, accuracy: f64, cost_usd_per_hour: f64) -> bool {
        self.latency_met(latency_ms)
            && self.accuracy_met(accuracy)
            && self.cost_met(cost_usd_per_hour)
    }
}

/// A live query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: String,
    pub app_id: String,
    pub source_device_id: String,
    pub rate_per_s: f64,
    pub weight: f64,
    pub slo: SloTargets,
    /// The kind of input data the query sees (selects the ground truth's stratum).
    pub stratum: String,
}

impl Query {
    /// From an arrive/update event's spec; `higher_is_better` comes from the application.
    pub fn from_spec(query_id: &str, spec: &QuerySpec, higher_is_better: bool) -> Self {
        Query {
            id: query_id.to_string(),
            app_id: spec.app_id.clone(),
            source_device_id: spec.source_device_id.clone(),
            rate_per_s: spec.rate_per_s,
            weight: spec.weight,
            slo: SloTargets {
                latency_ms: spec.slo.latency_ms,
                latency_percentile: spec.slo.latency_percentile,
                accuracy: spec.slo.accuracy_threshold.map(|threshold| AccuracyBound {
                    threshold,
                    higher_is_better,
                }),
                max_cost_usd_per_hour: spec.slo.max_cost_usd_per_hour,
            },
            stratum: spec.data_stratum.clone(),
        }
    }

    /// The query of an arrive/update event; `None` for departures.
    pub fn from_event(event: &QueryEvent, higher_is_better: bool) -> Option<Self> {
        event
            .spec
            .as_ref()
            .map(|s| Self::from_spec(&event.query_id, s, higher_is_better))
    }
}
