//! The `Record` trait: what every topic value type offers the codec and the connectors.

use std::fmt::Debug;
use std::sync::OnceLock;

use apache_avro::{AvroSchema, Schema};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::validate::{Limits, ValidationError};
use crate::{Application, Assignment, DeviceTelemetry, ProfileRequest, ProfileSample, QueryEvent};

/// The six record types that travel on Compass's topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Application,
    QueryEvent,
    DeviceTelemetry,
    ProfileSample,
    ProfileRequest,
    Assignment,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Application,
        RecordKind::QueryEvent,
        RecordKind::DeviceTelemetry,
        RecordKind::ProfileSample,
        RecordKind::ProfileRequest,
        RecordKind::Assignment,
    ];

    /// The `.avsc` text of this record type.
    pub fn avsc(self) -> &'static str {
        match self {
            RecordKind::Application => Application::AVSC,
            RecordKind::QueryEvent => QueryEvent::AVSC,
            RecordKind::DeviceTelemetry => DeviceTelemetry::AVSC,
            RecordKind::ProfileSample => ProfileSample::AVSC,
            RecordKind::ProfileRequest => ProfileRequest::AVSC,
            RecordKind::Assignment => Assignment::AVSC,
        }
    }

    /// The parsed schema of this record type.
    pub fn schema(self) -> &'static Schema {
        match self {
            RecordKind::Application => Application::schema(),
            RecordKind::QueryEvent => QueryEvent::schema(),
            RecordKind::DeviceTelemetry => DeviceTelemetry::schema(),
            RecordKind::ProfileSample => ProfileSample::schema(),
            RecordKind::ProfileRequest => ProfileRequest::schema(),
            RecordKind::Assignment => Assignment::schema(),
        }
    }

    /// The Avro full name, e.g. `compass.v1.QueryEvent`.
    pub fn full_name(self) -> &'static str {
        match self {
            RecordKind::Application => "compass.v1.Application",
            RecordKind::QueryEvent => "compass.v1.QueryEvent",
            RecordKind::DeviceTelemetry => "compass.v1.DeviceTelemetry",
            RecordKind::ProfileSample => "compass.v1.ProfileSample",
            RecordKind::ProfileRequest => "compass.v1.ProfileRequest",
            RecordKind::Assignment => "compass.v1.Assignment",
        }
    }
}

/// A value type of one of Compass's topics.
///
/// `AVSC` is the schema file's text, compiled in; [`Record::schema`] parses it once.
pub trait Record:
    Serialize + DeserializeOwned + AvroSchema + Clone + Debug + PartialEq + Send + Sync + 'static
{
    const KIND: RecordKind;
    const AVSC: &'static str;

    /// The parsed `.avsc` schema (parsed once per process).
    fn schema() -> &'static Schema;

    /// The CRC-64-AVRO (Rabin) fingerprint of the schema's Parsing Canonical Form, in the
    /// byte order of the single-object encoding header (computed once per process).
    fn fingerprint() -> [u8; 8];

    /// The Kafka key this record is produced under (see topics/catalogue.toml).
    fn key(&self) -> &str;

    /// Stateless validity checks (finite, in range, acyclic, within `limits`).
    fn validate(&self, limits: &Limits) -> Result<(), ValidationError>;
}

/// CRC-64-AVRO of `schema`'s canonical form.
pub fn rabin(schema: &Schema) -> [u8; 8] {
    let fp = schema.fingerprint::<apache_avro::rabin::Rabin>();
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(fp.bytes.iter()) {
        *o = *b;
    }
    out
}

macro_rules! record {
    ($ty:ident, $kind:ident, $file:literal, |$s:ident| $key:expr, $validate:path) => {
        impl Record for $ty {
            const KIND: RecordKind = RecordKind::$kind;
            const AVSC: &'static str = include_str!(concat!("../", $file));

            fn schema() -> &'static Schema {
                static SCHEMA: OnceLock<Schema> = OnceLock::new();
                SCHEMA.get_or_init(|| {
                    // The text is compiled in and checked by this crate's tests; a failure here
                    // is a build defect, not bad input.
                    Schema::parse_str(Self::AVSC)
                        .unwrap_or_else(|e| panic!("schemas/{} does not parse: {e}", $file))
                })
            }

            fn fingerprint() -> [u8; 8] {
                static FINGERPRINT: OnceLock<[u8; 8]> = OnceLock::new();
                *FINGERPRINT.get_or_init(|| rabin(Self::schema()))
            }

            fn key(&self) -> &str {
                let $s = self;
                $key
            }

            fn validate(&self, limits: &Limits) -> Result<(), ValidationError> {
                $validate(self, limits)
            }
        }
    };
}

record!(
    Application,
    Application,
    "application.avsc",
    |s| &s.app_id,
    crate::validate::application
);
record!(
    QueryEvent,
    QueryEvent,
    "query_event.avsc",
    |s| &s.query_id,
    crate::validate::query_event
);
record!(
    DeviceTelemetry,
    DeviceTelemetry,
    "device_telemetry.avsc",
    |s| &s.device_id,
    crate::validate::telemetry
);
record!(
    ProfileSample,
    ProfileSample,
    "profile_sample.avsc",
    |s| &s.plan_key,
    crate::validate::profile_sample
);
record!(
    ProfileRequest,
    ProfileRequest,
    "profile_request.avsc",
    |s| &s.hardware_class,
    crate::validate::profile_request
);
record!(
    Assignment,
    Assignment,
    "assignment.avsc",
    |s| &s.query_id,
    crate::validate::assignment
);
