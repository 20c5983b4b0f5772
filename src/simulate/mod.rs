//! An offline OpenAI-compatible server (`POST /v1/chat/completions`) for tests, benchmarks and
//! dry runs. Candidate models answer in Japanese with a length that grows with a per-model
//! quality; judge prompts (recognised by the verdict format they ask for, see
//! [`crate::judge::verdict::recognise`]) are answered with a verdict
//! that favours the longer, better answer. Everything is deterministic for a given seed and
//! request, except for the injected faults, which are drawn per attempt. It can add latency,
//! enforce a requests-per-minute limit with 429 + `Retry-After`, fail a share of requests
//! with 500, garble a share of verdicts, and inject every other fault a provider shows (see
//! [`Fault`]). It logs the cache key of every request it answered, so tests can check that
//! nothing already answered and stored is asked for again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

mod batch;
pub mod capacity;
mod faults;
mod limits;
mod reply;

pub use faults::Fault;
use faults::{early_fault, pick_fault};
use limits::Limits;
use reply::reply;

/// How the simulator behaves.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Delay before every reply.
    pub latency: Duration,
    /// Each reply's delay is drawn up to this share above or below `latency` (0: none).
    pub latency_jitter: f64,
    /// Requests per minute before answering 429 (`None`: no limit).
    pub rpm: Option<NonZeroU32>,
    /// Tokens per minute (prompt plus `max_tokens`) before answering 429 (`None`: no limit).
    pub tpm: Option<NonZeroU32>,
    /// The window both limits are enforced over (zero: one second): a bucket holds the
    /// window's share of the minute's quota.
    pub window: Duration,
    /// Count both limits as a sliding log (at most the window's share in any window) rather
    /// than a bucket refilled evenly.
    pub sliding_window: bool,
    /// Send no `x-ratelimit-*` headers (as vLLM and llama.cpp), only 429s.
    pub no_rate_headers: bool,
    /// A self-hosted server's capacity: slots, queue, latency that grows with the batch.
    pub capacity: capacity::CapacityConfig,
    /// Share of requests answered with HTTP 500.
    pub fail_rate: f64,
    /// Share of judge replies with no readable verdict.
    pub garble_rate: f64,
    /// Share of pairwise verdicts that pick the first answer whatever it says.
    pub position_bias: f64,
    /// Quality in 0..1 of named models; others get one derived from their name.
    pub quality: HashMap<String, f64>,
    /// Seed for everything drawn.
    pub seed: u64,
    /// Faults and the share of requests each hits (drawn per attempt; shares add up).
    pub faults: Vec<(Fault, f64)>,
    /// How long a hung request waits before replying (default one hour).
    pub hang: Option<Duration>,
    /// How long a batch stays in progress before its lines are answered.
    pub batch_delay: Duration,
    /// The weights `GET /v1/models` says each named model is served from (`root`, as vLLM
    /// says it); models seen but not named are listed without, as a hosted API lists them.
    pub serves: HashMap<String, String>,
    /// How named judge models play: harsher or more lenient, more or less position-biased
    /// (others: no offset and `position_bias`).
    pub judges: HashMap<String, JudgeStyle>,
}

/// How a simulated judge plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JudgeStyle {
    /// Points added to every grade it gives, read on 1-10 (−2: harsh, +2: lenient).
    pub offset: f64,
    /// Share of its pairwise verdicts that pick the first answer whatever it says.
    pub position_bias: f64,
}

