//! The constrained search on a small space, against exhaustive enumeration of the ground
//! truth: its cheapest predicted-feasible plan must be truly feasible and as cheap as the
//! truly cheapest feasible plan, in at least 9 of 10 seeds. The query (visual tracking at
//! 30 fps, p95 ≤ 150 ms, MOTA ≥ 75) cannot be served by the user's laptop, so the search
//! must trade cost against the edge server and the cloud.

use compass_planners::model::Plan;
use compass_planners::search::bo::{Measured, Search, Settings};
use compass_planners::search::vulcan::Vulcan;
use compass_testbed::worker::{Deployed, World};

mod common;

use common::{fixture, profile, request};

#[test]
fn the_search_finds_the_cheapest_feasible_plan() {
    let f = fixture();
    let (app, plans, devices, query, optimum) =
        (&f.truth.model, &f.plans, &f.devices, &f.query, f.optimum);
    let truly_feasible = |p: &Plan| f.truly_feasible(p);
    let mut found = 0;
    let mut profiles = Vec::new();
    for seed in 0..10u64 {
        let mut world = f.world(seed);
        let settings = Settings {
            seed,
            ..Settings::default()
        };
        let mut search = Search::new(app, plans, devices, query, settings);
        while let Some(config) = search.ask() {
            // Profile on a cloud A100 (speed 1: measured = reference units), 16 inputs.
            let (reference, accuracy) = profile(&mut world, app, &config, &format!("s{seed}"));
            search.tell(&config, &reference, accuracy);
        }
        profiles.push(search.profiles());
        // The alternatives for the matcher: distinct plans, all predicted feasible, the first
        // the cheapest, and more than one tier among them when the space allows it.
        let diverse = search.diverse_candidates(4);
        let mut ids: Vec<usize> = diverse.iter().map(|p| p.plan).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), diverse.len(), "distinct plans");
        assert!(diverse.iter().all(|p| p.p_feasible >= 0.9));
        if let (Some(first), Some(cheapest)) = (diverse.first(), search.candidates().first()) {
            assert_eq!(first.plan, cheapest.plan);
        }
        let tiers: std::collections::BTreeSet<_> = diverse
            .iter()
            .map(|p| devices[plans[p.plan].placements[1].device].tier)
            .collect();
        if search
            .candidates()
            .iter()
            .map(|p| devices[plans[p.plan].placements[1].device].tier)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
        {
            assert!(
                tiers.len() > 1,
                "seed {seed}: alternatives on one tier only"
            );
        }
        let pick = search.candidates().into_iter().next();
        let ok = pick
            .as_ref()
            .and_then(|p| truly_feasible(&plans[p.plan]))
            .is_some_and(|cost| cost <= optimum + 1e-9);
        found += usize::from(ok);
        if !ok {
            let p = pick.as_ref();
            eprintln!(
                "seed {seed}: pick {:?} cfg {:?} placement {:?} truth {:?} pred lat {:?} acc {:?} p {:?}",
                p.map(|p| p.plan),
                p.map(|p| &plans[p.plan].config.0),
                p.map(|p| plans[p.plan].placements.iter().map(|x| devices[x.device].tier).collect::<Vec<_>>()),
                p.and_then(|p| truly_feasible(&plans[p.plan])),
                p.map(|p| p.latency_ms),
                p.map(|p| p.accuracy),
                p.map(|p| p.p_feasible)
            );
        }
    }
    eprintln!(
        "search: cheapest feasible found in {found} of 10 seeds; configurations profiled per search {profiles:?} of {} ({} plans)",
        app.space_size(),
        plans.len()
    );
    assert!(
        found >= 9,
        "found the cheapest feasible plan in only {found} of 10 seeds"
    );
}

