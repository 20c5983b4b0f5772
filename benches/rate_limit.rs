//! Benchmark: a 200-request run (2 models × 50 one-turn questions, single mode: 100 answers
//! and 100 judgments) against the simulator, with and without a rate limit, compared with
//! the bound the limit implies. Run with `cargo bench --bench rate_limit`.

use std::num::NonZeroU32;
use std::time::Instant;

use shinpan::config::RunOptions;
use shinpan::simulate::{SimConfig, start};
use shinpan::types::Mode;

async fn scenario(label: &str, server_rpm: Option<u32>, client_rpm: Option<u32>) {
    let sim = start(
        0,
        SimConfig {
            rpm: server_rpm.and_then(NonZeroU32::new),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.jsonl");
    let questions: String = (1..=50)
        .map(|i| format!("{{\"question_id\": {i}, \"category\": \"stem\", \"turns\": [\"質問{i}: 空はなぜ青いのですか。\"]}}\n"))
        .collect();
    std::fs::write(&q, questions).unwrap();
    let mut b = RunOptions::builder()
        .models(["a", "b"])
        .judge("judge")
        .mode(Mode::Single)
        .questions(q)
        .out(dir.path().join("out"))
        .base_url(&sim.base_url())
        .no_api_key()
        .concurrency(16)
        .max_attempts(10)
        // Every scenario must really call the simulator.
        .with(|s| s.no_cache = true);
    if let Some(r) = client_rpm {
        b = b.rpm(r);
    }
    let opts = b.build().unwrap();
    let started = Instant::now();
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    let s = &out.summary;
    let failed = s.failed_items();
    let bound = server_rpm
        .or(client_rpm)
        .map(|r| format!("{:.2} s", 199.0 * 60.0 / r as f64))
        .unwrap_or_else(|| "none".into());
    let refused = sim
        .stats
        .rate_limited
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{label:<42} wall {wall:>6.2} s   bound {bound:>8}   attempts {:>4}   429s {refused:>4}   failed {failed}",
        s.attempts,
    );
    // The scenario did what it says: a server limit with an unpaced client earns 429s (the
    // client saw them too), and nothing failed in the end.
    if server_rpm.is_some() && client_rpm.is_none() {
        assert!(
            refused > 0 && s.rate_limited == refused,
            "{label}: {refused} 429s"
        );
    }
    assert_eq!(failed, 0, "{label}");
    sim.stop().await;
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!("200 requests (100 answers + 100 judgments) against `shinpan simulate`");
        scenario("no limit anywhere", None, None).await;
        scenario("server 600 rpm, client --rpm 600", Some(600), Some(600)).await;
        scenario("server 1200 rpm, client --rpm 1200", Some(1200), Some(1200)).await;
        scenario("server 600 rpm, client unlimited (429s)", Some(600), None).await;
    });
}
