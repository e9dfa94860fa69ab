//! The dataflow of design §4, built once per worker.
//!
//! ```text
//! queries ─► (app known?) ─► (device known?) ─► cluster id ─► cluster specs ─┐
//! apps ──────────────────────────────────────────────────────────────────────┤
//! stats ─► per application ──────────────────────────────────────────────────┼─► search ─► outcomes
//! telemetry ─► server classes ───────────────────────────────────────────────┘      │
//!   members (query, device, cluster's candidates) + machines, per partition ◄───────┤
//!   ─► matching ─► decisions                                  profile requests ◄────┘
//! ```
//!
//! Why `reduce` where one value per key is expected (the search): `map` would also run its
//! logic on every retraction, doubling the work; `reduce` runs once per changed key and
//! time, on the current values only. The matching is not a reduce: see [`crate::matching`].

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Instant;

use compass_planners::model::AppModel;
use compass_planners::online::clusters::{cluster_of, ClusterId, ClusterSpec};
use compass_planners::online::expand::Member;
use compass_planners::online::rows::{tier_code, Decision, DeviceRow, QueryRow};
use compass_planners::online::search::{
    search_cluster, server_classes, NextProfile, Outcome, ServerClass,
};
use compass_planners::online::stats::{ConfigStats, SampleRow};
use compass_planners::online::Name;
use compass_schemas::{Application, Tier};
use differential_dataflow::input::{Input, InputSession};
use differential_dataflow::trace::implementations::{ValBuilder, ValSpine};
use differential_dataflow::AsCollection;
use serde::{Deserialize, Serialize};
use timely::dataflow::operators::probe::Handle;
use timely::dataflow::operators::{Exchange, Inspect, Probe, ToStream};

use crate::log::fnv;
use crate::matching::{match_partitions, Item};
use crate::records;
use crate::settings::Settings;

/// An application as the collection holds it: its JSON text (the record has floats and no
/// order) and the one fact the early stages need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppEntry {
    pub higher_is_better: bool,
    pub json: String,
}

impl AppEntry {
    pub fn new(app: &Application) -> Self {
        AppEntry {
            higher_is_better: app.accuracy_higher_is_better,
            json: serde_json::to_string(app).unwrap_or_default(),
        }
    }
}

/// A profile the searches want: application, configuration, stratum, and what to run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ask {
    pub app_id: String,
    pub stratum: String,
    /// Whose search reads the answer: empty for every search of the application, else the
    /// one query whose search asked ([`Settings::per_query_profiles`]).
    pub scope: String,
    pub next: NextProfile,
}

/// Output buffers: (data, epoch, diff), drained by the [`crate::Planner`].
pub type Buffer<D> = Rc<RefCell<Vec<(D, u64, isize)>>>;

/// Wall-clock time spent in the two expensive steps on this worker since the last drain, for
/// the metrics endpoint. Measured here because only the operators know when a step runs;
/// nothing in the planning reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// Seconds per cluster search run.
    pub searches: Vec<f64>,
    /// Seconds per partition matching run.
    pub matchings: Vec<f64>,
}

impl Timings {
    /// Most measurements kept between drains: a run that never drains (the embedded
    /// planner) holds at most this many.
    pub const KEEP: usize = 1 << 16;

    pub(crate) fn note(list: &mut Vec<f64>, since: Instant) {
        if list.len() < Self::KEEP {
            list.push(since.elapsed().as_secs_f64());
        }
    }
}

pub struct Handles {
    pub apps: InputSession<u64, (Name, AppEntry), isize>,
    pub queries: InputSession<u64, (Name, QueryRow), isize>,
    pub devices: InputSession<u64, (Name, DeviceRow), isize>,
    pub samples: InputSession<u64, ((Name, u64), SampleRow), isize>,
    pub decisions: Buffer<Decision>,
    pub asks: Buffer<Ask>,
    pub outcomes: Buffer<(ClusterId, u64)>,
    pub timings: Rc<RefCell<Timings>>,
    pub probe: Handle<u64>,
}

/// The partition a device's work is matched in: edge servers and the devices they serve by
/// metro pool, cloud machines by their own id.
fn partition(d: &DeviceRow, n: u32) -> u32 {
    let key = if d.tier == tier_code(Tier::Cloud) || d.pool.is_empty() {
        &d.id
    } else {
        &d.pool
    };
    (fnv(key) % u64::from(n.max(1))) as u32
}

thread_local! {
    static MODELS: RefCell<HashMap<String, Option<Rc<AppModel>>>> = RefCell::new(HashMap::new());
}

/// The model of an application's JSON text, parsed once per worker thread.
pub fn model_of(json: &str) -> Option<Rc<AppModel>> {
    MODELS.with(|m| {
        m.borrow_mut()
            .entry(json.to_string())
            .or_insert_with(|| {
                let app: Application = serde_json::from_str(json).ok()?;
                AppModel::new(app, &Default::default()).ok().map(Rc::new)
            })
            .clone()
    })
}

