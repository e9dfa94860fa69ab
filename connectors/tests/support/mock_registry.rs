//! A Confluent-Schema-Registry-compatible HTTP server for tests. No real registry can be
//! installed on the build machines (Confluent's is Java from Maven, Karapace is not on
//! PyPI), so the registry path is tested against this: the subset of the REST API a
//! serializer uses (register under a subject, look up by id), with the registry's content
//! type and error codes. It counts requests, so tests can check the client's caching.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Method, Response, Server};

pub struct MockRegistry {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    schemas: Vec<String>,
    subjects: HashMap<String, Vec<u32>>,
}

impl MockRegistry {
    pub fn start() -> Self {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind mock registry"));
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("port");
        let requests = Arc::new(AtomicUsize::new(0));
        let (srv, count) = (server.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            let mut state = State::default();
            for mut req in srv.incoming_requests() {
                count.fetch_add(1, Ordering::SeqCst);
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let (status, json) = handle(&mut state, req.method(), req.url(), &body);
                let ct =
                    Header::from_bytes("Content-Type", "application/vnd.schemaregistry.v1+json")
                        .expect("header");
                let _ = req.respond(
                    Response::from_string(json.to_string())
                        .with_status_code(status)
                        .with_header(ct),
                );
            }
        });
        MockRegistry {
            url: format!("http://127.0.0.1:{port}"),
            requests,
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for MockRegistry {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn not_found(code: u32, message: &str) -> (u16, serde_json::Value) {
    (
        404,
        serde_json::json!({"error_code": code, "message": message}),
    )
}

fn handle(state: &mut State, method: &Method, url: &str, body: &str) -> (u16, serde_json::Value) {
    let path = url.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (Method::Post, ["subjects", subject, "versions"]) => {
            let Some(schema) = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(String::from))
            else {
                return (
                    422,
                    serde_json::json!({"error_code": 42201, "message": "Invalid schema"}),
                );
            };
            let id = match state.schemas.iter().position(|s| *s == schema) {
                Some(i) => i as u32 + 1,
                None => {
                    state.schemas.push(schema);
                    state.schemas.len() as u32
                }
            };
            let versions = state.subjects.entry(subject.to_string()).or_default();
            if !versions.contains(&id) {
                versions.push(id);
            }
            (200, serde_json::json!({"id": id}))
        }
        (Method::Get, ["schemas", "ids", id]) => match id
            .parse::<usize>()
            .ok()
            .and_then(|i| state.schemas.get(i.wrapping_sub(1)))
        {
            Some(s) => (200, serde_json::json!({"schema": s})),
            None => not_found(40403, "Schema not found"),
        },
        (Method::Get, ["subjects"]) => (
            200,
            serde_json::json!(state.subjects.keys().collect::<Vec<_>>()),
        ),
        _ => not_found(404, "Not found"),
    }
}
