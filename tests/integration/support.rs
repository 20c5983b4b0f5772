//! What the integration tests share: the binary with a clean environment, a questions
//! fixture, one options builder, the fake server's usual script (candidates answer by name
//! and turn; a test supplies only the judge), one way to start the simulator, and readers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use shinpan::config::{RunOptions, RunOptionsBuilder};
use shinpan::judge::verdict::{Asks, recognise};
use shinpan::simulate::{SimConfig, SimStats};
use shinpan::types::Mode;

use crate::fake::{Fake, Reply, first_user};

/// The shinpan binary with a clean environment: no OpenAI variables, and a response cache of
/// its own under target/tmp, so no two commands share cached responses unless a test names
/// one cache with `--cache` (the flag wins over `SHINPAN_CACHE`).
pub fn shinpan_bin() -> Command {
    static N: AtomicUsize = AtomicUsize::new(0);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("caches")
        .join(format!(
            "{}-{}.sqlite",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
    let mut c = Command::new(env!("CARGO_BIN_EXE_shinpan"));
    c.env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("SHINPAN_CACHE", cache);
    c
}

/// Runs the binary with these arguments.
pub fn run_bin(args: &[&str]) -> Output {
    shinpan_bin().args(args).output().expect("shinpan runs")
}

/// The JSON a successful command printed.
pub fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

/// `shinpan report DIR --format json --bootstrap 0`, as JSON.
pub fn report_json(dir: &Path) -> Value {
    stdout_json(&run_bin(&[
        "report",
        dir.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]))
}

/// JSON with every number rounded to 9 decimals and anything within 1e-9 of zero made
/// zero, so snapshots pin figures, not floating-point noise (`-4.15e-14` for 0).
pub fn rounded(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            let r = if x.abs() < 1e-9 {
                0.0
            } else {
                (x * 1e9).round() / 1e9
            };
            serde_json::json!(r)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, rounded(v))).collect()),
        other => other,
    }
}

/// Two two-turn questions; the second is math, judged against its reference.
pub const QUESTIONS: &str = r#"{"question_id": 1, "category": "writing", "turns": ["春の俳句を詠んでください。", "それを英語に訳してください。"]}
{"question_id": 2, "category": "math", "turns": ["2+3は？", "それを2倍すると？"], "reference": ["模範: 5", "模範: 10"]}
"#;

/// The project's own sample questions (16, two turns each).
pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/questions/sample_ja.jsonl");

/// Options for a run in `dir` against a server at `url`: judge `judge`, questions
/// [`QUESTIONS`], output `dir/out`, a cache of its own, no key, two attempts per request.
pub fn builder(url: &str, dir: &Path, models: &[&str], mode: Mode) -> RunOptionsBuilder {
    let q = dir.join("q.jsonl");
    if !q.exists() {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&q, QUESTIONS).unwrap();
    }
    RunOptions::builder()
        .models(models)
        .judge("judge")
        .mode(mode)
        .questions(q)
        .out(dir.join("out"))
        .cache(dir.join("cache.sqlite"))
        .base_url(url)
        .no_api_key()
        .max_attempts(2)
}

/// [`builder`] against the fake, with a baseline when given.
pub fn options(
    fake: &Fake,
    dir: &Path,
    models: &[&str],
    mode: Mode,
    baseline: Option<&str>,
) -> RunOptions {
    let mut b = builder(&fake.base_url(), dir, models, mode);
    if let Some(base) = baseline {
        b = b.baseline(base);
    }
    b.build().unwrap()
}

/// Whether a request is a judge's (through the constants the judge module exports).
pub fn is_judge(body: &Value) -> bool {
    recognise(&first_user(body)).is_some()
}

/// What a judge request asks for (`None` for a candidate's request).
pub fn asks(body: &Value) -> Option<Asks> {
    recognise(&first_user(body))
}

/// Candidate replies name the model and the turn, so tests can see which answer went where.
pub fn candidate(body: &Value) -> String {
    let model = body["model"].as_str().unwrap();
    format!("{model}の回答{}", user_turns(body))
}

/// How many user turns a request carries.
pub fn user_turns(body: &Value) -> usize {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .count()
}

/// The usual script of the fake: candidates answer with [`candidate`]; `judge` replies to
/// judge requests.
pub fn judging(
    judge: impl Fn(&Value) -> Reply + Send + Sync + 'static,
) -> impl Fn(usize, &Value) -> Reply + Send + Sync + 'static {
    move |_, body| {
        if is_judge(body) {
            judge(body)
        } else {
            Reply::Text(candidate(body))
        }
    }
}

