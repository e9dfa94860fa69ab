//! Kafka client settings: the bootstrap servers plus librdkafka properties passed through
//! verbatim (`[kafka]` in compass.toml), with Compass's defaults for each client role.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

use crate::bus::BusError;

/// Bootstrap servers and pass-through librdkafka properties. Its `Debug` output masks
/// secret values, so a settings value in a log line leaks nothing.
#[derive(Clone, PartialEq, Default)]
pub struct KafkaSettings {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    pub brokers: String,
    /// Extra librdkafka properties (security, timeouts...); they override Compass's defaults.
    pub properties: BTreeMap<String, String>,
}

/// Keys whose values must never be logged.
const SECRET_KEYS: [&str; 6] = [
    "sasl.password",
    "ssl.key.password",
    "ssl.keystore.password",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "ssl.key.pem",
];

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("properties", &self.redacted())
            .finish()
    }
}

impl KafkaSettings {
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaSettings {
            brokers: brokers.into(),
            properties: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// The properties with secret values masked, for logs.
    pub fn redacted(&self) -> BTreeMap<String, String> {
        self.properties
            .iter()
            .map(|(k, v)| {
                let secret = SECRET_KEYS.contains(&k.as_str())
                    || k.contains("secret")
                    || k.contains("password");
                (
                    k.clone(),
                    if secret {
                        "******".to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    }

    /// A client config: `defaults` first, then the user's properties on top, then checks.
    pub(crate) fn client_config(
        &self,
        defaults: &[(&str, &str)],
    ) -> Result<ClientConfig, BusError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            cfg.set(*k, *v);
        }
        for (k, v) in &self.properties {
            cfg.set(k, v);
        }
        if let Some(v) = cfg
            .get("compression.type")
            .or_else(|| cfg.get("compression.codec"))
        {
            if v.eq_ignore_ascii_case("snappy") {
                return Err(BusError::Config {
                    key: "compression.type".into(),
                    value: v.into(),
                    reason: "snappy batches break consumers on some Kafka-protocol brokers (tansu); use lz4, gzip or none"
                        .into(),
                });
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snappy_is_refused_and_user_properties_override_defaults() {
        let s = KafkaSettings::new("127.0.0.1:9092").with("compression.type", "snappy");
        assert!(matches!(s.client_config(&[]), Err(BusError::Config { .. })));
        let s = KafkaSettings::new("127.0.0.1:9092").with("linger.ms", "50");
        let cfg = s.client_config(&[("linger.ms", "5")]).expect("config");
        assert_eq!(cfg.get("linger.ms"), Some("50"));
    }

    #[test]
    fn secrets_are_redacted() {
        let s = KafkaSettings::new("b:9092")
            .with("sasl.password", "hunter2")
            .with("sasl.username", "u");
        let r = s.redacted();
        assert_eq!(r["sasl.password"], "******");
        assert_eq!(r["sasl.username"], "u");
        let shown = format!(
            "{s:?} {:#?}",
            s.clone().with("ssl.key.pem", "-----BEGIN KEY")
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("BEGIN KEY"),
            "{shown}"
        );
        assert!(shown.contains("sasl.username"), "{shown}");
    }
}
