//! Keyed, idempotent Kafka producer.
//!
//! Delivery: `enable.idempotence=true` and `acks=all`, so a retried send never duplicates
//! or reorders records within a partition, and [`Sink::send`] resolves only once all in-sync
//! replicas have the record. Records with the same key go to the same partition in send
//! order. Caveat: idempotence holds within one producer session; a process that restarts
//! and re-sends may write duplicates, which is why every Compass output carries a key and
//! a decision epoch that make duplicates harmless. Compression is lz4 (never snappy).

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::bus::{BusError, Delivered, OutboundRecord, Sink};
use crate::kafka::KafkaSettings;

pub struct KafkaSink {
    producer: FutureProducer,
    flush_timeout: Duration,
}

impl KafkaSink {
    pub fn new(settings: &KafkaSettings) -> Result<Self, BusError> {
        let producer: FutureProducer = settings
            .client_config(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("compression.type", "lz4"),
                ("linger.ms", "5"),
                ("message.timeout.ms", "30000"),
            ])?
            .create()?;
        Ok(KafkaSink {
            producer,
            flush_timeout: Duration::from_secs(30),
        })
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    /// Send a batch: enqueue every record first (waiting while the local queue is full),
    /// then wait for each delivery, so the batch costs about one round trip, not one per
    /// record. Records with one key keep their order. Returns where each landed, in order.
    pub async fn send_all(&self, records: Vec<OutboundRecord>) -> Result<Vec<Delivered>, BusError> {
        let mut pending = Vec::with_capacity(records.len());
        for record in &records {
            loop {
                match self.producer.send_result(future_record(record)) {
                    Ok(f) => {
                        pending.push(f);
                        break;
                    }
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        _,
                    )) => {
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(BusError::Kafka(e)),
                }
            }
        }
        let mut out = Vec::with_capacity(pending.len());
        for f in pending {
            match f.await {
                Ok(Ok(d)) => out.push(Delivered {
                    partition: d.partition,
                    offset: d.offset,
                }),
                Ok(Err((e, _))) => return Err(BusError::Kafka(e)),
                Err(_) => return Err(BusError::Closed),
            }
        }
        Ok(out)
    }
}

fn future_record(record: &OutboundRecord) -> FutureRecord<'_, Vec<u8>, Vec<u8>> {
    let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
    for (k, v) in &record.headers {
        headers = headers.insert(Header {
            key: k,
            value: Some(v),
        });
    }
    let mut fr = FutureRecord::to(&record.topic)
        .key(&record.key)
        .headers(headers);
    if let Some(p) = &record.payload {
        fr = fr.payload(p);
    }
    if let Some(ts) = record.timestamp_ms {
        fr = fr.timestamp(ts);
    }
    fr
}

impl Sink for KafkaSink {
    async fn send(&self, record: OutboundRecord) -> Result<Delivered, BusError> {
        match self
            .producer
            .send(future_record(&record), rdkafka::util::Timeout::Never)
            .await
        {
            Ok(d) => Ok(Delivered {
                partition: d.partition,
                offset: d.offset,
            }),
            Err((e, _)) => Err(BusError::Kafka(e)),
        }
    }

    fn flush(&self) -> Result<(), BusError> {
        self.producer.flush(self.flush_timeout)?;
        Ok(())
    }
}
