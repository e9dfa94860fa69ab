//! The goodput accountant: per window, which live queries met all their SLOs as the
//! workers realized them (never as the planner predicted), weighted goodput, attainment per
//! SLO dimension, cost, and churn.

use std::collections::HashMap;

use compass_planners::model::{Plan, Query};

use crate::worker::Realized;

/// One window's account.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    pub window: u64,
    /// Live queries in the window.
    pub live: usize,
    /// Live queries with a plan.
    pub assigned: usize,
    /// Live queries that met every SLO.
    pub met: usize,
    /// Σ weight of the queries that met every SLO.
    pub weighted_goodput: f64,
    /// Shares of live queries meeting each SLO dimension (an unassigned query meets none).
    pub latency_attainment: f64,
    pub accuracy_attainment: f64,
    pub cost_attainment: f64,
    /// Realized cost of the window, USD.
    pub cost_usd: f64,
    /// The part of `cost_usd` spent on queries that missed some SLO.
    pub cost_missed_usd: f64,
    /// Live queries whose plan changed since the previous window (a first plan is not churn).
    pub churn: usize,
    /// With a ground-truth bound (`least` in [`Accountant::account`]): the least cost at which
    /// the queries that met every SLO could have met them alone on idle machines, USD.
    pub least_cost_met_usd: Option<f64>,
}

/// A query's least cost per hour of meeting its SLOs, if it can ([`crate::bound`]).
pub type LeastCost<'a> = dyn FnMut(&Query) -> Option<f64> + 'a;

#[derive(Debug, Default)]
pub struct Accountant {
    previous: HashMap<String, Plan>,
}

impl Accountant {
    pub fn new() -> Self {
        Self::default()
    }

    /// Account one window. Only `live` queries count: a realized figure or a plan for a
    /// query that has departed is ignored. With `least` (a query's least cost per hour of
    /// meeting its SLOs, from [`crate::bound`]), also sum it over the queries that met every
    /// SLO into [`WindowReport::least_cost_met_usd`].
    pub fn account(
        &mut self,
        window: u64,
        window_s: f64,
        live: &[Query],
        plans: &HashMap<String, Plan>,
        realized: &[Realized],
        mut least: Option<&mut LeastCost<'_>>,
    ) -> WindowReport {
        let by_id: HashMap<&str, &Realized> =
            realized.iter().map(|r| (r.query_id.as_str(), r)).collect();
        let mut r = WindowReport {
            window,
            live: live.len(),
            assigned: 0,
            met: 0,
            weighted_goodput: 0.0,
            latency_attainment: 0.0,
            accuracy_attainment: 0.0,
            cost_attainment: 0.0,
            cost_usd: 0.0,
            cost_missed_usd: 0.0,
            churn: 0,
            least_cost_met_usd: None,
        };
        if least.is_some() {
            r.least_cost_met_usd = Some(0.0);
        }
        let (mut lat, mut acc, mut cost) = (0usize, 0usize, 0usize);
        let mut next = HashMap::with_capacity(live.len());
        for q in live {
            let plan = plans.get(&q.id);
            match (self.previous.get(&q.id), plan) {
                (Some(before), Some(now)) if before != now => r.churn += 1,
                (Some(_), None) => r.churn += 1,
                _ => {}
            }
            if let Some(p) = plan {
                next.insert(q.id.clone(), p.clone());
            }
            let (Some(_), Some(m)) = (plan, by_id.get(q.id.as_str())) else {
                continue;
            };
            r.assigned += 1;
            let (l, a, c) = (
                q.slo.latency_met(m.latency_ms),
                q.slo.accuracy_met(m.accuracy),
                q.slo.cost_met(m.cost_usd_per_hour),
            );
            lat += usize::from(l);
            acc += usize::from(a);
            cost += usize::from(c);
            let spent = m.cost_usd_per_hour * window_s / 3600.0;
            if l && a && c {
                r.met += 1;
                r.weighted_goodput += q.weight;
                if let (Some(least), Some(sum)) = (least.as_mut(), r.least_cost_met_usd.as_mut()) {
                    // A met query the truth calls infeasible (noise let it through) adds 0.
                    *sum += least(q).unwrap_or(0.0) * window_s / 3600.0;
                }
            } else {
                r.cost_missed_usd += spent;
            }
            r.cost_usd += spent;
        }
        let n = live.len().max(1) as f64;
        r.latency_attainment = lat as f64 / n;
        r.accuracy_attainment = acc as f64 / n;
        r.cost_attainment = cost as f64 / n;
        self.previous = next;
        r
    }
}
