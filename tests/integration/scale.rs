//! Scale: limits learned from the provider's headers, several endpoints for one model.

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shinpan::client::{ChatRequest, Client, EndpointConfig, Message};
use shinpan::simulate::SimConfig;

use crate::support::{Sim, run_bin, write};

fn request(i: usize) -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message::user(format!("質問{i}: 空はなぜ青いのですか。"))],
        temperature: 0.0,
        max_tokens: 64,
        sample: None,
        json_schema: None,
        account: None,
    }
}

/// A server enforcing its limits over a short window (so a burst of even a few requests is
/// refused).
fn short_window(rpm: u32, tpm: Option<u32>, headers: bool) -> Sim {
    Sim::start(SimConfig {
        rpm: NonZeroU32::new(rpm),
        tpm: tpm.and_then(NonZeroU32::new),
        window: Duration::from_millis(100),
        no_rate_headers: !headers,
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
}

/// `n` requests at once through `client`; the seconds it took.
async fn burst(client: &Client, n: usize) -> f64 {
    let started = Instant::now();
    let futs = (0..n).map(|i| {
        let c = client.clone();
        async move { c.chat(&request(i)).await.unwrap() }
    });
    futures::future::join_all(futs).await;
    started.elapsed().as_secs_f64()
}

/// `n` one-turn questions in `dir/q.jsonl`.
fn one_turn_questions(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let questions: String = (1..=n)
        .map(|i| format!("{{\"question_id\": {i}, \"category\": \"stem\", \"turns\": [\"質問{i}: 空はなぜ青いのですか。\"]}}\n"))
        .collect();
    write(dir, "q.jsonl", &questions)
}

/// A config running model `m` judged by `judge` in single mode, on `url` by default, with
/// `more` tables.
fn config(dir: &std::path::Path, url: &str, more: &str) -> std::path::PathBuf {
    let head = format!(
        "models = [\"m\"]\njudge = \"judge\"\nmode = \"single\"\n[endpoint]\nbase_url = \"{url}\"\napi_key_env = \"\"\n"
    );
    write(dir, "shinpan.toml", &format!("{head}{more}"))
}

fn endpoint(sim: &Sim) -> EndpointConfig {
    EndpointConfig {
        base_url: sim.url.clone(),
        api_key_env: None,
        ..EndpointConfig::default()
    }
}

#[tokio::test]
async fn limits_stated_in_headers_pace_a_client_that_was_given_none() {
    // 1200 requests a minute, 20 a second, over a window of 100 ms: two at a time at most.
    let sim = short_window(1200, None, true);
    let client = Client::new(endpoint(&sim)).unwrap();
    let secs = burst(&client, 40).await;
    let refused = sim.stats.rate_limited.load(Ordering::Relaxed);
    assert_eq!(refused, 0, "paced by the headers, no 429");
    // Paced, not bursted: 39 gaps of 50 ms after the first.
    assert!(secs >= 1.9, "{secs:.2} s for a bound of 1.95 s");
    let learned = client.learned_limits();
    assert_eq!(learned[0].1.rpm, Some(1200.0), "{learned:?}");

    // The same server without headers: the client has only 429s to go by, and earns them.
    let blind = short_window(1200, None, false);
    let client = Client::new(endpoint(&blind)).unwrap();
    burst(&client, 20).await;
    assert!(
        blind.stats.rate_limited.load(Ordering::Relaxed) > 0,
        "without the headers the same load is refused: the test has teeth"
    );
}

#[tokio::test]
async fn a_stated_token_limit_paces_by_estimated_tokens() {
    // 60,000 tokens a minute (1000 a second) over 100 ms windows; each request is charged
    // its prompt (about 20 tokens) plus max_tokens 64.
    let sim = short_window(100_000, Some(60_000), true);
    let client = Client::new(endpoint(&sim)).unwrap();
    let secs = burst(&client, 24).await;
    assert_eq!(sim.stats.rate_limited.load(Ordering::Relaxed), 0);
    let charged = sim.stats.tokens_charged.load(Ordering::Relaxed) as f64;
    let bound = (charged - charged / 24.0) / 1000.0;
    assert!(
        secs >= bound * 0.95,
        "{secs:.2} s for a bound of {bound:.2} s"
    );
}

#[tokio::test]
async fn a_configured_limit_above_the_stated_one_is_lowered_to_it() {
    let sim = short_window(1200, None, true);
    let client = Client::new(EndpointConfig {
        rpm: NonZeroU32::new(6000),
        ..endpoint(&sim)
    })
    .unwrap();
    burst(&client, 30).await;
    assert!(
        sim.stats.rate_limited.load(Ordering::Relaxed) <= 2,
        "at most the requests sent before the first reply: {}",
        sim.stats.rate_limited.load(Ordering::Relaxed)
    );
}

#[test]
fn two_endpoints_for_one_model_share_its_load_by_their_limits() {
    let slow = short_window(600, None, true);
    let fast = short_window(1200, None, true);
    let judge = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let q = one_turn_questions(dir.path(), 30);
    let cfg = config(
        dir.path(),
        &judge.url,
        &format!(
            r#"
            [endpoints.east]
            base_url = "{slow}"
            [endpoints.west]
            base_url = "{fast}"
            [model.m]
            endpoint = ["east", "west"]
            "#,
            slow = slow.url,
            fast = fast.url,
        ),
    );
    let out = run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--questions",
        q.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--no-cache",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (
        slow.stats.ok.load(Ordering::Relaxed),
        fast.stats.ok.load(Ordering::Relaxed),
    );
    assert_eq!(a + b, 30, "every answer from one of the two");
    assert_eq!(slow.stats.rate_limited.load(Ordering::Relaxed), 0);
    assert_eq!(fast.stats.rate_limited.load(Ordering::Relaxed), 0);
    // Shared by their limits, 1 : 2 (10 and 20 when exact).
    assert!((6..=14).contains(&a), "east {a}, west {b}");
}

#[test]
fn a_run_books_tokens_and_cost_by_model_and_stage_and_cache_hits_cost_nothing() {
    let sim = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let q = one_turn_questions(dir.path(), 4);
    let cfg = config(
        dir.path(),
        &sim.url,
        r#"
        [model.m]
        price = { input = 1.0, output = 2.0 }
        [model.judge]
        price = { input = 5.0, output = 15.0 }
        "#,
    );
    let cache = dir.path().join("cache.sqlite");
    let run = |out: &str| {
        run_bin(&[
            "run",
            cfg.to_str().unwrap(),
            "--questions",
            q.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ])
    };
    let first = run("first");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8_lossy(&first.stderr).contains(" · cost "),
        "the summary says what it cost"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("first/report-single.json")).unwrap(),
    )
    .unwrap();
    let spend = report["spend"].as_array().unwrap().clone();
    let row = |model: &str, stage: &str| {
        spend
            .iter()
            .find(|r| r["model"] == model && r["stage"] == stage)
            .unwrap_or_else(|| panic!("{model} {stage} in {spend:?}"))
            .clone()
    };
    let (answer, judge) = (row("m", "answer"), row("judge", "judge"));
    assert_eq!(
        (answer["requests"].as_u64(), judge["requests"].as_u64()),
        (Some(4), Some(4))
    );
    let tokens = |r: &serde_json::Value| {
        r["prompt_tokens"].as_u64().unwrap() + r["completion_tokens"].as_u64().unwrap()
    };
    assert_eq!(
        tokens(&answer) + tokens(&judge),
        sim.stats.tokens_used.load(Ordering::Relaxed),
        "every billed token, as the server counted them"
    );
    let cost = |r: &serde_json::Value, i: f64, o: f64| {
        (r["prompt_tokens"].as_f64().unwrap() * i + r["completion_tokens"].as_f64().unwrap() * o)
            / 1e6
    };
    assert!((answer["cost"].as_f64().unwrap() - cost(&answer, 1.0, 2.0)).abs() < 1e-12);
    assert!((judge["cost"].as_f64().unwrap() - cost(&judge, 5.0, 15.0)).abs() < 1e-12);

    // The same evaluation into a new directory: every reply comes from the cache, free.
    let asked = sim.stats.requests.load(Ordering::Relaxed);
    let second = run("second");
    assert!(second.status.success());
    assert_eq!(
        sim.stats.requests.load(Ordering::Relaxed),
        asked,
        "nothing asked again"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("second/report-single.json")).unwrap(),
    )
    .unwrap();
    for r in report["spend"].as_array().unwrap() {
        assert_eq!(
            (
                r["requests"].as_u64(),
                r["cache_hits"].as_u64(),
                r["cost"].as_f64()
            ),
            (Some(0), Some(4), Some(0.0)),
            "{r}"
        );
    }
    // And `shinpan report` on the directory shows what the run spent.
    let md = run_bin(&[
        "report",
        dir.path().join("first").to_str().unwrap(),
        "--format",
        "md",
    ]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("spend") && md.contains("cache hits"), "{md}");
}

