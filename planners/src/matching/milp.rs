//! The exact oracle: the matching problem as a mixed-integer linear program, solved by CBC
//! through `good_lp`.
//!
//! Binary x[q][c] says query q runs candidate c.
//! - maximize Σ (value(q, c) − unserved(q))·x[q][c] + Σ unserved(q)
//! - Σ_c x[q][c] ≤ 1 per query (= 1 in cost mode: every query is served)
//! - Σ amount(q, c, r)·x[q][c] ≤ capacity(r) per resource
//!
//! `value` is the same objective the fast matcher maximizes (goodput first, then cost, less
//! churn). CBC rather than HiGHS: CBC installs from Debian in seconds, HiGHS compiles from
//! source for about 26 minutes on the 2-core build machines (measured for this project),
//! which a CI run cannot afford; HiGHS solves faster, so the oracle is kept to instances CBC
//! proves in its time limit. The limit is enforced by CBC; this crate reads no clock.

use good_lp::solvers::coin_cbc::coin_cbc;
use good_lp::{
    constraint, variable, Expression, ProblemVariables, ResolutionError, Solution, SolverModel,
    Variable,
};

use super::{Instance, Matching, Mode};

/// What the oracle found.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleResult {
    pub matching: Matching,
    /// Objective of the incumbent (see [`Instance::value`]).
    pub objective: f64,
    /// CBC's bound on the optimum.
    pub bound: f64,
    /// Relative gap between incumbent and bound; 0 when proven optimal.
    pub gap: f64,
    pub proven_optimal: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MilpError {
    #[error("the MILP is infeasible (in cost mode: not every query can be served)")]
    Infeasible,
    #[error("the MILP solver failed: {0}")]
    Solver(String),
}

pub fn solve(inst: &Instance, time_limit_s: f64) -> Result<OracleResult, MilpError> {
    let scale = inst.goodput_scale();
    let mut vars = ProblemVariables::new();
    let x: Vec<Vec<Variable>> = inst
        .queries
        .iter()
        .map(|q| {
            q.candidates
                .iter()
                .map(|_| vars.add(variable().binary()))
                .collect()
        })
        .collect();
    let mut objective = Expression::from(0.0);
    let mut constant = 0.0;
    for (q, xs) in x.iter().enumerate() {
        let unserved = inst.unserved_value(q, scale);
        constant += unserved;
        for (c, v) in xs.iter().enumerate() {
            objective += (inst.value(q, c, scale) - unserved) * *v;
        }
    }
    let mut problem = vars.maximise(objective.clone()).using(coin_cbc);
    problem.set_parameter("sec", &format!("{time_limit_s}"));
    problem.set_parameter("threads", "1");
    problem.set_log_level(0);
    for xs in &x {
        let sum: Expression = xs.iter().copied().sum();
        problem = match inst.mode {
            Mode::Goodput => problem.with(constraint!(sum <= 1.0)),
            Mode::Cost => problem.with(constraint!(sum == 1.0)),
        };
    }
    let mut per_resource: Vec<Option<Expression>> = vec![None; inst.resources.len()];
    for (q, xs) in x.iter().enumerate() {
        for (c, v) in xs.iter().enumerate() {
            for &(r, a) in &inst.queries[q].candidates[c].uses {
                *per_resource[r as usize].get_or_insert_with(|| Expression::from(0.0)) += a * *v;
            }
        }
    }
    for (r, e) in per_resource.into_iter().enumerate() {
        if let Some(e) = e {
            problem = problem.with(constraint!(e <= inst.resources[r].capacity));
        }
    }
    let solution = match problem.solve() {
        Ok(s) => s,
        Err(ResolutionError::Infeasible) => return Err(MilpError::Infeasible),
        Err(e) => return Err(MilpError::Solver(e.to_string())),
    };
    let choice = x
        .iter()
        .map(|xs| {
            xs.iter()
                .position(|v| solution.value(*v) > 0.5)
                .map(|c| c as u32)
        })
        .collect();
    let raw = solution.model();
    let proven_optimal = raw.is_proven_optimal();
    let objective_value = solution.eval(&objective) + constant;
    let bound = if proven_optimal {
        objective_value
    } else {
        raw.best_possible_value() + constant
    };
    let gap = ((bound - objective_value).abs() / objective_value.abs().max(1e-9)).max(0.0);
    Ok(OracleResult {
        matching: Matching { choice },
        objective: objective_value,
        bound,
        gap,
        proven_optimal,
    })
}
