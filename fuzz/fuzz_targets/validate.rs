//! Structured hostile applications and queries (pipelines with cycles and dangling inputs,
//! knob spaces far past the limit, NaN and negative numbers, huge ids): validation must
//! answer in bounded time without panicking, and whatever it accepts must be within the
//! limits.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use compass_schemas::{
    Application, Knob, KnobChoice, Limits, Operator, OperatorKind, QueryEvent, QueryEventKind,
    QuerySpec, Record, Slo, Tier,
};
use libfuzzer_sys::fuzz_target;

fn name(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    // A small alphabet, so that names collide (duplicates, self-references) often.
    let n = u.int_in_range(0..=3)?;
    Ok(["a", "b", "c", ""][n].repeat(u.int_in_range(1..=3)?))
}

fn number(u: &mut Unstructured<'_>) -> arbitrary::Result<f64> {
    Ok(match u.int_in_range(0..=5)? {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => -1.0,
        3 => 0.0,
        _ => f64::arbitrary(u)?,
    })
}

fn application(u: &mut Unstructured<'_>) -> arbitrary::Result<Application> {
    let ops = u.int_in_range(0..=8)?;
    let mut operators = Vec::new();
    for _ in 0..ops {
        let mut knobs = Vec::new();
        for _ in 0..u.int_in_range(0..=12)? {
            let mut choices = Vec::new();
            for _ in 0..u.int_in_range(0..=40)? {
                choices.push(KnobChoice {
                    value: name(u)?,
                    gpu_memory_mb: number(u)?,
                    work_gflop_per_input: number(u)?,
                    output_bytes_per_input: number(u)?,
                    api_usd_per_call: number(u)?,
                    gpu_memory_factor: number(u)?,
                });
            }
            knobs.push(Knob {
                name: name(u)?,
                choices,
            });
        }
        let mut inputs = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            inputs.push(name(u)?);
        }
        operators.push(Operator {
            name: name(u)?,
            kind: *u.choose(&[OperatorKind::Dnn, OperatorKind::Basic, OperatorKind::Api])?,
            inputs,
            allowed_tiers: vec![*u.choose(&[Tier::Edge, Tier::Cloud])?],
            knobs,
        });
    }
    Ok(Application {
        app_id: name(u)?,
        version: i32::arbitrary(u)?,
        description: String::new(),
        accuracy_metric: name(u)?,
        accuracy_higher_is_better: bool::arbitrary(u)?,
        operators,
    })
}

fn query(u: &mut Unstructured<'_>) -> arbitrary::Result<QueryEvent> {
    Ok(QueryEvent {
        query_id: name(u)?,
        kind: *u.choose(&[
            QueryEventKind::Arrive,
            QueryEventKind::Update,
            QueryEventKind::Depart,
        ])?,
        event_time_ms: i64::arbitrary(u)?,
        spec: if bool::arbitrary(u)? {
            Some(QuerySpec {
                app_id: name(u)?,
                source_device_id: name(u)?,
                rate_per_s: number(u)?,
                weight: number(u)?,
                slo: Slo {
                    latency_ms: number(u)?,
                    latency_percentile: number(u)?,
                    accuracy_threshold: if bool::arbitrary(u)? {
                        Some(number(u)?)
                    } else {
                        None
                    },
                    max_cost_usd_per_hour: if bool::arbitrary(u)? {
                        Some(number(u)?)
                    } else {
                        None
                    },
                },
                data_stratum: name(u)?,
            })
        } else {
            None
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let limits = Limits {
        max_knob_space: 1_000,
        max_operators: 6,
        max_id_len: 8,
    };
    if let Ok(app) = application(&mut u) {
        if app.validate(&limits).is_ok() {
            assert!(app.operators.len() <= limits.max_operators);
            assert!(app.knob_space_size() <= limits.max_knob_space);
        }
    }
    if let Ok(q) = query(&mut u) {
        if q.validate(&limits).is_ok() {
            if let Some(s) = &q.spec {
                assert!(
                    s.slo.latency_ms.is_finite() && s.slo.latency_ms > 0.0,
                    "{q:?}"
                );
            }
        }
    }
});
