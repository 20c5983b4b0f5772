//! The OpenAI Batch API (`--batch`): requests are gathered, written as a JSONL file, uploaded
//! (`POST /files`, purpose `batch`), run as one batch (`POST /batches`), polled with backoff
//! (`GET /batches/{id}`) and their results downloaded (`GET /files/{id}/content`) and handed
//! back to the callers that asked, so the pipeline above sees an ordinary, slow, chat call:
//! the same cache, ledger and writers. Batched tokens cost a share of the price (OpenAI: half).
//!
//! A line's `custom_id` is the request's cache key, which a later run computes again for the
//! same request. Every batch is written down in the run directory (`OUT/batches/<endpoint>/`)
//! before anything waits on it: its input file, a `created` event with its id, and when it
//! ends a `done` event with its output and error files, downloaded there. So a run stopped
//! while a batch is pending (Ctrl-C, a kill, a reboot) finds it again when restarted, waits on
//! it instead of sending its requests again, and results already downloaded are never asked
//! for twice: they were paid for.
//!
//! Lines that failed (an error status, or missing from an expired or cancelled batch) are sent
//! again in a new batch, up to the retry policy's attempts; a batch the provider refused whole
//! (`failed`: its file did not validate) fails its requests with the provider's reason.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::wire::{error_message, parse_response};
use super::{ChatResponse, ClientError, describe};

/// Most lines in one batch (OpenAI's limit).
pub const MAX_LINES: usize = 50_000;
/// The longest wait between two polls of a batch.
const MAX_POLL: Duration = Duration::from_secs(60);
/// Attempts at each control call (upload, create, poll, download) on transient errors.
const CONTROL_ATTEMPTS: u32 = 6;

/// How a client batches its requests.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Where its batches are written down (`OUT/batches/<endpoint>`).
    pub dir: PathBuf,
    /// The first wait between polls; it grows by half each poll, to a minute at most.
    pub poll: Duration,
    /// Requests arriving within this of each other go in one batch.
    pub gather: Duration,
}

type Waiter = oneshot::Sender<Result<ChatResponse, ClientError>>;

/// A batch submitted and not finished.
struct Pending {
    id: String,
    /// Its number in the directory (`N.input.jsonl`).
    seq: usize,
    /// Its lines' request bodies, by key (to send again the lines that fail).
    bodies: HashMap<String, Value>,
    next_poll: Instant,
    interval: Duration,
}

#[derive(Default)]
struct State {
    loaded: bool,
    /// Requests gathered for the next batch.
    queue: Vec<(String, Value)>,
    queued: HashSet<String>,
    last_queued: Option<Instant>,
    /// Callers waiting, by key.
    waiters: HashMap<String, Vec<Waiter>>,
    /// Results downloaded in this or an earlier run of the directory, by key.
    results: HashMap<String, ChatResponse>,
    pending: Vec<Pending>,
    pending_keys: HashSet<String>,
    /// Batches a key has been sent in.
    attempts: HashMap<String, u32>,
    /// The next batch's number.
    seq: usize,
    worker: bool,
}

/// The batching side of a client.
pub(super) struct Batcher {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
    max_attempts: u32,
    opts: BatchOptions,
    state: Mutex<State>,
    wake: Notify,
}

fn now_secs() -> f64 {
    crate::util::unix_now()
}

