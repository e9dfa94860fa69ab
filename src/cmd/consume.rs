//! `compass consume`: read a topic as a consumer group and print every record, decoded, as
//! one JSON line on stdout (Debian's kcat cannot talk to every Kafka-protocol broker, and
//! none decodes Compass's framing).
//!
//! Delivery: at-least-once. A record's offset is stored only after its line has been
//! written and stdout flushed; offsets are committed every second and on exit. After a
//! crash the records printed since the last commit are printed again.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use compass_connectors::kafka::KafkaSource;
use compass_connectors::{Codec, Source};
use compass_schemas::{
    Application, Assignment, DeviceTelemetry, ProfileRequest, ProfileSample, QueryEvent, Record,
};
use serde_json::json;

use super::BrokerArgs;
use crate::report::broker_hint;

#[derive(Clone, Copy, clap::ValueEnum)]
enum RecordType {
    Application,
    QueryEvent,
    DeviceTelemetry,
    ProfileSample,
    ProfileRequest,
    Assignment,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Topic to read.
    #[arg(long)]
    topic: String,
    /// Consumer group; offsets are committed for it.
    #[arg(long, default_value = "compass-consume")]
    group: String,
    /// Record type of the topic's values.
    #[arg(long = "type", value_enum)]
    record_type: RecordType,
    /// Stop after this many records.
    #[arg(long)]
    max: Option<u64>,
    /// Stop when no record arrives for this many milliseconds.
    #[arg(long)]
    idle_exit_ms: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.record_type {
        RecordType::Application => consume::<Application>(&args),
        RecordType::QueryEvent => consume::<QueryEvent>(&args),
        RecordType::DeviceTelemetry => consume::<DeviceTelemetry>(&args),
        RecordType::ProfileSample => consume::<ProfileSample>(&args),
        RecordType::ProfileRequest => consume::<ProfileRequest>(&args),
        RecordType::Assignment => consume::<Assignment>(&args),
    }
}

fn consume<T: Record>(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let codec = Codec::single_object();
    // The stream consumer registers with the runtime when it is created.
    let _runtime_context = runtime.enter();
    let mut source = KafkaSource::new(&args.broker.settings(), &args.group, &[&args.topic])
        .context(broker_hint(&args.broker.brokers))
        .context("cannot create the consumer")?;
    let idle = args.idle_exit_ms.map(Duration::from_millis);
    let mut count = 0u64;
    let mut stdout = std::io::stdout().lock();
    runtime.block_on(async {
        loop {
            if args.max.is_some_and(|m| count >= m) {
                break;
            }
            let next = match idle {
                Some(d) => match tokio::time::timeout(d, source.recv()).await {
                    Ok(r) => r,
                    Err(_) => break,
                },
                None => source.recv().await,
            };
            let Some(record) = next.context("reading from the broker failed")? else { break };
            let key = record.key.as_deref().map(String::from_utf8_lossy);
            let mut line = match record.payload.as_deref().map(|b| codec.decode::<T>(b)) {
                None => json!({"partition": record.partition, "offset": record.offset, "key": key, "tombstone": true}),
                Some(Ok(v)) => json!({"partition": record.partition, "offset": record.offset, "key": key, "value": v}),
                Some(Err(e)) => json!({"partition": record.partition, "offset": record.offset, "key": key,
                                       "error": e.reason(), "detail": e.to_string()}),
            };
            if !record.headers.is_empty() {
                // Header values as text (lossy): compass's own headers are decimal or names.
                let headers: serde_json::Map<String, serde_json::Value> = record
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        let v = v.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
                        (k.clone(), json!(v))
                    })
                    .collect();
                line["headers"] = serde_json::Value::Object(headers);
            }
            writeln!(stdout, "{line}").and_then(|()| stdout.flush()).context("writing to stdout failed")?;
            source.mark_processed(&record)?;
            count += 1;
        }
        anyhow::Ok(())
    })?;
    source.close().context("final offset commit failed")?;
    Ok(ExitCode::SUCCESS)
}
