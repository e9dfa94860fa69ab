//! The Prometheus endpoint of `compass run`: what the planner's workers count, served as
//! OpenMetrics text on `GET /metrics` by a thread of its own (loopback by default).
//!
//! Why one registry shared by every worker: each worker owns a share of the input partitions
//! and, by hash, of the queries, so each adds its own part and a scrape sees one process.
//! Every update is an atomic add or set; the one lock guards the arrival times of queries not
//! assigned yet (for the latency histogram), touched once per arrival and per first
//! assignment.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use tracing::{debug, info};

use super::ServiceError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: i32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    pub worker: u32,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Everything `compass run` reports. Cheap to share: clone the `Arc`.
pub struct Metrics {
    registry: Registry,
    /// Records not read yet, per input partition (from the client's cached watermarks).
    pub consumer_lag: Family<PartitionLabels, Gauge>,
    /// Input records read (applications excluded).
    pub records: Counter,
    /// Records rejected (undecodable, invalid, over a limit, refused by the planner), by
    /// reason; each goes to the dead-letter topic.
    pub rejected_records: Family<ReasonLabels, Counter>,
    /// Records written to the dead-letter topic (decode errors and refusals).
    pub dead_lettered: Counter,
    /// Records whose event time was behind an already closed epoch.
    pub late: Counter,
    /// Wall clock minus the end of the last epoch whose outputs are published, per worker.
    pub frontier_lag: Family<WorkerLabels, FloatGauge>,
    /// Query arrival (its record's timestamp) to its first assignment being durable.
    pub arrival_latency: Histogram,
    pub searches: Counter,
    pub search_seconds: Histogram,
    pub matching_seconds: Histogram,
    /// Assignment records published.
    pub assignments: Counter,
    /// Decisions that moved a served query to another placement.
    pub churn: Counter,
    /// Queries currently served by the planner's decisions, and the sum of their predicted
    /// probabilities of meeting their SLOs (the predicted goodput).
    pub served: Gauge,
    pub predicted_goodput: FloatGauge,
    /// Live queries per worker's input share.
    pub live_queries: Family<WorkerLabels, Gauge>,
    /// Arrival times (ms) of queries without an assignment yet; only arrivals stamped after
    /// `since_ms` count, so a replay of old input at start-up does not read as latency.
    pending: Mutex<HashMap<String, i64>>,
    since_ms: i64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry whose arrival latencies count arrivals stamped at or after `since_ms`.
    pub fn new(since_ms: i64) -> Arc<Self> {
        let mut root = Registry::with_prefix("compass");
        let m = Metrics {
            registry: Registry::default(),
            consumer_lag: Family::default(),
            records: Counter::default(),
            rejected_records: Family::default(),
            dead_lettered: Counter::default(),
            late: Counter::default(),
            frontier_lag: Family::default(),
            // 1 ms .. ~33 s
            arrival_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            searches: Counter::default(),
            // 0.1 ms .. ~3 s
            search_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            matching_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            assignments: Counter::default(),
            churn: Counter::default(),
            served: Gauge::default(),
            predicted_goodput: FloatGauge::default(),
            live_queries: Family::default(),
            pending: Mutex::new(HashMap::new()),
            since_ms,
        };
        let r = &mut root;
        r.register(
            "consumer_lag_records",
            "Records not read yet per input partition",
            m.consumer_lag.clone(),
        );
        r.register("input_records", "Input records read", m.records.clone());
        r.register(
            "rejected_records",
            "Input records rejected (undecodable, invalid, over a limit, refused), by reason",
            m.rejected_records.clone(),
        );
        r.register(
            "dead_lettered",
            "Records written to the dead-letter topic",
            m.dead_lettered.clone(),
        );
        r.register(
            "late_records",
            "Records whose event time fell in an epoch already closed",
            m.late.clone(),
        );
        r.register_with_unit(
            "frontier_lag",
            "Wall clock minus the end of the last published epoch, per worker",
            Unit::Seconds,
            m.frontier_lag.clone(),
        );
        r.register_with_unit(
            "arrival_to_assignment",
            "Query arrival (record timestamp) to its first assignment flushed",
            Unit::Seconds,
            m.arrival_latency.clone(),
        );
        r.register("searches", "Cluster searches run", m.searches.clone());
        r.register_with_unit(
            "search",
            "Time of one cluster search",
            Unit::Seconds,
            m.search_seconds.clone(),
        );
        r.register_with_unit(
            "matching",
            "Time of one partition's matching in an epoch",
            Unit::Seconds,
            m.matching_seconds.clone(),
        );
        r.register(
            "assignments",
            "Assignment records published",
            m.assignments.clone(),
        );
        r.register(
            "assignment_churn",
            "Served queries moved to another placement",
            m.churn.clone(),
        );
        r.register(
            "served_queries",
            "Queries served by the current decisions",
            m.served.clone(),
        );
        r.register(
            "predicted_goodput",
            "Sum over served queries of the predicted probability of meeting their SLOs",
            m.predicted_goodput.clone(),
        );
        r.register(
            "live_queries",
            "Live queries in each worker's input share",
            m.live_queries.clone(),
        );
        Arc::new(Metrics {
            registry: root,
            ..m
        })
    }

