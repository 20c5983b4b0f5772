//! Recurring runs through the real binary: each run in its own directory, one history line per
//! mode and model, the change against the previous comparable run, the regression gate's exit
//! code on a real drop and none on a drop within the noise, and `shinpan history`.

use std::path::Path;

use serde_json::Value;

use super::support::*;
use shinpan::simulate::SimConfig;

fn sim(my_model: f64) -> Sim {
    Sim::start(SimConfig {
        quality: [
            ("my-model".to_string(), my_model),
            ("base".to_string(), 0.5),
        ]
        .into(),
        ..SimConfig::default()
    })
}

/// A recurring config over the sample questions: single and pairwise-baseline, my-model
/// watched.
fn config(dir: &Path, url: &str) -> String {
    std::fs::copy(SAMPLE, dir.join("q.jsonl")).unwrap();
    let p = dir.join("nightly.toml");
    std::fs::write(
        &p,
        format!(
            r#"
models = ["my-model", "base"]
judge = "j"
modes = ["single", "pairwise-baseline"]
baseline = "base"
questions = "q.jsonl"
out = "nightly"
[endpoint]
base_url = "{url}"
api_key_env = ""
[nightly]
watch = ["my-model"]
"#
        ),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

fn nightly(cfg: &str, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", cfg, "--name", name, "--format", "json"];
    args.extend_from_slice(extra);
    run_bin(&args)
}

fn history(dir: &Path) -> Vec<Value> {
    jsonl(&dir.join("nightly/history.jsonl"))
}

#[test]
fn history_is_appended_and_a_real_drop_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (sim(0.9), sim(0.2));
    let cfg = config(dir.path(), &good.url);

    let o = nightly(&cfg, "day1", &[]);
    let out = stdout_json(&o);
    assert_eq!(out["run"], "day1");
    assert_eq!(out["reports"].as_array().unwrap().len(), 2);
    assert_eq!(out["changes"], serde_json::json!([]));
    // The run has its own directory; the history a line per mode and model (the baseline
    // has no line in pairwise-baseline).
    assert!(dir.path().join("nightly/day1/report.html").is_file());
    let h = history(dir.path());
    let keys: Vec<(String, String)> = h
        .iter()
        .map(|l| {
            (
                l["mode"].as_str().unwrap().into(),
                l["model"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let pair = h.iter().find(|l| l["mode"] == "pairwise-baseline").unwrap();
    assert_eq!(
        (pair["model"].as_str(), pair["metric"].as_str()),
        (Some("my-model"), Some("adjusted_win_rate"))
    );
    for l in &h {
        assert_eq!(l["run"], "day1");
        assert!(l["date"].as_str().unwrap().ends_with('Z'));
        assert!(l["config_digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(
            l["questions_digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        assert_eq!(l["judge"], "j");
        assert_eq!(l["n"], 32);
        assert_eq!(l["errors"], 0);
        let ci = l["ci"].as_array().unwrap();
        assert!(ci[0].as_f64() <= l["value"].as_f64() && l["value"].as_f64() <= ci[1].as_f64());
        assert!(
            l["answer_tokens"].as_u64().unwrap() > 0 && l["judge_tokens"].as_u64().unwrap() > 0
        );
    }

    // The next night my-model is much worse: exit 3, and the change says why.
    let o = nightly(
        &cfg,
        "day2",
        &["--base-url", &bad.url, "--fail-on-regression", "0.3"],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(
            "regression against the previous comparable run: my-model (single j) score fell"
        ),
        "{stderr}"
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = out["changes"].as_array().unwrap();
    let mine: Vec<&Value> = changes
        .iter()
        .filter(|c| c["model"] == "my-model")
        .collect();
    assert_eq!(mine.len(), 2);
    for c in &mine {
        assert_eq!(
            (c["previous_run"].as_str(), c["status"].as_str()),
            (Some("day1"), Some("regressed")),
            "{c}"
        );
        assert!(c["change_ci"][1].as_f64().unwrap() < 0.0);
    }
    // The baseline model did not move, and is not watched anyway.
    let base = changes.iter().find(|c| c["model"] == "base").unwrap();
    assert_eq!(
        (base["watched"].as_bool(), base["status"].as_str()),
        (Some(false), Some("within_noise"))
    );
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("nightly/day2/changes.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(&saved, &out["changes"]);
    assert_eq!(history(dir.path()).len(), 6);

    // `history` shows each series run by run, the gate's verdict kept.
    let o = run_bin(&["history", &cfg, "--format", "json"]);
    let series = stdout_json(&o)["series"].as_array().unwrap().clone();
    assert_eq!(series.len(), 3);
    let s = series
        .iter()
        .find(|s| s["model"] == "my-model" && s["mode"] == "single")
        .unwrap();
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1]["change"]["status"], "regressed");
    let o = run_bin(&[
        "history",
        dir.path().join("nightly").to_str().unwrap(),
        "--model",
        "my-model",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && text.contains("REGRESSED") && text.contains("day2"),
        "{text}"
    );
    let o = run_bin(&["history", &cfg, "--format", "html"]);
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(page.contains("<svg") && page.contains("<polyline") && page.contains("my-model"));
}

#[test]
fn a_drop_within_the_noise_does_not_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(0.9);
    let cfg = config(dir.path(), &s.url);
    assert!(nightly(&cfg, "day1", &[]).status.success());
    // Make day1 look better than it was, with an interval so wide that tonight's identical
    // figures are a drop beyond the threshold but inside the noise.
    let path = dir.path().join("nightly/history.jsonl");
    let lines: Vec<String> = history(dir.path())
        .into_iter()
        .map(|mut l| {
            let v = l["value"].as_f64().unwrap();
            let up = if l["metric"] == "score" { 0.5 } else { 0.01 };
            let half = if l["metric"] == "score" { 3.0 } else { 0.5 };
            l["value"] = (v + up).into();
            l["ci"] = serde_json::json!([v + up - half, v + up + half]);
            l.to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let o = nightly(
        &cfg,
        "day2",
        &["--fail-on-regression", "score=0.3,win_rate=0.005"],
    );
    let out = stdout_json(&o);
    let mine: Vec<&Value> = out["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["model"] == "my-model")
        .collect();
    assert_eq!(mine.len(), 2);
    for c in mine {
        assert!(
            c["change"].as_f64().unwrap() < -c["threshold"].as_f64().unwrap(),
            "{c}"
        );
        assert_eq!(c["status"], "within_noise", "{c}");
    }
}

#[test]
fn recurring_run_mistakes_are_caught_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(0.9);
    let cfg = config(dir.path(), &s.url);
    // A bad history line names the file and line; nothing is asked.
    std::fs::create_dir_all(dir.path().join("nightly")).unwrap();
    std::fs::write(
        dir.path().join("nightly/history.jsonl"),
        "{\"run\": 1}\n{}\n",
    )
    .unwrap();
    let o = nightly(&cfg, "day1", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("history.jsonl") && stderr.contains("line 1"),
        "{stderr}"
    );
    assert_eq!(s.stats.to_json()["requests"].as_u64(), Some(0));
    assert!(!dir.path().join("nightly/day1").exists());
    // `mode` and `modes` together.
    let both = dir.path().join("both.toml");
    std::fs::write(
        &both,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("modes =", "mode = \"single\"\nmodes ="),
    )
    .unwrap();
    let o = run_bin(&["run", both.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give `mode` or `modes`, not both"));
    // A bad threshold, a bad name, and the nightly flags without [nightly].
    for (args, says) in [
        (
            vec!["run", &cfg, "--fail-on-regression", "lots"],
            "--fail-on-regression \"lots\"",
        ),
        (vec!["run", &cfg, "--name", "../up"], "--name \"../up\""),
        (
            vec![
                "run",
                "--models",
                "a",
                "--judge",
                "j",
                "--questions",
                SAMPLE,
                "--name",
                "x",
            ],
            "[nightly]",
        ),
    ] {
        let o = run_bin(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn each_night_asks_afresh_and_writes_the_cache_it_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = sim(0.9);
    let cfg = config(dir.path(), &server.url);
    // Both nights share one cache, on one endpoint: only the nightly rule keeps the second
    // night from being served the first night's replies.
    let cache = dir.path().join("shared.sqlite");
    let c = cache.to_str().unwrap();
    let o = nightly(&cfg, "day1", &["--cache", c]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = server.stats.answered.lock().unwrap().len();
    let stored = shinpan::client::Cache::open(&cache)
        .unwrap()
        .keys()
        .unwrap()
        .len();
    assert_eq!(stored, first, "every reply of the first night is written");
    // The same model name behind the same endpoint now answers worse.
    server.restart(SimConfig {
        quality: [("my-model".to_string(), 0.2), ("base".to_string(), 0.5)].into(),
        ..SimConfig::default()
    });
    let o = nightly(&cfg, "day2", &["--cache", c, "--fail-on-regression", "0.3"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "measured as it is now: {err}");
    let second = server.stats.answered.lock().unwrap().len();
    assert_eq!(
        second, first,
        "every request asked again, none served from the cache"
    );
    assert!(err.contains("0 from cache"), "{err}");
    let after = shinpan::client::Cache::open(&cache)
        .unwrap()
        .keys()
        .unwrap()
        .len();
    assert!(
        after > stored,
        "the second night's replies are written too: {after} rows"
    );
}

#[test]
fn without_intervals_the_gate_cannot_fail_and_failed_items_exit_1_before_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (sim(0.9), sim(0.2));
    let cfg = config(dir.path(), &good.url);
    assert!(nightly(&cfg, "day1", &[]).status.success());
    // A real drop, but no intervals to tell it from noise: reported, never failed on.
    let o = nightly(
        &cfg,
        "day2",
        &[
            "--base-url",
            &bad.url,
            "--fail-on-regression",
            "0.3",
            "--bootstrap",
            "0",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mine: Vec<&Value> = out["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["model"] == "my-model")
        .collect();
    assert!(
        !mine.is_empty() && mine.iter().all(|c| c["status"] == "no_interval"),
        "{mine:?}"
    );
    // The same drop with failed items: exit 1 (the run failed) comes first, not 3.
    let flaky = Sim::start(SimConfig {
        quality: [("my-model".to_string(), 0.2), ("base".to_string(), 0.5)].into(),
        fail_rate: 0.3,
        ..SimConfig::default()
    });
    let o = nightly(
        &cfg,
        "day3",
        &[
            "--base-url",
            &flaky.url,
            "--fail-on-regression",
            "0.3",
            "--max-attempts",
            "1",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("item(s) failed"), "{err}");
    assert!(!err.contains("regression against"), "{err}");
}
