//! Validation on hand-made bad records.
use super::*;
use crate::{samples, Record, Tier};

fn err<T: Record>(v: &T) -> ValidationError {
    v.validate(&Limits::default()).expect_err("invalid")
}

#[test]
fn the_samples_are_valid() {
    let l = Limits::default();
    samples::application().validate(&l).expect("application");
    samples::query_event("q").validate(&l).expect("query");
    samples::telemetry().validate(&l).expect("telemetry");
    samples::profile_sample().validate(&l).expect("sample");
    samples::profile_request().validate(&l).expect("request");
    samples::assignment("q", 0)
        .validate(&l)
        .expect("assignment");
}

#[test]
fn cyclic_pipelines_and_unknown_inputs_are_rejected() {
    let mut app = samples::application();
    app.operators[0].inputs = vec!["asr".into()];
    assert_eq!(
        err(&app),
        ValidationError::Cyclic {
            operator: "vad".into()
        }
    );
    let mut app = samples::application();
    app.operators[1].inputs = vec!["nope".into()];
    assert!(matches!(err(&app), ValidationError::UnknownInput { .. }));
    let mut app = samples::application();
    app.operators[1].name = "vad".into();
    assert!(matches!(
        err(&app),
        ValidationError::Duplicate {
            what: "operator",
            ..
        }
    ));
}

#[test]
fn knob_spaces_beyond_the_limit_are_rejected_without_overflow() {
    let mut app = samples::application();
    let knob = app.operators[1].knobs[0].clone();
    let mut many = knob.clone();
    many.choices = (0..1000)
        .map(|i| crate::KnobChoice {
            value: format!("v{i}"),
            ..knob.choices[0].clone()
        })
        .collect();
    // 40 knobs of 1000 choices: 10^120 plans, far past u128's exactness but saturating.
    app.operators[1].knobs = (0..40)
        .map(|i| crate::Knob {
            name: format!("k{i}"),
            ..many.clone()
        })
        .collect();
    assert!(matches!(
        err(&app),
        ValidationError::KnobSpaceTooLarge { .. }
    ));
    app.operators[1].knobs[0].choices.clear();
    assert!(matches!(err(&app), ValidationError::Empty { .. }));
}

#[test]
fn absurd_slos_are_rejected() {
    type Breaker = fn(&mut crate::QuerySpec);
    let cases: [(&str, Breaker); 6] = [
        ("spec.slo.latency_ms", |s| s.slo.latency_ms = f64::NAN),
        ("spec.slo.latency_ms", |s| s.slo.latency_ms = -5.0),
        ("spec.rate_per_s", |s| s.rate_per_s = 0.0),
        ("spec.weight", |s| s.weight = f64::INFINITY),
        ("spec.slo.latency_percentile", |s| {
            s.slo.latency_percentile = 120.0
        }),
        ("spec.slo.max_cost_usd_per_hour", |s| {
            s.slo.max_cost_usd_per_hour = Some(-1.0)
        }),
    ];
    for (field, break_it) in cases {
        let mut q = samples::query_event("q");
        if let Some(spec) = q.spec.as_mut() {
            break_it(spec);
        }
        let e = err(&q);
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let mut q = samples::query_event("q");
    q.spec = None;
    assert_eq!(err(&q), ValidationError::MissingSpec { kind: "arrive" });
    q.kind = crate::QueryEventKind::Depart;
    q.validate(&Limits::default())
        .expect("a departure needs no spec");
}

#[test]
fn ids_are_bounded_and_telemetry_is_finite() {
    let q = samples::query_event(&"x".repeat(300));
    assert!(matches!(err(&q), ValidationError::TooLong { .. }));
    let q = samples::query_event("");
    assert!(matches!(err(&q), ValidationError::Empty { .. }));
    let mut t = samples::telemetry();
    t.tier = Tier::Edge;
    t.uplink_mbps = f64::NAN;
    assert!(matches!(err(&t), ValidationError::NotFinite { .. }));
    let mut a = samples::assignment("q", 1);
    a.plan = None;
    assert_eq!(err(&a), ValidationError::MissingPlan);
}

#[test]
fn a_departure_may_omit_its_spec_but_not_carry_a_broken_one() {
    let mut ev = crate::samples::query_event("q");
    ev.kind = crate::QueryEventKind::Depart;
    let limits = Limits::default();
    assert!(crate::validate::query_event(&ev, &limits).is_ok());
    if let Some(s) = ev.spec.as_mut() {
        s.slo.latency_ms = f64::NAN;
    }
    assert!(crate::validate::query_event(&ev, &limits).is_err());
    ev.spec = None;
    assert!(crate::validate::query_event(&ev, &limits).is_ok());
}
