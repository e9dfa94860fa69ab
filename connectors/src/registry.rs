//! A client of the Confluent Schema Registry REST API (the subset a serializer needs):
//! register a schema under a subject, and fetch a schema by id. Both answers are cached for
//! the life of the process, so the registry is asked once per schema, not once per record.
//!
//! Blocking (ureq) on purpose: it is called from the codec, which runs inside timely workers
//! and tokio tasks alike, and after the first call per schema it never touches the network.
//! Plain HTTP only for now; TLS to the registry is future work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::Schema;
use serde::Deserialize;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach the schema registry at {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("schema registry answered {status} for {url}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("not in the schema registry: {what}")]
    NotFound { what: String },
    #[error("the registry returned a schema that does not parse: {0}")]
    InvalidSchema(String),
    #[error("unexpected answer from the schema registry: {0}")]
    BadResponse(String),
}

/// A caching client of one schema registry.
pub struct RegistryClient {
    base: String,
    agent: ureq::Agent,
    ids: Mutex<HashMap<(String, String), u32>>,
    schemas: Mutex<HashMap<u32, Arc<Schema>>>,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
}

impl RegistryClient {
    /// `base_url` such as `http://127.0.0.1:8081` (no trailing slash needed).
    pub fn new(base_url: &str) -> Self {
        RegistryClient {
            base: base_url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
            ids: Mutex::new(HashMap::new()),
            schemas: Mutex::new(HashMap::new()),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Register `schema` under `subject` (idempotent on the registry's side) and return its id.
    pub fn register(&self, subject: &str, schema: &Schema) -> Result<u32, RegistryError> {
        let text =
            serde_json::to_string(schema).map_err(|e| RegistryError::BadResponse(e.to_string()))?;
        let key = (subject.to_string(), text.clone());
        if let Some(id) = lock(&self.ids).get(&key) {
            return Ok(*id);
        }
        let url = format!("{}/subjects/{}/versions", self.base, subject);
        let body = serde_json::json!({ "schema": text });
        let answer: IdAnswer = self.call(
            self.agent.post(&url).set("Content-Type", CONTENT_TYPE),
            &url,
            Some(body),
        )?;
        lock(&self.ids).insert(key, answer.id);
        lock(&self.schemas)
            .entry(answer.id)
            .or_insert_with(|| Arc::new(schema.clone()));
        Ok(answer.id)
    }

    /// The schema with this id.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(s) = lock(&self.schemas).get(&id) {
            return Ok(s.clone());
        }
        let url = format!("{}/schemas/ids/{}", self.base, id);
        let answer: SchemaAnswer = self.call(self.agent.get(&url), &url, None)?;
        if let Some(t) = answer.schema_type.as_deref() {
            if t != "AVRO" {
                return Err(RegistryError::InvalidSchema(format!(
                    "schema {id} is {t}, not AVRO"
                )));
            }
        }
        let schema = Arc::new(
            Schema::parse_str(&answer.schema)
                .map_err(|e| RegistryError::InvalidSchema(e.to_string()))?,
        );
        lock(&self.schemas).insert(id, schema.clone());
        Ok(schema)
    }

    fn call<T: serde::de::DeserializeOwned>(
        &self,
        req: ureq::Request,
        url: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, RegistryError> {
        let req = req.set("Accept", CONTENT_TYPE);
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match result {
            Ok(resp) => resp
                .into_json::<T>()
                .map_err(|e| RegistryError::BadResponse(e.to_string())),
            Err(ureq::Error::Status(404, resp)) => Err(RegistryError::NotFound {
                what: format!("{url}: {}", resp.into_string().unwrap_or_default()),
            }),
            Err(ureq::Error::Status(status, resp)) => Err(RegistryError::Http {
                url: url.to_string(),
                status,
                body: resp.into_string().unwrap_or_default(),
            }),
            Err(ureq::Error::Transport(t)) => Err(RegistryError::Transport {
                url: url.to_string(),
                detail: t.to_string(),
            }),
        }
    }
}

/// A poisoned cache lock only means another thread panicked mid-insert of a complete entry;
/// the map is still consistent, so keep using it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
