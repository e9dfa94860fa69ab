//! Keyed, idempotent Kafka producer.
//!
//! Delivery: `enable.idempotence=true` and `acks=all`, so a retried send never duplicates
//! or reorders records within a partition, and [`Sink::send`] resolves only once all in-sync
//! replicas have the record. Records with the same key go to the same partition in send
//! order. Caveat: idempotence holds within one producer session; a process that restarts
//! and re-sends may write duplicates, which is why every Compass output carries a key and
//! a decision epoch that make duplicates harmless. Compression is lz4 (never snappy).

use std::sync::RwLock;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::bus::{BusError, Delivered, OutboundRecord, Sink};
use crate::kafka::KafkaSettings;

pub struct KafkaSink {
    settings: KafkaSettings,
    /// Replaced by a fresh producer session when a batch fails (see [`KafkaSink::send_all`]).
    producer: RwLock<FutureProducer>,
    flush_timeout: Duration,
}

/// Attempts per batch, and the wait before the first retry (doubling after each).
const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

impl KafkaSink {
    pub fn new(settings: &KafkaSettings) -> Result<Self, BusError> {
        Ok(KafkaSink {
            settings: settings.clone(),
            producer: RwLock::new(Self::session(settings)?),
            flush_timeout: Duration::from_secs(30),
        })
    }

    fn session(settings: &KafkaSettings) -> Result<FutureProducer, BusError> {
        Ok(settings
            .client_config(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("compression.type", "lz4"),
                ("linger.ms", "5"),
                ("message.timeout.ms", "30000"),
            ])?
            .create()?)
    }

    /// The producer of the current session (a cheap handle).
    pub fn producer(&self) -> FutureProducer {
        match self.producer.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Send a batch: enqueue every record first (waiting while the local queue is full),
    /// then wait for each delivery, so the batch costs about one round trip, not one per
    /// record. Records with one key keep their order. Returns where each landed, in order.
    ///
    /// A batch that fails (a broker restarting can refuse the old producer session, as the
    /// test broker does after a restart) is retried up to six times with backoff, each time on
    /// a fresh producer session and from its first failed record on, so that the last record
    /// of each key is still the last one written: records after the failure may be written
    /// twice (same key and epoch; harmless to Compass's consumers), none is lost or reordered
    /// behind an older one.
    pub async fn send_all(&self, records: Vec<OutboundRecord>) -> Result<Vec<Delivered>, BusError> {
        let mut out: Vec<Delivered> = Vec::with_capacity(records.len());
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let (done, failure) = self.try_send(&records[out.len()..]).await;
            out.extend(done);
            let Some(e) = failure else {
                return Ok(out);
            };
            if attempt >= ATTEMPTS {
                return Err(e);
            }
            tracing::warn!(error = %e, attempt, left = records.len() - out.len(), "produce failed; retrying on a new producer session");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
            let fresh = Self::session(&self.settings)?;
            match self.producer.write() {
                Ok(mut p) => *p = fresh,
                Err(poisoned) => *poisoned.into_inner() = fresh,
            }
        }
    }

    /// Enqueue `record` without waiting for its delivery (waiting only while the local queue
    /// is full): fire and forget, for load generators. No retry; a delivery failure is lost.
    pub fn send_and_forget(&self, record: &OutboundRecord) -> Result<(), BusError> {
        enqueue(&self.producer(), record).map(drop)
    }

    /// One attempt: the deliveries of the records up to the first that failed, and why it
    /// failed.
    async fn try_send(&self, records: &[OutboundRecord]) -> (Vec<Delivered>, Option<BusError>) {
        let producer = self.producer();
        let mut pending = Vec::with_capacity(records.len());
        let mut failure = None;
        for record in records {
            match enqueue(&producer, record) {
                Ok(f) => pending.push(f),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // Deliveries in order up to the first failure; later ones are resent by the retry.
        let mut out = Vec::with_capacity(pending.len());
        let mut broken = None;
        for f in pending {
            if broken.is_some() {
                let _ = f.await;
                continue;
            }
            match f.await {
                Ok(Ok(d)) => out.push(Delivered {
                    partition: d.partition,
                    offset: d.offset,
                }),
                Ok(Err((e, _))) => broken = Some(BusError::Kafka(e)),
                Err(_) => broken = Some(BusError::Closed),
            }
        }
        // A delivery failure comes before any enqueue failure (those records came first).
        let failure = broken.or(failure);
        (out, failure)
    }
}

/// Hand `record` to the producer, waiting while its local queue is full.
fn enqueue(
    producer: &FutureProducer,
    record: &OutboundRecord,
) -> Result<rdkafka::producer::DeliveryFuture, BusError> {
    loop {
        match producer.send_result(future_record(record)) {
            Ok(f) => return Ok(f),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                _,
            )) => {
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(BusError::Kafka(e)),
        }
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
            .producer()
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
        self.producer().flush(self.flush_timeout)?;
        Ok(())
    }
}