/// What the simulator has seen, for tests and the `/stats` endpoint.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered 200.
    pub ok: AtomicU64,
    /// Requests answered 429.
    pub rate_limited: AtomicU64,
    /// Tokens charged against the limits (prompt plus `max_tokens`) of requests let through.
    pub tokens_charged: AtomicU64,
    /// Prompt plus completion tokens of the replies sent (what `usage` said).
    pub tokens_used: AtomicU64,
    /// Requests failed on purpose with 500.
    pub failed: AtomicU64,
    /// Judge requests among the successful ones.
    pub judge_requests: AtomicU64,
    /// Judge replies garbled on purpose (no readable verdict).
    pub garbled: AtomicU64,
    /// Faults injected, by name.
    pub faults: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// The cache key of every request answered with a completion, in order.
    pub answered: std::sync::Mutex<Vec<String>>,
    /// Batches created.
    pub batches: AtomicU64,
    /// Lines of batches answered (or failed).
    pub batch_lines: AtomicU64,
    /// Polls of batches.
    pub batch_polls: AtomicU64,
    /// What the capacity model counts (most in flight, most served at once, 503s).
    pub capacity: capacity::CapacityStats,
}

impl SimStats {
    /// The counters as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "ok": self.ok.load(Ordering::Relaxed),
            "rate_limited": self.rate_limited.load(Ordering::Relaxed),
            "tokens_charged": self.tokens_charged.load(Ordering::Relaxed),
            "tokens_used": self.tokens_used.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "judge_requests": self.judge_requests.load(Ordering::Relaxed),
            "garbled": self.garbled.load(Ordering::Relaxed),
            "max_in_flight": self.capacity.max_in_flight.load(Ordering::Relaxed),
            "max_serving": self.capacity.max_serving.load(Ordering::Relaxed),
            "overloaded": self.capacity.overloaded.load(Ordering::Relaxed),
            "faults": *self.faults.lock().unwrap_or_else(|p| p.into_inner()),
            "answered": self.answered.lock().unwrap_or_else(|p| p.into_inner()).len(),
            "batches": self.batches.load(Ordering::Relaxed),
            "batch_lines": self.batch_lines.load(Ordering::Relaxed),
            "batch_polls": self.batch_polls.load(Ordering::Relaxed),
        })
    }
}

struct Sim {
    config: SimConfig,
    limits: Limits,
    capacity: capacity::Capacity,
    stats: Arc<SimStats>,
    counter: AtomicU64,
    /// Uploaded files and batches.
    batch_store: std::sync::Mutex<batch::Store>,
    /// Ids of files and batches.
    ids: AtomicU64,
}

/// A running simulator.
pub struct Running {
    /// Its address.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<SimStats>,
    /// Restarts it in place (see [`Restart`]).
    pub restart: Restart,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// The simulator behind a running server, replaceable while the address stays: what a
/// provider that recovered, or a server that now serves other weights, looks like to a
/// client (tests; no port is given up and taken again).
pub(crate) struct Swap(std::sync::RwLock<Arc<Sim>>);

impl Swap {
    fn get(&self) -> Arc<Sim> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A handle that restarts a running simulator in place with another configuration.
#[derive(Clone)]
pub struct Restart(Arc<Swap>);

impl Restart {
    /// Serves every later request by a new simulator of `config` (with counters of its own,
    /// returned) on the same address.
    pub fn with(&self, config: SimConfig) -> Arc<SimStats> {
        let sim = Sim::new(config);
        let stats = sim.stats.clone();
        *self.0.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(sim);
        stats
    }
}

impl Running {
    /// The base URL to give clients (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

impl Sim {
    fn new(config: SimConfig) -> Sim {
        let limits = Limits::new(
            config.rpm,
            config.tpm,
            config.window,
            config.sliding_window,
            !config.no_rate_headers,
        );
        Sim {
            capacity: capacity::Capacity::new(config.capacity.clone()),
            config,
            limits,
            stats: Arc::new(SimStats::default()),
            counter: AtomicU64::new(0),
            batch_store: Default::default(),
            ids: AtomicU64::new(0),
        }
    }
}

/// Starts a simulator on `listener` in the background.
pub fn spawn(listener: TcpListener, config: SimConfig) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let sim = Sim::new(config);
    let stats = sim.stats.clone();
    let swap = Arc::new(Swap(std::sync::RwLock::new(Arc::new(sim))));
    let restart = Restart(swap.clone());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
        .route("/v1/files", post(batch::upload))
        .route("/v1/files/{id}/content", get(batch::content))
        .route("/v1/batches", post(batch::create))
        .route("/v1/batches/{id}", get(batch::retrieve))
        .route("/stats", get(stats_handler))
        .route("/v1/models", get(models_handler))
        .with_state(swap);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        stats,
        restart,
        shutdown: tx,
        task,
    })
}

