//! A scripted OpenAI-compatible server: every request is recorded, and a closure decides the
//! reply, so tests can inject any status, header or body.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub body: Value,
    /// The Authorization header, if any.
    pub authorization: Option<String>,
}

impl Seen {
    /// `(role, content)` of each message.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap().to_string(),
                    m["content"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

/// What the script returns for a request.
pub enum Reply {
    /// 200 with this assistant text.
    Text(String),
    /// Any status with headers and a raw body.
    Raw(u16, Vec<(&'static str, String)>, String),
    /// 200 with this text, after a delay.
    Slow(std::time::Duration, String),
    /// Any status with headers and a body of raw bytes (not necessarily UTF-8).
    Bytes(u16, Vec<(&'static str, String)>, Vec<u8>),
}

type Script = dyn Fn(usize, &Value) -> Reply + Send + Sync;

struct Inner {
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

/// A running fake server.
pub struct Fake {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Fake {
    /// Starts a server on 127.0.0.1:0 whose replies come from `script(n, body)`, where `n`
    /// counts requests from 0.
    pub async fn start(script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static) -> Fake {
        let inner = Arc::new(Inner {
            seen: Mutex::new(Vec::new()),
            script: Box::new(script),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { addr, inner }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    let n = {
        let mut seen = inner.seen.lock().unwrap();
        seen.push(Seen {
            at: Instant::now(),
            body: body.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        seen.len() - 1
    };
    match (inner.script)(n, &body) {
        Reply::Text(t) => axum::Json(completion(&t)).into_response(),
        Reply::Slow(d, t) => {
            tokio::time::sleep(d).await;
            axum::Json(completion(&t)).into_response()
        }
        Reply::Bytes(status, headers, body) => {
            let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            resp
        }
        Reply::Raw(status, headers, body) => {
            let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            resp
        }
    }
}

/// A minimal successful chat completion.
pub fn completion(text: &str) -> Value {
    json!({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

/// The text of the first user message of a request.
pub fn first_user(body: &Value) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}
