//! What the README promises and no other test showed: settings' layers, refusals before any
//! request, what goes over the wire, what is not retried, batch import, and reports that do
//! not depend on the order of records.

use std::path::Path;

use crate::fake::{Fake, Reply, first_user};
use crate::support::{QUESTIONS, candidate, is_judge, jsonl, run_bin, run_on, stderr, write};

/// [`run_on`] with models alpha and beta, and no cache of the test's own.
fn run(dir: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--no-cache"];
    args.extend_from_slice(extra);
    run_on(dir, url, "alpha,beta", &args)
}

async fn grading_fake() -> Fake {
    Fake::start(|_, body| {
        if is_judge(body) {
            Reply::Text("評価: [[6]]".into())
        } else {
            Reply::Text(candidate(body))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_wins_over_the_config_file_field_by_field() {
    let fake = grading_fake().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "q.jsonl", QUESTIONS);
    let cfg = write(
        dir.path(),
        "c.toml",
        &format!(
            "models = [\"alpha\"]\njudge = \"judge\"\nquestions = \"q.jsonl\"\nout = \"out\"\n\
             max_tokens = 64\njudge_max_tokens = 100\n[endpoint]\nbase_url = \"{}\"\napi_key_env = \"\"\n",
            fake.base_url()
        ),
    );
    let o = run_bin(&["run", cfg.to_str().unwrap(), "--max-tokens", "32"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = fake.seen();
    assert!(!seen.is_empty());
    for s in seen {
        let want = if is_judge(&s.body) { 100 } else { 32 };
        assert_eq!(
            s.body["max_tokens"], want,
            "the flag's cap, the file's judge cap"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_modes_are_not_sharded_and_upstream_sets_have_no_rubric() {
    let fake = grading_fake().await;
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["--mode", "pairwise-n", "--games", "3", "--shard", "0/2"],
            "--shard cannot split --mode pairwise-n",
        ),
        (
            vec!["--mode", "pairwise-adaptive", "--shard", "1/2"],
            "--shard cannot split --mode pairwise-adaptive",
        ),
        (
            vec![
                "--mode",
                "rubric",
                "--prompt-set",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../shared/datasets/mt_bench/judge_prompts.jsonl"
                ),
            ],
            "upstream sets have no rubric prompt",
        ),
    ] {
        let o = run(dir.path(), &fake.base_url(), &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(fake.seen().is_empty(), "refused before any request");
    assert!(
        !dir.path().join("out").exists(),
        "and before anything is written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_verdicts_send_a_schema_to_the_judge_only() {
    let fake = Fake::start(|_, body| {
        if is_judge(body) {
            Reply::Text(r#"{"explanation": "良い", "rating": 8}"#.into())
        } else {
            Reply::Text(candidate(body))
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &fake.base_url(), &["--structured-verdicts"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = fake.seen();
    for s in &seen {
        let rf = &s.body["response_format"];
        if is_judge(&s.body) {
            assert_eq!(rf["type"], "json_schema", "{rf}");
            let props = &rf["json_schema"]["schema"]["properties"];
            assert_eq!(
                props["rating"]["enum"],
                serde_json::json!((1..=10).collect::<Vec<u32>>())
            );
            assert!(
                props.get("explanation").is_some(),
                "the judge reasons first"
            );
        } else {
            assert!(rf.is_null(), "candidates answer freely: {rf}");
        }
    }
    let grades = jsonl(&dir.path().join("out/judgments/judge_single.jsonl"));
    assert!(grades.iter().all(|g| g["score"] == 8.0));
    // Without the flag, no schema is sent.
    let plain = tempfile::tempdir().unwrap();
    let before = seen.len();
    assert!(run(plain.path(), &fake.base_url(), &[]).status.success());
    assert!(
        fake.seen()[before..]
            .iter()
            .all(|s| s.body["response_format"].is_null())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_reasoning_shows_the_judge_the_thinking() {
    let fake = Fake::start(|_, body| {
        if is_judge(body) {
            Reply::Text("評価: [[6]]".into())
        } else {
            Reply::Text(format!("<think>秘密の考え</think>{}", candidate(body)))
        }
    })
    .await;
    for (flag, shown) in [(None, false), (Some("--keep-reasoning"), true)] {
        let dir = tempfile::tempdir().unwrap();
        let before = fake.seen().len();
        let extra: Vec<&str> = flag.into_iter().collect();
        let o = run(dir.path(), &fake.base_url(), &extra);
        assert!(o.status.success(), "{}", stderr(&o));
        let judged: Vec<String> = fake.seen()[before..]
            .iter()
            .filter(|s| is_judge(&s.body))
            .map(|s| first_user(&s.body))
            .collect();
        assert_eq!(judged.len(), 8);
        assert!(
            judged.iter().all(|p| p.contains("秘密の考え") == shown),
            "{flag:?}"
        );
        // Either way the thinking is kept in the answer record, apart from the answer.
        let a = &jsonl(&dir.path().join("out/answers/alpha.jsonl"))[0];
        assert_eq!(a["choices"][0]["reasoning"][0], "秘密の考え");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_reply_is_not_asked_again() {
    let fake = Fake::start(|_, _| {
        Reply::Raw(
            200,
            vec![("content-type", "application/json".into())],
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"content_filter"}]}"#.into(),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let o = run_on(
        dir.path(),
        &fake.base_url(),
        "alpha",
        &["--max-attempts", "6"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let seen = fake.seen().len();
    assert_eq!(seen, 2, "one attempt for each question's first turn: {err}");
    assert!(err.contains("refused or filtered"), "{err}");
}

#[test]
fn batch_import_stores_completions_and_skips_error_lines() {
    let dir = tempfile::tempdir().unwrap();
    let ok = "a".repeat(64);
    let failed = "b".repeat(64);
    let lines = [
        serde_json::json!({"id": "1", "custom_id": ok, "response": {"status_code": 200,
            "request_id": "r1", "body": {"model": "m", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "回答"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}}}, "error": null}),
        serde_json::json!({"id": "2", "custom_id": failed, "response": {"status_code": 500,
            "request_id": "r2", "body": {"error": {"message": "overloaded"}}}, "error": null}),
        serde_json::json!({"id": "3", "custom_id": "request-3", "response": {"status_code": 200,
            "request_id": "r3", "body": {"model": "m", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "他人の"}, "finish_reason": "stop"}]}},
            "error": null}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let results = write(dir.path(), "results.jsonl", &text);
    let cache = dir.path().join("c.sqlite");
    let o = run_bin(&[
        "batch",
        "import",
        results.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stored 1 response(s)"), "{err}");
    assert!(
        err.contains("1 line(s) carry an error and were not stored"),
        "{err}"
    );
    assert!(err.contains("1 line(s) are not shinpan requests"), "{err}");
    let c = shinpan::client::Cache::open(&cache).unwrap();
    assert_eq!(c.info().unwrap().entries, 1);
    assert_eq!(c.get(&ok).unwrap().unwrap().content, "回答");
    assert!(c.get(&failed).unwrap().is_none());
    // A file that is not a results file is refused, naming the line.
    let bad = write(
        dir.path(),
        "bad.jsonl",
        "{\"custom_id\": \"x\"}\nnot json\n",
    );
    let o = run_bin(&[
        "batch",
        "import",
        bad.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}

/// The lines of `text` in a fixed shuffled order.
fn shuffled(text: &str, seed: u64) -> String {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut lines: Vec<&str> = text.lines().collect();
    lines.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn reports_are_the_same_bytes_whatever_the_order_of_the_records() {
    use crate::support::{SAMPLE, Sim};
    let sim = Sim::start(shinpan::simulate::SimConfig {
        garble_rate: 0.1,
        position_bias: 0.2,
        seed: 5,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    for mode in ["single", "pairwise-all"] {
        let out = dir.path().join(mode);
        let o = run_bin(&[
            "run",
            "--models",
            "m1,m2,m3",
            "--judge",
            "j",
            "--questions",
            SAMPLE,
            "--mode",
            mode,
            "--out",
            out.to_str().unwrap(),
            "--base-url",
            &sim.url,
            "--api-key-env",
            "",
            "--reasks",
            "0",
        ]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let report = |dir: &Path, format: &str| {
            let o = run_bin(&["report", dir.to_str().unwrap(), "--format", format]);
            assert!(o.status.success(), "{}", stderr(&o));
            o.stdout
        };
        let file = std::fs::read_dir(out.join("judgments"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.lines().count() >= 32, "{mode}");
        let before: Vec<Vec<u8>> = ["json", "md", "table", "html"]
            .iter()
            .map(|f| report(&out, f))
            .collect();
        for seed in [1, 2, 3] {
            std::fs::write(&file, shuffled(&text, seed)).unwrap();
            for (f, was) in ["json", "md", "table", "html"].iter().zip(&before) {
                assert!(
                    report(&out, f) == *was,
                    "{mode} {f}: another order, other bytes"
                );
            }
        }
    }
}
