//! The simulator's Batch API: `POST /v1/files` (a multipart upload, purpose `batch`),
//! `GET /v1/files/{id}/content`, `POST /v1/batches` and `GET /v1/batches/{id}`, as OpenAI
//! serves them. A batch is `in_progress` for the configured delay, then every line is answered
//! as the chat endpoint would answer it (faults and failure rates included, so some lines can
//! fail) and the batch is `completed`, with an output file of the lines answered and an error
//! file of those that failed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Swap;
use super::{Sim, answer, error, parse_request};

/// Files and batches held.
#[derive(Default)]
pub(super) struct Store {
    files: HashMap<String, Vec<u8>>,
    batches: HashMap<String, Value>,
}

impl Sim {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.batch_store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}-sim-{}", self.ids.fetch_add(1, Ordering::Relaxed))
    }
}

pub(super) async fn upload(State(swap): State<Arc<Swap>>, mut form: Multipart) -> Response {
    let sim = swap.get();
    let (mut purpose, mut content, mut name) = (None, None, String::new());
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let field_name = field.name().unwrap_or("").to_string();
                if let Some(f) = field.file_name() {
                    name = f.to_string();
                }
                let Ok(bytes) = field.bytes().await else {
                    return error(StatusCode::BAD_REQUEST, "unreadable multipart field");
                };
                match field_name.as_str() {
                    "purpose" => purpose = Some(String::from_utf8_lossy(&bytes).to_string()),
                    "file" => content = Some(bytes.to_vec()),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad multipart body: {e}")),
        }
    }
    let (Some(purpose), Some(content)) = (purpose, content) else {
        return error(StatusCode::BAD_REQUEST, "purpose and file are required");
    };
    let id = sim.next_id("file");
    let bytes = content.len();
    sim.store().files.insert(id.clone(), content);
    Json(json!({
        "id": id, "object": "file", "bytes": bytes, "created_at": 0,
        "filename": name, "purpose": purpose,
    }))
    .into_response()
}

pub(super) async fn content(State(swap): State<Arc<Swap>>, Path(id): Path<String>) -> Response {
    let sim = swap.get();
    match sim.store().files.get(&id) {
        Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no such file: {id}")),
    }
}

pub(super) async fn create(State(swap): State<Arc<Swap>>, Json(req): Json<Value>) -> Response {
    let sim = swap.get();
    let file = req["input_file_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(input) = sim.store().files.get(&file).cloned() else {
        return error(StatusCode::BAD_REQUEST, &format!("no such file: {file}"));
    };
    if req["endpoint"] != "/v1/chat/completions" {
        return error(
            StatusCode::BAD_REQUEST,
            "endpoint must be /v1/chat/completions",
        );
    }
    let id = sim.next_id("batch");
    let lines = String::from_utf8_lossy(&input)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let batch = json!({
        "id": id, "object": "batch", "endpoint": "/v1/chat/completions",
        "input_file_id": file, "completion_window": req["completion_window"],
        "status": "in_progress", "output_file_id": null, "error_file_id": null,
        "created_at": 0, "request_counts": {"total": lines, "completed": 0, "failed": 0},
        "metadata": req["metadata"],
    });
    sim.store().batches.insert(id.clone(), batch.clone());
    sim.stats.batches.fetch_add(1, Ordering::Relaxed);
    let runner = sim.clone();
    tokio::spawn(async move { run(runner, id, input).await });
    Json(batch).into_response()
}

pub(super) async fn retrieve(State(swap): State<Arc<Swap>>, Path(id): Path<String>) -> Response {
    let sim = swap.get();
    sim.stats.batch_polls.fetch_add(1, Ordering::Relaxed);
    match sim.store().batches.get(&id) {
        Some(b) => Json(b.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no such batch: {id}")),
    }
}

/// Answers every line of a batch after the delay, and completes it.
async fn run(sim: Arc<Sim>, id: String, input: Vec<u8>) {
    tokio::time::sleep(sim.config.batch_delay).await;
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let (mut completed, mut failed) = (0u64, 0u64);
    for line in String::from_utf8_lossy(&input).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let custom_id = v["custom_id"].clone();
        sim.stats.requests.fetch_add(1, Ordering::Relaxed);
        sim.stats.batch_lines.fetch_add(1, Ordering::Relaxed);
        let draw = sim.counter.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&v["body"]).unwrap_or_default();
        let resp = match parse_request(&body) {
            // A batch is a hosted provider's: no capacity model.
            Ok(parsed) => answer(&sim, draw, parsed, Duration::ZERO).await,
            Err(resp) => *resp,
        };
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"error": {"message": "malformed reply (simulated)"}}));
        let ok = status == 200 && body.get("choices").is_some();
        let record = json!({
            "id": format!("batch_req-{draw}"), "custom_id": custom_id,
            "response": {"status_code": if ok { 200 } else { status.max(500) },
                         "request_id": format!("req-{draw}"), "body": body},
            "error": null,
        });
        let mut l = serde_json::to_vec(&record).unwrap_or_default();
        l.push(b'\n');
        if ok {
            completed += 1;
            out.extend(l);
        } else {
            failed += 1;
            errors.extend(l);
        }
    }
    let mut store = sim.store();
    let out_id = (!out.is_empty()).then(|| sim.next_id("file"));
    let err_id = (!errors.is_empty()).then(|| sim.next_id("file"));
    if let Some(f) = &out_id {
        store.files.insert(f.clone(), out);
    }
    if let Some(f) = &err_id {
        store.files.insert(f.clone(), errors);
    }
    if let Some(b) = store.batches.get_mut(&id) {
        b["status"] = json!("completed");
        b["output_file_id"] = json!(out_id);
        b["error_file_id"] = json!(err_id);
        b["request_counts"]["completed"] = json!(completed);
        b["request_counts"]["failed"] = json!(failed);
    }
}
