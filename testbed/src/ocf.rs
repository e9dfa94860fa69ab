//! Avro object container files whose bytes depend only on their records and a seed.
//!
//! apache-avro writes a container's header metadata from a `HashMap`, so its key order, and
//! the file's bytes, change from run to run. The header is written here with its keys in a
//! fixed order and a sync marker derived from the seed; apache-avro appends the blocks, and
//! its standard reader reads the files back.

use std::path::Path;

use apache_avro::{from_value, Codec, Reader, Writer};
use compass_schemas::Record;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::trace::TraceError;

fn marker(seed: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    ChaCha8Rng::seed_from_u64(seed ^ 0x0c0f_fee0_5eed_0000).fill(&mut m);
    m
}

/// Avro's variable-length zig-zag encoding of a long.
fn put_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// An object container file. apache-avro writes the header's metadata from a `HashMap`, so
/// its key order (and the file's bytes) would change from run to run; the header is
/// therefore written here, keys in a fixed order, and apache-avro appends the blocks.
pub(crate) fn write_ocf<T: Record>(
    path: &Path,
    records: &[T],
    seed: u64,
) -> Result<(), TraceError> {
    let err = |d: String| TraceError::Avro {
        path: path.display().to_string(),
        detail: d,
    };
    let schema_json = serde_json::to_string(T::schema()).map_err(|e| err(e.to_string()))?;
    let marker = marker(seed);
    let mut header = b"Obj\x01".to_vec();
    put_long(&mut header, 2);
    put_bytes(&mut header, b"avro.codec");
    put_bytes(&mut header, b"deflate");
    put_bytes(&mut header, b"avro.schema");
    put_bytes(&mut header, schema_json.as_bytes());
    put_long(&mut header, 0);
    header.extend_from_slice(&marker);
    let mut w = Writer::append_to_with_codec(
        T::schema(),
        header,
        Codec::Deflate(Default::default()),
        marker,
    )
    .map_err(|e| err(e.to_string()))?;
    for r in records {
        w.append_ser(r).map_err(|e| err(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| err(e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| TraceError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

pub(crate) fn read_ocf<T: Record>(path: &Path) -> Result<Vec<T>, TraceError> {
    let err = |d: String| TraceError::Avro {
        path: path.display().to_string(),
        detail: d,
    };
    let file = std::fs::File::open(path).map_err(|e| TraceError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let reader = Reader::builder(std::io::BufReader::new(file))
        .reader_schema(T::schema())
        .build()
        .map_err(|e| err(e.to_string()))?;
    reader
        .map(|v| {
            v.and_then(|v| from_value::<T>(&v))
                .map_err(|e| err(e.to_string()))
        })
        .collect()
}
