//! An offline OpenAI-compatible server (`POST /v1/chat/completions`) for tests, benchmarks and
//! dry runs. Candidate models answer in Japanese with a length that grows with a per-model
//! quality; judge prompts (recognised by their verdict format) are answered with a verdict
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
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// A fault injected into a share of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 429 without `Retry-After`.
    RateLimit,
    /// HTTP 500.
    Server,
    /// HTTP 503 with `Retry-After: 1`.
    Unavailable,
    /// Headers sent, then the connection is cut mid-body.
    Reset,
    /// No reply until the client gives up (see [`SimConfig::hang`]).
    Hang,
    /// 200 with a truncated JSON body.
    Malformed,
    /// 200 with `"choices": []`.
    EmptyChoices,
    /// A normal reply with a `finish_reason` no spec names.
    UnknownFinish,
    /// The reply cut in half, `finish_reason: length`.
    Length,
    /// No content, `finish_reason: content_filter`.
    ContentFilter,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 10] = [
        Fault::RateLimit,
        Fault::Server,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Hang,
        Fault::Malformed,
        Fault::EmptyChoices,
        Fault::UnknownFinish,
        Fault::Length,
        Fault::ContentFilter,
    ];

    /// The name used by `--fault NAME=RATE`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::RateLimit => "429",
            Fault::Server => "500",
            Fault::Unavailable => "503",
            Fault::Reset => "reset",
            Fault::Hang => "hang",
            Fault::Malformed => "malformed",
            Fault::EmptyChoices => "empty",
            Fault::UnknownFinish => "unknown-finish",
            Fault::Length => "length",
            Fault::ContentFilter => "filter",
        }
    }

    /// The fault with this name.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// How the simulator behaves.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Delay before every reply.
    pub latency: Duration,
    /// Requests per minute before answering 429 (`None`: no limit).
    pub rpm: Option<NonZeroU32>,
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
    /// Requests failed on purpose with 500.
    pub failed: AtomicU64,
    /// Judge requests among the successful ones.
    pub judge_requests: AtomicU64,
    /// Faults injected, by name.
    pub faults: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// The cache key of every request answered with a completion, in order.
    pub answered: std::sync::Mutex<Vec<String>>,
}

impl SimStats {
    /// The counters as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "ok": self.ok.load(Ordering::Relaxed),
            "rate_limited": self.rate_limited.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "judge_requests": self.judge_requests.load(Ordering::Relaxed),
            "faults": *self.faults.lock().unwrap_or_else(|p| p.into_inner()),
            "answered": self.answered.lock().unwrap_or_else(|p| p.into_inner()).len(),
        })
    }
}

struct Sim {
    config: SimConfig,
    limiter: Option<DefaultDirectRateLimiter>,
    stats: Arc<SimStats>,
    counter: AtomicU64,
}

/// A running simulator.
pub struct Running {
    /// Its address.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<SimStats>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
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

/// Starts a simulator on `listener` in the background.
pub fn spawn(listener: TcpListener, config: SimConfig) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let stats = Arc::new(SimStats::default());
    let limiter = config.rpm.map(|rpm| {
        // A one-second window: providers enforce limits over short windows.
        let burst = NonZeroU32::new((rpm.get() / 60).max(1)).expect("max(1)");
        RateLimiter::direct(Quota::per_minute(rpm).allow_burst(burst))
    });
    let sim = Arc::new(Sim {
        config,
        limiter,
        stats: stats.clone(),
        counter: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
        .route("/stats", get(stats_handler))
        .with_state(sim);
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
        shutdown: tx,
        task,
    })
}

/// Binds `127.0.0.1:port` (0 for any free port) and starts a simulator.
pub async fn start(port: u16, config: SimConfig) -> std::io::Result<Running> {
    spawn(TcpListener::bind(("127.0.0.1", port)).await?, config)
}

async fn stats_handler(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(sim.stats.to_json())
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "simulated"}})),
    )
        .into_response()
}

async fn chat(State(sim): State<Arc<Sim>>, body: axum::body::Bytes) -> Response {
    let stats = &sim.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let draw = sim.counter.fetch_add(1, Ordering::Relaxed);
    if let Some(lim) = &sim.limiter
        && let Err(not_until) = lim.check()
    {
        stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        let mut headers = HeaderMap::new();
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        headers.insert("retry-after", HeaderValue::from(secs));
        headers.insert(
            "retry-after-ms",
            HeaderValue::from(wait.as_millis().max(1) as u64),
        );
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit reached (simulated)",
        );
        resp.headers_mut().extend(headers);
        return resp;
    }
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
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "request body is not JSON");
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "messages is required");
    };
    let messages: Vec<(String, String)> = messages
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
    if !sim.config.latency.is_zero() {
        tokio::time::sleep(sim.config.latency).await;
    }
    let (mut content, is_judge) = reply(&sim.config, &model, &messages);
    let mut finish_reason = "stop";
    match fault {
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                "{\"choices\": [{\"message\": {\"content\": \"途中",
            )
                .into_response();
        }
        Some(Fault::EmptyChoices) => {
            return Json(json!({"object": "chat.completion", "choices": []})).into_response();
        }
        Some(Fault::ContentFilter) => {
            return Json(json!({
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null},
                             "finish_reason": "content_filter"}]
            }))
            .into_response();
        }
        Some(Fault::UnknownFinish) => finish_reason = "eos_reached",
        Some(Fault::Length) => {
            finish_reason = "length";
            let half = content.chars().count() / 2;
            content = content.chars().take(half).collect();
        }
        _ => {}
    }
    if is_judge {
        stats.judge_requests.fetch_add(1, Ordering::Relaxed);
    }
    stats.ok.fetch_add(1, Ordering::Relaxed);
    stats
        .answered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(request_key(&req, &messages));
    let prompt_tokens: usize = messages.iter().map(|(_, c)| c.len() / 3 + 4).sum();
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
            "completion_tokens": content.chars().count(),
            "total_tokens": prompt_tokens + content.chars().count()
        }
    }))
    .into_response()
}

