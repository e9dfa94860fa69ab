//! `compass load`: an open-loop load generator against a planner on Kafka, for latency and
//! overload figures (unlike `compass worker --simulated`, it does not wait for the planner).
//!
//! It publishes a scenario's applications and fleet, then query arrivals at a fixed rate
//! (optionally ten times faster during a burst), and once `live` queries are up it retires
//! the oldest at the same rate, so the live count stays put. Meanwhile it reads the
//! assignments topic and times each arrival from its produce to its first decision record
//! (assigned or rejected) read back. Profile requests go unanswered, so searches run on what
//! the profiles topic already holds.
//!
//! Each steady-phase latency is also split at the decision record's `compass.built_at_ms`
//! header (the planner's wall clock when it built the record; the record's own timestamp and
//! `decided_at_ms` are its epoch's event time): arrival → decision (the broker's way in, the
//! epoch, planning) and decision → read back (the planner's background produce, the broker,
//! this reader's fetch). Between processes on one machine the split is as exact as the shared
//! clock (1 ms); across machines it also holds their clock offset.
//!
//! Delivery: fire and forget (records are enqueued to the producer; failures to enqueue are
//! counted, delivery failures are not seen); the assignments reader starts at the beginning
//! and expects fresh topics.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use compass_connectors::kafka::{KafkaSettings, KafkaSink, PartitionReader, Tp};
use compass_connectors::{Codec, OutboundRecord, Sink};
use compass_schemas::{Assignment, QueryEvent, QueryEventKind, QuerySpec};
use compass_testbed::sim::{Scenario, Simulation};
use serde::Serialize;

use super::{now_ms, ServiceError, Topics, HEADER_BUILT_AT};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub kafka: KafkaSettings,
    pub topics: Topics,
    pub scenario: Scenario,
    /// Arrivals per second (and departures, once `live` queries are up).
    pub rate: f64,
    pub live: usize,
    /// How long to run at the steady rate after `live` is reached.
    pub duration: Duration,
    /// A burst at ten times the rate: (seconds after the steady phase starts, length).
    pub burst: Option<(Duration, Duration)>,
    /// How long to wait for decisions still missing at the end.
    pub drain: Duration,
    /// The planner's process, to sample its resident memory.
    pub planner_pid: Option<u32>,
}

/// What a load run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub arrivals: u64,
    pub departures: u64,
    pub decided: u64,
    pub undecided: u64,
    /// Arrival → first decision, over arrivals of the steady phase (outside the burst).
    pub steady_ms: Percentiles,
    /// The steady-phase latency's part from the arrival to the planner's decision record.
    pub steady_to_decision_ms: Percentiles,
    /// Its part from the decision record to reading it back.
    pub steady_back_ms: Percentiles,
    /// Over the slowest 1% of steady-phase arrivals: mean (arrival → decision, decision →
    /// read back), ms: which side the tail sits on.
    pub steady_tail_split_ms: Option<(f64, f64)>,
    /// The same, over arrivals during the burst.
    pub burst_ms: Percentiles,
    /// From the end of the burst until every arrival before it had its decision.
    pub recovery_s: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub produce_errors: u64,
    /// Per second: arrivals produced, decisions read, the second's p99 (ms).
    pub series: Vec<(u64, u64, u64, f64)>,
    pub wall_s: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Percentiles {
            n: v.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Warmup,
    Steady,
    Burst,
}

/// Resident memory of `pid` in MB, from /proc.
fn rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