/// Binds `127.0.0.1:port` (0 for any free port) and starts a simulator.
pub async fn start(port: u16, config: SimConfig) -> std::io::Result<Running> {
    spawn(TcpListener::bind(("127.0.0.1", port)).await?, config)
}

/// `GET /v1/models`: the models named in `serves`, each with its `root`, as vLLM lists them.
async fn models_handler(State(swap): State<Arc<Swap>>) -> Json<Value> {
    let sim = swap.get();
    let mut names: Vec<&String> = sim.config.serves.keys().collect();
    names.sort();
    let data: Vec<Value> = names
        .into_iter()
        .map(|m| {
            json!({"id": m, "object": "model", "owned_by": "vllm",
                   "root": sim.config.serves[m], "parent": null})
        })
        .collect();
    Json(json!({"object": "list", "data": data}))
}

async fn stats_handler(State(swap): State<Arc<Swap>>) -> Json<Value> {
    let sim = swap.get();
    Json(sim.stats.to_json())
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "simulated"}})),
    )
        .into_response()
}

async fn chat(State(swap): State<Arc<Swap>>, body: axum::body::Bytes) -> Response {
    let sim = swap.get();
    let stats = &sim.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let draw = sim.counter.fetch_add(1, Ordering::Relaxed);
    let parsed = match parse_request(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let cost = parsed.prompt_tokens()
        + parsed.json["max_tokens"]
            .as_u64()
            .unwrap_or(0)
            .min(u32::MAX as u64) as u32;
    let verdict = sim.limits.charge(cost);
    let mut resp = match verdict.refused {
        Some(wait) => rate_limited(&sim, wait),
        None => match sim.capacity.admit(&stats.capacity).await {
            None => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server overloaded (simulated)",
            ),
            Some((_inside, extra)) => {
                stats
                    .tokens_charged
                    .fetch_add(cost as u64, Ordering::Relaxed);
                answer(&sim, draw, parsed, extra).await
            }
        },
    };
    resp.headers_mut().extend(verdict.headers);
    resp
}

/// A reply to a request the limits and the capacity let through (`extra`: the latency its
/// batch adds).
async fn answer(sim: &Sim, draw: u64, parsed: Parsed, extra: Duration) -> Response {
    let stats = &sim.stats;
    let fault = pick_fault(&sim.config, draw);
    if let Some(f) = fault {
        *stats
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(f.name())
            .or_default() += 1;
        if let Some(resp) = early_fault(&sim.config, f).await {
            return resp;
        }
    }
    if sim.config.fail_rate > 0.0
        && unit(&[&sim.config.seed.to_le_bytes(), &draw.to_le_bytes(), b"fail"])
            < sim.config.fail_rate
    {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected failure (simulated)",
        );
    }
    let prompt_tokens = parsed.prompt_tokens() as usize;
    let Parsed {
        json: req,
        model,
        messages,
    } = parsed;
    let mut latency = sim.config.latency + extra;
    if sim.config.latency_jitter > 0.0 {
        let u = unit(&[
            &sim.config.seed.to_le_bytes(),
            &draw.to_le_bytes(),
            b"latency",
        ]);
        latency = latency.mul_f64((1.0 + sim.config.latency_jitter * (2.0 * u - 1.0)).max(0.0));
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let structured = req
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "json_schema");
    let said = reply(&sim.config, &model, &messages, structured);
    if said.garbled {
        stats.garbled.fetch_add(1, Ordering::Relaxed);
    }
    let (content, finish_reason) = match late_fault(fault, said.text) {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    if said.judge {
        stats.judge_requests.fetch_add(1, Ordering::Relaxed);
    }
    stats.ok.fetch_add(1, Ordering::Relaxed);
    stats
        .answered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(request_key(&req, &messages));
    let completion_tokens = content.chars().count();
    stats.tokens_used.fetch_add(
        (prompt_tokens + completion_tokens) as u64,
        Ordering::Relaxed,
    );
    Json(json!({
        "id": format!("chatcmpl-sim-{draw}"),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens
        }
    }))
    .into_response()
}

