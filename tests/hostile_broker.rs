//! Hostile input through `compass run` on the real broker: 100,000 bad records (random
//! bytes, truncated Avro, wrong schema fingerprints, absurd values, knob spaces of 10^9
//! plans, cyclic pipelines, samples of unknown applications, duplicate query ids, records
//! over the size limit) mixed with a good trace. The planner must not crash; every bad record
//! must land in the dead-letter topic exactly once, under the reason its kind calls for; every
//! good query must end with its assignment.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use compass_connectors::kafka::KafkaSink;
use compass_connectors::{Codec, OutboundRecord};
use compass_schemas::{
    Application, KnobChoice, OperatorMeasurement, ProfileSample, QueryEvent, QueryEventKind,
};
use compass_testbed::sim::{Scenario, Simulation};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use support::{assignments, brokers, compass, create_topics, topics, wait_until};

const BAD: usize = 100_000;
const MAX_RECORD_BYTES: usize = 16_384;

/// What a bad record is, and the reasons its dead letter may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    RandomBytes,
    Truncated,
    WrongSchema,
    AbsurdQuery,
    AbsurdTelemetry,
    HugeApp,
    CyclicApp,
    UnknownApp,
    Duplicate,
    TooLarge,
}

impl Kind {
    fn allows(self, reason: &str) -> bool {
        let decode = [
            "incomplete_header",
            "invalid_magic",
            "unknown_schema",
            "malformed_body",
            "resolution_failure",
            "invalid_value",
        ];
        match self {
            Kind::RandomBytes | Kind::Truncated => decode.contains(&reason),
            Kind::WrongSchema => reason == "unknown_schema",
            Kind::AbsurdQuery | Kind::AbsurdTelemetry | Kind::HugeApp | Kind::CyclicApp => {
                reason == "invalid_value"
            }
            Kind::UnknownApp => reason == "unknown_application",
            Kind::Duplicate => reason == "duplicate_query",
            Kind::TooLarge => reason == "too_large",
        }
    }
}

struct Out {
    record: OutboundRecord,
    bad: Option<Kind>,
}

