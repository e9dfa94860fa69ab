//! Codec errors. Each decode error is also a dead-letter reason (see [`DecodeError::reason`]).

use compass_schemas::ValidationError;

use crate::registry::RegistryError;

/// Why a record could not be turned into a valid Compass record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("incomplete header: {len} bytes, the framing needs {needed}")]
    IncompleteHeader { len: usize, needed: usize },
    #[error("invalid magic byte(s) {found:02x?}")]
    InvalidMagic { found: Vec<u8> },
    #[error("unknown writer schema ({0})")]
    UnknownSchema(String),
    #[error("the writer schema does not resolve to the reader schema: {0}")]
    Resolution(String),
    #[error("malformed Avro body: {0}")]
    MalformedBody(String),
    #[error("invalid value: {0}")]
    InvalidValue(#[from] ValidationError),
    #[error("the record has no value (tombstone)")]
    Tombstone,
    /// The registry could not be asked. Not the record's fault: retry, do not dead-letter.
    #[error("schema registry unavailable: {0}")]
    RegistryUnavailable(String),
}

impl DecodeError {
    /// Stable, machine-readable reason, written to the `compass.dlq.reason` header and used
    /// as the label of the decode-error metric.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::IncompleteHeader { .. } => "incomplete_header",
            DecodeError::InvalidMagic { .. } => "invalid_magic",
            DecodeError::UnknownSchema(_) => "unknown_schema",
            DecodeError::Resolution(_) => "resolution_failure",
            DecodeError::MalformedBody(_) => "malformed_body",
            DecodeError::InvalidValue(_) => "invalid_value",
            DecodeError::Tombstone => "tombstone",
            DecodeError::RegistryUnavailable(_) => "registry_unavailable",
        }
    }

    /// True when the failure is transient (the registry is down): the caller should retry
    /// the same record later rather than dead-letter it.
    pub fn is_transient(&self) -> bool {
        matches!(self, DecodeError::RegistryUnavailable(_))
    }
}

impl From<RegistryError> for DecodeError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound { .. } => DecodeError::UnknownSchema(e.to_string()),
            RegistryError::InvalidSchema(_) => DecodeError::Resolution(e.to_string()),
            _ => DecodeError::RegistryUnavailable(e.to_string()),
        }
    }
}

/// Why a record could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("the value does not fit its schema: {0}")]
    Avro(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}