/// The fault drawn for one attempt, if any.
fn pick_fault(config: &SimConfig, draw: u64) -> Option<Fault> {
    if config.faults.is_empty() {
        return None;
    }
    let u = unit(&[&config.seed.to_le_bytes(), &draw.to_le_bytes(), b"fault"]);
    let mut acc = 0.0;
    for &(f, rate) in &config.faults {
        acc += rate;
        if u < acc {
            return Some(f);
        }
    }
    None
}

/// The faults that answer before the request is read.
async fn early_fault(config: &SimConfig, f: Fault) -> Option<Response> {
    match f {
        Fault::RateLimit => Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit reached (simulated, no Retry-After)",
        )),
        Fault::Server => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected failure (simulated)",
        )),
        Fault::Unavailable => {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "overloaded (simulated)");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(1u64));
            Some(r)
        }
        Fault::Reset => {
            // The status line and headers go out, then the body fails: hyper cuts the
            // connection, as a proxy dropping a long request does.
            let body = futures::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other(
                    "connection reset (simulated)",
                ))
            });
            Some(
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from_stream(body))
                    .expect("static response"),
            )
        }
        Fault::Hang => {
            tokio::time::sleep(config.hang.unwrap_or(Duration::from_secs(3600))).await;
            Some(error(StatusCode::GATEWAY_TIMEOUT, "hung (simulated)"))
        }
        _ => None,
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

const SENTENCES: &[&str] = &[
    "ご質問の要点を順に整理してお答えします。",
    "まず前提となる条件を確認しましょう。",
    "一般的には、背景を理解することが最も重要です。",
    "具体例を挙げると、身近な場面でも同じ考え方が使えます。",
    "注意すべき点は、例外的な状況があり得ることです。",
    "歴史的に見ると、この考え方は少しずつ発展してきました。",
    "数値で確かめると、結論が正しいことがわかります。",
    "別の見方をすれば、利点と欠点の両方があります。",
    "実際に試す場合は、小さな規模から始めるのがよいでしょう。",
    "以上をまとめると、状況に応じて判断することが大切です。",
    "さらに詳しく知りたい場合は、専門の資料も参考になります。",
    "最後に、要点をもう一度簡潔に確認しておきます。",
];

fn quality(config: &SimConfig, model: &str) -> f64 {
    config
        .quality
        .get(model)
        .copied()
        .unwrap_or_else(|| 0.2 + 0.7 * unit(&[&config.seed.to_le_bytes(), model.as_bytes()]))
}

