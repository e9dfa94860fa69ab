//! The topic catalogue (`topics/catalogue.toml`, compiled in) and its provisioning and
//! verification against a broker with the Kafka AdminClient.
//!
//! `create` is idempotent: existing topics are left alone (and then checked). `check`
//! reports drift — a missing topic, fewer partitions than catalogued, a different cleanup
//! policy — as a list, so the command can print all of it and exit non-zero.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::FromClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use serde::Deserialize;

use crate::bus::BusError;
use crate::kafka::KafkaSettings;

/// The catalogue shipped with Compass.
pub const BUILTIN_CATALOGUE: &str = include_str!("../../topics/catalogue.toml");

/// The default prefix of every topic name.
pub const DEFAULT_PREFIX: &str = "compass.";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupPolicy {
    Compact,
    Delete,
}

impl CleanupPolicy {
    pub fn as_str(&self) -> &'static str {
        match self {
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::Delete => "delete",
        }
    }
}

/// One catalogued topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub key: String,
    pub value: String,
    pub partitions: i32,
    pub cleanup_policy: CleanupPolicy,
    pub retention_ms: i64,
}

/// The catalogue, with the prefix applied to its names.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    pub prefix: String,
    pub topics: Vec<TopicSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    topic: Vec<TopicSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the topic catalogue does not parse: {0}")]
    Parse(String),
    #[error("topic `{name}`: {reason}")]
    Invalid { name: String, reason: String },
    #[error("topic `{0}` is not in the catalogue")]
    Unknown(String),
}

impl Catalogue {
    /// Parse a catalogue file's text.
    pub fn parse(text: &str, prefix: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile =
            toml::from_str(text).map_err(|e| CatalogueError::Parse(e.to_string()))?;
        for t in &file.topic {
            if t.partitions < 1 {
                return Err(CatalogueError::Invalid {
                    name: t.name.clone(),
                    reason: "partitions must be >= 1".into(),
                });
            }
            if t.name.is_empty()
                || !t
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(CatalogueError::Invalid {
                    name: t.name.clone(),
                    reason: "names use letters, digits, '.', '_' and '-'".into(),
                });
            }
        }
        Ok(Catalogue {
            prefix: prefix.to_string(),
            topics: file.topic,
        })
    }

    /// The catalogue shipped with Compass under `prefix`.
    pub fn builtin(prefix: &str) -> Self {
        // Compiled in and covered by tests: a parse failure is a build defect.
        Self::parse(BUILTIN_CATALOGUE, prefix)
            .unwrap_or_else(|e| panic!("topics/catalogue.toml: {e}"))
    }

    /// The full topic name of catalogue entry `name` (e.g. `queries` -> `compass.queries`).
    pub fn topic(&self, name: &str) -> Result<String, CatalogueError> {
        self.topics
            .iter()
            .find(|t| t.name == name)
            .map(|t| self.full_name(t))
            .ok_or_else(|| CatalogueError::Unknown(name.to_string()))
    }

    pub fn full_name(&self, t: &TopicSpec) -> String {
        format!("{}{}", self.prefix, t.name)
    }
}

/// One way a broker's topics differ from the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    Missing {
        topic: String,
    },
    FewerPartitions {
        topic: String,
        expected: i32,
        found: i32,
    },
    CleanupPolicy {
        topic: String,
        expected: String,
        found: String,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Missing { topic } => write!(f, "{topic}: missing (run `compass topics create`)"),
            Drift::FewerPartitions {
                topic,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{topic}: {found} partitions, the catalogue asks for {expected}"
                )
            }
            Drift::CleanupPolicy {
                topic,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{topic}: cleanup.policy is `{found}`, the catalogue asks for `{expected}`"
                )
            }
        }
    }
}

/// What `check` found for one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicState {
    pub topic: String,
    pub partitions: Option<i32>,
    /// `None` when the broker did not report the topic's configuration.
    pub cleanup_policy: Option<String>,
}

/// Provisions and verifies the catalogue on one broker.
pub struct TopicAdmin {
    admin: AdminClient<DefaultClientContext>,
    settings: KafkaSettings,
    timeout: Duration,
}

impl TopicAdmin {
    pub fn new(settings: &KafkaSettings) -> Result<Self, BusError> {
        let cfg = settings.client_config(&[])?;
        let admin = AdminClient::from_config(&cfg)?;
        Ok(TopicAdmin {
            admin,
            settings: settings.clone(),
            timeout: Duration::from_secs(15),
        })
    }

