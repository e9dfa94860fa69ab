//! Avro single-object encoding: `0xC3 0x01`, then the writer schema's 8-byte CRC-64-AVRO
//! (Rabin) fingerprint in little-endian order, then the binary body.

use apache_avro::Schema;

use super::DecodeError;

pub const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];

/// The CRC-64-AVRO fingerprint of `schema`'s Parsing Canonical Form, as it appears in the
/// single-object header. Record types cache theirs: see `Record::fingerprint`.
pub fn fingerprint(schema: &Schema) -> [u8; 8] {
    compass_schemas::rabin(schema)
}

/// Split a single-object encoded record into (fingerprint, body).
pub(crate) fn split(bytes: &[u8]) -> Result<([u8; 8], &[u8]), DecodeError> {
    if bytes.len() < 10 {
        // Say "invalid magic" rather than "incomplete" when the bytes we do have already
        // show this is not single-object encoding.
        if bytes.len() >= 2 && bytes[..2] != SINGLE_OBJECT_MAGIC {
            return Err(DecodeError::InvalidMagic {
                found: bytes[..2].to_vec(),
            });
        }
        return Err(DecodeError::IncompleteHeader {
            len: bytes.len(),
            needed: 10,
        });
    }
    if bytes[..2] != SINGLE_OBJECT_MAGIC {
        return Err(DecodeError::InvalidMagic {
            found: bytes[..2].to_vec(),
        });
    }
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&bytes[2..10]);
    Ok((fp, &bytes[10..]))
}
