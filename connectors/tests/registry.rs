//! The Confluent wire format against a Confluent-API registry (the mock in support/).

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use compass_connectors::registry::RegistryClient;
use compass_connectors::{Codec, WireFormat};
use compass_schemas::{samples, Assignment, QueryEvent};
use support::mock_registry::MockRegistry;

#[test]
fn confluent_framing_registers_once_and_decodes_by_id_from_a_cold_cache() {
    let registry = MockRegistry::start();
    let writer = Codec::new(WireFormat::Confluent(Arc::new(RegistryClient::new(
        &registry.url,
    ))));
    let mut encoded = Vec::new();
    for i in 0..50 {
        encoded.push(
            writer
                .encode("compass.queries", &samples::query_event(&format!("q-{i}")))
                .expect("encode"),
        );
    }
    assert_eq!(
        registry.requests.load(Ordering::SeqCst),
        1,
        "one registration for 50 records"
    );
    let header = &encoded[0][..5];
    assert_eq!(header[0], 0, "magic byte");
    let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    assert_eq!(id, 1);

    // A second process: nothing cached, so the schema is fetched by id, once.
    let reader = Codec::new(WireFormat::Confluent(Arc::new(RegistryClient::new(
        &registry.url,
    ))));
    for (i, bytes) in encoded.iter().enumerate() {
        let q: QueryEvent = reader.decode(bytes).expect("decode");
        assert_eq!(q.query_id, format!("q-{i}"));
    }
    assert_eq!(
        registry.requests.load(Ordering::SeqCst),
        2,
        "one lookup by id for 50 records"
    );

    // Another subject gets its own id.
    let a = writer
        .encode("compass.assignments", &samples::assignment("q-1", 1))
        .expect("encode");
    assert_eq!(u32::from_be_bytes([a[1], a[2], a[3], a[4]]), 2);
    assert_eq!(
        reader.decode::<Assignment>(&a).expect("decode"),
        samples::assignment("q-1", 1)
    );
}

#[test]
fn registry_errors_are_typed() {
    let registry = MockRegistry::start();
    let codec = Codec::new(WireFormat::Confluent(Arc::new(RegistryClient::new(
        &registry.url,
    ))));
    let reason = |b: &[u8]| {
        codec
            .decode::<QueryEvent>(b)
            .err()
            .map(|e| (e.reason(), e.is_transient()))
    };
    assert_eq!(reason(&[0, 0, 0]), Some(("incomplete_header", false)));
    assert_eq!(reason(&[1, 0, 0, 0, 1, 2]), Some(("invalid_magic", false)));
    assert_eq!(
        reason(&[0, 0, 0, 0, 99, 2]),
        Some(("unknown_schema", false))
    );

    // A registry that does not answer is not the record's fault: transient, never dead-lettered.
    let url = registry.url.clone();
    drop(registry);
    let down = Codec::new(WireFormat::Confluent(Arc::new(RegistryClient::new(&url))));
    let err = down
        .decode::<QueryEvent>(&[0, 0, 0, 0, 1, 2])
        .expect_err("registry is down");
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.reason(), "registry_unavailable");
}