    /// Create every missing topic. Returns the names created (existing ones are skipped).
    pub async fn create(
        &self,
        catalogue: &Catalogue,
        replication: i32,
    ) -> Result<Vec<String>, BusError> {
        let names: Vec<String> = catalogue
            .topics
            .iter()
            .map(|t| catalogue.full_name(t))
            .collect();
        let retention: Vec<String> = catalogue
            .topics
            .iter()
            .map(|t| t.retention_ms.to_string())
            .collect();
        let new_topics: Vec<NewTopic<'_>> = catalogue
            .topics
            .iter()
            .zip(names.iter().zip(retention.iter()))
            .map(|(t, (name, retention))| {
                NewTopic::new(name, t.partitions, TopicReplication::Fixed(replication))
                    .set("cleanup.policy", t.cleanup_policy.as_str())
                    .set("retention.ms", retention)
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(self.timeout));
        let results = self.admin.create_topics(new_topics.iter(), &opts).await?;
        let mut created = Vec::new();
        for r in results {
            match r {
                Ok(name) => created.push(name),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BusError::Kafka(rdkafka::error::KafkaError::AdminOp(code)))
                        .inspect_err(
                            |_| tracing::error!(topic = %name, %code, "topic creation failed"),
                        );
                }
            }
        }
        Ok(created)
    }

    /// Compare the broker's topics with the catalogue.
    pub async fn check(
        &self,
        catalogue: &Catalogue,
    ) -> Result<(Vec<TopicState>, Vec<Drift>), BusError> {
        let partitions = self.partition_counts()?;
        let mut states = Vec::new();
        let mut drift = Vec::new();
        for t in &catalogue.topics {
            let name = catalogue.full_name(t);
            let Some(&found) = partitions.get(&name) else {
                drift.push(Drift::Missing {
                    topic: name.clone(),
                });
                states.push(TopicState {
                    topic: name,
                    partitions: None,
                    cleanup_policy: None,
                });
                continue;
            };
            if found < t.partitions {
                drift.push(Drift::FewerPartitions {
                    topic: name.clone(),
                    expected: t.partitions,
                    found,
                });
            }
            let policy = self.cleanup_policy(&name).await?;
            if let Some(p) = &policy {
                if p != t.cleanup_policy.as_str() {
                    drift.push(Drift::CleanupPolicy {
                        topic: name.clone(),
                        expected: t.cleanup_policy.as_str().into(),
                        found: p.clone(),
                    });
                }
            }
            states.push(TopicState {
                topic: name,
                partitions: Some(found),
                cleanup_policy: policy,
            });
        }
        Ok((states, drift))
    }

    fn partition_counts(&self) -> Result<HashMap<String, i32>, BusError> {
        // Metadata through a short-lived consumer: the AdminClient has no metadata call.
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer = self.settings.client_config(&[])?.create()?;
        let md = consumer.fetch_metadata(None, self.timeout)?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect())
    }

    async fn cleanup_policy(&self, topic: &str) -> Result<Option<String>, BusError> {
        let opts = AdminOptions::new().request_timeout(Some(self.timeout));
        let results = self
            .admin
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &opts)
            .await?;
        Ok(results
            .into_iter()
            .filter_map(Result::ok)
            .flat_map(|r| r.entries.into_iter())
            .find(|e| e.name == "cleanup.policy")
            .and_then(|e| e.value))
    }

    /// Delete topics (tests use this to clean up after themselves).
    pub async fn delete(&self, topics: &[&str]) -> Result<(), BusError> {
        let opts = AdminOptions::new().operation_timeout(Some(self.timeout));
        for r in self.admin.delete_topics(topics, &opts).await? {
            if let Err((name, code)) = r {
                if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                    tracing::warn!(topic = %name, %code, "topic deletion failed");
                }
            }
        }
        Ok(())
    }

    /// Create ad-hoc topics (tests, tools): name and partition count, delete policy.
    pub async fn create_plain(&self, topics: &[(&str, i32)]) -> Result<(), BusError> {
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(self.timeout));
        for r in self.admin.create_topics(new_topics.iter(), &opts).await? {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(BusError::Kafka(rdkafka::error::KafkaError::AdminOp(code)))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_names_every_record_type_and_the_dlq() {
        let c = Catalogue::builtin("compass.");
        let values: Vec<&str> = c.topics.iter().map(|t| t.value.as_str()).collect();
        for kind in compass_schemas::RecordKind::ALL {
            let short = kind.full_name().rsplit('.').next().unwrap_or_default();
            assert!(values.contains(&short), "no topic carries {short}");
        }
        assert_eq!(c.topic("dlq").expect("dlq"), "compass.dlq");
        assert_eq!(
            Catalogue::builtin("acme.").topic("queries").expect("q"),
            "acme.queries"
        );
    }

    #[test]
    fn bad_catalogues_are_reported() {
        let bad = "[[topic]]\nname='x'\nkey='k'\nvalue='v'\npartitions=0\ncleanup_policy='delete'\nretention_ms=1\n";
        assert!(matches!(
            Catalogue::parse(bad, ""),
            Err(CatalogueError::Invalid { .. })
        ));
        let bad = "[[topic]]\nname='x'\nkey='k'\nvalue='v'\npartitions=1\ncleanup_policy='shred'\nretention_ms=1\n";
        assert!(matches!(
            Catalogue::parse(bad, ""),
            Err(CatalogueError::Parse(_))
        ));
    }
}
