//! Record codecs: Avro bodies in one of two framings.
//!
//! - **Single-object encoding** (the Avro specification's: `0xC3 0x01`, the 8-byte
//!   CRC-64-AVRO fingerprint of the writer schema, the body) when no schema registry is
//!   configured. The reader resolves the fingerprint against the schemas it knows: the
//!   current `.avsc` files plus any older or newer versions registered with
//!   [`Codec::with_known_schema`].
//! - **Confluent wire format** (magic `0`, 4-byte big-endian schema id, the body) with a
//!   Confluent-API schema registry; ids are registered or looked up once and cached.
//!
//! Decoding never panics on input: every failure is a [`DecodeError`] whose
//! [`DecodeError::reason`] is the dead-letter reason.

mod errors;
mod single_object;

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{from_value, Schema};
use compass_schemas::{Limits, Record};

pub use errors::{DecodeError, EncodeError};
pub use single_object::{fingerprint, SINGLE_OBJECT_MAGIC};

use crate::registry::RegistryClient;

/// How records are framed on the wire.
#[derive(Clone)]
pub enum WireFormat {
    /// Avro single-object encoding; no registry.
    SingleObject,
    /// Confluent framing with schema ids from a registry.
    Confluent(Arc<RegistryClient>),
}

/// Encodes and decodes Compass records in one wire format.
///
/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Codec {
    format: WireFormat,
    /// Writer schemas known by fingerprint (single-object mode): the current files plus
    /// any registered older or newer versions.
    known: Arc<HashMap<[u8; 8], Arc<Schema>>>,
    limits: Limits,
}

/// Most bytes the Avro decoder may allocate for one length-prefixed value. The decoder
/// allocates what a length prefix claims before reading it, and its default allowance is
/// 512 MiB, so a 29-byte hostile record could cost half a gigabyte (found by the `decode`
/// fuzz target: 130 decodes a second at 523 MB of memory). Records are limited to far less
/// (`limits.max_record_bytes`, at most this much).
pub const MAX_DECODE_ALLOCATION: usize = 16 << 20;

impl Codec {
    pub fn new(format: WireFormat) -> Self {
        // Process-wide and set once: the first codec sets it, before any decoding.
        apache_avro::util::max_allocation_bytes(MAX_DECODE_ALLOCATION);
        let known = compass_schemas::RecordKind::ALL
            .iter()
            .map(|k| (fingerprint(k.schema()), Arc::new(k.schema().clone())))
            .collect();
        Codec {
            format,
            known: Arc::new(known),
            limits: Limits::default(),
        }
    }

    /// A codec without a registry: single-object encoding.
    pub fn single_object() -> Self {
        Self::new(WireFormat::SingleObject)
    }

    /// Teach the codec another writer schema (for example an older version of an `.avsc`),
    /// so that records written with it are resolved against the current schema.
    pub fn with_known_schema(mut self, schema: Schema) -> Self {
        Arc::make_mut(&mut self.known).insert(fingerprint(&schema), Arc::new(schema));
        self
    }

