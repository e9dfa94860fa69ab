//! Random matching instances, seeded, for tests and benchmarks.
//!
//! Machines come in pools of `machines_per_pool`; each machine has two resources, GPU memory
//! (80 GiB) and GPU compute (8 GPUs' worth of share). A query lives in one pool (its region)
//! and has `candidates` plans on random machines of that pool, each using some memory and
//! share, costing share × a per-machine price, and predicted to meet the query's SLOs with
//! probability 0.8. `load` is total demand (of each query's median candidate) over total
//! capacity, per resource kind: above 1 the instance is contended.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Candidate, Instance, Mode, QueryDemand, Resource};

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub seed: u64,
    pub queries: usize,
    pub machines: usize,
    pub machines_per_pool: usize,
    pub candidates: usize,
    pub load: f64,
    pub mode: Mode,
    pub churn_penalty: f64,
}

impl Spec {
    pub fn new(seed: u64, queries: usize, machines: usize, load: f64) -> Self {
        Spec {
            seed,
            queries,
            machines,
            machines_per_pool: 10,
            candidates: 5,
            load,
            mode: Mode::Goodput,
            churn_penalty: 0.1,
        }
    }
}

pub fn instance(spec: &Spec) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let machines = spec.machines.max(1);
    let per_pool = spec.machines_per_pool.max(1);
    let pools = machines.div_ceil(per_pool);
    let price: Vec<f64> = (0..machines).map(|_| rng.random_range(1.0..4.0)).collect();
    let mut queries = Vec::with_capacity(spec.queries);
    let (mut mem_demand, mut share_demand) = (0.0, 0.0);
    for q in 0..spec.queries {
        let pool = rng.random_range(0..pools);
        let first = pool * per_pool;
        let last = ((pool + 1) * per_pool).min(machines);
        let mut candidates: Vec<Candidate> = (0..spec.candidates.max(1))
            .map(|_| {
                let m = rng.random_range(first..last);
                let memory = rng.random_range(500.0..16_000.0);
                let share = rng.random_range(0.05..1.0);
                Candidate {
                    uses: vec![(2 * m as u32, memory), (2 * m as u32 + 1, share)],
                    cost_usd_per_hour: share * price[m] / 8.0 * rng.random_range(0.8..1.2),
                    meets_slo: rng.random::<f64>() < 0.8,
                }
            })
            .collect();
        candidates.sort_by(|a, b| a.uses[1].1.total_cmp(&b.uses[1].1));
        let median = &candidates[candidates.len() / 2];
        mem_demand += median.uses[0].1;
        share_demand += median.uses[1].1;
        queries.push(QueryDemand {
            id: format!("q{q}"),
            weight: rng.random_range(1..=3) as f64,
            candidates,
            current: None,
        });
    }
    let load = spec.load.max(1e-6);
    let mem_cap = mem_demand / load / machines as f64;
    let share_cap = share_demand / load / machines as f64;
    let resources = (0..machines)
        .flat_map(|m| {
            let pool = (m / per_pool) as u32;
            [
                Resource {
                    name: format!("m{m}.memory"),
                    capacity: mem_cap.max(16_000.0),
                    pool,
                },
                Resource {
                    name: format!("m{m}.share"),
                    capacity: share_cap.max(1.0),
                    pool,
                },
            ]
        })
        .collect();
    Instance {
        resources,
        queries,
        mode: spec.mode,
        churn_penalty: spec.churn_penalty,
    }
}
