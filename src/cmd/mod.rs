//! One module per subcommand.

pub mod bench;
pub mod consume;
pub mod demo;
pub mod load;
pub mod run;
pub mod topics;
pub mod worker;

use compass_connectors::kafka::KafkaSettings;

/// Connection options shared by every command that talks to a broker.
#[derive(clap::Args, Clone)]
pub struct BrokerArgs {
    /// Bootstrap servers.
    #[arg(
        long,
        env = "COMPASS_BROKERS",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub brokers: String,
    /// A librdkafka property, passed through verbatim (repeatable): -X security.protocol=SASL_SSL
    #[arg(short = 'X', value_parser = parse_property, global = true)]
    pub property: Vec<(String, String)>,
}

impl BrokerArgs {
    pub fn settings(&self) -> KafkaSettings {
        let mut s = KafkaSettings::new(&self.brokers);
        for (k, v) in &self.property {
            s = s.with(k, v);
        }
        s
    }
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got `{s}`")),
    }
}