/// Build the dataflow in `worker`.
pub fn build(worker: &mut timely::worker::Worker, settings: &Settings) -> Handles {
    let decisions: Buffer<Decision> = Rc::default();
    let asks: Buffer<Ask> = Rc::default();
    let outcomes_buf: Buffer<(ClusterId, u64)> = Rc::default();
    let probe = Handle::new();
    let timings: Rc<RefCell<Timings>> = Rc::default();
    let (d_out, a_out, o_out) = (decisions.clone(), asks.clone(), outcomes_buf.clone());
    let (search_clock, match_clock) = (timings.clone(), timings.clone());
    let s = settings.clone();
    let (apps_in, queries_in, devices_in, samples_in) = worker.dataflow::<u64, _, _>(|scope| {
        let (apps_in, apps) = scope.new_collection::<(Name, AppEntry), isize>();
        let (queries_in, queries) = scope.new_collection::<(Name, QueryRow), isize>();
        let (devices_in, devices) = scope.new_collection::<(Name, DeviceRow), isize>();
        let (samples_in, samples) = scope.new_collection::<((Name, u64), SampleRow), isize>();

        // Statistics per (application, scope, configuration), folded from the distinct
        // samples in their sorted order: independent of arrival order and of which worker
        // read them. The scope is empty unless each query reads only its own profiles.
        let per_query = s.per_query_profiles;
        let stats = samples
            .map(move |((app, cfg), row)| {
                let scope = if per_query {
                    Name::from(records::scope_of(
                        &app,
                        cfg,
                        &row.stratum,
                        row.request_id.as_deref(),
                    ))
                } else {
                    Name::default()
                };
                ((app, scope, cfg), row)
            })
            .reduce(|_, rows, out| {
                out.push((ConfigStats::fold(rows.iter().map(|(r, _)| *r)), 1isize));
            });

        // Queries meet their application (accuracy direction) and source device. Each join
        // arranges its two inputs; the queries left without a match are found as a difference
        // of ids (every query, less those that met one: an application or device id holds one
        // entry at a time), so the query rows are not arranged a second time for an antijoin
        // and no decision is built for a query only to be cancelled.
        let known = queries.clone().map(|(_, q)| (q.app_id.clone(), q)).join_map(
            apps.clone().map(|(id, e)| (id, e.higher_is_better)),
            |_, q, h| (q.source_device_id.clone(), (q.clone(), *h)),
        );
        let unknown_app = queries
            .map(|(id, q)| (id, q.app_id))
            .concat(known.clone().map(|(_, (q, _))| (q.id, q.app_id)).negate())
            .consolidate()
            .map(|(id, app)| Decision::rejected(&id, &app, "unknown application"));
        let (buckets, solo) = (s.buckets, s.no_clusters || s.per_query_profiles);
        let members = known
            .clone()
            .join_map(devices.clone(), move |_, (q, h), d| {
                let mut id = cluster_of(q, *h, d, &buckets);
                if solo {
                    id.solo = q.id.clone();
                }
                (id, (q.clone(), *h, d.clone()))
            });
        let unknown_device = known
            .map(|(_, (q, _))| (q.id, q.app_id))
            .concat(members.clone().map(|(_, (q, _, _))| (q.id, q.app_id)).negate())
            .consolidate()
            .map(|(id, app)| Decision::rejected(&id, &app, "unknown source device"));
        // Arranged once by cluster, for both the spec's reduce and the join with the
        // search outcomes (each arranged its own copy of every member before).
        let members = members.arrange_by_key_named("Arrange: members");
        let specs = members
            .clone()
            .reduce_abelian::<_, ValBuilder<_, _, _, _>, ValSpine<ClusterId, ClusterSpec, _, _>, _, _>(
                "Reduce: specs",
                |_, vals, out| {
                    let h = vals.first().is_some_and(|(v, _)| v.1);
                    if let Some(spec) = ClusterSpec::merge(vals.iter().map(|(v, _)| (&v.0, &v.2)), h)
                    {
                        out.push((spec, 1isize));
                    }
                },
                |vec, key, upds| {
                    vec.clear();
                    vec.extend(upds.drain(..).map(|(v, t, r)| ((key.clone(), v), t, r)));
                },
            )
            .as_collection(|k, v| (k.clone(), v.clone()));

        // Server classes, always present (possibly empty) so that joins on them never starve.
        let edge = tier_code(Tier::Edge);
        let single = s.single_tier.map(tier_code);
        let servers = devices
            .clone()
            .filter(move |(_, d)| d.tier != edge && single.is_none_or(|t| d.tier == t))
            .map(|(_, d)| ((), Some(d)))
            .concat(
                vec![(((), None), 0u64, 1isize)]
                    .to_stream(scope)
                    .as_collection(),
            )
            .reduce(|_, vals, out| {
                out.push((
                    server_classes(vals.iter().filter_map(|(d, _)| d.as_ref())),
                    1isize,
                ))
            });

        // Statistics per (application, scope), empty for a scope never profiled. The empty
        // defaults come from the applications when scopes are shared, and from the clusters
        // (one query each) only when every query reads its own profiles: a distinct over the
        // specs would otherwise run on every change of any cluster's spec.
        let scope = move |id: &ClusterId| {
            if per_query {
                id.solo.clone()
            } else {
                Name::default()
            }
        };
        let scopes = if per_query {
            specs
                .clone()
                .map(move |(id, _)| ((id.app_id.clone(), scope(&id)), None))
                .distinct()
        } else {
            apps.clone().map(|(id, _)| ((id, Name::default()), None))
        };
        let stats_by_scope = scopes
            .concat(stats.map(|((app, sc, cfg), st)| ((app, sc), Some((cfg, st)))))
            .reduce(|_, vals, out| {
                let v: Vec<(u64, ConfigStats)> =
                    vals.iter().filter_map(|(x, _)| (*x).clone()).collect();
                out.push((v, 1isize));
            });

        // The search per cluster, rerun when its spec, application, statistics or the
        // server classes change.
        let search_in = specs
            .map(|(id, spec)| (id.app_id.clone(), (id, spec)))
            .join_map(apps, move |_, (id, spec), e| {
                (
                    (id.app_id.clone(), scope(id)),
                    (id.clone(), spec.clone(), e.clone()),
                )
            })
            .join_map(stats_by_scope, |_, (id, spec, e), st| {
                ((), (id.clone(), spec.clone(), e.clone(), st.clone()))
            })
            .join_map(servers, |_, (id, spec, e, st), sv| {
                (
                    id.clone(),
                    (spec.clone(), e.clone(), st.clone(), sv.clone()),
                )
            });
        let online = s.search.clone();
        let outcomes = search_in.reduce(move |id: &ClusterId, vals, out| {
            let Some(((spec, entry, stats, servers), _)) = vals.last() else {
                return;
            };
            let Some(app) = model_of(&entry.json) else {
                return;
            };
            let stats: BTreeMap<u64, ConfigStats> = stats.iter().cloned().collect();
            let servers: &Vec<ServerClass> = servers;
            let t = Instant::now();
            let outcome = search_cluster(&app, id, spec, servers, &stats, &online);
            Timings::note(&mut search_clock.borrow_mut().searches, t);
            out.push((outcome, 1isize));
        });
        outcomes
            .clone()
            .map(|(id, o): (ClusterId, Outcome)| (id, o.profiled))
            .inspect(move |x| o_out.borrow_mut().push(x.clone()))
            .probe_with(&probe);

        let asks = outcomes
            .clone()
            .flat_map(move |(id, o)| {
                let sc = scope(&id);
                o.next.into_iter().map(move |next| Ask {
                    app_id: id.app_id.to_string(),
                    stratum: id.stratum.to_string(),
                    scope: sc.to_string(),
                    next,
                })
            })
            .distinct();
        asks.inspect(move |x| a_out.borrow_mut().push(x.clone()))
            .probe_with(&probe);

        // Members with their cluster's candidates, and machines, per partition.
        let parts = s.partitions;
        let member_items = members.join_core(outcomes.arrange_by_key(), move |_, (q, h, d), o| {
            Some((
                partition(d, parts),
                Item::Member(Member {
                    query: q.clone(),
                    higher_is_better: *h,
                    source: d.clone(),
                    candidates: o.candidates.clone(),
                    searching: !o.next.is_empty(),
                }),
            ))
        });
        let machine_items = devices
            .filter(move |(_, d)| d.tier != edge)
            .map(move |(_, d)| (partition(&d, parts), Item::Machine(d)));
        let matched = match_partitions(
            member_items.concat(machine_items).inner,
            s.matching.clone(),
            match_clock,
        )
        .as_collection();
        // Consolidate before leaving: an antijoin is a difference of two streams, and its
        // +1 and -1 for the same record must cancel before anyone reads them. Then route by
        // query: a changed decision is a retraction and an insertion of two different
        // records, which must reach the same worker to be read as one change (with several
        // workers, the halves would otherwise read as a departure and an assignment).
        matched
            .concat(unknown_app)
            .concat(unknown_device)
            .consolidate()
            .inner
            .exchange(|(d, _, _): &(Decision, u64, isize)| fnv(&d.query_id))
            .inspect(move |x| d_out.borrow_mut().push(x.clone()))
            .probe_with(&probe);

        (apps_in, queries_in, devices_in, samples_in)
    });
    Handles {
        apps: apps_in,
        queries: queries_in,
        devices: devices_in,
        samples: samples_in,
        decisions,
        asks,
        outcomes: outcomes_buf,
        timings,
        probe,
    }
}