/// Profiles until each searcher's recommendation is truly feasible: Compass's search
/// (configurations, composed over placements) against Vulcan's (whole plans, one
/// optimization per placement). Reported, and Compass must not need more.
#[test]
fn compass_needs_fewer_profiles_than_vulcan_to_a_feasible_plan() {
    let f = fixture();
    let (app, plans, devices, query) = (&f.truth.model, &f.plans, &f.devices, &f.query);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for seed in 0..10u64 {
        let mut world = f.world(seed);
        let mut search = Search::new(
            app,
            plans,
            devices,
            query,
            Settings {
                seed,
                budget: 20,
                ..Settings::default()
            },
        );
        let mut first = None;
        while let Some(config) = search.ask() {
            let (reference, accuracy) = profile(&mut world, app, &config, &format!("c{seed}"));
            search.tell(&config, &reference, accuracy);
            if search
                .candidates()
                .first()
                .is_some_and(|p| f.truly_feasible(&plans[p.plan]).is_some())
            {
                first = Some(search.profiles());
                break;
            }
        }
        ours.push(first.unwrap_or(usize::MAX));

        let mut vulcan = Vulcan::new(app, plans, devices, query, seed);
        let mut first = None;
        while let Some(i) = vulcan.ask() {
            let d = Deployed {
                query: query.clone(),
                plan: plans[i].clone(),
            };
            let r = world.realize(&[d], 2.0);
            vulcan.tell(i, r[0].latency_ms, r[0].accuracy);
            if vulcan
                .best()
                .is_some_and(|b| f.truly_feasible(&plans[b]).is_some())
            {
                first = Some(vulcan.profiles());
                break;
            }
        }
        theirs.push(first.unwrap_or(usize::MAX));
    }
    let median = |v: &mut Vec<usize>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (mo, mt) = (median(&mut ours.clone()), median(&mut theirs.clone()));
    eprintln!("profiles to a truly feasible recommendation: Compass {ours:?} (median {mo}), Vulcan {theirs:?} (median {mt}), ratio {:.1}x", mt as f64 / mo as f64);
    assert!(
        ours.iter().all(|&x| x != usize::MAX),
        "Compass always reaches a feasible plan"
    );
    assert!(mo <= mt, "Compass needs no more profiles than Vulcan");
}

/// One profile with the precision-aware profiler deciding how many inputs it needs: batches
/// of 4, at most 32, stopping once the accuracy interval is clearly on one side of the
/// threshold. Returns reference latencies, the accuracy measured and the inputs used.
fn profile_precise(
    world: &mut World,
    app: &compass_planners::model::AppModel,
    config: &compass_planners::model::Config,
    tag: &str,
) -> (Vec<f64>, Measured, u64) {
    use compass_profilers::decision::{profile as run, Test};
    use compass_profilers::stratified::Stratified;
    let mut latencies: Vec<Vec<f64>> = Vec::new();
    let test = Test {
        threshold: 75.0,
        higher_is_better: true,
        alpha: 0.05,
        max_looks: 8,
        incumbent: None,
    };
    let est = Stratified::new(&[("sparse", 1.0)]).expect("strata");
    let outcome = run(est, &test, 4, 32, |stratum| {
        let req = request(app, config, stratum, 1, tag);
        let s = world.answer(&req, 0).expect("profile");
        latencies.push(s[0].operators.iter().map(|o| o.latency_ms).collect());
        s[0].accuracy.unwrap_or(f64::NAN)
    });
    let n = latencies.len() as f64;
    let reference = (0..app.operator_count())
        .map(|op| latencies.iter().map(|l| l[op]).sum::<f64>() / n)
        .collect();
    let accuracy = Measured {
        mean: outcome.mean.unwrap_or(f64::NAN),
        se: outcome.se.unwrap_or(0.0),
    };
    (reference, accuracy, outcome.samples)
}

/// The search with the precision-aware profiler, which also tells the search each mean's
/// standard error (the accuracy surrogate takes it as known noise). Over 200 seeds, so that
/// the rate is measured rather than met by a lucky ten: at least 90% must end on the truly
/// cheapest feasible plan.
#[test]
fn the_search_with_the_precision_aware_profiler_finds_the_optimum_in_nine_of_ten() {
    let f = fixture();
    let (app, plans, devices, query) = (&f.truth.model, &f.plans, &f.devices, &f.query);
    let (mut found, mut inputs, mut profiles) = (0, 0u64, 0usize);
    let seeds = 200u64;
    for seed in 0..seeds {
        let mut world = f.world(seed);
        let mut search = Search::new(
            app,
            plans,
            devices,
            query,
            Settings {
                seed,
                ..Settings::default()
            },
        );
        while let Some(config) = search.ask() {
            let (reference, accuracy, used) =
                profile_precise(&mut world, app, &config, &format!("p{seed}"));
            inputs += used;
            search.tell(&config, &reference, accuracy);
        }
        profiles += search.profiles();
        let ok = search
            .candidates()
            .first()
            .and_then(|p| f.truly_feasible(&plans[p.plan]))
            .is_some_and(|c| c <= f.optimum + 1e-9);
        found += usize::from(ok);
    }
    let per_profile = inputs as f64 / profiles as f64;
    // Inputs reported, not asserted: with one stratum and α split over 8 looks, plans near
    // the threshold run to the cap, so the average can exceed a fixed 16.
    eprintln!(
        "precision-aware profiling: cheapest feasible in {found} of {seeds} seeds; {:.2} profiles per search, {per_profile:.1} inputs per profile (fixed profiling uses 16, the cap is 32)",
        profiles as f64 / seeds as f64
    );
    assert!(
        found as u64 * 10 >= seeds * 9,
        "found the cheapest feasible plan in only {found} of {seeds} seeds"
    );
}