#[test]
fn bad_records_go_to_the_dlq_with_their_reason_and_good_ones_are_planned() {
    let prefix = create_topics("hostile");
    let t = |n: &str| format!("{prefix}{n}");
    let codec = Codec::single_object();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let now = compass::service::now_ms();

    // The good trace: the faults scenario's catalogue, fleet and first windows.
    let scenario = Scenario::named("faults", 2).expect("scenario");
    let mut sim = Simulation::new(scenario).expect("world");
    let apps = sim.applications();
    let mut good: Vec<Out> = Vec::new();
    let enc =
        |topic: &str, key: &str, bytes: Vec<u8>| OutboundRecord::new(topic, key, bytes).at(now);
    for a in &apps {
        let bytes = codec.encode(&t("apps"), a).expect("encode");
        good.push(Out {
            record: enc(&t("apps"), &a.app_id, bytes),
            bad: None,
        });
    }
    let telemetry = sim.initial_telemetry();
    for d in &telemetry {
        let bytes = codec.encode(&t("telemetry"), d).expect("encode");
        good.push(Out {
            record: enc(&t("telemetry"), &d.device_id, bytes),
            bad: None,
        });
    }
    let mut queries: Vec<QueryEvent> = Vec::new();
    for w in 0..4 {
        queries.extend(sim.window_inputs(w).0);
    }
    let mut live: BTreeSet<String> = BTreeSet::new();
    for q in &queries {
        match q.kind {
            QueryEventKind::Depart => live.remove(&q.query_id),
            _ => live.insert(q.query_id.clone()),
        };
        let bytes = codec.encode(&t("queries"), q).expect("encode");
        good.push(Out {
            record: enc(&t("queries"), &q.query_id, bytes),
            bad: None,
        });
    }
    assert!(live.len() > 10, "only {} live good queries", live.len());

    // The bad ones, in proportions that exercise every path.
    let inputs = [t("queries"), t("telemetry"), t("profiles"), t("apps")];
    let template_q = queries
        .iter()
        .find(|q| q.spec.is_some())
        .expect("a query")
        .clone();
    let template_t = telemetry[0].clone();
    let mut bad: Vec<Out> = Vec::new();
    for i in 0..BAD {
        // One in a thousand is over the size limit (each is copied whole to the DLQ).
        let pick = if i % 1000 == 999 {
            99
        } else {
            rng.random_range(0..99)
        };
        let (kind, record) = match pick {
            0..=34 => {
                let mut b = vec![0u8; rng.random_range(0..200)];
                rng.fill_bytes(&mut b);
                let topic = &inputs[rng.random_range(0..3)];
                (Kind::RandomBytes, enc(topic, &format!("r{i}"), b))
            }
            35..=54 => {
                let full = codec.encode(&t("queries"), &template_q).expect("encode");
                let cut = rng.random_range(1..full.len());
                (
                    Kind::Truncated,
                    enc(&t("queries"), &format!("t{i}"), full[..cut].to_vec()),
                )
            }
            55..=69 => {
                let mut b = codec.encode(&t("telemetry"), &template_t).expect("encode");
                let mut fp = [0u8; 8];
                rng.fill_bytes(&mut fp);
                b[2..10].copy_from_slice(&fp);
                (Kind::WrongSchema, enc(&t("telemetry"), &format!("w{i}"), b))
            }
            70..=79 => {
                let mut q = template_q.clone();
                q.query_id = format!("absurd-{i}");
                if let Some(s) = q.spec.as_mut() {
                    match i % 3 {
                        0 => s.slo.latency_ms = f64::NAN,
                        1 => s.slo.latency_ms = -5.0,
                        _ => s.rate_per_s = f64::INFINITY,
                    }
                }
                let b = codec.encode(&t("queries"), &q).expect("encode");
                (Kind::AbsurdQuery, enc(&t("queries"), &q.query_id, b))
            }
            80..=84 => {
                let mut d = template_t.clone();
                d.device_id = format!("absurd-dev-{i}");
                d.speed_factor = if i % 2 == 0 { f64::NAN } else { -1.0 };
                let b = codec.encode(&t("telemetry"), &d).expect("encode");
                (Kind::AbsurdTelemetry, enc(&t("telemetry"), &d.device_id, b))
            }
            85 => {
                let a = huge_app(&apps[0], i);
                let b = codec.encode(&t("apps"), &a).expect("encode");
                (Kind::HugeApp, enc(&t("apps"), &a.app_id, b))
            }
            86 => {
                let mut a = apps[0].clone();
                a.app_id = format!("cyclic-{i}");
                let last = a.operators.last().expect("operators").name.clone();
                a.operators[0].inputs = vec![last];
                let b = codec.encode(&t("apps"), &a).expect("encode");
                (Kind::CyclicApp, enc(&t("apps"), &a.app_id, b))
            }
            87..=93 => {
                let s = unknown_app_sample(i, now);
                let b = codec.encode(&t("profiles"), &s).expect("encode");
                (Kind::UnknownApp, enc(&t("profiles"), &s.plan_key, b))
            }
            94..=98 => {
                // An arrival for a query that is live (its first arrival came before).
                let id = live.iter().nth(i % live.len()).expect("live").clone();
                let q = queries
                    .iter()
                    .find(|q| q.query_id == id && q.kind == QueryEventKind::Arrive)
                    .expect("arrival");
                let b = codec.encode(&t("queries"), q).expect("encode");
                (Kind::Duplicate, enc(&t("queries"), &id, b))
            }
            _ => {
                let mut b = vec![0u8; MAX_RECORD_BYTES + 1 + rng.random_range(0..1_000)];
                rng.fill_bytes(&mut b);
                (
                    Kind::TooLarge,
                    enc(&inputs[rng.random_range(0..4)], &format!("l{i}"), b),
                )
            }
        };
        bad.push(Out {
            record,
            bad: Some(kind),
        });
    }

    // Good first (the catalogue and fleet must exist before the queries that use them, and
    // duplicates must follow their originals), then the bad ones.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sink = KafkaSink::new(&topics::settings()).expect("producer");
    let mut expected: BTreeMap<(String, i32, i64), Kind> = BTreeMap::new();
    let started = Instant::now();
    let all: Vec<Out> = good.into_iter().chain(bad).collect();
    let total = all.len();
    for chunk in all.chunks(5_000) {
        let records: Vec<OutboundRecord> = chunk.iter().map(|o| o.record.clone()).collect();
        let delivered = runtime.block_on(sink.send_all(records)).expect("produce");
        for (o, d) in chunk.iter().zip(delivered) {
            if let Some(k) = o.bad {
                expected.insert((o.record.topic.clone(), d.partition, d.offset), k);
            }
        }
    }
    eprintln!(
        "produced {total} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(expected.len(), BAD);

    // The planner reads it all and stops.
    let started = Instant::now();
    let mut run = compass()
        .arg("run")
        .env("COMPASS__TOPICS__PREFIX", &prefix)
        .env("COMPASS__KAFKA__BOOTSTRAP_SERVERS", brokers())
        .env("COMPASS__PLANNER__GROUP", format!("{prefix}planner"))
        .env("COMPASS__PLANNER__EXIT_WHEN_CAUGHT_UP", "true")
        .env(
            "COMPASS__LIMITS__MAX_RECORD_BYTES",
            MAX_RECORD_BYTES.to_string(),
        )
        .env("COMPASS__METRICS__LISTEN", "")
        .env("COMPASS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start compass run");
    let status = wait_until(
        &mut run,
        Instant::now() + Duration::from_secs(400),
        "the planner did not finish in 400 s",
    );
    assert!(status.success(), "the planner exited with {status}");
    eprintln!(
        "planner read {total} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Every bad record in the DLQ once, with a reason its kind allows.
    let dlq = topics::read_all(&[t("dlq")]);
    let header = |r: &compass_connectors::InboundRecord, k: &str| -> String {
        r.headers
            .iter()
            .find(|(name, _)| name == k)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).to_string())
            .unwrap_or_default()
    };
    let mut seen: BTreeMap<(String, i32, i64), String> = BTreeMap::new();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for r in &dlq {
        let source = (
            header(r, "compass.dlq.source.topic"),
            header(r, "compass.dlq.source.partition")
                .parse()
                .expect("partition"),
            header(r, "compass.dlq.source.offset")
                .parse()
                .expect("offset"),
        );
        let reason = header(r, "compass.dlq.reason");
        *by_reason.entry(reason.clone()).or_default() += 1;
        assert!(
            seen.insert(source.clone(), reason).is_none(),
            "{source:?} dead-lettered twice"
        );
    }
    eprintln!("dead letters by reason: {by_reason:?}");
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !seen.contains_key(*k))
        .take(3)
        .collect();
    let extra: Vec<_> = seen
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .take(3)
        .collect();
    assert!(missing.is_empty() && extra.is_empty(), "{} of {BAD} bad records missing from the DLQ (e.g. {missing:?}); {} good ones in it (e.g. {extra:?})",
        expected.keys().filter(|k| !seen.contains_key(*k)).count(),
        seen.keys().filter(|k| !expected.contains_key(*k)).count());
    for (src, kind) in &expected {
        let reason = &seen[src];
        assert!(
            kind.allows(reason),
            "{kind:?} record {src:?} dead-lettered as {reason}"
        );
    }

    // Every good query planned: one current record each, none for want of its application or
    // device (both were good records).
    let latest = assignments::current(&prefix);
    assignments::check_one_each(&latest, &live);
    for id in &live {
        let reason = latest[id].1[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!reason.contains("unknown"), "good query {id}: {reason}");
    }
}

