//! The matching problem and how a solution is scored.

/// A capacity-limited resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub name: String,
    pub capacity: f64,
    /// Resource pool: resources of different pools are never used by one candidate, so pools
    /// can be solved independently.
    pub pool: u32,
}

/// One way to serve a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// (resource index, amount used).
    pub uses: Vec<(u32, f64)>,
    pub cost_usd_per_hour: f64,
    /// Predicted to meet all of the query's SLOs with the required confidence.
    pub meets_slo: bool,
}

/// A query and its candidates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryDemand {
    pub id: String,
    pub weight: f64,
    pub candidates: Vec<Candidate>,
    /// The candidate the query runs now, if any (moving it off costs the churn penalty).
    pub current: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Maximize weighted goodput, then minimize cost.
    Goodput,
    /// Serve every query at least cost.
    Cost,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub resources: Vec<Resource>,
    pub queries: Vec<QueryDemand>,
    pub mode: Mode,
    /// Charged, in the cost unit (USD per hour), for each query moved off its current plan.
    pub churn_penalty: f64,
}

/// At most one candidate per query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matching {
    pub choice: Vec<Option<u32>>,
}

/// How good a matching is.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Σ weight of queries served by a candidate predicted to meet their SLOs.
    pub goodput: f64,
    pub served: usize,
    pub cost_usd_per_hour: f64,
    /// Queries moved off their current plan.
    pub churn: usize,
    /// The value the solvers maximize (see [`Instance::value`]).
    pub objective: f64,
    /// Resources whose capacity is exceeded: (index, used, capacity).
    pub overloaded: Vec<(u32, f64, f64)>,
}

impl Instance {
    /// The weight of one unit of goodput in the objective: larger than any cost and churn
    /// the whole instance could incur, so that goodput is maximized first.
    pub fn goodput_scale(&self) -> f64 {
        let worst: f64 = self
            .queries
            .iter()
            .map(|q| {
                q.candidates
                    .iter()
                    .map(|c| c.cost_usd_per_hour)
                    .fold(0.0, f64::max)
                    + self.churn_penalty
            })
            .sum();
        1.0 + worst
    }

    /// What choosing candidate `c` for query `q` adds to the objective, given
    /// [`Instance::goodput_scale`] `scale`.
    pub fn value(&self, q: usize, c: usize, scale: f64) -> f64 {
        let query = &self.queries[q];
        let cand = &query.candidates[c];
        let churn = match query.current {
            Some(cur) if cur as usize != c => self.churn_penalty,
            _ => 0.0,
        };
        let goodput = match self.mode {
            Mode::Goodput => scale * self.goodput(q, c),
            Mode::Cost => 0.0,
        };
        goodput - cand.cost_usd_per_hour - churn
    }

    /// The goodput candidate `c` of query `q` serves: the query's weight when the candidate
    /// is predicted to meet its SLOs, else nothing.
    pub fn goodput(&self, q: usize, c: usize) -> f64 {
        let query = &self.queries[q];
        if query.candidates[c].meets_slo {
            query.weight
        } else {
            0.0
        }
    }

    /// Whether every query of `group` weighs a whole number, so that goodput comes in whole
    /// units (what the exact repair and the Lagrangian step rely on to prune and to prove).
    pub fn whole_weights(&self, group: &[usize]) -> bool {
        group.iter().all(|&q| self.queries[q].weight.fract() == 0.0)
    }

    /// Leaving a query unserved: its churn if it had a plan; in cost mode, where every
    /// query must be served, also a penalty larger than any cost (one goodput unit).
    pub fn unserved_value(&self, q: usize, scale: f64) -> f64 {
        let churn = if self.queries[q].current.is_some() {
            -self.churn_penalty
        } else {
            0.0
        };
        match self.mode {
            Mode::Goodput => churn,
            Mode::Cost => churn - scale * self.queries[q].weight,
        }
    }

    /// The objective value of `group`'s queries under `choice` (indexed by query), at
    /// `scale`: served queries' values plus unserved queries' values.
    pub fn value_of(&self, group: &[usize], choice: &[Option<u32>], scale: f64) -> f64 {
        group
            .iter()
            .map(|&q| match choice[q] {
                Some(c) => self.value(q, c as usize, scale),
                None => self.unserved_value(q, scale),
            })
            .sum()
    }

    /// Score `m`; `overloaded` lists every resource over capacity (empty when feasible).
    pub fn score(&self, m: &Matching) -> Score {
        let scale = self.goodput_scale();
        let mut used = vec![0.0f64; self.resources.len()];
        let mut s = Score {
            goodput: 0.0,
            served: 0,
            cost_usd_per_hour: 0.0,
            churn: 0,
            objective: 0.0,
            overloaded: Vec::new(),
        };
        for (q, choice) in m.choice.iter().enumerate() {
            let query = &self.queries[q];
            match choice {
                Some(c) => {
                    let cand = &query.candidates[*c as usize];
                    for &(r, a) in &cand.uses {
                        used[r as usize] += a;
                    }
                    s.served += 1;
                    s.cost_usd_per_hour += cand.cost_usd_per_hour;
                    s.goodput += self.goodput(q, *c as usize);
                    if query.current.is_some_and(|cur| cur != *c) {
                        s.churn += 1;
                    }
                    s.objective += self.value(q, *c as usize, scale);
                }
                None => {
                    if query.current.is_some() {
                        s.churn += 1;
                    }
                    s.objective += self.unserved_value(q, scale);
                }
            }
        }
        for (r, u) in used.iter().enumerate() {
            let cap = self.resources[r].capacity;
            if *u > cap * (1.0 + 1e-9) + 1e-9 {
                s.overloaded.push((r as u32, *u, cap));
            }
        }
        s
    }

    /// True when candidate `c` of query `q` fits in `residual` capacities.
    pub fn fits(&self, residual: &[f64], q: usize, c: usize) -> bool {
        self.queries[q].candidates[c]
            .uses
            .iter()
            .all(|&(r, a)| residual[r as usize] + 1e-9 >= a)
    }

    /// Take (`sign` = 1) or give back (`sign` = −1) what candidate `c` of query `q` uses.
    pub fn take(&self, residual: &mut [f64], q: usize, c: usize, sign: f64) {
        for &(r, a) in &self.queries[q].candidates[c].uses {
            residual[r as usize] -= sign * a;
        }
    }

    /// A matching that serves nobody.
    pub fn empty(&self) -> Matching {
        Matching {
            choice: vec![None; self.queries.len()],
        }
    }
}