/// A 429 with `Retry-After`, for a request over a limit until `wait` from now.
fn rate_limited(sim: &Sim, wait: Duration) -> Response {
    sim.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate limit reached (simulated)",
    );
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let headers = resp.headers_mut();
    headers.insert("retry-after", HeaderValue::from(secs));
    headers.insert(
        "retry-after-ms",
        HeaderValue::from(wait.as_millis().max(1) as u64),
    );
    resp
}

/// A chat request as the simulator reads it.
struct Parsed {
    json: Value,
    model: String,
    /// `(role, text)` of each message.
    messages: Vec<(String, String)>,
}

impl Parsed {
    /// The prompt tokens the simulator bills: a third of each message's bytes, plus four.
    fn prompt_tokens(&self) -> u32 {
        self.messages
            .iter()
            .map(|(_, c)| c.len() as u32 / 3 + 4)
            .sum()
    }
}

/// Reads a chat request; a 400 when it is not one.
fn parse_request(body: &[u8]) -> Result<Parsed, Box<Response>> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "request body is not JSON",
        )));
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "messages is required",
        )));
    };
    let messages = messages
        .iter()
        .map(|m| {
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let content = match m.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(""),
                _ => String::new(),
            };
            (role, content)
        })
        .collect();
    Ok(Parsed {
        json: req,
        model,
        messages,
    })
}

/// The faults that shape a reply that was made: a broken or empty body, a refusal, an odd or
/// a `length` finish. Returns the content and finish reason to send, or the broken response.
fn late_fault(
    fault: Option<Fault>,
    content: String,
) -> Result<(String, &'static str), Box<Response>> {
    let broken = |r: Response| Err(Box::new(r));
    match fault {
        Some(Fault::Malformed) => broken(
            (
                StatusCode::OK,
                "{\"choices\": [{\"message\": {\"content\": \"途中",
            )
                .into_response(),
        ),
        Some(Fault::EmptyChoices) => {
            broken(Json(json!({"object": "chat.completion", "choices": []})).into_response())
        }
        Some(Fault::ContentFilter) => broken(
            Json(json!({
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null},
                             "finish_reason": "content_filter"}]
            }))
            .into_response(),
        ),
        Some(Fault::UnknownFinish) => Ok((content, "eos_reached")),
        Some(Fault::Length) => {
            let half = content.chars().count() / 2;
            Ok((content.chars().take(half).collect(), "length"))
        }
        _ => Ok((content, "stop")),
    }
}

/// The response-cache key shinpan computes for this request (no sample index: the simulator
/// cannot see it), so a test can compare what was answered with what the cache holds.
fn request_key(req: &Value, messages: &[(String, String)]) -> String {
    use crate::client::{ChatRequest, Message, Role};
    let messages = messages
        .iter()
        .map(|(role, content)| Message {
            role: match role.as_str() {
                "system" => Role::System,
                "assistant" => Role::Assistant,
                _ => Role::User,
            },
            content: content.clone(),
        })
        .collect();
    crate::client::cache_key(&ChatRequest {
        model: req["model"].as_str().unwrap_or("").to_string(),
        messages,
        temperature: req["temperature"].as_f64().unwrap_or(1.0) as f32,
        max_tokens: req["max_tokens"].as_u64().unwrap_or(0) as u32,
        sample: None,
        json_schema: None,
        account: None,
    })
}

/// A deterministic draw in [0, 1) from the given parts.
fn unit(parts: &[&[u8]]) -> f64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) as f64 / (u64::MAX as f64 + 1.0)
}