impl Batcher {
    pub(super) fn new(
        base_url: &str,
        key: Option<String>,
        timeout: Duration,
        max_attempts: u32,
        opts: BatchOptions,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            key,
            http,
            timeout,
            max_attempts: max_attempts.max(1),
            opts,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for one completion through a batch: the result of an earlier batch if one is
    /// held, else a place in a pending batch that holds the same request, else a line of
    /// the next batch.
    pub(super) async fn chat(
        self: &Arc<Self>,
        key: String,
        body: Value,
    ) -> Result<ChatResponse, ClientError> {
        let rx = {
            let mut st = self.state();
            if !st.loaded {
                self.load(&mut st)?;
            }
            if let Some(r) = st.results.get(&key) {
                return Ok(r.clone());
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.entry(key.clone()).or_default().push(tx);
            if !st.pending_keys.contains(&key) && st.queued.insert(key.clone()) {
                st.queue.push((key, body));
                st.last_queued = Some(Instant::now());
            }
            if !st.worker {
                st.worker = true;
                let me = self.clone();
                tokio::spawn(async move { me.work().await });
            }
            rx
        };
        self.wake.notify_one();
        rx.await
            .unwrap_or_else(|_| Err(ClientError::Config("the batch worker stopped".into())))
    }

    fn journal(&self) -> PathBuf {
        self.opts.dir.join("batches.jsonl")
    }

    fn file(&self, seq: usize, what: &str) -> PathBuf {
        self.opts.dir.join(format!("{seq}.{what}.jsonl"))
    }

    fn record(&self, event: Value) -> Result<(), ClientError> {
        let path = self.journal();
        let io = |e: std::io::Error| ClientError::Config(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(&self.opts.dir).map_err(io)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let mut line = serde_json::to_vec(&event).expect("JSON");
        line.push(b'\n');
        f.write_all(&line).map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// Reads what earlier runs of the directory left: results of finished batches, and
    /// batches still pending (to be polled, not sent again).
    fn load(&self, st: &mut State) -> Result<(), ClientError> {
        st.loaded = true;
        let path = self.journal();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ClientError::Config(format!("{}: {e}", path.display()))),
        };
        let mut created: Vec<(String, usize)> = Vec::new();
        let mut done: HashSet<String> = HashSet::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // A torn last line (a kill while writing) is dropped.
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let id = v["batch"].as_str().unwrap_or_default().to_string();
            let seq = v["seq"].as_u64().unwrap_or(0) as usize;
            st.seq = st.seq.max(seq + 1);
            match v["event"].as_str() {
                Some("created") => created.push((id, seq)),
                Some("done") => {
                    done.insert(id);
                    for (key, result) in read_results(&self.file(seq, "output")) {
                        if let Ok(r) = result {
                            st.results.insert(key, r);
                        }
                    }
                }
                _ => {}
            }
        }
        for (id, seq) in created.into_iter().filter(|(id, _)| !done.contains(id)) {
            let bodies = read_bodies(&self.file(seq, "input"));
            st.pending_keys.extend(bodies.keys().cloned());
            st.pending.push(Pending {
                id,
                seq,
                bodies,
                next_poll: Instant::now(),
                interval: self.opts.poll,
            });
        }
        Ok(())
    }

    /// Submits gathered requests and polls pending batches until nothing is left to do.
    async fn work(self: Arc<Self>) {
        loop {
            let wake = self.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let (batch, next) = {
                let mut st = self.state();
                let quiet = st
                    .last_queued
                    .is_some_and(|t| t.elapsed() >= self.opts.gather);
                let batch =
                    (!st.queue.is_empty() && (quiet || st.queue.len() >= MAX_LINES)).then(|| {
                        let n = st.queue.len().min(MAX_LINES);
                        let lines: Vec<(String, Value)> = st.queue.drain(..n).collect();
                        for (k, _) in &lines {
                            st.queued.remove(k);
                        }
                        lines
                    });
                if batch.is_none() && st.queue.is_empty() && st.pending.is_empty() {
                    st.worker = false;
                    return;
                }
                let mut next: Option<Instant> = st.pending.iter().map(|p| p.next_poll).min();
                if let Some(t) = st.last_queued.filter(|_| !st.queue.is_empty()) {
                    let due = t + self.opts.gather;
                    next = Some(next.map_or(due, |n| n.min(due)));
                }
                (batch, next)
            };
            if let Some(lines) = batch {
                self.submit(lines).await;
                continue;
            }
            self.poll_due().await;
            if let Some(at) = next {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = &mut wake => {}
                }
            } else {
                wake.await;
            }
        }
    }

