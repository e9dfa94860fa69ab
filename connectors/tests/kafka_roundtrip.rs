//! Every record type survives produce → broker → consume, in both wire formats.

mod support;

use std::sync::Arc;
use std::time::Duration;

use compass_connectors::kafka::{KafkaSink, KafkaSource};
use compass_connectors::registry::RegistryClient;
use compass_connectors::{Codec, OutboundRecord, Sink, Source, WireFormat};
use compass_schemas::{
    samples, Application, Assignment, DeviceTelemetry, ProfileRequest, ProfileSample, QueryEvent,
    Record,
};
use support::mock_registry::MockRegistry;

async fn roundtrip<T: Record>(codec: &Codec, sink: &KafkaSink, value: T) {
    let topic = support::unique(&format!("roundtrip.{:?}", T::KIND));
    let admin = support::create_topics(&[(&topic, 2)]).await;
    let bytes = codec.encode(&topic, &value).expect("encode");
    let d = sink
        .send(
            OutboundRecord::new(&topic, value.key().as_bytes().to_vec(), bytes)
                .with_header("h", "v"),
        )
        .await
        .expect("produce");
    assert!(d.offset >= 0);

    let mut source =
        KafkaSource::new(&support::settings(), &support::unique("g"), &[&topic]).expect("consumer");
    let record = tokio::time::timeout(Duration::from_secs(30), source.recv())
        .await
        .expect("a record within 30 s")
        .expect("recv")
        .expect("open");
    assert_eq!(record.key.as_deref(), Some(value.key().as_bytes()));
    assert_eq!(record.header("h"), Some(&b"v"[..]));
    let back: T = codec
        .decode(record.payload.as_deref().expect("payload"))
        .expect("decode");
    assert_eq!(back, value, "{:?}", T::KIND);
    source.mark_processed(&record).expect("mark");
    source.close().expect("close");
    admin.delete(&[&topic]).await.expect("delete");
}

async fn every_type(codec: Codec) {
    let sink = KafkaSink::new(&support::settings()).expect("producer");
    roundtrip(&codec, &sink, samples::application()).await;
    roundtrip(&codec, &sink, samples::query_event("q-1")).await;
    roundtrip(&codec, &sink, samples::telemetry()).await;
    roundtrip(&codec, &sink, samples::profile_sample()).await;
    roundtrip(&codec, &sink, samples::profile_request()).await;
    roundtrip(&codec, &sink, samples::assignment("q-1", 4)).await;
    // Keep the types named so that a new record type is not forgotten here.
    let _: [fn() -> &'static compass_schemas::Schema; 6] = [
        Application::schema,
        QueryEvent::schema,
        DeviceTelemetry::schema,
        ProfileSample::schema,
        ProfileRequest::schema,
        Assignment::schema,
    ];
}

#[tokio::test]
async fn every_record_type_roundtrips_through_the_broker_single_object() {
    every_type(Codec::single_object()).await;
}

#[tokio::test]
async fn every_record_type_roundtrips_through_the_broker_confluent() {
    let registry = MockRegistry::start();
    let url = registry.url.clone();
    // The registry client blocks; keep it off the async worker threads' critical path.
    every_type(Codec::new(WireFormat::Confluent(Arc::new(
        RegistryClient::new(&url),
    ))))
    .await;
    drop(registry);
}