/// A batch of profile requests: distinct configurations, within the budget, and asking for
/// one is asking; the pretended measurements are undone afterwards.
#[test]
fn batch_proposals_are_distinct_and_leave_the_search_as_it_was() {
    let f = fixture();
    let (app, plans, devices, query) = (&f.truth.model, &f.plans, &f.devices, &f.query);
    let settings = Settings {
        seed: 3,
        ..Settings::default()
    };
    let mut batched = Search::new(app, plans, devices, query, settings.clone());
    let mut twin = Search::new(app, plans, devices, query, settings.clone());
    let mut world = f.world(3);
    // Past the random start, so the surrogates choose.
    for _ in 0..settings.initial {
        let config = batched.ask().expect("a first configuration");
        assert_eq!(twin.ask().as_ref(), Some(&config));
        let (reference, accuracy) = profile(&mut world, app, &config, "b");
        batched.tell(&config, &reference, accuracy);
        twin.tell(&config, &reference, accuracy);
    }
    let batch = batched.ask_batch(4);
    assert_eq!(batch.len(), 4, "the space and budget allow four");
    for (i, a) in batch.iter().enumerate() {
        assert!(
            batch[i + 1..].iter().all(|b| b != a),
            "a repeated configuration"
        );
    }
    let next = twin.ask().expect("the twin goes on");
    assert_eq!(batch[0], next, "a batch starts with the sequential choice");
    assert_eq!(batched.ask_batch(1), vec![next.clone()]);
    assert_eq!(batched.ask(), Some(next), "the pretence was undone");
    let whole = batched.ask_batch(1000);
    assert!(whole.len() <= settings.budget - settings.initial);
}

/// The search proposing four profiles at a time against the sequential search on the same
/// 40 seeds (both find the optimum in about 5 of 6 seeds, so ten seeds could not tell them
/// apart): it must find the cheapest feasible plan about as often (within 2 seeds), in
/// fewer rounds of profiling than the sequential search needs profiles, which is what
/// batching is for.
#[test]
fn the_batched_search_finds_the_optimum_as_often_in_fewer_rounds() {
    let f = fixture();
    let (app, plans, devices, query) = (&f.truth.model, &f.plans, &f.devices, &f.query);
    let found_by = |search: &Search| {
        search
            .candidates()
            .first()
            .and_then(|p| f.truly_feasible(&plans[p.plan]))
            .is_some_and(|c| c <= f.optimum + 1e-9)
    };
    let (mut found, mut found_seq, mut rounds, mut steps) = (0, 0, 0, 0);
    for seed in 0..40u64 {
        let settings = Settings {
            seed,
            ..Settings::default()
        };
        let mut world = f.world(seed);
        let mut search = Search::new(app, plans, devices, query, settings.clone());
        loop {
            let batch = search.ask_batch(4);
            if batch.is_empty() {
                break;
            }
            rounds += 1;
            let measured: Vec<_> = batch
                .iter()
                .map(|c| profile(&mut world, app, c, &format!("b{seed}")))
                .collect();
            search.tell_many(
                batch
                    .iter()
                    .zip(&measured)
                    .map(|(c, (ms, acc))| (c, ms.as_slice(), Some(*acc))),
            );
        }
        found += usize::from(found_by(&search));

        let mut world = f.world(seed);
        let mut seq = Search::new(app, plans, devices, query, settings);
        while let Some(config) = seq.ask() {
            steps += 1;
            let (reference, accuracy) = profile(&mut world, app, &config, &format!("b{seed}"));
            seq.tell(&config, &reference, accuracy);
        }
        found_seq += usize::from(found_by(&seq));
    }
    eprintln!("batched search (4 per round): cheapest feasible in {found} of 40 seeds in {rounds} rounds; sequential: {found_seq} of 40 in {steps} profiles");
    assert!(
        found + 2 >= found_seq,
        "batched {found} of 40 against sequential {found_seq}"
    );
    assert!(rounds < steps, "{rounds} rounds against {steps} profiles");
}
