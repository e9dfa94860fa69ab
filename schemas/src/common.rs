//! Types shared by several records. Each `.avsc` file defines them inline (a schema file must
//! stand alone in a registry), so the same Rust type serves every file.

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

/// Where a device or an operator's placement sits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, AvroSchema,
)]
#[avro(namespace = "compass.v1")]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    // The query's own device (a phone, a Jetson, a laptop).
    Edge,
    // A server near the edge device.
    EdgeServer,
    // A machine of a cloud GPU pool.
    Cloud,
}

/// One knob's chosen value.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, AvroSchema,
)]
#[avro(namespace = "compass.v1")]
pub struct KnobSetting {
    pub knob: String,
    pub value: String,
}

impl KnobSetting {
    pub fn new(knob: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            knob: knob.into(),
            value: value.into(),
        }
    }
}
