//! Benchmark: several runs into different `--out` directories on one response cache, started
//! together, against the simulator (50 ms a reply). Each run asks the same 600 distinct
//! requests (3 models × 50 two-turn questions, single mode: 300 answer turns, 300 grades).
//! Printed: requests the server answered against the distinct requests, and the wall time
//! against one run alone. Targets: every distinct request sent once (claims make a request in
//! flight in one process visible to the others), and N runs together within 1.25 × one run's
//! time. A miss exits 1. Run with `cargo bench --bench shared_cache` (about a minute).

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shinpan::simulate::{SimConfig, start};

const DISTINCT: usize = 600;

/// Starts `n` runs on one cache, `gap` apart, and waits for all; returns the wall time.
fn runs(n: usize, gap: Duration, url: &str, dir: &std::path::Path) -> f64 {
    let q = dir.join("q.jsonl");
    let questions: String = (1..=50)
        .map(|i| format!("{{\"question_id\": {i}, \"category\": \"stem\", \"turns\": [\"質問{i}: 空はなぜ青いのですか。\", \"もっと短く。\"]}}\n"))
        .collect();
    std::fs::write(&q, questions).unwrap();
    let cache = dir.join("shared.sqlite");
    let started = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|i| {
            if i > 0 {
                std::thread::sleep(gap);
            }
            Command::new(env!("CARGO_BIN_EXE_shinpan"))
                .args([
                    "run", "--models", "a,b,c", "--judge", "j", "--mode", "single",
                ])
                .arg("--questions")
                .arg(&q)
                .arg("--out")
                .arg(dir.join(format!("out{i}")))
                .arg("--cache")
                .arg(&cache)
                .args([
                    "--base-url",
                    url,
                    "--api-key-env",
                    "",
                    "--quiet",
                    "--bootstrap",
                    "0",
                ])
                .env_remove("OPENAI_BASE_URL")
                .stdout(Stdio::null())
                .spawn()
                .expect("shinpan runs")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a run failed");
    }
    started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut missed = Vec::new();
    let mut alone = None;
    for (n, gap) in [
        (1, Duration::ZERO),
        (2, Duration::ZERO),
        (4, Duration::ZERO),
        (2, Duration::from_secs(1)),
    ] {
        let sim = rt
            .block_on(start(
                0,
                SimConfig {
                    latency: Duration::from_millis(50),
                    ..SimConfig::default()
                },
            ))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wall = runs(n, gap, &sim.base_url(), dir.path());
        let answered = sim.stats.answered.lock().unwrap().clone();
        let distinct: HashSet<&String> = answered.iter().collect();
        let one = *alone.get_or_insert(wall);
        println!(
            "{n} run(s){:<14}  requests sent {:>4} for {:>3} distinct  wall {wall:>5.2} s  ({:.2} × one run alone)",
            if gap.is_zero() {
                String::new()
            } else {
                format!(", {} s apart", gap.as_secs())
            },
            answered.len(),
            distinct.len(),
            wall / one
        );
        if distinct.len() != DISTINCT || answered.len() != DISTINCT {
            missed.push(format!(
                "{n} runs: {} sent for {} distinct",
                answered.len(),
                distinct.len()
            ));
        }
        if n > 1 && gap.is_zero() && wall > 1.25 * one {
            missed.push(format!(
                "{n} runs: {:.2} × one run's time (target 1.25)",
                wall / one
            ));
        }
        rt.block_on(sim.stop());
    }
    if !missed.is_empty() {
        eprintln!("MISSED: {}", missed.join("; "));
        std::process::exit(1);
    }
}
