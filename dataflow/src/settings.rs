//! What a deployment tunes: clustering buckets, search, matching, partitions, and the speed
//! of each hardware class.

use std::collections::BTreeMap;

use compass_planners::matching::Mode;
use compass_planners::online::expand::MatchSettings;
use compass_planners::online::objective::Objective;
use compass_planners::online::rounds::Rounds;
use compass_planners::online::search::OnlineSettings;
use compass_planners::search::cluster::Buckets;

#[derive(Debug, Clone)]
pub struct Settings {
    pub buckets: Buckets,
    pub search: OnlineSettings,
    pub matching: MatchSettings,
    /// Matching partitions: metro pools and cloud machines are dealt among them by hash, and
    /// each is matched on its own (by the worker that owns it). 1 matches globally.
    pub partitions: u32,
    /// Speed of each hardware class relative to the reference GPU (telemetry reports a
    /// factor on top of it; profile samples are converted to reference milliseconds by it).
    pub hardware_speed: BTreeMap<String, f64>,
    /// Turn off the similarity clusters: every query is its own cluster (ablation).
    pub no_clusters: bool,
    /// Each query is planned alone on the profiles made for it (Vulcan's way): every query is
    /// its own cluster and its search reads only samples answering its own requests. Off:
    /// every search of an application shares every measurement of it. The samples of a
    /// departed query stay in the collection (nothing retracts samples).
    pub per_query_profiles: bool,
    /// Plan on one server tier only (VideoStorm's setting).
    pub single_tier: Option<compass_schemas::Tier>,
    /// Epochs without telemetry after which a server (not an edge device, which reports
    /// only on change) is declared lost; 0 never declares one lost.
    pub machine_timeout_epochs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            buckets: Buckets::default(),
            search: OnlineSettings::default(),
            matching: MatchSettings::default(),
            partitions: 1,
            hardware_speed: BTreeMap::new(),
            no_clusters: false,
            per_query_profiles: false,
            single_tier: None,
            machine_timeout_epochs: 0,
        }
    }
}

impl Settings {
    pub fn cost_mode(mut self) -> Self {
        self.matching.mode = Mode::Cost;
        self
    }

    /// Measure a candidate whose accuracy is still undecided again, up to `max_rounds`
    /// requests of `search.profile_inputs` inputs each (see
    /// `compass_planners::online::rounds`); 1 or less: one request per configuration.
    pub fn with_rounds(mut self, max_rounds: u64) -> Self {
        self.search.rounds = (max_rounds > 1).then(|| Rounds {
            max_rounds,
            ..Rounds::default()
        });
        self
    }

    /// Plan by `objective` (Compass's, or a baseline's own): the search picks candidates and
    /// the matcher ranks them by it, so both must agree.
    pub fn with_objective(mut self, objective: Objective) -> Self {
        self.search.objective = objective;
        self.matching.objective = objective;
        self
    }
}