    /// The OpenMetrics text of every metric now.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// A query arrived in a record stamped `ts_ms`.
    pub fn arrived(&self, query_id: &str, ts_ms: i64) {
        if ts_ms >= self.since_ms {
            if let Ok(mut p) = self.pending.lock() {
                p.insert(query_id.to_string(), ts_ms);
            }
        }
    }

    /// A query departed (or was withdrawn) before its first assignment.
    pub fn forget(&self, query_id: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(query_id);
        }
    }

    /// The query's assignment is durable at `now_ms`: its first one ends its arrival latency.
    pub fn assigned(&self, query_id: &str, now_ms: i64) {
        let arrived = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(query_id));
        if let Some(t) = arrived {
            self.arrival_latency
                .observe((now_ms - t).max(0) as f64 / 1000.0);
        }
    }

    pub fn rejected(&self, reason: &str) {
        self.rejected_records
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }
}

/// The endpoint's thread; dropping it stops the server.
pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub addr: std::net::SocketAddr,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve `metrics` on `listen` (`host:port`; port 0 picks one): `GET /metrics` answers the
/// text, anything else 404.
pub fn serve(listen: &str, metrics: Arc<Metrics>) -> Result<Endpoint, ServiceError> {
    let server = tiny_http::Server::http(listen).map_err(|e| ServiceError::Metrics {
        listen: listen.to_string(),
        detail: e.to_string(),
    })?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| ServiceError::Metrics {
            listen: listen.to_string(),
            detail: "not an IP address".into(),
        })?;
    let server = Arc::new(server);
    let s = server.clone();
    let thread = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for req in s.incoming_requests() {
                let ok = req.method() == &tiny_http::Method::Get
                    && req.url().split('?').next() == Some("/metrics");
                let resp = if ok {
                    let ct = tiny_http::Header::from_bytes(
                        "Content-Type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    );
                    let r = tiny_http::Response::from_string(metrics.render());
                    match ct {
                        Ok(h) => r.with_header(h),
                        Err(()) => r,
                    }
                } else {
                    tiny_http::Response::from_string("not found; try /metrics\n")
                        .with_status_code(404)
                };
                if let Err(e) = req.respond(resp) {
                    debug!(error = %e, "metrics response not delivered");
                }
            }
        })?;
    info!(listen = %addr, "metrics endpoint serving /metrics");
    Ok(Endpoint {
        server,
        thread: Some(thread),
        addr,
    })
}

/// Serve if `listen` is set; a failure to bind is an error (the operator asked for it).
pub fn maybe_serve(listen: &str, metrics: &Arc<Metrics>) -> Result<Option<Endpoint>, ServiceError> {
    if listen.trim().is_empty() {
        info!("metrics endpoint off ([metrics] listen is empty)");
        return Ok(None);
    }
    serve(listen, metrics.clone()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn endpoint_serves_what_was_counted() {
        let m = Metrics::new(1_000);
        m.records.inc_by(7);
        m.rejected("invalid_magic");
        m.dead_lettered.inc();
        m.consumer_lag
            .get_or_create(&PartitionLabels {
                topic: "compass.queries".into(),
                partition: 3,
            })
            .set(42);
        m.arrived("old", 999); // before `since`: not counted
        m.arrived("q1", 1_000);
        m.assigned("q1", 1_250);
        m.assigned("old", 5_000);
        let ep = serve("127.0.0.1:0", m).expect("serve");
        let body = get(ep.addr, "/metrics");
        assert!(
            body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
            "{body}"
        );
        assert!(body.contains("compass_input_records_total 7"), "{body}");
        assert!(
            body.contains("compass_rejected_records_total{reason=\"invalid_magic\"} 1"),
            "{body}"
        );
        assert!(body.contains("compass_dead_lettered_total 1"), "{body}");
        assert!(
            body.contains(
                "compass_consumer_lag_records{topic=\"compass.queries\",partition=\"3\"} 42"
            ),
            "{body}"
        );
        assert!(
            body.contains("compass_arrival_to_assignment_seconds_count 1"),
            "{body}"
        );
        assert!(
            body.contains("compass_arrival_to_assignment_seconds_sum 0.25"),
            "{body}"
        );
        assert!(body.contains("# EOF"), "{body}");
        let missing = get(ep.addr, "/other");
        assert!(missing.contains(" 404 "), "{missing}");
    }

    #[test]
    fn a_taken_port_is_a_clear_error() {
        let first = serve("127.0.0.1:0", Metrics::new(0)).expect("serve");
        let again = serve(&first.addr.to_string(), Metrics::new(0));
        let err = again.err().expect("second bind must fail").to_string();
        assert!(err.contains(&first.addr.to_string()), "{err}");
    }
}
