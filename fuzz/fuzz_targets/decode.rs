//! Any bytes, decoded as each input record kind: the decoder may refuse them, never panic,
//! and never accept a record its validator would refuse.
#![no_main]

use apache_avro::AvroSchema;
use compass_connectors::Codec;
use compass_schemas::{Application, DeviceTelemetry, Limits, ProfileSample, QueryEvent, Record};
use libfuzzer_sys::fuzz_target;

fn check<T: Record>(codec: &Codec, bytes: &[u8]) {
    if let Ok(v) = codec.decode::<T>(bytes) {
        assert!(
            v.validate(&Limits::default()).is_ok(),
            "decoded but invalid: {v:?}"
        );
    }
}

static CODEC: std::sync::OnceLock<Codec> = std::sync::OnceLock::new();

fuzz_target!(|bytes: &[u8]| {
    let codec = CODEC.get_or_init(Codec::single_object);
    check::<QueryEvent>(codec, bytes);
    check::<Application>(codec, bytes);
    check::<DeviceTelemetry>(codec, bytes);
    check::<ProfileSample>(codec, bytes);
    // The same bytes behind a valid header of each schema reach the body decoder.
    for fp in [
        compass_connectors::codec::fingerprint(&QueryEvent::get_schema()),
        compass_connectors::codec::fingerprint(&Application::get_schema()),
    ] {
        let mut framed = compass_connectors::codec::SINGLE_OBJECT_MAGIC.to_vec();
        framed.extend_from_slice(&fp);
        framed.extend_from_slice(bytes);
        check::<QueryEvent>(codec, &framed);
        check::<Application>(codec, &framed);
    }
});
