//! Produces a worker's outputs on a thread of its own, so that the worker goes on reading
//! and planning while the broker acknowledges the last epochs' records.
//!
//! Delivery: at least once, and in order. One thread sends one batch at a time (two
//! batches in flight could reorder a key's decisions when the first is retried on a fresh
//! producer session); batches queued while one is in flight go out together in the next
//! send, so a slow broker sees fewer, larger requests instead of a stalled planner.
//! [`Publisher::durable`] is the latest epoch whose outputs are all acknowledged: the worker
//! acknowledges epochs to the commit barrier only up to it, so no input offset is committed
//! before the outputs it caused are durable. Caveat: a crash after the send and before the
//! commit produces those outputs again on restart (the progress marker limits that to
//! epochs after the last marker). The progress markers themselves go out through here too,
//! behind the outputs they vouch for, so the worker never waits on the broker.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use compass_connectors::bus::BusError;
use compass_connectors::kafka::{KafkaSettings, KafkaSink};
use compass_connectors::OutboundRecord;
use tracing::debug;

use crate::service::metrics::Metrics;
use crate::service::{now_ms, ServiceError};

/// What one planner step produced.
pub(super) struct Batch {
    /// Every output of every epoch up to this one is in this batch or an earlier one.
    pub through: Option<u64>,
    pub records: Vec<OutboundRecord>,
    /// Queries newly served by this batch: their arrival latency ends once it is durable.
    pub served: Vec<String>,
}

#[derive(Default)]
struct State {
    durable: Option<u64>,
    /// Batches handed over and batches finished.
    sent: u64,
    done: u64,
    error: Option<BusError>,
}

pub(super) struct Publisher {
    tx: Option<Sender<Batch>>,
    /// The latest `through` handed over.
    through: Option<u64>,
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Publisher {
    /// Start the sending thread of worker `index` with a producer of its own.
    pub(super) fn start(
        kafka: &KafkaSettings,
        index: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Publisher, ServiceError> {
        let sink = KafkaSink::new(kafka)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = channel::<Batch>();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("compass-publish-{index}"))
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batches = vec![first];
                    batches.extend(rx.try_iter());
                    let n = batches.len() as u64;
                    let through = batches.iter().filter_map(|b| b.through).max();
                    let mut records = Vec::new();
                    let mut served = Vec::new();
                    for b in batches {
                        records.extend(b.records);
                        served.extend(b.served);
                    }
                    let count = records.len();
                    let started = std::time::Instant::now();
                    let result = if records.is_empty() {
                        Ok(Vec::new())
                    } else {
                        runtime.block_on(sink.send_all(records))
                    };
                    let (lock_, ready) = &*shared;
                    let mut s = lock(lock_);
                    match result {
                        Ok(_) => {
                            let now = now_ms();
                            for q in served {
                                metrics.assigned(&q, now);
                            }
                            if count > 0 {
                                debug!(
                                    records = count,
                                    batches = n,
                                    ms = started.elapsed().as_millis() as u64,
                                    "published"
                                );
                            }
                            s.durable = s.durable.max(through);
                            s.done += n;
                            ready.notify_all();
                        }
                        Err(e) => {
                            s.error = Some(e);
                            ready.notify_all();
                            return;
                        }
                    }
                }
            })?;
        Ok(Publisher {
            tx: Some(tx),
            through: None,
            state,
            thread: Some(thread),
        })
    }

    /// Hand a batch over; an error of an earlier batch is returned here.
    pub(super) fn send(&mut self, batch: Batch) -> Result<(), ServiceError> {
        self.check()?;
        // The worker loop calls this every turn; a batch that carries nothing new (no record,
        // no newly finished epoch) would only wake the thread.
        if batch.records.is_empty() && batch.served.is_empty() && batch.through <= self.through {
            return Ok(());
        }
        self.through = self.through.max(batch.through);
        lock(&self.state.0).sent += 1;
        match self.tx.as_ref().map(|tx| tx.send(batch)) {
            Some(Ok(())) => Ok(()),
            _ => {
                self.check()?;
                Err(BusError::Closed.into())
            }
        }
    }

    /// The latest epoch whose outputs are all acknowledged.
    pub(super) fn durable(&self) -> Result<Option<u64>, ServiceError> {
        self.check()?;
        Ok(lock(&self.state.0).durable)
    }

    /// Wait until every batch handed over is acknowledged.
    pub(super) fn wait(&self) -> Result<(), ServiceError> {
        let (lock_, ready) = &*self.state;
        let mut s = lock(lock_);
        while s.done < s.sent && s.error.is_none() {
            s = match ready.wait(s) {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        drop(s);
        self.check()
    }

    fn check(&self) -> Result<(), ServiceError> {
        match lock(&self.state.0).error.take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has sent what it holds.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
