//! The dead-letter path: a record that cannot be decoded or is invalid is written, with its
//! original key, bytes and headers, to the dead-letter topic, with headers that say where it
//! came from and why it was rejected. Processing then goes on.

use crate::bus::{InboundRecord, OutboundRecord};

pub const HEADER_TOPIC: &str = "compass.dlq.source.topic";
pub const HEADER_PARTITION: &str = "compass.dlq.source.partition";
pub const HEADER_OFFSET: &str = "compass.dlq.source.offset";
pub const HEADER_REASON: &str = "compass.dlq.reason";
pub const HEADER_DETAIL: &str = "compass.dlq.detail";

/// Longest detail text kept in the header; decoder messages can quote whole schemas.
const MAX_DETAIL: usize = 1024;

/// The dead-letter record for `record`, rejected for `reason` (a stable token such as
/// `invalid_magic`) with a human-readable `detail`.
pub fn dead_letter(
    record: &InboundRecord,
    dlq_topic: &str,
    reason: &str,
    detail: &str,
) -> OutboundRecord {
    let mut detail = detail.to_string();
    if detail.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !detail.is_char_boundary(cut) {
            cut -= 1;
        }
        detail.truncate(cut);
    }
    let mut headers: Vec<(String, Vec<u8>)> = record
        .headers
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
        .filter(|(k, _)| !k.starts_with("compass.dlq."))
        .collect();
    headers.push((HEADER_TOPIC.into(), record.topic.clone().into_bytes()));
    headers.push((
        HEADER_PARTITION.into(),
        record.partition.to_string().into_bytes(),
    ));
    headers.push((HEADER_OFFSET.into(), record.offset.to_string().into_bytes()));
    headers.push((HEADER_REASON.into(), reason.as_bytes().to_vec()));
    headers.push((HEADER_DETAIL.into(), detail.into_bytes()));
    OutboundRecord {
        topic: dlq_topic.to_string(),
        key: record.key.clone().unwrap_or_default(),
        payload: record.payload.clone(),
        headers,
        timestamp_ms: None,
    }
}
