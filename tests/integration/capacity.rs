//! The simulator's capacity model, as a self-hosted server has one: slots served at once,
//! a queue before them, 503 "server overloaded" beyond, latency that grows with the batch,
//! and the most requests in flight counted in `/stats`; then a run against it at a fixed
//! concurrency, whose in-flight count the simulator sees.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shinpan::simulate::SimConfig;
use shinpan::simulate::capacity::CapacityConfig;

use crate::support::{Sim, stderr};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn ask(url: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = http()
        .post(format!("{url}/chat/completions"))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "こんにちは"}]}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), started.elapsed())
}

async fn stats(url: &str) -> Value {
    let base = url.trim_end_matches("/v1");
    http()
        .get(format!("{base}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn slots_serve_in_turn_a_full_queue_is_overloaded_and_stats_count_what_was_in_flight() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(300),
        capacity: CapacityConfig {
            slots: Some(4),
            queue: Some(2),
            batch_latency: Duration::ZERO,
        },
        ..SimConfig::default()
    });
    // Ten at once: four served, two wait a round, four refused.
    let all = futures::future::join_all((0..10).map(|_| ask(&sim.url))).await;
    let ok: Vec<Duration> = all
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, d)| *d)
        .collect();
    let refused = all.iter().filter(|(s, _)| *s == 503).count();
    assert_eq!((ok.len(), refused), (6, 4), "{all:?}");
    assert_eq!(
        ok.iter()
            .filter(|d| **d >= Duration::from_millis(590))
            .count(),
        2,
        "two waited for a slot: {ok:?}"
    );
    let s = stats(&sim.url).await;
    assert_eq!(
        (s["max_serving"].clone(), s["overloaded"].clone()),
        (json!(4), json!(4)),
        "{s}"
    );
    assert_eq!(s["max_in_flight"], 6, "{s}");

    // Latency that grows with the batch: three served together take 200 + 2·100 ms.
    let batched = Sim::start(SimConfig {
        latency: Duration::from_millis(200),
        capacity: CapacityConfig {
            batch_latency: Duration::from_millis(100),
            ..CapacityConfig::default()
        },
        ..SimConfig::default()
    });
    let three = futures::future::join_all((0..3).map(|_| ask(&batched.url))).await;
    let slowest = three.iter().map(|(_, d)| *d).max().unwrap();
    assert!(slowest >= Duration::from_millis(400), "{three:?}");
    assert!(three.iter().all(|(s, _)| *s == 200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_at_a_fixed_concurrency_is_seen_at_that_concurrency() {
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(50),
        capacity: CapacityConfig {
            slots: Some(64),
            queue: Some(64),
            batch_latency: Duration::ZERO,
        },
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let q = crate::support::numbered_questions(dir.path(), 40);
    let out = dir.path().join("out");
    let args = crate::support::sim_run_args(&sim.url, &q, &out, &["--quiet", "--concurrency", "5"]);
    let o = crate::support::shinpan_bin().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stats(&sim.url).await;
    assert_eq!(s["max_in_flight"], 5, "{s}");
    assert_eq!(s["overloaded"], 0, "{s}");
}