/// A simulator on its own thread and runtime, usable from any test, sync or async; stopped
/// when dropped.
pub struct Sim {
    /// Its base URL (`http://127.0.0.1:PORT/v1`).
    pub url: String,
    /// What it has seen.
    pub stats: Arc<SimStats>,
    restart: shinpan::simulate::Restart,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    /// Starts a simulator on a free port.
    pub fn start(config: SimConfig) -> Sim {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let running = shinpan::simulate::start(0, config).await.unwrap();
                ready_tx
                    .send((
                        running.base_url(),
                        running.stats.clone(),
                        running.restart.clone(),
                    ))
                    .unwrap();
                let _ = stopped.await;
            });
            rt.shutdown_background();
        });
        let (url, stats, restart) = ready_rx.recv().expect("the simulator starts");
        Sim {
            url,
            stats,
            restart,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The same endpoint restarted with another configuration (a provider that recovered, a
    /// server now serving other weights); `stats` counts afresh.
    pub fn restart(&mut self, config: SimConfig) {
        self.stats = self.restart.with(config);
    }

    /// Counts of the faults it injected, by name.
    pub fn faults(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.stats.faults.lock().unwrap().clone()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every record of a JSONL file as JSON (none when the file is missing).
pub fn jsonl(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(t) => t
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Lines of a file.
pub fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .count()
}

/// A file under `dir` with `content`.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p
}

/// Says something on the real stderr: the test harness captures `eprintln!`, and what a test
/// could not do must not pass as a silent `ok`.
pub fn say(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// The files an installed tool provides, under `$VAR` or else `~/.cache/shinpan/SUB`: `Some`
/// when they all exist. Otherwise CI fails (it installs them with `script`), and elsewhere the
/// test says on stderr what it will not do.
pub fn installed(
    var: &str,
    sub: &str,
    files: &[&str],
    script: &str,
    without: &str,
) -> Option<Vec<PathBuf>> {
    let dir = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap())
                .join(".cache/shinpan")
                .join(sub)
        });
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    if paths.iter().all(|p| p.exists()) {
        return Some(paths);
    }
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide {} ({script})",
        shown.join(" and ")
    );
    say(&format!(
        "{without}: {} missing; run {script} (CI does)",
        shown.join(" or ")
    ));
    None
}

/// `shinpan run` of `models` judged by `judge` against `url`, on [`QUESTIONS`] in
/// `dir/q.jsonl` (unless the test wrote its own), with `extra` flags; by default single mode,
/// into `dir/out`, cache `dir/cache.sqlite`, two attempts (flags in `extra` replace these).
pub fn run_on(dir: &Path, url: &str, models: &str, extra: &[&str]) -> std::process::Output {
    let q = dir.join("q.jsonl");
    if !q.exists() {
        write(dir, "q.jsonl", QUESTIONS);
    }
    let (out, cache) = (dir.join("out"), dir.join("cache.sqlite"));
    let mut args = vec![
        "run",
        "--models",
        models,
        "--judge",
        "judge",
        "--questions",
        q.to_str().unwrap(),
        "--base-url",
        url,
        "--api-key-env",
        "",
        "--bootstrap",
        "0",
        "--format",
        "json",
    ];
    // Defaults the test's own arguments may replace.
    for (flag, value) in [
        ("--mode", "single"),
        ("--max-attempts", "2"),
        ("--out", out.to_str().unwrap()),
        ("--cache", cache.to_str().unwrap()),
    ] {
        if !(extra.contains(&flag) || flag == "--cache" && extra.contains(&"--no-cache")) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    run_bin(&args)
}

/// A fake whose judge grades 7 and candidates answer by name and turn; counts requests.
pub async fn counting_fake() -> (Fake, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let fake = Fake::start(move |_, body| {
        c.fetch_add(1, Ordering::SeqCst);
        if is_judge(body) {
            Reply::Text("評価: [[7]]".into())
        } else {
            Reply::Text(candidate(body))
        }
    })
    .await;
    (fake, calls)
}

/// What a command printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `n` one-turn questions (`質問1: 空はなぜ青いのですか。`, …) in `dir/q.jsonl`; its path.
pub fn numbered_questions(dir: &Path, n: usize) -> String {
    let q = dir.join("q.jsonl");
    let lines: String = (1..=n)
        .map(|i| {
            format!(
                "{{\"question_id\": {i}, \"category\": \"stem\", \"turns\": [\"質問{i}: 空はなぜ青いのですか。\"]}}\n"
            )
        })
        .collect();
    std::fs::write(&q, lines).unwrap();
    q.to_str().unwrap().to_string()
}

/// `run` of models a and b judged by j, single mode, against `url` with no key and no
/// cache, writing to `out`, with `extra` flags.
pub fn sim_run_args(url: &str, q: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--models",
        "a,b",
        "--judge",
        "j",
        "--questions",
        q,
        "--base-url",
        url,
        "--api-key-env",
        "",
        "--out",
        out.to_str().unwrap(),
        "--no-cache",
        "--bootstrap",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}