/// An application whose knob space has 10^9 plans (nine knobs of ten choices).
fn huge_app(base: &Application, i: usize) -> Application {
    let mut a = base.clone();
    a.app_id = format!("huge-{i}");
    let op = a
        .operators
        .iter_mut()
        .find(|o| !o.knobs.is_empty())
        .expect("an operator with knobs");
    let choice = op.knobs[0].choices[0].clone();
    op.knobs = (0..9)
        .map(|k| compass_schemas::Knob {
            name: format!("k{k}"),
            choices: (0..10)
                .map(|c| KnobChoice {
                    value: format!("v{c}"),
                    ..choice.clone()
                })
                .collect(),
        })
        .collect();
    a
}

fn unknown_app_sample(i: usize, now: i64) -> ProfileSample {
    ProfileSample {
        plan_key: format!("nope-{i}"),
        app_id: "no-such-application".into(),
        hardware_class: "a100-80gb".into(),
        request_id: None,
        operators: vec![OperatorMeasurement {
            operator: "op".into(),
            knobs: Vec::new(),
            latency_ms: 10.0,
        }],
        input_id: format!("in-{i}"),
        stratum: "default".into(),
        accuracy: Some(0.5),
        gpu_seconds: 1.0,
        event_time_ms: now,
    }
}