#[test]
fn an_estimate_equals_what_a_simulated_run_then_sends() {
    let sim = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &sim.url,
        "[model.judge]\nprice = { input = 5.0, output = 15.0 }\n",
    );
    let out = dir.path().join("out");
    let args = |cmd: &str| -> Vec<String> {
        [
            cmd,
            cfg.to_str().unwrap(),
            "--models",
            "a,b,c",
            "--mode",
            "pairwise-baseline",
            "--baseline",
            "a",
            "--questions",
            crate::support::SAMPLE,
            "--out",
            out.to_str().unwrap(),
            "--no-cache",
        ]
        .map(String::from)
        .to_vec()
    };
    let estimate = || {
        let mut a = args("estimate");
        a.extend(["--format", "json"].map(String::from));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        crate::support::stdout_json(&run_bin(&a))[0].clone()
    };
    let run = || {
        let mut a = args("run");
        a.extend(["--format", "json"].map(String::from));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        crate::support::stdout_json(&run_bin(&a))
    };
    let row = |rows: &serde_json::Value, model: &str, stage: &str| -> serde_json::Value {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == model && r["stage"] == stage)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    let before = estimate();
    assert!(!out.exists(), "an estimate writes nothing");
    assert_eq!(
        sim.stats.requests.load(Ordering::Relaxed),
        0,
        "and sends nothing"
    );
    let first = run();
    // Every request the estimate counted, model by model and stage by stage, was sent.
    for (model, stage, n) in [
        ("a", "answer", 32),
        ("b", "answer", 32),
        ("c", "answer", 32),
        ("judge", "judge", 128),
    ] {
        let (e, r) = (
            row(&before["rows"], model, stage),
            row(&first["spend"], model, stage),
        );
        assert_eq!(e["requests"], n, "{model} {stage}: {e}");
        assert_eq!(r["requests"], n, "{model} {stage}: {r}");
    }

    // With the answers held and the judgments gone, the judge prompts are known exactly.
    std::fs::remove_dir_all(out.join("journal")).unwrap();
    std::fs::remove_dir_all(out.join("judgments")).unwrap();
    let again = estimate();
    assert!(
        row(&again["rows"], "a", "answer").is_null(),
        "no answer to make: {again}"
    );
    let judged = row(&again["rows"], "judge", "judge");
    let second = run();
    let (r1, r2) = (
        row(&first["spend"], "judge", "judge"),
        row(&second["spend"], "judge", "judge"),
    );
    let sent = |k: &str| r2[k].as_u64().unwrap() - r1[k].as_u64().unwrap();
    assert_eq!(judged["requests"].as_u64(), Some(sent("requests")));
    assert_eq!(
        judged["prompt_tokens"].as_u64(),
        Some(sent("prompt_tokens")),
        "the judge prompts as the server billed them"
    );
    let cost = judged["cost"].as_f64().unwrap();
    let expected = (judged["prompt_tokens"].as_f64().unwrap() * 5.0
        + judged["completion_tokens"].as_f64().unwrap() * 15.0)
        / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
}