    /// Size limits applied by [`Codec::decode`]'s validation.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn format(&self) -> &WireFormat {
        &self.format
    }

    /// Encode with the record type's current schema, for `topic` (the registry subject is
    /// `<topic>-value`, Confluent's topic-name strategy).
    pub fn encode<T: Record>(&self, topic: &str, value: &T) -> Result<Vec<u8>, EncodeError> {
        self.encode_framed(topic, T::schema(), Some(T::fingerprint()), value)
    }

    /// Encode with an explicit writer schema (tests of schema evolution use this).
    pub fn encode_with<T: serde::Serialize>(
        &self,
        topic: &str,
        schema: &Schema,
        value: &T,
    ) -> Result<Vec<u8>, EncodeError> {
        self.encode_framed(topic, schema, None, value)
    }

    fn encode_framed<T: serde::Serialize>(
        &self,
        topic: &str,
        schema: &Schema,
        known_fingerprint: Option<[u8; 8]>,
        value: &T,
    ) -> Result<Vec<u8>, EncodeError> {
        let body = GenericDatumWriter::builder(schema)
            .build()
            .and_then(|w| w.write_ser_to_vec(value))
            .map_err(|e| EncodeError::Avro(e.to_string()))?;
        let mut out = Vec::with_capacity(body.len() + 10);
        match &self.format {
            WireFormat::SingleObject => {
                out.extend_from_slice(&SINGLE_OBJECT_MAGIC);
                out.extend_from_slice(&known_fingerprint.unwrap_or_else(|| fingerprint(schema)));
            }
            WireFormat::Confluent(registry) => {
                let id = registry.register(&format!("{topic}-value"), schema)?;
                out.push(0);
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decode and validate one record of type `T`.
    pub fn decode<T: Record>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let value: T = self.decode_unvalidated(bytes)?;
        value
            .validate(&self.limits)
            .map_err(DecodeError::InvalidValue)?;
        Ok(value)
    }

    /// Decode without the validity checks (what a tool that inspects bad records wants).
    pub fn decode_unvalidated<T: Record>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        self.decode_resolved(bytes, T::schema(), Some(T::fingerprint()))
    }

    /// Decode into any serde type, resolving the writer schema against `reader`. This is how
    /// a consumer still on an older schema version reads newer records.
    pub fn decode_as<D: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
        reader: &Schema,
    ) -> Result<D, DecodeError> {
        self.decode_resolved(bytes, reader, None)
    }

    /// Decode against `reader`; when the writer's fingerprint is `reader_fingerprint` (the
    /// usual case: same schema version on both sides) the resolution pass is skipped.
    fn decode_resolved<D: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
        reader: &Schema,
        reader_fingerprint: Option<[u8; 8]>,
    ) -> Result<D, DecodeError> {
        let (writer, writer_fingerprint, body) = self.writer_schema(bytes)?;
        let mut input = EofGuard {
            rest: body,
            hit_eof: false,
        };
        // Two steps, so that the error says which went wrong: the bytes (body) or the
        // schemas (resolution).
        let written = GenericDatumReader::builder(&writer)
            .build()
            .map_err(|e| DecodeError::Resolution(e.to_string()))?
            .read_value(&mut input)
            .map_err(|e| DecodeError::MalformedBody(e.to_string()))?;
        if input.hit_eof {
            return Err(DecodeError::MalformedBody(
                "the body ends before the record does".into(),
            ));
        }
        if !input.rest.is_empty() {
            return Err(DecodeError::MalformedBody(format!(
                "{} bytes left over after the record",
                input.rest.len()
            )));
        }
        let value = if writer_fingerprint.is_some() && writer_fingerprint == reader_fingerprint {
            written
        } else {
            written
                .resolve(reader)
                .map_err(|e| DecodeError::Resolution(e.to_string()))?
        };
        from_value::<D>(&value).map_err(|e| DecodeError::Resolution(e.to_string()))
    }

    /// Split the framing off `bytes`, returning the writer schema, its fingerprint where the
    /// framing carries one, and the Avro body.
    #[allow(clippy::type_complexity)]
    fn writer_schema<'b>(
        &self,
        bytes: &'b [u8],
    ) -> Result<(Arc<Schema>, Option<[u8; 8]>, &'b [u8]), DecodeError> {
        match &self.format {
            WireFormat::SingleObject => {
                let (fp, body) = single_object::split(bytes)?;
                let schema = self
                    .known
                    .get(&fp)
                    .cloned()
                    .ok_or(DecodeError::UnknownSchema(format!(
                        "fingerprint {}",
                        hex(&fp)
                    )))?;
                Ok((schema, Some(fp), body))
            }
            WireFormat::Confluent(registry) => {
                if bytes.len() < 5 {
                    return Err(DecodeError::IncompleteHeader {
                        len: bytes.len(),
                        needed: 5,
                    });
                }
                if bytes[0] != 0 {
                    return Err(DecodeError::InvalidMagic {
                        found: bytes[..1].to_vec(),
                    });
                }
                let id = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
                Ok((registry.schema_by_id(id)?, None, &bytes[5..]))
            }
        }
    }
}

/// apache-avro 0.22 turns end-of-input inside a string, boolean or union index into a
/// `Null` value instead of an error. This reader remembers any attempt to read past the end,
/// so a truncated body is always reported as one.
struct EofGuard<'a> {
    rest: &'a [u8],
    hit_eof: bool,
}

impl std::io::Read for EofGuard<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() > self.rest.len() {
            self.hit_eof = true;
        }
        self.rest.read(buf)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
