//! The `.avsc` files and the Rust types must describe the same records. Three checks per type:
//! identical Parsing Canonical Form; Rust-derived writer → file reader; file writer →
//! Rust-derived reader. The last two compare the decoded value with the original.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{from_value, Schema};

use crate::{samples, Record, RecordKind};

fn roundtrip(writer: &Schema, reader: &Schema, bytes: &[u8]) -> apache_avro::types::Value {
    let mut slice = bytes;
    GenericDatumReader::builder(writer)
        .reader_schema(reader)
        .build()
        .expect("reader")
        .read_value(&mut slice)
        .expect("resolution")
}

fn check<T: Record>(value: T) {
    let file = T::schema();
    let derived = T::get_schema();
    assert_eq!(
        file.canonical_form(),
        derived.canonical_form(),
        "{:?}: schemas/*.avsc and the Rust type differ",
        T::KIND
    );

    let bytes = GenericDatumWriter::builder(&derived)
        .build()
        .expect("writer")
        .write_ser_to_vec(&value)
        .expect("encode");
    let back: T = from_value(&roundtrip(&derived, file, &bytes)).expect("derived -> file");
    assert_eq!(back, value, "{:?}: derived writer, file reader", T::KIND);

    let bytes = GenericDatumWriter::builder(file)
        .build()
        .expect("writer")
        .write_ser_to_vec(&value)
        .expect("encode");
    let back: T = from_value(&roundtrip(file, &derived, &bytes)).expect("file -> derived");
    assert_eq!(back, value, "{:?}: file writer, derived reader", T::KIND);
}

#[test]
fn every_record_type_matches_its_avsc() {
    check(samples::application());
    check(samples::query_event("q-1"));
    check(samples::telemetry());
    check(samples::profile_sample());
    check(samples::profile_request());
    check(samples::assignment("q-1", 12));
}

#[test]
fn every_avsc_parses_and_names_its_record() {
    for kind in RecordKind::ALL {
        let schema = kind.schema();
        match schema {
            Schema::Record(r) => assert_eq!(r.name.fullname(None), kind.full_name()),
            other => panic!("{kind:?} is not a record: {other:?}"),
        }
    }
}

/// FULL_TRANSITIVE needs every optional (nullable) field to carry a default, and a documented
/// field everywhere: walk the JSON of every .avsc.
#[test]
fn every_field_is_documented_and_every_optional_field_defaulted() {
    fn walk(v: &serde_json::Value, path: &str, problems: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Array(fields)) = m.get("fields") {
                    for f in fields {
                        let name = f.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                        let p = format!("{path}.{name}");
                        if f.get("doc").is_none() {
                            problems.push(format!("{p}: no doc"));
                        }
                        let nullable = f
                            .get("type")
                            .and_then(|t| t.as_array())
                            .is_some_and(|u| u.iter().any(|t| t == "null"));
                        if nullable && f.get("default").is_none() {
                            problems.push(format!("{p}: nullable without default"));
                        }
                        if let Some(t) = f.get("type") {
                            walk(t, &p, problems);
                        }
                    }
                }
                for key in ["items", "values"] {
                    if let Some(t) = m.get(key) {
                        walk(t, path, problems);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|t| walk(t, path, problems)),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    for kind in RecordKind::ALL {
        let json: serde_json::Value = serde_json::from_str(kind.avsc()).expect("json");
        walk(&json, kind.full_name(), &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