/// The reply to a conversation, and whether it was a judge request.
fn reply(config: &SimConfig, model: &str, messages: &[(String, String)]) -> (String, bool) {
    let first_user = messages
        .iter()
        .find(|(r, _)| r == "user")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    let all: String = messages.iter().map(|(_, c)| c.as_str()).collect();
    let key = all.as_bytes();
    let seed = config.seed.to_le_bytes();
    let is_reask = messages.iter().filter(|(r, _)| r == "user").count() > 1
        && messages.iter().any(|(r, _)| r == "assistant");
    if first_user.contains("[評価の観点]") {
        // A rubric prompt: grade each listed aspect around the answer's overall merit.
        let aspects: Vec<&str> = first_user
            .split("[評価の観点]")
            .nth(1)
            .unwrap_or("")
            .lines()
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| l.starts_with("- "))
            .map(|l| l[2..].trim())
            .collect();
        if !is_reask && unit(&[&seed, key, b"garble"]) < config.garble_rate {
            return ("各観点ともおおむね良好です。".into(), true);
        }
        let base = single_verdict(config, first_user) as f64;
        let fields: Vec<String> = aspects
            .iter()
            .map(|a| {
                let jitter = (unit(&[&seed, key, a.as_bytes()]) * 3.0).floor() - 1.0;
                format!("\"{a}\": {}", (base + jitter).clamp(1.0, 10.0))
            })
            .collect();
        let json = format!("{{{}}}", fields.join(", "));
        let text = if is_reask {
            json
        } else {
            format!("各観点について検討しました。\n\n```json\n{json}\n```")
        };
        return (text, true);
    }
    if first_user.contains("[[A]]") {
        let choice = pair_verdict(config, first_user);
        if !is_reask && unit(&[&seed, key, b"garble"]) < config.garble_rate {
            return (
                "どちらの回答にも長所があり、判断が難しいところです。".into(),
                true,
            );
        }
        let text = if is_reask {
            format!("[[{choice}]]")
        } else {
            format!(
                "両方の回答を比較しました。内容の正確さと詳しさを考慮すると、最終判定は次のとおりです。\n\n[[{choice}]]"
            )
        };
        return (text, true);
    }
    if first_user.contains("[[評価]]") || first_user.contains("[[rating]]") {
        let score = single_verdict(config, first_user);
        if !is_reask && unit(&[&seed, key, b"garble"]) < config.garble_rate {
            return (
                "この回答はおおむね良いと思います。評価は高めです。".into(),
                true,
            );
        }
        let text = if is_reask {
            format!("[[{score}]]")
        } else {
            format!("回答は質問に答えており、説明の詳しさも考慮しました。\n\n評価: [[{score}]]")
        };
        return (text, true);
    }
    // A candidate answer: longer and richer for better models.
    let q = quality(config, model);
    let n = 1 + (q * 9.0).round() as usize;
    let mut out = String::new();
    for i in 0..n {
        let pick = (unit(&[&seed, model.as_bytes(), key, &i.to_le_bytes()])
            * SENTENCES.len() as f64) as usize;
        out.push_str(SENTENCES[pick.min(SENTENCES.len() - 1)]);
    }
    (out, false)
}

/// Text between the first `start` marker and the next `end` marker after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let s = text.find(start)? + start.len();
    let e = text[s..].find(end)? + s;
    Some(&text[s..e])
}

/// How good an answer looks to the simulated judge: its sentence count, plus noise.
fn merit(config: &SimConfig, answer: &str) -> f64 {
    let sentences = answer.matches('。').count() + answer.matches(". ").count();
    sentences as f64 + 1.5 * (unit(&[&config.seed.to_le_bytes(), answer.as_bytes()]) - 0.5)
}

/// The judged answer of a single-mode prompt: the fenced answer, or the last assistant turn
/// of a multi-turn conversation.
fn judged_answer(prompt: &str) -> &str {
    if let Some(a) = between(
        prompt,
        "[アシスタントの回答の開始]",
        "[アシスタントの回答の終了]",
    ) {
        return a;
    }
    if let Some(conv) = between(
        prompt,
        "<|アシスタントとの会話の開始|>",
        "<|アシスタントとの会話の終了|>",
    ) && let Some(pos) = conv.rfind("### アシスタント:")
    {
        return &conv[pos..];
    }
    prompt
}

fn single_verdict(config: &SimConfig, prompt: &str) -> u32 {
    let m = merit(config, judged_answer(prompt));
    (1.0 + m * 0.9).round().clamp(1.0, 10.0) as u32
}

fn pair_answers(prompt: &str) -> Option<(&str, &str)> {
    let a = between(
        prompt,
        "[アシスタントAの回答の開始]",
        "[アシスタントAの回答の終了]",
    )
    .or_else(|| {
        between(
            prompt,
            "<|アシスタントAとの会話の開始|>",
            "<|アシスタントAとの会話の終了|>",
        )
    })?;
    let b = between(
        prompt,
        "[アシスタントBの回答の開始]",
        "[アシスタントBの回答の終了]",
    )
    .or_else(|| {
        between(
            prompt,
            "<|アシスタントBとの会話の開始|>",
            "<|アシスタントBとの会話の終了|>",
        )
    })?;
    Some((a, b))
}

fn pair_verdict(config: &SimConfig, prompt: &str) -> char {
    let seed = config.seed.to_le_bytes();
    if unit(&[&seed, prompt.as_bytes(), b"position"]) < config.position_bias {
        return 'A';
    }
    let Some((a, b)) = pair_answers(prompt) else {
        let x = unit(&[&seed, prompt.as_bytes()]);
        return if x < 0.4 {
            'A'
        } else if x < 0.8 {
            'B'
        } else {
            'C'
        };
    };
    let d = merit(config, a) - merit(config, b);
    if d > 0.75 {
        'A'
    } else if d < -0.75 {
        'B'
    } else {
        'C'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn better_models_write_longer_answers_and_win() {
        let mut config = SimConfig::default();
        config.quality.insert("good".into(), 0.9);
        config.quality.insert("weak".into(), 0.1);
        let msgs = vec![("user".to_string(), "日本の首都は？".to_string())];
        let (good, j) = reply(&config, "good", &msgs);
        let (weak, _) = reply(&config, "weak", &msgs);
        assert!(!j && good.chars().count() > weak.chars().count());
        let prompt = format!(
            "[[A]] [アシスタントAの回答の開始]{good}[アシスタントAの回答の終了][アシスタントBの回答の開始]{weak}[アシスタントBの回答の終了]"
        );
        assert_eq!(pair_verdict(&config, &prompt), 'A');
    }
}
