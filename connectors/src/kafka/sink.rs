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
}

impl Sink for KafkaSink {
    async fn send(&self, record: OutboundRecord) -> Result<Delivered, BusError> {
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
        match self.producer.send(fr, rdkafka::util::Timeout::Never).await {
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
