//! What users and CI jobs act on, through the real binary: exit codes, partial reports,
//! figures the data cannot support, question ids as written, input files that are read or
//! refused by name, and which endpoint a flag changes.

use std::path::Path;

use serde_json::{Value, json};
use shinpan::simulate::SimConfig;

use crate::fake::{Fake, Reply};
use crate::support::{QUESTIONS, Sim, jsonl, judging, run_bin, shinpan_bin, stdout_json, write};

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/v1", l.local_addr().unwrap())
}

fn run_args<'a>(q: &'a Path, out: &'a Path, url: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--models",
        "a",
        "--judge",
        "j",
        "--questions",
        q.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        url,
        "--max-attempts",
        "2",
        "--timeout",
        "5",
        "--bootstrap",
        "0",
        "--format",
        "json",
    ]
}

#[test]
fn a_dead_endpoint_exits_1_and_the_report_and_summary_say_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let q = write(dir.path(), "q.jsonl", QUESTIONS);
    let out = dir.path().join("out");
    let url = closed_port_url();
    let o = shinpan_bin()
        .args(run_args(&q, &out, &url))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 × answer: gave up after 2 attempts"),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(
        stderr.contains(
            "6 item(s) failed (2 answer(s) missing, 4 judgment(s) without a verdict or not made)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("Error: 6 item(s) failed (allowed: 0)"),
        "{stderr}"
    );
    // The report printed, and the one written, are marked partial with what is missing.
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["partial"], true);
    assert_eq!(
        report["coverage"],
        json!([{"model": "a", "expected": 4, "judged": 0, "failed": 0, "missing": 4}])
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report-single.json")).unwrap())
            .unwrap();
    assert_eq!(written["coverage"], report["coverage"]);
    let md = std::fs::read_to_string(out.join("report-single.md")).unwrap();
    assert!(
        md.contains("— PARTIAL") && md.contains("**PARTIAL: 4 judgment(s) missing**"),
        "{md}"
    );
    let table = run_bin(&["report", out.to_str().unwrap(), "--bootstrap", "0"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("PARTIAL: 4 judgment(s) missing"), "{text}");
    // Tolerated failures: exit 0, still partial.
    for allow in ["6", "100%"] {
        let mut args = run_args(&q, &out, &url);
        args.extend(["--allow-failures", allow]);
        let o = shinpan_bin().args(&args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(stdout_json(&o)["partial"], true);
    }
    let mut args = run_args(&q, &out, &url);
    args.extend(["--allow-failures", "5"]);
    assert_eq!(
        shinpan_bin().args(&args).output().unwrap().status.code(),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_from_the_chat_url_says_the_base_url_should_end_in_v1() {
    // The fake serves /v1/chat/completions only: anything else is a 404 with no body.
    let fake = Fake::start(|_, _| Reply::Text("never".into())).await;
    let dir = tempfile::tempdir().unwrap();
    let q = write(dir.path(), "q.jsonl", QUESTIONS);
    let out = dir.path().join("out");
    // A server whose API sits at /api/v1, given without it.
    let url = format!("http://{}", fake.addr);
    let args: Vec<String> = run_args(&q, &out, &url)
        .into_iter()
        .map(String::from)
        .collect();
    let o = tokio::task::spawn_blocking(move || shinpan_bin().args(&args).output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("HTTP 404: not found (POST {url}/chat/completions; --base-url should end in /v1: shinpan appends /chat/completions)")),
        "{stderr}"
    );
    // The endpoint's own path given as the base URL is refused before anything is sent.
    let wrong = format!("{url}/v1/chat/completions");
    let o = shinpan_bin()
        .args(run_args(&q, &out.join("never"), &wrong))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("should end in /v1, not /chat/completions"),
        "{stderr}"
    );
    assert!(!out.join("never").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_ids_round_trip_as_the_question_file_writes_them() {
    // Question "1" is a string, question 2 a number; model "b" always fails.
    let fake = Fake::start(|_, body| {
        if body["model"] == "b" {
            return Reply::Raw(500, vec![], "down".into());
        }
        judging(|_| Reply::Text("[[7]]".into()))(0, body)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let q = write(
        dir.path(),
        "q.jsonl",
        "{\"question_id\": \"1\", \"category\": \"writing\", \"turns\": [\"自己紹介してください。\"]}\n\
         {\"question_id\": 2, \"category\": \"writing\", \"turns\": [\"俳句を詠んでください。\"]}\n",
    );
    let opts = crate::support::builder(
        &fake.base_url(),
        dir.path(),
        &["a", "b"],
        shinpan::types::Mode::Single,
    )
    .questions(&q)
    .build()
    .unwrap();
    shinpan::pipeline::run(&opts, false).await.unwrap();
    let out = dir.path().join("out");
    let ids = |path: &str| -> Vec<Value> {
        let mut v: Vec<Value> = jsonl(&out.join(path))
            .into_iter()
            .map(|r| r["question_id"].clone())
            .collect();
        v.sort_by_key(|x| x.to_string());
        v
    };
    let expected = vec![json!("1"), json!(2)];
    assert_eq!(ids("answers/a.jsonl"), expected);
    assert_eq!(ids("journal/judge_single.jsonl"), expected);
    assert_eq!(ids("judgments/judge_single.jsonl"), expected);
    assert_eq!(
        ids("errors.jsonl"),
        expected,
        "failed answers keep the ids too"
    );
}

#[test]
fn every_input_file_is_read_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let grade = |q: u32, s: u32| {
        format!(
            "{{\"question_id\": {q}, \"model\": \"m\", \"judge\": [\"j\", \"single\"], \"score\": {s}, \"turn\": 1}}\n"
        )
    };
    write(&d, "plain.jsonl", &grade(1, 4));
    // A UTF-8 byte-order mark (as some Windows editors write) does not hide a file.
    write(&d, "bom.jsonl", &format!("\u{feff}{}", grade(2, 8)));
    let r = stdout_json(&run_bin(&[
        "report",
        d.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]));
    assert_eq!(
        (
            r["models"][0]["n"].as_u64(),
            r["models"][0]["score"].as_f64()
        ),
        (Some(2), Some(6.0))
    );

    for (name, content, says) in [
        (
            "bad.jsonl",
            "{\"question_id\": 1, oops\n",
            "bad.jsonl: line 1: not a JSON record",
        ),
        (
            "other.jsonl",
            "{\"name\": \"x\"}\n",
            "other.jsonl: line 1: not a judgment, answer or question record (fields: name)",
        ),
    ] {
        let f = write(&d, name, content);
        let o = run_bin(&["report", d.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        std::fs::remove_file(f).unwrap();
    }
    // Judge prompts and reference answers are recognised and said to be left out.
    write(
        &d,
        "judge_prompts.jsonl",
        "{\"name\": \"pair-v2\", \"prompt_template\": \"x\"}\n",
    );
    let o = run_bin(&["report", d.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("judge_prompts.jsonl holds judge prompts"));

    // Bad input to report exits 2.
    for (args, says) in [
        (
            vec!["report", "no-such-dir"],
            "no-such-dir: no such file or directory",
        ),
        (
            vec!["report", d.to_str().unwrap(), "--mode", "duel"],
            "--mode: unknown mode",
        ),
    ] {
        let o = run_bin(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{o:?}");
    }
    let p = write(
        &d,
        "p/pair.jsonl",
        "{\"question_id\": 1, \"model_1\": \"a\", \"model_2\": \"b\", \"g1_winner\": \"model_1\", \"g2_winner\": \"model_1\", \"judge\": [\"j\", \"pair\"], \"turn\": 1}\n",
    );
    let o = run_bin(&["report", p.to_str().unwrap(), "--baseline", "c"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--baseline c: no pairwise game"));
}

#[test]
fn categories_come_from_the_question_file_when_judgments_lack_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/mt_bench");
    let judgments = root.join("third_party_judgments/Stefanstud__FastChat/model_judgment");
    let first = jsonl(
        &std::fs::read_dir(&judgments)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    );
    assert!(
        first[0].get("category").is_none(),
        "FastChat's records carry no category"
    );
    let r = stdout_json(&run_bin(&[
        "report",
        judgments.to_str().unwrap(),
        root.join("question.jsonl").to_str().unwrap(),
        "--mode",
        "single",
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]));
    let cats = r["models"][0]["categories"].as_object().unwrap();
    assert_eq!(cats.len(), 8, "{cats:?}");
    assert!(cats.contains_key("reasoning") && cats.contains_key("roleplay"));
}

/// Pairwise records of one pairing, as (order 1 winner, order 2 winner) per game.
fn games(model: &str, base: &str, verdicts: &[(&str, &str)]) -> String {
    verdicts
        .iter()
        .enumerate()
        .map(|(i, (g1, g2))| {
            format!(
                "{{\"question_id\": {}, \"model_1\": \"{model}\", \"model_2\": \"{base}\", \"g1_winner\": \"{g1}\", \"g2_winner\": \"{g2}\", \"judge\": [\"j\", \"pair\"], \"turn\": 1}}\n",
                i + 1
            )
        })
        .collect()
}

fn pair_report(dir: &Path, name: &str, content: &str) -> Value {
    let f = write(dir, name, content);
    stdout_json(&run_bin(&[
        "report",
        f.to_str().unwrap(),
        "--baseline",
        "base",
        "--format",
        "json",
        "--bootstrap",
        "500",
    ]))
}

#[test]
fn figures_the_data_cannot_support_are_reported_as_not_estimable() {
    let dir = tempfile::tempdir().unwrap();
    // A clean sweep: "a" loses every game in both orders.
    let r = pair_report(
        dir.path(),
        "sweep.jsonl",
        &games("a", "base", &[("model_2", "model_2"); 32]),
    );
    let a = &r["models"][0];
    assert_eq!(
        (a["losses"].as_u64(), a["bt_rating"].clone()),
        (Some(32), Value::Null),
        "{a}"
    );
    assert_eq!(
        (a["bt_ci"].clone(), a["predicted_win_rate"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(
        a["bt_not_estimable"]
            .as_str()
            .unwrap()
            .contains("lost all 32"),
        "{a}"
    );
    let p = &r["position_bias"];
    assert_eq!(p["home_advantage_elo"], Value::Null, "{p}");
    assert_eq!(p["home_advantage_ci"], Value::Null);
    assert!(
        p["home_advantage_not_estimable"]
            .as_str()
            .unwrap()
            .contains("won all 32 verdicts"),
        "{p}"
    );
    assert_eq!(
        p["first_position_win_rate"], 0.5,
        "the exact rate is still given"
    );

    // Inconsistent games are listed by question and turn, whatever the file's order.
    let mut shuffled: Vec<String> = games("a", "base", &[("model_1", "model_2"); 5])
        .lines()
        .map(str::to_string)
        .collect();
    shuffled.reverse();
    let r = pair_report(dir.path(), "shuffled.jsonl", &(shuffled.join("\n") + "\n"));
    let ids: Vec<u64> = r["position_bias"]["inconsistent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["question_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);

    // Even: 16 wins and 16 losses, the first position winning as often as the second.
    let mut even = vec![("model_1", "model_1"); 8];
    even.extend([("model_2", "model_2"); 8]);
    even.extend([("model_1", "model_2"); 8]);
    even.extend([("model_2", "model_1"); 8]);
    let r = pair_report(dir.path(), "even.jsonl", &games("a", "base", &even));
    let a = &r["models"][0];
    assert!(
        (a["bt_rating"].as_f64().unwrap() - 1000.0).abs() < 1e-6,
        "{a}"
    );
    let [lo, hi] = [
        a["bt_ci"][0].as_f64().unwrap(),
        a["bt_ci"][1].as_f64().unwrap(),
    ];
    assert!(lo < 1000.0 && hi > 1000.0, "{a}");
    let p = &r["position_bias"];
    assert!(
        p["home_advantage_elo"].as_f64().unwrap().abs() < 1e-6,
        "{p}"
    );
    let [lo, hi] = [
        p["home_advantage_ci"][0].as_f64().unwrap(),
        p["home_advantage_ci"][1].as_f64().unwrap(),
    ];
    assert!(
        lo < 0.0 && hi > 0.0 && hi - lo > 50.0,
        "an honest width: {p}"
    );
    assert!(p.get("home_advantage_not_estimable").is_none());
}

#[test]
fn the_demo_reports_its_unbounded_home_advantage_as_not_estimable() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_bin(&[
        "demo",
        "--out",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let reports = stdout_json(&o);
    let pair = &reports[2];
    let p = &pair["position_bias"];
    // The simulated judge favours the first position a little (first-position win rate above
    // one half), but in one order of each pairing the first-shown answer won every verdict:
    // the data put no bound on the position term, so no number is given.
    assert!(p["first_position_win_rate"].as_f64().unwrap() > 0.5, "{p}");
    assert_eq!(p["home_advantage_elo"], Value::Null, "{p}");
    assert!(
        p["home_advantage_not_estimable"]
            .as_str()
            .unwrap()
            .contains("first-shown answer won all"),
        "{p}"
    );
    // Every rating the demo prints is bounded by its data (each model tied at least once).
    for m in pair["models"].as_array().unwrap() {
        let r = m["bt_rating"].as_f64().unwrap();
        let [lo, hi] = [
            m["bt_ci"][0].as_f64().unwrap(),
            m["bt_ci"][1].as_f64().unwrap(),
        ];
        assert!(lo < r && r < hi && hi - lo > 50.0, "{m}");
    }
}

#[test]
fn an_endpoint_flag_says_which_endpoints_it_changes() {
    let sim = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "q.jsonl", QUESTIONS);
    let config = write(
        dir.path(),
        "shinpan.toml",
        &format!(
            r#"
models = ["local", "api"]
judge = "api"
questions = "q.jsonl"
out = "out"
[endpoint]
base_url = "{url}"
api_key_env = ""
[endpoints.slow]
base_url = "{url}"
rpm = 600
[model.local]
endpoint = "slow"
"#,
            url = sim.url
        ),
    );
    let o = run_bin(&[
        "run",
        config.to_str().unwrap(),
        "--rpm",
        "6000",
        "--bootstrap",
        "0",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: --rpm applies to [endpoint]; [endpoints.slow] (local) keep(s) the value set in the config file"),
        "{stderr}"
    );
    // A flag that would change no endpoint in use is refused.
    let only_local = write(
        dir.path(),
        "local.toml",
        &std::fs::read_to_string(&config).unwrap().replace(
            "models = [\"local\", \"api\"]\njudge = \"api\"",
            "models = [\"local\"]\njudge = \"local\"",
        ),
    );
    let o = run_bin(&["run", only_local.to_str().unwrap(), "--rpm", "6000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--rpm changes no endpoint in use"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_given_up_early_with_one_message_naming_it() {
    // A server that accepts requests and never answers (within the test's lifetime).
    let fake =
        Fake::start(|_, _| Reply::Slow(std::time::Duration::from_secs(600), "遅い".into())).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let url = fake.base_url();
    let args: Vec<String> = [
        "run",
        "--models",
        "a,b",
        "--judge",
        "j",
        "--questions",
        crate::support::SAMPLE,
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        &url,
        "--timeout",
        "1",
        "--bootstrap",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let started = std::time::Instant::now();
    let o = tokio::task::spawn_blocking(move || shinpan_bin().args(&args).output().unwrap())
        .await
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    // 32 answers × 6 attempts of 1 s plus backoff, 8 at a time, would take well over a
    // minute; the endpoint is given up after 5 timeouts in a row.
    assert!(
        took < std::time::Duration::from_secs(30),
        "took {took:?}\n{stderr}"
    );
    assert!(
        fake.seen().len() <= 16,
        "{} requests sent",
        fake.seen().len()
    );
    assert!(
        stderr.contains(&format!("× answer: endpoint {url} is not answering (5 connection failures or timeouts in a row, the last: timed out after 1s)")),
        "{stderr}"
    );
}

#[test]
fn progress_is_a_plain_line_when_not_on_a_terminal_and_quiet_and_verbose_are_honoured() {
    let slow = Sim::start(SimConfig {
        latency: std::time::Duration::from_millis(250),
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let q = write(dir.path(), "q.jsonl", QUESTIONS);
    let args = |out: &str, url: &str, extra: &[&str]| -> Vec<String> {
        let out = dir.path().join(out);
        let mut a: Vec<String> = [
            "run",
            "--models",
            "a,b",
            "--judge",
            "j",
            "--questions",
            q.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--base-url",
            url,
            "--concurrency",
            "1",
            "--bootstrap",
            "0",
            "--format",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // stderr is a pipe here, as in a CI log: a plain line every 2 s. 16 requests of 250 ms,
    // one at a time, take about 4 s.
    let o = shinpan_bin()
        .args(args("plain", &slow.url, &[]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" · in flight "))
        .collect();
    assert!(!lines.is_empty(), "{stderr}");
    for l in &lines {
        assert!(
            l.starts_with("shinpan: answers ") && l.contains("/4 · judgments "),
            "{l}"
        );
        let in_flight = l
            .split("in flight ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let (now, cap) = in_flight.split_once('/').unwrap();
        assert_eq!(cap, "1", "{l}");
        assert!(
            now.parse::<u32>().unwrap() <= 1,
            "never more than the cap: {l}"
        );
        assert!(l.contains("held back by ") && l.contains(" tokens"), "{l}");
    }
    assert!(
        !stderr.contains('\r') && !stderr.contains("\x1b["),
        "no terminal codes in a log"
    );

    let fast = Sim::start(SimConfig::default());
    let o = shinpan_bin()
        .args(args("quiet", &fast.url, &["--quiet"]))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "",
        "--quiet says nothing"
    );
    assert!(
        stdout_json(&o)["models"].is_array(),
        "the report is still printed"
    );
    let o = shinpan_bin()
        .args(args("verbose", &fast.url, &["--verbose"]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("shinpan: answer a question 1: 2 turn(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("shinpan: judgment b question 2 turn 2: score "),
        "{stderr}"
    );
}
