//! One fully populated example of every record type, for tests, examples and documentation.
//! Every optional field is set, so a round trip exercises every branch of every schema.

use crate::{
    Application, Assignment, AssignmentStatus, DeviceTelemetry, Estimate, Knob, KnobChoice,
    KnobSetting, Operator, OperatorChoice, OperatorKind, OperatorMeasurement, PlacedOperator, Plan,
    Prediction, ProfileRequest, ProfileSample, QueryEvent, QueryEventKind, QuerySpec, Slo,
    StratumQuota, Tier,
};

pub fn application() -> Application {
    let choice = |value: &str, mem: f64, gflop: f64, out: f64| KnobChoice {
        value: value.into(),
        gpu_memory_mb: mem,
        work_gflop_per_input: gflop,
        output_bytes_per_input: out,
        api_usd_per_call: 0.0,
        gpu_memory_factor: 1.0,
    };
    Application {
        app_id: "speech-recognition".into(),
        version: 3,
        description: "voice activity detection, then a Whisper-family model".into(),
        accuracy_metric: "wer".into(),
        accuracy_higher_is_better: false,
        operators: vec![
            Operator {
                name: "vad".into(),
                kind: OperatorKind::Basic,
                inputs: vec![],
                allowed_tiers: vec![Tier::Edge, Tier::EdgeServer],
                knobs: vec![Knob {
                    name: "sample_rate_hz".into(),
                    choices: vec![
                        choice("8000", 0.0, 0.01, 16000.0),
                        choice("16000", 0.0, 0.02, 32000.0),
                    ],
                }],
            },
            Operator {
                name: "asr".into(),
                kind: OperatorKind::Dnn,
                inputs: vec!["vad".into()],
                allowed_tiers: vec![Tier::EdgeServer, Tier::Cloud],
                knobs: vec![Knob {
                    name: "model".into(),
                    choices: vec![
                        choice("whisper-tiny", 390.0, 2.0, 200.0),
                        choice("whisper-small", 2000.0, 12.0, 200.0),
                    ],
                }],
            },
        ],
    }
}

pub fn query_event(query_id: &str) -> QueryEvent {
    QueryEvent {
        query_id: query_id.into(),
        kind: QueryEventKind::Arrive,
        event_time_ms: 1_795_000_000_000,
        spec: Some(QuerySpec {
            app_id: "speech-recognition".into(),
            source_device_id: "phone-17".into(),
            rate_per_s: 2.5,
            weight: 1.0,
            slo: Slo {
                latency_ms: 400.0,
                latency_percentile: 95.0,
                accuracy_threshold: Some(0.12),
                max_cost_usd_per_hour: Some(0.8),
            },
            data_stratum: "noisy".into(),
        }),
    }
}

pub fn telemetry() -> DeviceTelemetry {
    DeviceTelemetry {
        device_id: "cloud-a100-0".into(),
        event_time_ms: 1_795_000_000_500,
        tier: Tier::Cloud,
        hardware_class: "a100-80gb".into(),
        pool: "us-east".into(),
        alive: true,
        speed_factor: 1.0,
        gpu_count: 8,
        gpu_memory_total_mb: 655_360.0,
        gpu_memory_free_mb: 400_000.0,
        gpu_share_free: 5.5,
        uplink_mbps: 10_000.0,
        rtt_ms: 0.5,
        price_usd_per_hour: 32.77,
    }
}

fn knobs(pairs: &[(&str, &str)]) -> Vec<KnobSetting> {
    pairs
        .iter()
        .map(|(k, v)| KnobSetting::new(*k, *v))
        .collect()
}

pub fn profile_sample() -> ProfileSample {
    ProfileSample {
        plan_key: "speech-recognition|vad:sample_rate_hz=16000|asr:model=whisper-small".into(),
        app_id: "speech-recognition".into(),
        hardware_class: "a100-80gb".into(),
        request_id: Some("req-42".into()),
        operators: vec![
            OperatorMeasurement {
                operator: "vad".into(),
                knobs: knobs(&[("sample_rate_hz", "16000")]),
                latency_ms: 1.5,
            },
            OperatorMeasurement {
                operator: "asr".into(),
                knobs: knobs(&[("model", "whisper-small")]),
                latency_ms: 48.0,
            },
        ],
        input_id: "librispeech-other-0031".into(),
        stratum: "noisy".into(),
        accuracy: Some(0.087),
        gpu_seconds: 0.05,
        event_time_ms: 1_795_000_001_000,
    }
}

pub fn profile_request() -> ProfileRequest {
    ProfileRequest {
        request_id: "req-42".into(),
        app_id: "speech-recognition".into(),
        hardware_class: "a100-80gb".into(),
        operators: vec![
            OperatorChoice {
                operator: "vad".into(),
                knobs: knobs(&[("sample_rate_hz", "16000")]),
            },
            OperatorChoice {
                operator: "asr".into(),
                knobs: knobs(&[("model", "whisper-small")]),
            },
        ],
        quotas: vec![
            StratumQuota {
                stratum: "clean".into(),
                inputs: 4,
            },
            StratumQuota {
                stratum: "noisy".into(),
                inputs: 12,
            },
        ],
        decision_epoch: 7,
        reason: "expected improvement 0.12".into(),
        event_time_ms: 1_795_000_000_900,
    }
}

pub fn assignment(query_id: &str, decision_epoch: i64) -> Assignment {
    Assignment {
        query_id: query_id.into(),
        decision_epoch,
        status: AssignmentStatus::Assigned,
        plan: Some(Plan {
            app_id: "speech-recognition".into(),
            operators: vec![
                PlacedOperator {
                    operator: "vad".into(),
                    knobs: knobs(&[("sample_rate_hz", "16000")]),
                    tier: Tier::Edge,
                    device_id: "phone-17".into(),
                    gpu_share: 0.0,
                    gpu_memory_mb: 0.0,
                },
                PlacedOperator {
                    operator: "asr".into(),
                    knobs: knobs(&[("model", "whisper-small")]),
                    tier: Tier::Cloud,
                    device_id: "cloud-a100-0".into(),
                    gpu_share: 0.25,
                    gpu_memory_mb: 2000.0,
                },
            ],
        }),
        predicted: Some(Prediction {
            latency_ms: Estimate {
                mean: 310.0,
                stddev: 22.0,
            },
            accuracy: Estimate {
                mean: 0.09,
                stddev: 0.01,
            },
            cost_usd_per_hour: Estimate {
                mean: 0.51,
                stddev: 0.0,
            },
            slo_probability: 0.97,
        }),
        reason: "cheapest feasible".into(),
        decided_at_ms: 1_795_000_002_000,
    }
}