    /// Writes, uploads and creates one batch; its callers fail if that cannot be done.
    async fn submit(&self, lines: Vec<(String, Value)>) {
        let seq = {
            let mut st = self.state();
            for (k, _) in &lines {
                *st.attempts.entry(k.clone()).or_default() += 1;
            }
            st.seq += 1;
            st.seq - 1
        };
        let mut bytes = Vec::new();
        for (key, body) in &lines {
            let line = json!({
                "custom_id": key,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            });
            serde_json::to_writer(&mut bytes, &line).expect("JSON");
            bytes.push(b'\n');
        }
        let input = self.file(seq, "input");
        let created = async {
            std::fs::create_dir_all(&self.opts.dir)
                .and_then(|_| crate::store::write_atomic(&input, &bytes))
                .map_err(|e| ClientError::Config(format!("{}: {e}", input.display())))?;
            let file = self.upload(&input, bytes.clone()).await?;
            let batch = self.create(&file).await?;
            let id = batch["id"]
                .as_str()
                .ok_or_else(|| ClientError::Malformed("a batch without an id".into()))?
                .to_string();
            self.record(json!({
                "event": "created", "batch": id, "seq": seq, "input_file": file,
                "lines": lines.len(), "tstamp": now_secs(),
            }))?;
            Ok::<String, ClientError>(id)
        };
        match created.await {
            Ok(id) => {
                let mut st = self.state();
                st.pending_keys.extend(lines.iter().map(|(k, _)| k.clone()));
                st.pending.push(Pending {
                    id,
                    seq,
                    bodies: lines.into_iter().collect(),
                    next_poll: Instant::now() + self.opts.poll,
                    interval: self.opts.poll,
                });
            }
            Err(e) => {
                let msg = format!("could not create a batch: {e}");
                let mut st = self.state();
                for (k, _) in lines {
                    resolve(&mut st, &k, Err(ClientError::Config(msg.clone())));
                }
            }
        }
    }

    /// Polls the batches whose time has come; finishes those that ended.
    async fn poll_due(&self) {
        let due: Vec<(String, usize)> = {
            let st = self.state();
            let now = Instant::now();
            st.pending
                .iter()
                .filter(|p| p.next_poll <= now)
                .map(|p| (p.id.clone(), p.seq))
                .collect()
        };
        for (id, seq) in due {
            let polled = self.retrieve(&id).await;
            let status = polled
                .as_ref()
                .ok()
                .and_then(|b| b["status"].as_str())
                .unwrap_or("")
                .to_string();
            let ended = matches!(
                status.as_str(),
                "completed" | "failed" | "expired" | "cancelled"
            );
            if ended && let Ok(batch) = polled {
                self.finish(seq, &id, &status, &batch).await;
                continue;
            }
            let mut st = self.state();
            if let Some(p) = st.pending.iter_mut().find(|p| p.id == id) {
                p.interval = (p.interval.mul_f64(1.5)).min(MAX_POLL);
                p.next_poll = Instant::now() + p.interval;
            }
        }
    }

