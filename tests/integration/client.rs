//! The client layer against the scripted fake: pacing, retries, Retry-After, lenient replies.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use shinpan::client::{ChatRequest, Client, ClientError, EndpointConfig, Message, RetryPolicy};

use crate::fake::{Fake, Reply};

fn request() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message::user("こんにちは")],
        temperature: 0.0,
        max_tokens: 16,
        sample: None,
        json_schema: None,
        account: None,
    }
}

fn endpoint(fake: &Fake) -> EndpointConfig {
    EndpointConfig {
        base_url: fake.base_url(),
        api_key_env: None,
        concurrency: Some(16),
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(5),
        },
        ..EndpointConfig::default()
    }
}

#[tokio::test]
async fn requests_are_paced_evenly_not_bursted() {
    let fake = Fake::start(|_, _| Reply::Text("はい".into())).await;
    let client = Client::new(EndpointConfig {
        rpm: NonZeroU32::new(600), // one every 100 ms
        ..endpoint(&fake)
    })
    .unwrap();
    let started = Instant::now();
    let futs = (0..11).map(|_| {
        let c = client.clone();
        async move { c.chat(&request()).await.unwrap() }
    });
    futures::future::join_all(futs).await;
    // 11 requests at 600/min need at least 10 gaps of 100 ms, even when issued at once.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let seen = fake.seen();
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].at - w[0].at).collect();
    // No burst: no two requests arrive much closer than the period.
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(60)),
        "{gaps:?}"
    );
}

#[tokio::test]
async fn token_limit_paces_large_requests() {
    let fake = Fake::start(|_, _| Reply::Text("はい".into())).await;
    // 3000 tokens/min = 50 per second, with a burst of 100 (two seconds' worth).
    let client = Client::new(EndpointConfig {
        tpm: NonZeroU32::new(3000),
        ..endpoint(&fake)
    })
    .unwrap();
    let mut req = request();
    req.max_tokens = 50; // about 55 tokens with the prompt
    let started = Instant::now();
    for _ in 0..4 {
        client.chat(&req).await.unwrap();
    }
    // 4 × 56 = 224 tokens: the first request fits the burst, the other 168 tokens
    // need 168 − 44 = 124 tokens of refill at 50/s, about 2.5 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let fake = Fake::start(|n, _| {
        if n == 0 {
            Reply::Raw(
                429,
                vec![("retry-after", "1".into())],
                r#"{"error":{"message":"slow down"}}"#.into(),
            )
        } else {
            Reply::Text("はい".into())
        }
    })
    .await;
    let client = Client::new(endpoint(&fake)).unwrap();
    let r = client.chat(&request()).await.unwrap();
    assert_eq!((r.content.as_str(), r.attempts), ("はい", 2));
    let seen = fake.seen();
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, Retry-After said 1 s"
    );
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(client.stats().rate_limited.load(Relaxed), 1);
}

#[tokio::test]
async fn a_huge_retry_after_is_capped() {
    let fake = Fake::start(|n, _| {
        if n == 0 {
            Reply::Raw(429, vec![("retry-after", "3600".into())], "busy".into())
        } else {
            Reply::Text("ok".into())
        }
    })
    .await;
    let mut cfg = endpoint(&fake);
    cfg.retry.max_delay = Duration::from_millis(300);
    let client = Client::new(cfg).unwrap();
    let started = Instant::now();
    client.chat(&request()).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn retries_end_with_a_message_saying_how_many_attempts() {
    let fake = Fake::start(|_, _| Reply::Raw(503, vec![], "overloaded".into())).await;
    let client = Client::new(endpoint(&fake)).unwrap();
    let err = client.chat(&request()).await.unwrap_err();
    assert!(
        matches!(err, ClientError::GaveUp { attempts: 4, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "gave up after 4 attempts: HTTP 503: overloaded"
    );
    assert_eq!(fake.seen().len(), 4);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_the_key_never_shows() {
    let fake =
        Fake::start(|_, _| Reply::Raw(401, vec![], "invalid key sk-test-SECRET-1234".into())).await;
    let client = Client::with_key(endpoint(&fake), Some("sk-test-SECRET-1234".into())).unwrap();
    let err = client.chat(&request()).await.unwrap_err().to_string();
    assert_eq!(fake.seen().len(), 1);
    assert!(err.contains("401") && !err.contains("SECRET"), "{err}");
}

#[tokio::test]
async fn a_hung_server_times_out_and_is_retried() {
    let fake = Fake::start(|n, _| {
        if n == 0 {
            Reply::Slow(Duration::from_secs(30), "遅すぎる".into())
        } else {
            Reply::Text("遅れてすみません".into())
        }
    })
    .await;
    let mut cfg = endpoint(&fake);
    cfg.timeout = Duration::from_millis(500);
    let client = Client::new(cfg).unwrap();
    let r = client.chat(&request()).await.unwrap();
    assert_eq!(r.attempts, 2);
}

/// Prompt tokens a provider served from its prompt cache (`usage.prompt_tokens_details
/// .cached_tokens`) are recorded and priced at `cached_input`; a reply that does not say is
/// billed at the full input price.
#[tokio::test(flavor = "multi_thread")]
async fn cached_prompt_tokens_are_recorded_and_priced_at_their_own_rate() {
    let fake = crate::fake::Fake::start(|_, body| {
        let (content, usage) = if crate::support::is_judge(body) {
            ("評価: [[7]]", r#"{"prompt_tokens": 500, "completion_tokens": 20}"#)
        } else {
            (
                "はい、答えです。",
                r#"{"prompt_tokens": 1000, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 600}}"#,
            )
        };
        crate::fake::Reply::Raw(
            200,
            vec![("content-type", "application/json".into())],
            format!(
                r#"{{"choices": [{{"message": {{"role": "assistant", "content": "{content}"}}, "finish_reason": "stop"}}], "usage": {usage}}}"#
            ),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::support::write(
        dir.path(),
        "c.toml",
        "[model.m]\nprice = { input = 2.0, cached_input = 0.5, output = 8.0 }\n[model.judge]\nprice = { input = 2.0, cached_input = 0.5, output = 8.0 }\n",
    );
    let o = crate::support::run_on(
        dir.path(),
        &fake.base_url(),
        "m",
        &[cfg.to_str().unwrap(), "--no-cache"],
    );
    let report = crate::support::stdout_json(&o);
    let report = if report.is_array() {
        report[0].clone()
    } else {
        report
    };
    let row = |stage: &str| {
        report["spend"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == stage)
            .unwrap()
            .clone()
    };
    let (answer, judge) = (row("answer"), row("judge"));
    let n = answer["requests"].as_f64().unwrap();
    assert!(n > 0.0);
    assert_eq!(answer["cached_prompt_tokens"].as_f64(), Some(600.0 * n));
    // 400 uncached at 2, 600 cached at 0.5, 100 out at 8, per million.
    let want = n * (400.0 * 2.0 + 600.0 * 0.5 + 100.0 * 8.0) / 1e6;
    assert!(
        (answer["cost"].as_f64().unwrap() - want).abs() < 1e-12,
        "{answer}"
    );
    // The judge's replies said nothing of a cache: the full input price.
    let j = judge["requests"].as_f64().unwrap();
    assert!(judge.get("cached_prompt_tokens").is_none(), "{judge}");
    let want = j * (500.0 * 2.0 + 20.0 * 8.0) / 1e6;
    assert!(
        (judge["cost"].as_f64().unwrap() - want).abs() < 1e-12,
        "{judge}"
    );
}
