//! The search tests' fixture: visual tracking at 30 fps, p95 ≤ 150 ms, MOTA ≥ 75 on
//! sparse scenes, over every plan on a laptop, an edge server and a cloud A100, with the
//! noise-free ground truth for checking answers and the noisy one for profiling.

#![allow(dead_code)]

use compass_planners::model::{enumerate_plans, AccuracyBound, Plan, Query, SloTargets};
use compass_schemas::{ProfileRequest, StratumQuota, Tier};
use compass_testbed::catalog;
use compass_testbed::fleet::{self, FleetSpec, Tables};
use compass_testbed::truth::GroundTruth;
use compass_testbed::worker::World;

pub struct Fixture {
    pub tables: Tables,
    pub truth: GroundTruth,
    pub noisy: GroundTruth,
    pub devices: Vec<compass_planners::model::Device>,
    pub query: Query,
    pub plans: Vec<Plan>,
    pub optimum: f64,
}

impl Fixture {
    /// The simulated workers, with the testbed's noise, for one seed.
    pub fn world(&self, seed: u64) -> World {
        World::new(
            vec![self.noisy.clone()],
            self.devices.clone(),
            self.tables.clone(),
            seed,
        )
    }

    /// The plan's true cost if it truly meets the fixture query's SLOs.
    pub fn truly_feasible(&self, p: &Plan) -> Option<f64> {
        self.truly_feasible_for(p, &self.query)
    }

    /// The plan's true cost if it truly meets `query`'s SLOs on its stratum.
    pub fn truly_feasible_for(&self, p: &Plan, query: &Query) -> Option<f64> {
        let (latency, accuracy, cost) = self.truth.outcome(p, query, &self.devices)?;
        query.slo.all_met(latency, accuracy, cost).then_some(cost)
    }
}

pub fn fixture() -> Fixture {
    let tables = Tables::builtin().expect("tables");
    let spec = catalog::builtin()
        .expect("catalog")
        .into_iter()
        .find(|a| a.app_id == "visual-tracking")
        .expect("app");
    let mut truth = GroundTruth::new(spec).expect("truth");
    let noisy = truth.clone();
    truth.spec.noise.latency_cv = 0.0;
    let app = truth.model.clone();
    let devices = fleet::generate(&FleetSpec::sized(200, 1), &tables).expect("fleet");
    let laptop = devices
        .iter()
        .position(|d| d.hardware_class == "laptop-snapdragon-x-elite" && d.link.uplink_mbps > 20.0)
        .expect("laptop");
    let es = devices
        .iter()
        .position(|d| d.tier == Tier::EdgeServer)
        .expect("edge server");
    let cloud = devices
        .iter()
        .position(|d| d.hardware_class == "a100-80gb")
        .expect("a100");
    let query = Query {
        id: "q".into(),
        app_id: app.id().into(),
        source_device_id: devices[laptop].id.clone(),
        rate_per_s: 30.0,
        weight: 1.0,
        slo: SloTargets {
            latency_ms: 150.0,
            latency_percentile: 95.0,
            accuracy: Some(AccuracyBound {
                threshold: 75.0,
                higher_is_better: true,
            }),
            max_cost_usd_per_hour: None,
        },
        stratum: "sparse".into(),
    };
    let places = [laptop, es, cloud];
    // Every plan: each configuration with the detector and tracker on any of the three
    // devices, data flowing upward.
    let plans = enumerate_plans(&app, &devices, &places, 0.5).expect("plans");
    // Exhaustive enumeration over the noise-free ground truth.
    let mut f = Fixture {
        tables,
        truth,
        noisy,
        devices,
        query,
        plans,
        optimum: f64::INFINITY,
    };
    f.optimum = f
        .plans
        .iter()
        .filter_map(|p| f.truly_feasible(p))
        .fold(f64::INFINITY, f64::min);
    assert!(f.optimum.is_finite(), "the space has a feasible plan");
    // At 30 fps and MOTA ≥ 75 the laptop cannot serve the query itself: the answer is a
    // paid placement, so cost decides.
    assert!(
        f.optimum > 0.0,
        "the cheapest feasible plan costs something ({})",
        f.optimum
    );
    let feasible = f
        .plans
        .iter()
        .filter(|p| f.truly_feasible(p).is_some())
        .count();
    let at_optimum = f
        .plans
        .iter()
        .filter(|p| f.truly_feasible(p).is_some_and(|c| c <= f.optimum + 1e-9))
        .count();
    eprintln!(
        "{feasible} of {} plans are feasible, {at_optimum} at the optimum cost {:.3} USD/h",
        f.plans.len(),
        f.optimum
    );
    f
}

/// A request to run the whole pipeline of `config` on an A100 for `inputs` inputs of
/// `stratum`.
pub fn request(
    app: &compass_planners::model::AppModel,
    config: &compass_planners::model::Config,
    stratum: &str,
    inputs: i32,
    tag: &str,
) -> ProfileRequest {
    ProfileRequest {
        request_id: tag.into(),
        app_id: app.id().into(),
        hardware_class: "a100-80gb".into(),
        operators: app.operator_choices(config, app.operator_count()),
        quotas: vec![StratumQuota {
            stratum: stratum.into(),
            inputs,
        }],
        decision_epoch: 0,
        reason: String::new(),
        event_time_ms: 0,
    }
}

/// One profile for Compass's search: the configuration on an A100, 16 sparse-scene inputs.
pub fn profile(
    world: &mut World,
    app: &compass_planners::model::AppModel,
    config: &compass_planners::model::Config,
    tag: &str,
) -> (Vec<f64>, compass_planners::search::bo::Measured) {
    profile_on(world, app, config, "sparse", tag)
}

/// [`profile`] on inputs of `stratum`.
pub fn profile_on(
    world: &mut World,
    app: &compass_planners::model::AppModel,
    config: &compass_planners::model::Config,
    stratum: &str,
    tag: &str,
) -> (Vec<f64>, compass_planners::search::bo::Measured) {
    let req = request(app, config, stratum, 16, tag);
    let samples = world.answer(&req, 0).expect("profile");
    compass_testbed::worker::profile_means(&samples, app.operator_count())
}