#[test]
fn caches_merge_so_a_run_needs_nothing_either_cache_held() {
    let sim = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let q = one_turn_questions(dir.path(), 3);
    let cfg = config(dir.path(), &sim.url, "");
    let run = |models: &str, out: &str, cache: &str| {
        let o = run_bin(&[
            "run",
            cfg.to_str().unwrap(),
            "--models",
            models,
            "--questions",
            q.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--cache",
            dir.path().join(cache).to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // Two machines, each with a model of its own and a cache of its own.
    run("a", "one", "one.sqlite");
    run("b", "two", "two.sqlite");
    let asked = sim.stats.requests.load(Ordering::Relaxed);
    assert_eq!(asked, 12, "3 answers and 3 grades on each");
    let merge = |source: &str| {
        run_bin(&[
            "cache",
            "merge",
            dir.path().join(source).to_str().unwrap(),
            "--cache",
            dir.path().join("one.sqlite").to_str().unwrap(),
        ])
    };
    let o = merge("two.sqlite");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("added 6 response(s)"));
    let o = merge("two.sqlite");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("added 0 response(s)"),
        "idempotent"
    );
    // Both models, from the merged cache: nothing is asked again.
    run("a,b", "both", "one.sqlite");
    assert_eq!(sim.stats.requests.load(Ordering::Relaxed), asked);
    // A source that is not there is refused before anything is added.
    let o = merge("missing.sqlite");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.sqlite: no such cache file"));
}
