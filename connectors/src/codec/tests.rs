use apache_avro::Schema;
use compass_schemas::{samples, QueryEvent, QueryEventKind, Record};
use serde::{Deserialize, Serialize};

use super::*;

fn roundtrip<T: Record>(codec: &Codec, v: T) {
    let bytes = codec.encode("t", &v).expect("encode");
    assert_eq!(bytes[..2], SINGLE_OBJECT_MAGIC);
    assert_eq!(bytes[2..10], fingerprint(T::schema()));
    assert_eq!(codec.decode::<T>(&bytes).expect("decode"), v);
}

#[test]
fn every_record_type_roundtrips_in_single_object_encoding() {
    let c = Codec::single_object();
    roundtrip(&c, samples::application());
    roundtrip(&c, samples::query_event("q-1"));
    roundtrip(&c, samples::telemetry());
    roundtrip(&c, samples::profile_sample());
    roundtrip(&c, samples::profile_request());
    roundtrip(&c, samples::assignment("q-1", 3));
}

#[test]
fn each_kind_of_bad_input_gets_its_own_reason() {
    let c = Codec::single_object();
    let good = c.encode("t", &samples::query_event("q")).expect("encode");
    let reason = |b: &[u8]| c.decode::<QueryEvent>(b).err().map(|e| e.reason());

    assert_eq!(reason(&[]), Some("incomplete_header"));
    assert_eq!(reason(&good[..6]), Some("incomplete_header"));
    assert_eq!(
        reason(&[0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]),
        Some("invalid_magic")
    );
    let mut wrong_fp = good.clone();
    wrong_fp[5] ^= 0xff;
    assert_eq!(reason(&wrong_fp), Some("unknown_schema"));
    for cut in 1..good.len() - 10 {
        assert_eq!(
            reason(&good[..good.len() - cut]),
            Some("malformed_body"),
            "cut {cut} bytes"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(reason(&trailing), Some("malformed_body"));
    // A record of another type is a known schema that does not resolve to QueryEvent.
    let other = c.encode("t", &samples::telemetry()).expect("encode");
    assert_eq!(reason(&other), Some("resolution_failure"));

    let mut nan = samples::query_event("q");
    if let Some(spec) = nan.spec.as_mut() {
        spec.slo.latency_ms = f64::NAN;
    }
    let bytes = c.encode("t", &nan).expect("encode");
    assert_eq!(reason(&bytes), Some("invalid_value"));
    assert!(
        c.decode_unvalidated::<QueryEvent>(&bytes).is_ok(),
        "decodes; only validation rejects it"
    );
}

/// QueryEvent as it was before `spec` existed: one field fewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct QueryEventV0 {
    query_id: String,
    kind: QueryEventKind,
    event_time_ms: i64,
}

fn schema_without_field(avsc: &str, field: &str) -> Schema {
    let mut json: serde_json::Value = serde_json::from_str(avsc).expect("json");
    if let Some(fields) = json.get_mut("fields").and_then(|f| f.as_array_mut()) {
        fields.retain(|f| f.get("name").and_then(|n| n.as_str()) != Some(field));
    }
    Schema::parse_str(&json.to_string()).expect("older schema parses")
}

#[test]
fn a_record_written_with_an_older_schema_reads_with_the_current_one() {
    let old = schema_without_field(QueryEvent::AVSC, "spec");
    let writer = Codec::single_object();
    let v0 = QueryEventV0 {
        query_id: "q-7".into(),
        kind: QueryEventKind::Depart,
        event_time_ms: 5,
    };
    let bytes = writer
        .encode_with("t", &old, &v0)
        .expect("encode with the old schema");

    // Without the old schema, the fingerprint is unknown: a clear error, not garbage.
    assert_eq!(
        writer
            .decode::<QueryEvent>(&bytes)
            .err()
            .map(|e| e.reason()),
        Some("unknown_schema")
    );

    let reader = Codec::single_object().with_known_schema(old);
    let current: QueryEvent = reader.decode(&bytes).expect("old -> current");
    assert_eq!(current.query_id, "q-7");
    assert_eq!(current.spec, None, "the missing field takes its default");
}

#[test]
fn a_record_written_with_the_current_schema_reads_with_an_older_one() {
    let old = schema_without_field(QueryEvent::AVSC, "spec");
    let codec = Codec::single_object();
    let bytes = codec
        .encode("t", &samples::query_event("q-8"))
        .expect("encode");
    let v0: QueryEventV0 = codec.decode_as(&bytes, &old).expect("current -> old");
    assert_eq!(
        v0,
        QueryEventV0 {
            query_id: "q-8".into(),
            kind: QueryEventKind::Arrive,
            event_time_ms: 1_795_000_000_000
        }
    );
}

mod never_panics {
    use compass_schemas::{Application, Assignment};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes, and arbitrary bytes behind a valid header, decode to an error or
        /// a value, never a panic.
        #[test]
        fn on_arbitrary_bytes(tail in proptest::collection::vec(any::<u8>(), 0..256), header in 0usize..3) {
            let c = Codec::single_object();
            let mut bytes = Vec::new();
            match header {
                0 => {}
                1 => { bytes.extend_from_slice(&SINGLE_OBJECT_MAGIC); bytes.extend_from_slice(&fingerprint(QueryEvent::schema())); }
                _ => { bytes.extend_from_slice(&SINGLE_OBJECT_MAGIC); bytes.extend_from_slice(&fingerprint(Application::schema())); }
            }
            bytes.extend_from_slice(&tail);
            let _ = c.decode::<QueryEvent>(&bytes);
            let _ = c.decode::<Application>(&bytes);
            let _ = c.decode::<Assignment>(&bytes);
        }

        /// Any single-byte corruption of a valid record is either still a valid record or a
        /// typed error.
        #[test]
        fn on_corrupted_records(pos in 0usize..400, byte in any::<u8>()) {
            let c = Codec::single_object();
            let mut bytes = c.encode("t", &samples::assignment("q", 3)).expect("encode");
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Err(e) = c.decode::<Assignment>(&bytes) {
                prop_assert!(!e.reason().is_empty());
            }
        }
    }
}

#[test]
fn a_huge_length_prefix_is_refused_before_it_is_allocated() {
    let c = Codec::single_object();
    // The header of a QueryEvent, then a string length of 400 MB (zigzag varint) and nothing.
    let mut bytes = SINGLE_OBJECT_MAGIC.to_vec();
    bytes.extend_from_slice(&fingerprint(QueryEvent::schema()));
    let mut n: u64 = 400_000_000 << 1;
    while n >= 0x80 {
        bytes.push((n as u8) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
    let err = c.decode::<QueryEvent>(&bytes).expect_err("must not decode");
    let text = err.to_string();
    assert!(
        text.contains(&MAX_DECODE_ALLOCATION.to_string()),
        "refused for another reason (the 400 MB were allocated first): {text}"
    );
}
