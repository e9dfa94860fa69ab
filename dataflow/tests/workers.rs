//! Scale-out: the dataflow on two workers, each fed its own share of the inputs (queries by
//! id, telemetry by device, profile samples split arbitrarily, applications published by
//! worker 0), emits exactly the changes the single-worker run emitted, epoch by epoch.

use std::sync::{Arc, Mutex};

use compass_dataflow::log::Input;
use compass_dataflow::records::{self, Outbound};
use compass_dataflow::{Change, Planner, Settings};
use compass_testbed::sim::{Scenario, Simulation};

const WINDOWS: u64 = 4;

/// Drive `constrained-small` in lockstep on one worker (repairing between full solves);
/// return the inputs fed before each
/// `advance` and every change, as sortable text.
fn record() -> (Settings, Vec<Vec<Input>>, Vec<String>) {
    let mut sim =
        Simulation::new(Scenario::named("constrained-small", 5).expect("scenario")).expect("sim");
    let mut settings = Settings {
        hardware_speed: sim.hardware_speed(),
        ..Settings::default()
    };
    // Repairs between full solves at this size too (by default a partition this small is
    // always solved in full), so that the comparisons cover the incremental path.
    settings.matching.repair_above = 0;
    settings.matching.full_every = 3;
    let s = settings.clone();
    let (log, changes) = timely::execute_directly(move |worker| {
        let mut p = Planner::new(worker, s);
        let mut log: Vec<Vec<Input>> = Vec::new();
        let mut out = Vec::new();
        let mut batch: Vec<Input> = sim.applications().into_iter().map(Input::App).collect();
        batch.extend(sim.initial_telemetry().into_iter().map(Input::Telemetry));
        for w in 0..WINDOWS {
            let (queries, telemetry) = sim.window_inputs(w);
            batch.extend(queries.into_iter().map(Input::Query));
            batch.extend(telemetry.into_iter().map(Input::Telemetry));
            for _round in 0..16 {
                feed(&mut p, &batch, true);
                log.push(std::mem::take(&mut batch));
                for c in p.advance(worker) {
                    if let Outbound::Request(req) = records::record_of(&c, "a100-80gb", 16, 0) {
                        let samples = sim.answer(&req).expect("answer");
                        batch.extend(samples.into_iter().map(Input::Sample));
                    } else if let Outbound::Assignment(a) =
                        records::record_of(&c, "a100-80gb", 16, 0)
                    {
                        sim.apply(&a);
                    }
                    out.push(format!("{c:?}"));
                }
                if batch.is_empty() {
                    break;
                }
            }
            sim.realize(w);
        }
        (log, out)
    });
    (settings, log, changes)
}

fn feed(p: &mut Planner, inputs: &[Input], publishes_apps: bool) {
    for i in inputs {
        // Bad queries are refused the same way on every worker count; nothing else is bad.
        if let Err(e) = i.feed(p, publishes_apps) {
            assert!(matches!(i, Input::Query(_)), "{e}");
        }
    }
}

#[test]
fn two_workers_emit_what_one_worker_emits() {
    let (settings, log, mut one) = record();
    assert!(
        one.iter().any(|c| c.starts_with("Decided"))
            && one.iter().any(|c| c.starts_with("Profile")),
        "the recorded run decided nothing or profiled nothing"
    );
    let log = Arc::new(log);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    timely::execute(timely::Config::process(2), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let mut p = Planner::new(worker, settings.clone());
        let mut n = 0usize;
        for batch in log.iter() {
            let mine: Vec<Input> = batch
                .iter()
                .filter(|i| match i {
                    // Samples split arbitrarily: statistics must not depend on who read what.
                    Input::Sample(_) => {
                        n += 1;
                        n % peers == index
                    }
                    other => other.read_by(index, peers),
                })
                .cloned()
                .collect();
            feed(&mut p, &mine, index == 0);
            let changes = p.advance(worker);
            sink.lock()
                .expect("lock")
                .extend(changes.iter().map(|c: &Change| format!("{c:?}")));
        }
    })
    .expect("two workers")
    .join();
    let mut two = seen.lock().expect("lock").clone();
    one.sort();
    two.sort();
    assert_eq!(one.len(), two.len(), "number of changes differs");
    assert!(one == two, "the two-worker run's changes differ");
}

/// A replay that feeds every epoch before closing any (as a restarted planner catching up
/// does) emits what the run that closed them one by one emitted: outputs may depend on the
/// inputs and their epochs only, not on how many epochs are processed together.
#[test]
fn feeding_all_epochs_at_once_emits_what_epoch_by_epoch_emits() {
    let (settings, log, mut one) = record();
    let mut all = timely::execute_directly(move |worker| {
        let mut p = Planner::new(worker, settings);
        for (epoch, batch) in log.iter().enumerate() {
            p.set_time(epoch as u64);
            feed(&mut p, batch, true);
        }
        p.close_to(u64::MAX);
        while p.incomplete().is_some_and(|f| f < u64::MAX) {
            worker.step();
        }
        p.take_complete()
            .iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
    });
    one.sort();
    all.sort();
    let differ = one.iter().filter(|c| !all.contains(c)).count();
    assert_eq!(
        one.len(),
        all.len(),
        "number of changes differs ({differ} of the first run's missing)"
    );
    assert!(
        one == all,
        "{differ} changes differ when all epochs are fed at once"
    );
}
