//! Benchmark: what the response cache costs, and what injected failures cost a run.
//! Run with `cargo bench --bench resilience`.
//!
//! 1. The cache alone: key computation, store, hit and miss, per operation, on a file that
//!    holds 20,000 realistic responses (a 3 KB judge prompt, a 1.5 KB answer).
//! 2. The client against the simulator (no latency, 16 in flight), 4,000 requests: no cache,
//!    a cold cache (every request looked up, missed, then stored) and a warm one (all hits).
//! 3. A whole run (3 models × 16 two-turn questions, pairwise against a baseline: 96 answer
//!    turns, 128 judge calls) with 300 ms of simulated latency, fault-free and with 20% of
//!    attempts failing (500, 503 + Retry-After, connection reset, malformed JSON, empty
//!    choices, 429 without Retry-After), three seeds each.

use std::time::{Duration, Instant};

use shinpan::client::{
    Cache, CacheMode, ChatRequest, ChatResponse, Client, EndpointConfig, Message, cache_key,
};
use shinpan::config::RunOptions;
use shinpan::simulate::{Fault, SimConfig, start};
use shinpan::types::Mode;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/questions/sample_ja.jsonl");

fn request(i: usize) -> ChatRequest {
    let prompt = format!(
        "以下のユーザーの質問に対するAIアシスタントの回答を評価してください。{}",
        "回答の長所と短所を説明し、客観的に評価してください。".repeat(40)
    );
    ChatRequest {
        model: "judge".into(),
        messages: vec![
            Message::system("あなたは公平で注意深い審査員です。"),
            Message::user(format!("{prompt}\n[質問 {i}]")),
        ],
        temperature: 0.0,
        max_tokens: 2048,
        sample: None,
        json_schema: None,
        account: None,
    }
}

fn per_op(d: Duration, n: usize) -> String {
    format!("{:>8.1} µs/op", d.as_secs_f64() * 1e6 / n as f64)
}

fn cache_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("bench.sqlite")).unwrap();
    let n = 20_000;
    let reqs: Vec<ChatRequest> = (0..n).map(request).collect();
    let t = Instant::now();
    let keys: Vec<String> = reqs.iter().map(cache_key).collect();
    let key_time = t.elapsed();
    let resp = ChatResponse {
        content: "ご質問の要点を順に整理してお答えします。".repeat(25),
        finish_reason: "stop".into(),
        attempts: 1,
        ..Default::default()
    };
    let t = Instant::now();
    for k in &keys {
        cache.put(k, (k, ""), "judge", &resp).unwrap();
    }
    let put_time = t.elapsed();
    let t = Instant::now();
    for k in keys.iter().rev() {
        assert!(cache.get(k).unwrap().is_some());
    }
    let hit_time = t.elapsed();
    let t = Instant::now();
    for k in &keys {
        assert!(cache.get(&format!("{k}x")).unwrap().is_none());
    }
    let miss_time = t.elapsed();
    let info = cache.info().unwrap();
    println!(
        "cache alone, {n} responses ({:.1} MiB on disk):",
        info.bytes as f64 / 1048576.0
    );
    println!(
        "  key (SHA-256 of a 3 KB request)   {}",
        per_op(key_time, n)
    );
    println!(
        "  store (one committed write)       {}",
        per_op(put_time, n)
    );
    println!(
        "  hit (read; last-used kept hourly) {}",
        per_op(hit_time, n)
    );
    println!(
        "  miss                              {}",
        per_op(miss_time, n)
    );
}

async fn client_scenario(label: &str, url: &str, cache: Option<(&std::path::Path, CacheMode)>) {
    let cache = cache.map(|(p, m)| (std::sync::Arc::new(Cache::open(p).unwrap()), m));
    let mode = cache.as_ref().map(|c| c.1).unwrap_or(CacheMode::Off);
    let client = Client::with_key(
        EndpointConfig {
            base_url: url.to_string(),
            api_key_env: None,
            concurrency: Some(16),
            ..Default::default()
        },
        None,
    )
    .unwrap()
    .with_cache(cache.map(|c| c.0), mode);
    let n = 4_000;
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let c = client.clone();
        set.spawn(async move { c.chat(&request(i)).await.unwrap() });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let wall = t.elapsed();
    println!(
        "  {label:<34} {:>6.2} s   {}   HTTP attempts {}",
        wall.as_secs_f64(),
        per_op(wall, n),
        client
            .stats()
            .attempts
            .load(std::sync::atomic::Ordering::Relaxed)
    );
}

async fn client_with_cache() {
    let sim = start(0, SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.sqlite");
    println!("client against the simulator, 4000 requests, 16 in flight:");
    client_scenario("no cache", &sim.base_url(), None).await;
    client_scenario(
        "cold cache (miss, request, store)",
        &sim.base_url(),
        Some((&path, CacheMode::Use)),
    )
    .await;
    client_scenario(
        "warm cache (all hits)",
        &sim.base_url(),
        Some((&path, CacheMode::Use)),
    )
    .await;
    sim.stop().await;
}

/// Wall time, attempts, failed items, and the faults the simulator injected.
async fn run_once(faults: &[(Fault, f64)], seed: u64) -> (f64, u64, usize, u64) {
    let sim = start(
        0,
        SimConfig {
            latency: Duration::from_millis(300),
            faults: faults.to_vec(),
            seed,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions::builder()
        .models(["large", "medium", "small"])
        .judge("judge")
        .mode(Mode::PairwiseBaseline)
        .baseline("medium")
        .questions(SAMPLE)
        .out(dir.path().join("out"))
        .cache(dir.path().join("cache.sqlite"))
        .base_url(&sim.base_url())
        .no_api_key()
        .concurrency(16)
        .build()
        .unwrap();
    let t = Instant::now();
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let wall = t.elapsed().as_secs_f64();
    let injected: u64 = sim.stats.faults.lock().unwrap().values().sum();
    sim.stop().await;
    let s = out.summary;
    (wall, s.attempts, s.failed_items(), injected)
}

async fn faults_cost() {
    let mix = [
        (Fault::Server, 0.04),
        (Fault::Unavailable, 0.04),
        (Fault::Reset, 0.03),
        (Fault::Malformed, 0.03),
        (Fault::EmptyChoices, 0.03),
        (Fault::RateLimit, 0.03),
    ];
    println!("a run of 224 requests, 300 ms latency, 16 in flight, default retries (6 attempts):");
    for (label, faults) in [("fault-free", &[][..]), ("20% of attempts fail", &mix[..])] {
        let mut walls = Vec::new();
        for seed in 0..3 {
            let (wall, attempts, failed, injected) = run_once(faults, seed).await;
            walls.push(wall);
            println!(
                "  {label:<22} seed {seed}: {wall:>6.2} s   {attempts:>4} attempts   {injected:>3} faults injected   {failed} items failed"
            );
            // The faults happened, and every one of them cost an extra attempt.
            assert_eq!(injected > 0, !faults.is_empty(), "{label}");
            assert!(
                attempts >= 224 + injected,
                "{label}: {attempts} attempts, {injected} faults"
            );
        }
        walls.sort_by(f64::total_cmp);
        println!("  {label:<22} median {:.2} s", walls[1]);
    }
}

#[tokio::main]
async fn main() {
    cache_alone();
    client_with_cache().await;
    faults_cost().await;
}