    /// Downloads an ended batch's results, keeps them in the directory, hands them to their
    /// callers, and sends the failed lines again (or fails them).
    async fn finish(&self, seq: usize, id: &str, status: &str, batch: &Value) {
        let mut outcome: HashMap<String, Result<ChatResponse, String>> = HashMap::new();
        let mut kept = [None, None];
        for (i, (field, what)) in [("output_file_id", "output"), ("error_file_id", "errors")]
            .into_iter()
            .enumerate()
        {
            let Some(file) = batch[field].as_str().filter(|f| !f.is_empty()) else {
                continue;
            };
            match self.download(file).await {
                Ok(bytes) => {
                    let path = self.file(seq, what);
                    if crate::store::write_atomic(&path, &bytes).is_ok() {
                        kept[i] = Some(path.clone());
                    }
                    for (k, r) in parse_results(&bytes) {
                        // A success wins over an error line of the same request.
                        if r.is_ok() || !outcome.contains_key(&k) {
                            outcome.insert(k, r);
                        }
                    }
                }
                Err(e) => {
                    // Not recorded as done: a later poll (or run) downloads it again.
                    eprintln!("shinpan: warning: batch {id}: could not download {what}: {e}");
                    let mut st = self.state();
                    if let Some(p) = st.pending.iter_mut().find(|p| p.id == id) {
                        p.next_poll = Instant::now() + p.interval;
                    }
                    return;
                }
            }
        }
        let whole_failure = (status == "failed").then(|| {
            let why: Vec<String> = batch["errors"]["data"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e["message"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "batch {id} failed: {}",
                if why.is_empty() {
                    "the provider gave no reason".to_string()
                } else {
                    why.join("; ")
                }
            )
        });
        let recorded = self.record(json!({
            "event": "done", "batch": id, "seq": seq, "status": status,
            "output": kept[0].as_ref().map(|p| file_name(p)),
            "errors": kept[1].as_ref().map(|p| file_name(p)),
            "tstamp": now_secs(),
        }));
        if let Err(e) = recorded {
            eprintln!("shinpan: warning: {e}");
        }
        let mut st = self.state();
        let Some(at) = st.pending.iter().position(|p| p.id == id) else {
            return;
        };
        let p = st.pending.remove(at);
        for (key, body) in p.bodies {
            st.pending_keys.remove(&key);
            match outcome.remove(&key) {
                Some(Ok(r)) => {
                    st.results.insert(key.clone(), r.clone());
                    let tries = st.attempts.get(&key).copied().unwrap_or(1);
                    resolve(
                        &mut st,
                        &key,
                        Ok(ChatResponse {
                            attempts: tries,
                            ..r
                        }),
                    );
                }
                failed => {
                    let why = match (&whole_failure, failed) {
                        (Some(w), _) => w.clone(),
                        (None, Some(Err(e))) => e,
                        (None, _) => format!("batch {id} ended {status} without this request"),
                    };
                    let tries = st.attempts.get(&key).copied().unwrap_or(1);
                    let waited = st.waiters.contains_key(&key);
                    if whole_failure.is_none() && tries < self.max_attempts && waited {
                        if st.queued.insert(key.clone()) {
                            st.queue.push((key, body));
                            st.last_queued = Some(Instant::now());
                        }
                    } else {
                        let e = ClientError::GaveUp {
                            attempts: tries,
                            last: Box::new(ClientError::Config(why)),
                        };
                        resolve(&mut st, &key, Err(e));
                    }
                }
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        }
    }

    /// One control call, tried again on transient errors; its body.
    async fn call(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, ClientError> {
        let mut wait = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let resp = tokio::time::timeout(self.timeout, self.authed(make()).send())
                    .await
                    .map_err(|_| ClientError::Timeout(self.timeout))?
                    .map_err(|e| ClientError::Connect(describe(&e)))?;
                let status = resp.status();
                let body = tokio::time::timeout(self.timeout, resp.bytes())
                    .await
                    .map_err(|_| ClientError::Timeout(self.timeout))?
                    .map_err(|e| ClientError::Connect(describe(&e)))?;
                if status.is_success() {
                    Ok(body.to_vec())
                } else {
                    Err(ClientError::Status {
                        status: status.as_u16(),
                        message: error_message(&String::from_utf8_lossy(&body)),
                        retry_after: None,
                    })
                }
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && attempt < CONTROL_ATTEMPTS => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
                Err(e) => {
                    return Err(ClientError::Config(format!("{what} ({}): {e}", self.base)));
                }
                Ok(b) => return Ok(b),
            }
        }
    }

    async fn call_json(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Value, ClientError> {
        let body = self.call(what, make).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Malformed(format!("{what}: {e}")))
    }

    async fn upload(&self, path: &Path, bytes: Vec<u8>) -> Result<String, ClientError> {
        let name = file_name(path);
        let url = format!("{}/files", self.base);
        let v = self
            .call_json("uploading a batch file", || {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(name.clone())
                    .mime_str("application/jsonl")
                    .expect("a valid MIME type");
                let form = reqwest::multipart::Form::new()
                    .text("purpose", "batch")
                    .part("file", part);
                self.http.post(&url).multipart(form)
            })
            .await?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Malformed("an uploaded file without an id".into()))
    }

