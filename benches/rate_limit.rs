//! Benchmark: a 200-request run (2 models × 50 one-turn questions, single mode: 100 answers
//! and 100 judgments) against the simulator, with and without a rate limit, compared with
//! the bound the limit implies. Run with `cargo bench --bench rate_limit`. Each scenario
//! checks what it claims (an unpaced client against a server that states no limit earns
//! 429s; nothing fails in the end) and its target (a limit given or stated in headers is
//! held within 10% of its bound); a miss exits 1.

use std::num::NonZeroU32;
use std::time::Instant;

use shinpan::config::RunOptions;
use shinpan::simulate::{SimConfig, start};
use shinpan::types::Mode;

/// One scenario: the server's limit (and whether it states it in headers), the client's.
async fn scenario(
    label: &str,
    server_rpm: Option<u32>,
    headers: bool,
    client_rpm: Option<u32>,
) -> Result<(), String> {
    let sim = start(
        0,
        SimConfig {
            rpm: server_rpm.and_then(NonZeroU32::new),
            no_rate_headers: !headers,
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
    let bound = server_rpm.or(client_rpm).map(|r| 199.0 * 60.0 / r as f64);
    let refused = sim
        .stats
        .rate_limited
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "{label:<52} wall {wall:>6.2} s   bound {:>8}   ratio {:>6}   attempts {:>4}   429s {refused:>4}   failed {failed}",
        bound.map_or("none".into(), |b| format!("{b:.2} s")),
        bound.map_or("-".into(), |b| format!("{:.3}", wall / b)),
        s.attempts,
    );
    sim.stop().await;
    if failed > 0 {
        return Err(format!("{label}: {failed} items failed"));
    }
    // The scenario is what it says: an unpaced client, told nothing by the server, earns
    // 429s (and saw them).
    if server_rpm.is_some()
        && client_rpm.is_none()
        && !headers
        && !(refused > 0 && s.rate_limited == refused)
    {
        return Err(format!("{label}: {refused} 429s; the premise needs some"));
    }
    // A limit the client knows (given, or stated in headers) is held near its bound.
    if let (Some(b), true) = (bound, client_rpm.is_some() || headers)
        && wall > 1.10 * b
    {
        return Err(format!(
            "{label}: {:.3} × the bound (target 1.10)",
            wall / b
        ));
    }
    Ok(())
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let missed = rt.block_on(async {
        println!("200 requests (100 answers + 100 judgments) against `shinpan simulate`");
        let mut missed = Vec::new();
        for (label, server, headers, client) in [
            ("no limit anywhere", None, false, None),
            (
                "server 600 rpm, client --rpm 600",
                Some(600),
                true,
                Some(600),
            ),
            (
                "server 1200 rpm, client --rpm 1200",
                Some(1200),
                true,
                Some(1200),
            ),
            (
                "server 600 rpm in headers, client learns it",
                Some(600),
                true,
                None,
            ),
            (
                "server 600 rpm, no headers, client unlimited (429s)",
                Some(600),
                false,
                None,
            ),
        ] {
            if let Err(e) = scenario(label, server, headers, client).await {
                missed.push(e);
            }
        }
        missed
    });
    if !missed.is_empty() {
        eprintln!("MISSED: {}", missed.join("; "));
        std::process::exit(1);
    }
}