pub fn run_load(opts: &LoadOptions) -> Result<LoadReport, ServiceError> {
    let started = Instant::now();
    let mut sim =
        Simulation::new(opts.scenario.clone()).map_err(|e| ServiceError::Testbed(e.to_string()))?;
    let codec = Codec::single_object();
    let t = &opts.topics;
    let sink = KafkaSink::new(&opts.kafka)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stamp = now_ms();
    let mut setup = Vec::new();
    for app in sim.applications() {
        setup.push(
            OutboundRecord::new(&t.apps, app.app_id.clone(), codec.encode(&t.apps, &app)?)
                .at(stamp),
        );
    }
    for d in sim.initial_telemetry() {
        setup.push(
            OutboundRecord::new(
                &t.telemetry,
                d.device_id.clone(),
                codec.encode(&t.telemetry, &d)?,
            )
            .at(stamp),
        );
    }
    runtime.block_on(sink.send_all(setup))?;
    // Query specs to cycle through: the scenario's own arrivals.
    let mut specs: Vec<QuerySpec> = Vec::new();
    for w in 0..sim.windows() {
        specs.extend(sim.window_inputs(w).0.into_iter().filter_map(|q| q.spec));
    }
    if specs.is_empty() {
        return Err(ServiceError::Testbed("the scenario has no arrivals".into()));
    }

    let counts =
        PartitionReader::partition_counts(&opts.kafka, &[&t.assignments], Duration::from_secs(10))?;
    let parts: Vec<Tp> = (0..counts[t.assignments.as_str()])
        .map(|p| (t.assignments.clone(), p))
        .collect();
    let mut reader = PartitionReader::new(&opts.kafka, "compass-load", &parts)?;

    let mut report = LoadReport::default();
    // Per waiting arrival: when it was sent, its phase, its event time (the wall clock, ms).
    let mut pending: HashMap<String, (Instant, Phase, i64)> = HashMap::new();
    let mut live: VecDeque<String> = VecDeque::new();
    let (mut steady, mut burst) = (Vec::new(), Vec::new());
    // Steady arrivals' (total, arrival → decision, decision → read back), ms.
    let mut split: Vec<(f64, f64, f64)> = Vec::new();
    let mut second = (0u64, 0u64, Vec::new());
    let mut next_id = 0u64;
    let mut steady_from: Option<Instant> = None;
    let mut burst_end: Option<Instant> = None;
    let mut due = 0.0f64;
    let mut last = Instant::now();
    let mut last_second = Instant::now();
    let mut peak = 0.0f64;
    loop {
        let now = Instant::now();
        let phase = match (steady_from, opts.burst) {
            (None, _) => Phase::Warmup,
            (Some(s), Some((at, len))) if now >= s + at && now < s + at + len => Phase::Burst,
            _ => Phase::Steady,
        };
        let producing = steady_from.is_none_or(|s| now < s + opts.duration);
        if producing {
            let rate = if phase == Phase::Burst {
                opts.rate * 10.0
            } else {
                opts.rate
            };
            due += rate * (now - last).as_secs_f64();
            while due >= 1.0 {
                due -= 1.0;
                let id = format!("load-{next_id}");
                let spec = specs[next_id as usize % specs.len()].clone();
                next_id += 1;
                let ev = QueryEvent {
                    query_id: id.clone(),
                    kind: QueryEventKind::Arrive,
                    event_time_ms: now_ms(),
                    spec: Some(spec),
                };
                report.produce_errors +=
                    u64::from(send(&sink, &codec, &t.queries, &id, &ev).is_err());
                report.arrivals += 1;
                second.0 += 1;
                pending.insert(id.clone(), (Instant::now(), phase, ev.event_time_ms));
                live.push_back(id);
                if live.len() > opts.live {
                    if let Some(old) = live.pop_front() {
                        let ev = QueryEvent {
                            query_id: old.clone(),
                            kind: QueryEventKind::Depart,
                            event_time_ms: now_ms(),
                            spec: None,
                        };
                        report.produce_errors +=
                            u64::from(send(&sink, &codec, &t.queries, &old, &ev).is_err());
                        report.departures += 1;
                        pending.remove(&old);
                    }
                }
            }
            if steady_from.is_none() && live.len() >= opts.live {
                steady_from = Some(now);
            }
        }
        if let Some((at, len)) = opts.burst {
            if burst_end.is_none() && steady_from.is_some_and(|s| now >= s + at + len) {
                burst_end = Some(now);
            }
        }
        last = now;
        // Read back every decision there is now.
        while let Some(r) = reader.poll(Duration::ZERO)? {
            let Some(bytes) = r.payload.as_deref() else {
                continue;
            };
            let Ok(a) = codec.decode::<Assignment>(bytes) else {
                continue;
            };
            if let Some((t0, ph, sent_ms)) = pending.remove(&a.query_id) {
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                report.decided += 1;
                second.1 += 1;
                second.2.push(ms);
                match ph {
                    Phase::Steady => {
                        steady.push(ms);
                        let built = r
                            .header(HEADER_BUILT_AT)
                            .and_then(|b| std::str::from_utf8(b).ok()?.parse::<i64>().ok());
                        if let Some(built) = built {
                            let (to, back) = (built - sent_ms, now_ms() - built);
                            split.push((ms, to as f64, back as f64));
                        }
                    }
                    Phase::Burst => burst.push(ms),
                    Phase::Warmup => {}
                }
            }
        }
        if let (Some(end), None) = (burst_end, report.recovery_s) {
            if !pending.values().any(|(t0, _, _)| *t0 < end) {
                report.recovery_s = Some(end.elapsed().as_secs_f64());
            }
        }
        if last_second.elapsed() >= Duration::from_secs(1) {
            last_second = Instant::now();
            let p99 = Percentiles::of(std::mem::take(&mut second.2)).p99;
            report
                .series
                .push((started.elapsed().as_secs(), second.0, second.1, p99));
            if let Some(mb) = opts.planner_pid.and_then(rss_mb) {
                peak = peak.max(mb);
            }
            eprint!(
                "\r{:>5.0} s  live {:>6}  arrivals {:>7}  decided {:>7}  waiting {:>6}  p99 {:>7.0} ms   ",
                started.elapsed().as_secs_f64(),
                live.len(),
                report.arrivals,
                report.decided,
                pending.len(),
                p99
            );
            second.0 = 0;
            second.1 = 0;
        }
        let finished = steady_from.is_some_and(|s| now >= s + opts.duration);
        if finished
            && (pending.is_empty()
                || now >= steady_from.unwrap_or(now) + opts.duration + opts.drain)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!();
    sink.flush()?;
    report.undecided = pending.len() as u64;
    report.steady_ms = Percentiles::of(steady);
    report.steady_to_decision_ms = Percentiles::of(split.iter().map(|x| x.1).collect());
    report.steady_back_ms = Percentiles::of(split.iter().map(|x| x.2).collect());
    report.steady_tail_split_ms = tail_split(split);
    report.burst_ms = Percentiles::of(burst);
    report.peak_rss_mb = opts.planner_pid.map(|_| peak);
    report.wall_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Mean (arrival → decision, decision → read back) over the slowest 1% of arrivals (at least
/// one); `None` without arrivals.
fn tail_split(mut split: Vec<(f64, f64, f64)>) -> Option<(f64, f64)> {
    if split.is_empty() {
        return None;
    }
    split.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = split.len().div_ceil(100);
    let tail = &split[..n];
    let mean = |f: fn(&(f64, f64, f64)) -> f64| tail.iter().map(f).sum::<f64>() / n as f64;
    Some((mean(|x| x.1), mean(|x| x.2)))
}

/// Enqueue one query event without waiting for its delivery.
fn send(
    sink: &KafkaSink,
    codec: &Codec,
    topic: &str,
    key: &str,
    ev: &QueryEvent,
) -> Result<(), ServiceError> {
    let record = OutboundRecord::new(topic, key, codec.encode(topic, ev)?).at(now_ms());
    Ok(sink.send_and_forget(&record)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail is the slowest 1% by total latency (at least one arrival), and its split is
    /// the mean of each part over it.
    #[test]
    fn the_tail_split_averages_the_slowest_percent() {
        assert_eq!(tail_split(Vec::new()), None);
        let mut v: Vec<(f64, f64, f64)> = (0..199)
            .map(|i| (10.0 + f64::from(i) * 0.01, 8.0, 2.0))
            .collect();
        v.push((900.0, 880.0, 20.0));
        v.push((500.0, 100.0, 400.0));
        // 201 arrivals: the slowest three.
        let (a, b) = tail_split(v).expect("arrivals");
        assert!((a - (880.0 + 100.0 + 8.0) / 3.0).abs() < 1e-9, "{a}");
        assert!((b - (20.0 + 400.0 + 2.0) / 3.0).abs() < 1e-9, "{b}");
        assert_eq!(tail_split(vec![(5.0, 4.0, 1.0)]), Some((4.0, 1.0)));
    }
}