    async fn create(&self, file: &str) -> Result<Value, ClientError> {
        let url = format!("{}/batches", self.base);
        let body = json!({
            "input_file_id": file,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"created_by": "shinpan"},
        });
        self.call_json("creating a batch", || self.http.post(&url).json(&body))
            .await
    }

    async fn retrieve(&self, id: &str) -> Result<Value, ClientError> {
        let url = format!("{}/batches/{id}", self.base);
        self.call_json("polling a batch", || self.http.get(&url))
            .await
    }

    async fn download(&self, file: &str) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}/files/{file}/content", self.base);
        self.call("downloading batch results", || self.http.get(&url))
            .await
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn resolve(st: &mut State, key: &str, result: Result<ChatResponse, ClientError>) {
    for w in st.waiters.remove(key).unwrap_or_default() {
        let _ = w.send(result.clone());
    }
}

/// One line of a batch output or error file (OpenAI's format, and vLLM `run_batch`'s).
#[derive(Debug, Clone)]
pub struct BatchLine {
    /// Its `custom_id` (shinpan writes the request's cache key there).
    pub key: String,
    /// The model that answered, as the reply names it.
    pub model: String,
    /// The completion, or why there is none.
    pub result: Result<ChatResponse, String>,
}

/// The lines of a batch output or error file; `Err` names the first line that is not one.
pub fn parse_lines(bytes: &[u8]) -> Result<Vec<BatchLine>, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |why: &str| format!("line {}: {why}", n + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let key = v["custom_id"]
            .as_str()
            .ok_or_else(|| bad("no custom_id: not a batch result line"))?
            .to_string();
        let status = v["response"]["status_code"].as_u64().unwrap_or(0);
        let body = &v["response"]["body"];
        let result = if status == 200 && v["error"].is_null() {
            parse_response(&body.to_string())
                .map(|mut r| {
                    if r.usage_estimated {
                        // No usage in the line: the completion at about 3 bytes a token (the
                        // prompt is not in the result file).
                        r.usage.completion_tokens = r.content.len().div_ceil(3) as u64;
                    }
                    r
                })
                .map_err(|e| e.to_string())
        } else {
            let why = v["error"]["message"]
                .as_str()
                .or_else(|| body["error"]["message"].as_str())
                .unwrap_or("no reason given");
            Err(format!("HTTP {status}: {why}"))
        };
        out.push(BatchLine {
            key,
            model: body["model"].as_str().unwrap_or_default().to_string(),
            result,
        });
    }
    Ok(out)
}

/// The results of a batch output or error file, by `custom_id` (unreadable lines left out).
pub fn parse_results(bytes: &[u8]) -> Vec<(String, Result<ChatResponse, String>)> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .filter_map(|l| parse_lines(l.as_bytes()).ok())
        .flatten()
        .map(|l| (l.key, l.result))
        .collect()
}

fn read_results(path: &Path) -> Vec<(String, Result<ChatResponse, String>)> {
    std::fs::read(path)
        .map(|b| parse_results(&b))
        .unwrap_or_default()
}

fn read_bodies(path: &Path) -> HashMap<String, Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["custom_id"].as_str()?.to_string(), v["body"].clone())))
        .collect()
}
