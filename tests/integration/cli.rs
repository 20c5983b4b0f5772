//! The real `shinpan` binary: demo end to end, `simulate` + `run` over HTTP, report shapes,
//! and bad input.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::Value;
use shinpan::simulate::SimConfig;

use crate::support::{
    SAMPLE, Sim, lines, rounded, run_bin as run, shinpan_bin as shinpan, stdout_json,
};

#[test]
fn demo_runs_the_whole_pipeline_offline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = run(&["demo", "--out", out.to_str().unwrap(), "--format", "json"]);
    let reports = stdout_json(&o);
    let reports = reports
        .as_array()
        .expect("three reports: single, rubric, pairwise");
    assert_eq!(reports[0]["mode"], "single");
    assert_eq!(reports[1]["mode"], "rubric");
    assert_eq!(reports[2]["mode"], "pairwise-baseline");
    assert_eq!(reports[2]["baseline"], "demo-medium");
    // The rubric grades the seven default aspects, with intervals.
    let aspects = reports[1]["models"][0]["aspects"].as_object().unwrap();
    assert_eq!(aspects.len(), 7);
    assert!(aspects["正確性"]["score_ci"].is_array());
    // A run's own answers feed the length and language figures.
    let large = &reports[0]["models"][0];
    assert!(large["answer_chars"].as_f64().unwrap() > 0.0, "{large}");
    assert_eq!(large["non_japanese"], 0.0);
    assert!(reports[0]["length_bias"]["correlation"].is_number());
    // 16 two-turn questions, 3 models.
    for m in ["demo-large", "demo-medium", "demo-small"] {
        assert_eq!(lines(&out.join(format!("answers/{m}.jsonl"))), 16);
    }
    assert_eq!(
        lines(&out.join("judgments/demo-judge_single.jsonl")),
        3 * 16 * 2
    );
    assert_eq!(
        lines(&out.join("judgments/demo-judge_rubric.jsonl")),
        3 * 16 * 2
    );
    assert_eq!(
        lines(&out.join("judgments/demo-judge_pair.jsonl")),
        2 * 16 * 2
    );
    for f in [
        "report-single.md",
        "report-single.json",
        "report-rubric.md",
        "report-pairwise-baseline.md",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The same files give the same report, to the last digit, in every process (the length
    // correlation once followed a hash map's order, new in each process: half of the
    // reports differed in their last digits).
    let again = |_| {
        let o = run(&["report", out.to_str().unwrap(), "--format", "json"]);
        assert!(o.status.success());
        o.stdout
    };
    let first = again(0);
    for i in 1..6 {
        assert!(again(i) == first, "report {i} differs from the first");
    }
    // The simulated quality order shows through the judge.
    let models: Vec<&str> = reports[0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["demo-large", "demo-medium", "demo-small"]);
    let md = std::fs::read_to_string(out.join("report-pairwise-baseline.md")).unwrap();
    assert!(md.contains("| demo-large |"), "{md}");
}

#[test]
fn json_report_shape() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("j_single.jsonl");
    std::fs::write(
        &single,
        [
            r#"{"question_id": 1, "model": "モデルA", "judge": ["gpt-4", "single"], "score": 8, "turn": 1, "category": "writing"}"#,
            r#"{"question_id": 1, "model": "モデルA", "judge": ["gpt-4", "single-multi"], "score": 6, "turn": 2, "category": "writing"}"#,
            r#"{"question_id": 2, "model": "モデルA", "judge": ["gpt-4", "single"], "score": -1, "turn": 1, "category": "math"}"#,
            r#"{"question_id": 2, "model": "model-b", "judge": ["gpt-4", "single"], "score": null, "turn": 1, "error": "no tag", "category": "math"}"#,
            r#"{"question_id": 2, "model": "model-b", "judge": ["gpt-4", "single"], "score": 4.5, "turn": 1, "category": "math"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let o = run(&["report", single.to_str().unwrap(), "--format", "json"]);
    insta::assert_json_snapshot!("single_report", rounded(stdout_json(&o)));
    // The terminal table and the Markdown of the same report, as users read them.
    for (format, name) in [("table", "single_report_table"), ("md", "single_report_md")] {
        let o = run(&["report", single.to_str().unwrap(), "--format", format]);
        insta::assert_snapshot!(name, String::from_utf8(o.stdout).unwrap());
    }

    let pair = dir.path().join("j_pair.jsonl");
    std::fs::write(
        &pair,
        [
            r#"{"question_id": 1, "model_1": "a", "model_2": "base", "g1_winner": "model_1", "g2_winner": "model_1", "judge": ["gpt-4", "pair"], "turn": 1}"#,
            r#"{"question_id": 2, "model_1": "base", "model_2": "a", "g1_winner": "model_2", "g2_winner": "model_2", "judge": ["gpt-4", "pair"], "turn": 1}"#,
            r#"{"question_id": 3, "model_1": "a", "model_2": "base", "g1_winner": "model_1", "g2_winner": "model_2", "judge": ["gpt-4", "pair"], "turn": 1}"#,
            r#"{"question_id": 4, "model_1": "a", "model_2": "base", "g1_winner": "tie", "g2_winner": "tie", "judge": ["gpt-4", "pair"], "turn": 1}"#,
            r#"{"question_id": 5, "model_1": "a", "model_2": "base", "g1_winner": "model_2", "g2_winner": "error", "judge": ["gpt-4", "pair"], "turn": 1}"#,
            r#"{"question_id": 6, "model_1": "a", "model_2": "base", "g1_winner": "model_2", "g2_winner": "model_2", "judge": ["gpt-4", "pair"], "turn": 1}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let o = run(&[
        "report",
        pair.to_str().unwrap(),
        "--format",
        "json",
        "--baseline",
        "base",
    ]);
    insta::assert_json_snapshot!("pair_report", rounded(stdout_json(&o)));
    for (format, name) in [("table", "pair_report_table"), ("md", "pair_report_md")] {
        let o = run(&[
            "report",
            pair.to_str().unwrap(),
            "--format",
            format,
            "--baseline",
            "base",
        ]);
        insta::assert_snapshot!(name, String::from_utf8(o.stdout).unwrap());
    }
}

#[test]
fn terminal_tables_align_wide_characters() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("j_single.jsonl");
    std::fs::write(
        &f,
        "{\"question_id\": 1, \"model\": \"日本語モデル\", \"judge\": [\"j\", \"single\"], \"score\": 8, \"turn\": 1}\n\
         {\"question_id\": 1, \"model\": \"en-model-long\", \"judge\": [\"j\", \"single\"], \"score\": 7, \"turn\": 1}\n",
    )
    .unwrap();
    let o = run(&["report", f.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    use unicode_width::UnicodeWidthStr;
    // The score column ends at the same display column on both rows.
    let end_of = |needle: &str| {
        let l = text.lines().find(|l| l.contains(needle)).unwrap();
        let i = l
            .find(if needle == "日本語モデル" {
                "8.00"
            } else {
                "7.00"
            })
            .unwrap();
        l[..i].width()
    };
    let score_col = [end_of("日本語モデル"), end_of("en-model-long")];
    assert_eq!(
        score_col[0], score_col[1],
        "columns line up by display width:\n{text}"
    );
}

/// The counters `shinpan simulate` serves at `GET /stats`.
fn subcommand_stats(url: &str) -> Value {
    let addr = url.trim_start_matches("http://").trim_end_matches("/v1");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /stats HTTP/1.0\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    serde_json::from_str(buf.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// The `shinpan simulate` subcommand, as a user starts it.
struct Subcommand(Child, String);

impl Drop for Subcommand {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn simulate_subcommand(args: &[&str]) -> Subcommand {
    let mut child = shinpan()
        .args(["simulate", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    Subcommand(child, url)
}

#[test]
fn run_against_the_simulate_subcommand_with_a_rate_limit_and_failures() {
    let sim = simulate_subcommand(&[
        "--rpm",
        "3000",
        "--fail-rate",
        "0.1",
        "--garble-rate",
        "0.2",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.jsonl");
    std::fs::write(&q, std::fs::read_to_string(SAMPLE).unwrap()).unwrap();
    let out = dir.path().join("run");
    let o = run(&[
        "run",
        "--models",
        "org/small,org/large",
        "--judge",
        "sim-judge",
        "--mode",
        "pairwise-all",
        "--questions",
        q.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        &sim.1,
        "--rpm",
        "2400",
        // Retries make a failed item very unlikely; one must not make the test flaky.
        "--allow-failures",
        "10%",
        "--format",
        "json",
    ]);
    let report = stdout_json(&o);
    // The faults happened: 500s (retried), and garbled verdicts, each asked again once (a
    // re-ask is never garbled); pacing under the server's limit earned no 429.
    let stats = subcommand_stats(&sim.1);
    assert!(stats["failed"].as_u64().unwrap() > 0, "{stats}");
    let garbled = stats["garbled"].as_u64().unwrap();
    assert!(garbled > 0, "{stats}");
    assert_eq!(stats["rate_limited"], 0, "{stats}");
    let reasked: u64 = crate::support::jsonl(&out.join("journal/sim-judge_pair.jsonl"))
        .iter()
        .map(|r| {
            ["g1_judgment", "g2_judgment"]
                .iter()
                .filter(|g| r[**g].as_str().unwrap().contains("[再質問への回答]"))
                .count() as u64
        })
        .sum();
    assert_eq!(
        reasked, garbled,
        "every garbled verdict was asked again, and read"
    );
    assert_eq!(report["mode"], "pairwise-all");
    assert_eq!(report["judge"], "sim-judge");
    for m in report["models"].as_array().unwrap() {
        for key in [
            "model",
            "n",
            "errors",
            "wins",
            "losses",
            "ties",
            "win_rate",
            "loss_rate",
            "adjusted_win_rate",
            "position_consistency",
        ] {
            assert!(m.get(key).is_some(), "{key} missing in {m}");
        }
        assert_eq!(m["n"].as_u64().unwrap() + m["errors"].as_u64().unwrap(), 32);
    }
    // Model names with a slash are made safe for file names.
    assert_eq!(lines(&out.join("answers/org--small.jsonl")), 16);
    assert_eq!(lines(&out.join("judgments/sim-judge_pair.jsonl")), 32);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("answers: 32 made now"), "{stderr}");
}

#[test]
fn bad_input_is_refused_with_exit_2_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let ok = crate::support::write(
        dir.path(),
        "ok.jsonl",
        "{\"question_id\": 1, \"turns\": [\"こんにちは\"]}\n",
    );
    let dup = crate::support::write(
        dir.path(),
        "dup.jsonl",
        "{\"question_id\": 1, \"turns\": [\"a\"]}\n{\"question_id\": 1, \"turns\": [\"b\"]}\n",
    );
    // A valid command line; each case changes exactly one thing, so each refusal is for the
    // reason it names.
    let base: Vec<String> = [
        "run",
        "--models",
        "a,b",
        "--judge",
        "j",
        "--questions",
        ok.to_str().unwrap(),
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let with = |flag: &str, value: &str| {
        let mut a = base.clone();
        match a.iter().position(|x| x == flag) {
            Some(i) => a[i + 1] = value.to_string(),
            None => a.extend([flag.to_string(), value.to_string()]),
        }
        a
    };
    let mut baseline = with("--mode", "pairwise-baseline");
    baseline.extend(["--baseline".into(), "c".into()]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with("--questions", "missing.jsonl"),
            "missing.jsonl: cannot read",
        ),
        (
            with("--questions", dup.to_str().unwrap()),
            "dup.jsonl:2: question 1 appears twice (first on line 1)",
        ),
        (baseline, "--baseline \"c\" is not among --models (a, b)"),
        (with("--models", ""), "no candidate models"),
        (with("--mode", "duel"), "--mode: unknown mode \"duel\""),
        (
            with("--base-url", "ftp://x"),
            "base URL \"ftp://x\" must start with http:// or https:// (--base-url)",
        ),
        (with("--rpm", "0"), "invalid value '0' for '--rpm <N>'"),
        (
            with("--allow-failures", "some"),
            "--allow-failures \"some\": expected a number of items (3) or a share (5%)",
        ),
        (with("--temperature", "3"), "--temperature 3 is outside 0-2"),
        (
            with("--judge", "gpt-4o,claude-3-5-sonnet"),
            "--judge \"gpt-4o,claude-3-5-sonnet\" names one judge",
        ),
        (
            with("--aspect-weights", "正確性"),
            "--aspect-weights \"正確性\": expected ASPECT=WEIGHT",
        ),
        (
            with("--base-url", "https://api.example.invalid/v1"),
            "OPENAI_API_KEY is not set",
        ),
    ];
    for (args, expected) in cases {
        let o = shinpan().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}

#[test]
fn a_config_file_sends_each_model_to_its_own_endpoint() {
    let candidates = Sim::start(SimConfig::default());
    let judges = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(SAMPLE, dir.path().join("q.jsonl")).unwrap();
    let config = dir.path().join("shinpan.toml");
    std::fs::write(
        &config,
        format!(
            r#"
models = ["ローカル7b", "other"]
judge = "gpt-judge"
mode = "single"
questions = "q.jsonl"
out = "out"
[endpoint]
base_url = "{judges}"
api_key_env = ""
[endpoints.local]
base_url = "{cands}"
[model."ローカル7b"]
endpoint = "local"
api_model = "org/local-7b"
[model.other]
endpoint = "local"
"#,
            judges = judges.url,
            cands = candidates.url
        ),
    )
    .unwrap();
    let o = run(&["run", config.to_str().unwrap(), "--format", "json"]);
    let report = stdout_json(&o);
    assert_eq!(report["models"].as_array().unwrap().len(), 2);
    // Paths in the config are relative to it; answers went to the candidates' server and
    // judgments to the judge's.
    assert_eq!(lines(&dir.path().join("out/answers/ローカル7b.jsonl")), 16);
    // The run leaves its HTML report beside the others, with its items to browse.
    let page = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(
        page.contains("<svg") && page.contains("ローカル7b") && page.contains(r#"class="item""#)
    );
    let (c, j) = (candidates.stats.to_json(), judges.stats.to_json());
    assert_eq!(
        (c["ok"].as_u64(), c["judge_requests"].as_u64()),
        (Some(2 * 32), Some(0))
    );
    assert_eq!(j["judge_requests"].as_u64(), Some(2 * 32));
    assert_eq!(j["ok"], j["judge_requests"]);

    // A flag overrides the file: --models narrows the run.
    let o = run(&[
        "run",
        config.to_str().unwrap(),
        "--models",
        "other",
        "--format",
        "json",
    ]);
    let report = stdout_json(&o);
    assert_eq!(report["models"][0]["model"], "other");
    assert_eq!(report["models"].as_array().unwrap().len(), 1);
}

#[test]
fn compare_reports_a_against_b_from_as_side() {
    let sim = Sim::start(SimConfig {
        quality: [("strong".to_string(), 0.9), ("weak".to_string(), 0.2)].into(),
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let compare = |extra: &[&str]| {
        let mut args = vec![
            "compare",
            "strong",
            "weak",
            "--judge",
            "j",
            "--questions",
            SAMPLE,
            "--base-url",
            &sim.url,
            "--api-key-env",
            "",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let h = stdout_json(&compare(&["--format", "json"]));
    assert_eq!(
        (h["a"].as_str(), h["b"].as_str(), h["judge"].as_str()),
        (Some("strong"), Some("weak"), Some("j"))
    );
    let n = |k: &str| h[k].as_u64().unwrap() as usize;
    // 16 two-turn questions in the sample: 32 games, each judged in both orders.
    assert_eq!(n("games") + n("errors"), 32, "{h}");
    assert_eq!(n("wins") + n("losses") + n("ties"), n("games"));
    assert!(h["adjusted_win_rate"].as_f64().unwrap() > 0.8, "{h}");
    let [lo, hi] = [0, 1].map(|i| h["adjusted_win_rate_ci"][i].as_f64().unwrap());
    assert!(
        lo <= h["adjusted_win_rate"].as_f64().unwrap() && hi <= 1.0 && lo <= hi,
        "{h}"
    );
    // The games listed are the ones counted, each at most --show (10) long.
    let listed = |k: &str| h[k].as_array().unwrap().len();
    assert_eq!(listed("a_won"), n("wins").min(10));
    assert_eq!(listed("b_won"), n("losses").min(10));
    assert_eq!(
        listed("changed_with_order"),
        n("changed_with_order_games").min(10)
    );
    let cats: usize = h["categories"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| {
            r["wins"].as_u64().unwrap()
                + r["losses"].as_u64().unwrap()
                + r["ties"].as_u64().unwrap()
        })
        .sum::<u64>() as usize;
    assert_eq!(cats, n("games"));
    assert_eq!(lines(&out.join("judgments/j_pair.jsonl")), 32);

    // The table names both models and the games to look at, at most --show of each.
    let o = compare(&["--show", "2"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("strong vs weak (judge: j)")
            && text.contains(&format!("won by strong (2 of {})", n("wins"))),
        "{text}"
    );
}

#[test]
fn compare_takes_endpoints_from_a_config_file_and_offers_only_its_own_flags() {
    let candidates = Sim::start(SimConfig::default());
    let judges = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(SAMPLE, dir.path().join("q.jsonl")).unwrap();
    let config = dir.path().join("shinpan.toml");
    std::fs::write(
        &config,
        format!(
            r#"
models = ["unused"]
judge = "j"
questions = "q.jsonl"
out = "out"
[endpoint]
base_url = "{judges}"
api_key_env = ""
[endpoints.local]
base_url = "{cands}"
[model.a]
endpoint = "local"
[model.b]
endpoint = "local"
"#,
            judges = judges.url,
            cands = candidates.url
        ),
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let o = run(&[
        "compare",
        "a",
        "b",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let h = stdout_json(&o);
    assert_eq!((h["a"].as_str(), h["b"].as_str()), (Some("a"), Some("b")));
    // Answers came from the candidates' server, verdicts from the judge's.
    let (c, j) = (candidates.stats.to_json(), judges.stats.to_json());
    assert_eq!(
        (c["ok"].as_u64(), c["judge_requests"].as_u64()),
        (Some(2 * 32), Some(0))
    );
    assert_eq!(j["judge_requests"].as_u64(), Some(2 * 32));
    assert_eq!(lines(&out.join("judgments/j_pair.jsonl")), 32);

    // compare is two models against each other: the run-wide choices are not offered.
    let help = String::from_utf8_lossy(&run(&["help", "compare"]).stdout).to_string();
    for flag in ["--aspects", "--mode", "--models", "--baseline"] {
        assert!(!help.contains(flag), "{flag} in {help}");
    }
    assert!(
        help.contains("--show") && help.contains("[CONFIG]"),
        "{help}"
    );
}

#[test]
fn language_and_length_figures_and_non_japanese_as_failure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("answers")).unwrap();
    std::fs::create_dir_all(d.join("judgments")).unwrap();
    let mut questions = String::new();
    let mut answers = std::collections::HashMap::<&str, String>::new();
    let mut single = String::new();
    let mut pair = String::new();
    for q in 1..=4 {
        questions.push_str(&format!("{{\"question_id\": {q}, \"category\": \"stem\", \"turns\": [\"質問{q}について説明してください。\"]}}\n"));
        for (model, text) in [
            ("ja", "短い日本語の回答です。"),
            (
                "en",
                "This is a much longer answer written entirely in English, which the judge liked.",
            ),
            ("base", "基準となるモデルの、やや長めの日本語の回答です。"),
        ] {
            answers.entry(model).or_default().push_str(&format!(
                "{{\"question_id\": {q}, \"model_id\": \"{model}\", \"choices\": [{{\"index\": 0, \"turns\": [\"{text}\"]}}]}}\n"
            ));
        }
        single.push_str(&format!("{{\"question_id\": {q}, \"model\": \"ja\", \"judge\": [\"j\", \"single\"], \"score\": 6, \"turn\": 1}}\n"));
        single.push_str(&format!("{{\"question_id\": {q}, \"model\": \"en\", \"judge\": [\"j\", \"single\"], \"score\": 9, \"turn\": 1}}\n"));
        pair.push_str(&format!("{{\"question_id\": {q}, \"model_1\": \"en\", \"model_2\": \"base\", \"g1_winner\": \"model_1\", \"g2_winner\": \"model_1\", \"judge\": [\"j\", \"pair\"], \"turn\": 1}}\n"));
        pair.push_str(&format!("{{\"question_id\": {q}, \"model_1\": \"ja\", \"model_2\": \"base\", \"g1_winner\": \"model_2\", \"g2_winner\": \"model_2\", \"judge\": [\"j\", \"pair\"], \"turn\": 1}}\n"));
    }
    std::fs::write(d.join("questions.jsonl"), questions).unwrap();
    for (m, text) in &answers {
        std::fs::write(d.join(format!("answers/{m}.jsonl")), text).unwrap();
    }
    std::fs::write(d.join("judgments/j_single.jsonl"), single).unwrap();
    std::fs::write(d.join("judgments/j_pair.jsonl"), pair).unwrap();
    let path = d.to_str().unwrap();

    let reports = stdout_json(&run(&[
        "report",
        path,
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]));
    let [single, pair] = [&reports[0], &reports[1]];
    let find = |r: &Value, m: &str| {
        r["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["model"] == m)
            .unwrap()
            .clone()
    };
    assert_eq!(find(single, "en")["non_japanese"], 1.0);
    assert_eq!(find(single, "ja")["non_japanese"], 0.0);
    assert_eq!(find(single, "en")["score"], 9.0);
    assert_eq!(find(single, "ja")["answer_chars"], 11.0);
    // Longer answers got the higher grades: a perfect length correlation.
    assert!((single["length_bias"]["correlation"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(find(pair, "en")["wins"], 4);
    assert!(
        pair["length_bias"]["correlation"].as_f64().unwrap() > 0.9,
        "{pair}"
    );

    let reports = stdout_json(&run(&[
        "report",
        path,
        "--format",
        "json",
        "--bootstrap",
        "0",
        "--non-japanese-as-failure",
    ]));
    assert_eq!(
        find(&reports[0], "en")["score"],
        1.0,
        "English answers to Japanese questions fail"
    );
    assert_eq!(find(&reports[0], "ja")["score"], 6.0);
    assert_eq!(
        (
            find(&reports[1], "en")["wins"].as_u64(),
            find(&reports[1], "en")["losses"].as_u64()
        ),
        (Some(0), Some(4))
    );
}

#[test]
fn agreement_between_judges_and_with_human_votes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut single = String::new();
    for (m, s1, s2) in [
        ("m1", [9, 8], [8, 9]),
        ("m2", [6, 5], [5, 6]),
        ("m3", [3, 2], [2, 3]),
    ] {
        for q in 0..2 {
            single.push_str(&format!("{{\"question_id\": {q}, \"model\": \"{m}\", \"judge\": [\"j1\", \"single\"], \"score\": {}, \"turn\": 1}}\n", s1[q]));
            single.push_str(&format!("{{\"question_id\": {q}, \"model\": \"{m}\", \"judge\": [\"j2\", \"single\"], \"score\": {}, \"turn\": 1}}\n", s2[q]));
        }
    }
    std::fs::write(d.join("s.jsonl"), single).unwrap();
    // Pairwise: j1 says a, a, b, tie; j2 says a, b, b, tie on questions 1-4.
    let w = |x: &str| match x {
        "a" => "model_1",
        "b" => "model_2",
        _ => "tie",
    };
    let mut pair = String::new();
    for (q, (v1, v2)) in [("a", "a"), ("a", "b"), ("b", "b"), ("t", "t")]
        .iter()
        .enumerate()
    {
        for (judge, v) in [("j1", v1), ("j2", v2)] {
            pair.push_str(&format!(
                "{{\"question_id\": {q}, \"model_1\": \"a\", \"model_2\": \"b\", \"g1_winner\": \"{0}\", \"g2_winner\": \"{0}\", \"judge\": [\"{judge}\", \"pair\"], \"turn\": 1}}\n",
                w(v)
            ));
        }
    }
    std::fs::write(d.join("p.jsonl"), pair).unwrap();
    // Human votes agree with j1; model_a/model_b are given in the other order on purpose.
    let human = d.join("human.jsonl");
    std::fs::write(
        &human,
        "{\"question_id\": 0, \"model_a\": \"b\", \"model_b\": \"a\", \"winner\": \"model_b\", \"judge\": \"expert_0\", \"turn\": 1}\n\
         {\"question_id\": 2, \"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"model_b\", \"judge\": \"author_3\", \"turn\": 1}\n\
         {\"question_id\": 3, \"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie (bothbad)\", \"judge\": \"expert_1\", \"turn\": 1}\n",
    )
    .unwrap();
    let out = stdout_json(&run(&[
        "agreement",
        d.join("s.jsonl").to_str().unwrap(),
        d.join("p.jsonl").to_str().unwrap(),
        "--human",
        human.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let s = &out["single"]["pairs"][0];
    assert_eq!(
        (
            s["judge_a"].as_str(),
            s["judge_b"].as_str(),
            s["n"].as_u64()
        ),
        (Some("j1"), Some("j2"), Some(6))
    );
    assert_eq!(
        (
            s["models"].as_u64(),
            s["ranking_spearman"].as_f64(),
            s["ranking_kendall"].as_f64()
        ),
        (Some(3), Some(1.0), Some(1.0))
    );
    assert!(s["score_pearson"].as_f64().unwrap() > 0.9);
    let pairs = out["pairwise"]["pairs"].as_array().unwrap();
    let find = |a: &str, b: &str| {
        pairs
            .iter()
            .find(|p| p["judge_a"] == a && p["judge_b"] == b)
            .unwrap()
    };
    let j = find("j1", "j2");
    assert_eq!(j["n"], 4);
    assert_eq!(j["agreement"], 0.75);
    assert!((j["agreement_without_ties"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    // po = 0.75, pe = (2·1 + 1·2 + 1·1)/16 → kappa = 0.4375 / 0.6875.
    assert!(
        (j["cohen_kappa"].as_f64().unwrap() - 0.4375 / 0.6875).abs() < 1e-12,
        "{j}"
    );
    // Experts are the group human; authors their own group (as compute_agreement.py has it).
    let h = find("human", "j1");
    assert_eq!(
        (h["n"].as_u64(), h["agreement"].as_f64()),
        (Some(2), Some(1.0))
    );
    let au = find("author", "j1");
    assert_eq!(
        (au["n"].as_u64(), au["agreement"].as_f64()),
        (Some(1), Some(1.0))
    );
    // Each model's figure from each judge, side by side.
    assert_eq!(out["single"]["by_model"]["m1"]["j1"], 8.5);
    assert_eq!(out["single"]["by_model"]["m1"]["j2"], 8.5);
    assert_eq!(out["pairwise"]["by_model"]["a"]["j1"], 0.625);
    assert_eq!(out["pairwise"]["by_model"]["a"]["j2"], 0.375);
    // The Markdown version explains its columns.
    let md = run(&[
        "agreement",
        d.join("p.jsonl").to_str().unwrap(),
        "--format",
        "md",
    ]);
    assert!(
        String::from_utf8(md.stdout)
            .unwrap()
            .contains("Cohen's kappa")
    );
    // One judge is not enough.
    let o = run(&[
        "agreement",
        d.join("s.jsonl")
            .to_str()
            .unwrap()
            .replace("s.jsonl", "human.jsonl")
            .as_str(),
    ]);
    assert!(!o.status.success());
}

#[test]
fn model_names_cannot_escape_the_output_directory() {
    let sim = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b/run");
    let o = run(&[
        "run",
        "--models",
        "../../../escape,/etc/passwd",
        "--judge",
        "../judge",
        "--questions",
        SAMPLE,
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        &sim.url,
        "--bootstrap",
        "0",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(out.join("answers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["--etc--passwd.jsonl", "_..--..--..--escape.jsonl"]);
    assert!(out.join("judgments/_..--judge_single.jsonl").exists());
    // Nothing was written beside or above the run directory.
    let above: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).unwrap().collect();
    assert_eq!(above.len(), 1);
    assert!(!dir.path().join("escape.jsonl").exists());
}

#[test]
fn the_cache_subcommand_reports_and_prunes_and_a_bad_cache_file_is_refused() {
    let sim = Sim::start(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c.sqlite");
    let cache_s = cache.to_str().unwrap();
    let out = dir.path().join("run");
    let base = |out: &Path| -> Vec<String> {
        [
            "run",
            "--models",
            "a,b",
            "--judge",
            "sim-judge",
            "--questions",
            SAMPLE,
            "--out",
            out.to_str().unwrap(),
            "--base-url",
            &sim.url,
            "--format",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut args = base(&out);
    args.extend(["--cache".into(), cache_s.into()]);
    let o = shinpan().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let info = stdout_json(&run(&[
        "cache", "info", "--cache", cache_s, "--format", "json",
    ]));
    assert_eq!(
        info["entries"],
        2 * 16 * 2 + 2 * 16 * 2,
        "answer turns and grades"
    );
    let models: Vec<(String, u64)> = serde_json::from_value(info["models"].clone()).unwrap();
    assert!(models.contains(&("sim-judge".into(), 64)), "{models:?}");
    let table = run(&["cache", "info", "--cache", cache_s]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("128 responses"));

    let o = run(&["cache", "prune", "--cache", cache_s, "--model", "sim-judge"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("deleted 64 of 128"),
        "{o:?}"
    );
    for (args, says) in [
        (
            vec!["cache", "prune", "--cache", cache_s],
            "--unused-for AGE, --model MODEL or --all",
        ),
        (
            vec!["cache", "prune", "--cache", cache_s, "--unused-for", "3w"],
            "--unused-for \"3w\"",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{o:?}");
    }
    let o = run(&["cache", "prune", "--cache", cache_s, "--unused-for", "1d"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("deleted 0 of 64"),
        "{o:?}"
    );
    let o = run(&["cache", "prune", "--cache", cache_s, "--all"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("deleted 64 of 64"),
        "{o:?}"
    );

    // A cache file that is not one: exit 2 naming it, and nothing written.
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, "これはデータベースではありません。".repeat(40)).unwrap();
    let fresh = dir.path().join("never");
    let mut args = base(&fresh);
    args.extend(["--cache".into(), junk.to_str().unwrap().into()]);
    let o = shinpan().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("junk.sqlite"), "{stderr}");
    assert!(!fresh.exists());
    let mut args = base(&fresh);
    args.extend(["--no-cache".into(), "--refresh".into()]);
    let o = shinpan().args(&args).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!fresh.exists());
}

#[test]
fn init_writes_an_example_config_and_completions_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nightly.toml");
    let o = run(&["init", p.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains("[endpoints.local]") && text.contains("# judge_samples = 3"));
    // Never over a file that is there, unless told.
    let o = run(&["init", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert!(
        run(&["init", p.to_str().unwrap(), "--force"])
            .status
            .success()
    );
    let o = run(&["completions", "bash"]);
    assert!(o.status.success());
    let script = String::from_utf8(o.stdout).unwrap();
    assert!(
        script.contains("_shinpan()") && script.contains("export"),
        "{script}"
    );
}

/// Votes in FastChat's `compute_agreement.py` formats: a pretty-printed JSON array of GPT-4's
/// votes and a one-line array of human votes, two turns, experts and an author.
#[test]
fn agreement_per_turn_and_voter_group_with_counts_as_compute_agreement_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let vote = |q: u32, a: &str, b: &str, w: &str, judge: serde_json::Value, turn: u32| serde_json::json!({"question_id": q, "model_a": a, "model_b": b, "winner": w, "judge": judge, "turn": turn});
    let gpt4 = serde_json::json!(["gpt-4", "pair-v2"]);
    let gpt4_votes = serde_json::Value::Array(vec![
        vote(81, "a", "b", "model_a", gpt4.clone(), 1),
        vote(81, "a", "b", "tie", gpt4.clone(), 2),
        vote(82, "b", "a", "model_a", gpt4.clone(), 1),
        vote(82, "a", "b", "model_a", gpt4.clone(), 2),
    ]);
    let e = |n: &str| serde_json::json!(n);
    let human_votes = serde_json::Value::Array(vec![
        vote(81, "a", "b", "model_a", e("expert_0"), 1),
        vote(81, "a", "b", "model_b", e("expert_1"), 1),
        vote(81, "b", "a", "model_b", e("author_0"), 1),
        vote(81, "a", "b", "tie (bothbad)", e("expert_0"), 2),
        vote(82, "a", "b", "model_b", e("expert_0"), 1),
        vote(82, "a", "b", "model_b", e("expert_1"), 2),
    ]);
    let g = dir.path().join("gpt4_pair_judgments.json");
    std::fs::write(&g, serde_json::to_string_pretty(&gpt4_votes).unwrap()).unwrap();
    let h = dir.path().join("human_judgments.json");
    std::fs::write(&h, serde_json::to_string(&human_votes).unwrap()).unwrap();
    let args = |format: &str| {
        run(&[
            "agreement",
            "--human",
            g.to_str().unwrap(),
            "--human",
            h.to_str().unwrap(),
            "--format",
            format,
        ])
    };
    let out = stdout_json(&args("json"));
    let pairs = out["pairwise"]["pairs"].as_array().unwrap();
    let find = |a: &str, b: &str| {
        pairs
            .iter()
            .find(|p| p["judge_a"] == a && p["judge_b"] == b)
            .unwrap_or_else(|| panic!("{a} {b}: {pairs:?}"))
    };
    let counts = |p: &serde_json::Value| {
        [
            p["agreed"].as_u64().unwrap(),
            p["total"].as_u64().unwrap(),
            p["agreed_without_ties"].as_u64().unwrap(),
            p["total_without_ties"].as_u64().unwrap(),
        ]
    };
    // GPT-4 against the experts, by hand: turn 1, q81 (a) against a and b, q82 (b) against b:
    // 2 of 3 with ties and without. Turn 2, q81 tie against tie (bothbad) agrees, q82 a
    // against b does not: 1 of 2; without ties only q82 counts: 0 of 1. Over both: 3/5, 2/4.
    let gh = find("gpt-4", "human");
    let turns = gh["by_turn"].as_array().unwrap();
    assert_eq!(counts(&turns[0]), [2, 3, 2, 3], "{gh}");
    assert_eq!(counts(&turns[1]), [1, 2, 0, 1], "{gh}");
    assert_eq!(
        gh["counts"],
        serde_json::json!({"agreed": 3, "total": 5, "agreed_without_ties": 2, "total_without_ties": 4})
    );
    assert_eq!(gh["agreement"], 0.6);
    // The author is its own group: q81 turn 1, a against a.
    assert_eq!(counts(&find("author", "gpt-4")["counts"]), [1, 1, 1, 1]);
    // Human-human: the two experts on q81 turn 1 disagree: 0 of 1.
    let hh = find("human", "human");
    assert_eq!(counts(&hh["counts"]), [0, 1, 0, 1], "{hh}");
    // The table prints the counts beside each rate, per turn and over all.
    let text = String::from_utf8(args("table").stdout).unwrap();
    for says in [
        "0.667 (2/3)",
        "0.500 (1/2)",
        "0.000 (0/1)",
        "0.600 (3/5)",
        "0.500 (2/4)",
    ] {
        assert!(text.contains(says), "{says}: {text}");
    }
}

/// A FastChat judgment file as pandas writes it (`df.to_json(lines=True)` after a merge, or
/// Python's json with a missing score): integral floats for integers, NaN for a missing score.
#[test]
fn pandas_written_fastchat_files_are_read_as_fastchat_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("gpt-4_single.jsonl");
    std::fs::write(
        &single,
        [
            r#"{"question_id": 81.0, "model": "m", "judge": ["gpt-4", "single-v1"], "score": 8.0, "turn": 1.0}"#,
            r#"{"question_id": 82.0, "model": "m", "judge": ["gpt-4", "single-v1"], "score": NaN, "turn": 1.0}"#,
            r#"{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1-multi-turn"], "score": 6.0, "turn": 2.0}"#,
            r#"{"question_id": 82.0, "model": "m", "judge": ["gpt-4", "single-v1-multi-turn"], "score": 5.0, "turn": 2}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let r = stdout_json(&run(&[
        "report",
        single.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let m = &r["models"][0];
    // The NaN score is left out of every mean, as pandas' mean skips it: turn 1 is 8, turn 2
    // is (6 + 5) / 2, and the mean is (8 + 6 + 5) / 3.
    assert_eq!(m["turn1"], 8.0, "{m}");
    assert_eq!(m["turn2"], 5.5, "{m}");
    assert!(
        (m["score"].as_f64().unwrap() - 19.0 / 3.0).abs() < 1e-12,
        "{m}"
    );
    // … and counted as a grade without a verdict.
    assert_eq!((m["n"].as_u64(), m["errors"].as_u64()), (Some(3), Some(1)));
    let pair = dir.path().join("gpt-4_pair.jsonl");
    std::fs::write(
        &pair,
        r#"{"question_id": 81.0, "model_1": "a", "model_2": "b", "g1_winner": "model_1", "g2_winner": "model_1", "judge": ["gpt-4", "pair-v2"], "turn": 1.0}"#,
    )
    .unwrap();
    let r = stdout_json(&run(&[
        "report",
        pair.to_str().unwrap(),
        "--format",
        "json",
        "--mode",
        "pairwise-all",
    ]));
    assert_eq!(r["models"][0]["wins"], 1, "{r}");
    // A turn that is not a whole number is still refused, naming the line.
    std::fs::write(&pair, r#"{"question_id": 1, "model_1": "a", "model_2": "b", "g1_winner": "tie", "g2_winner": "tie", "turn": 1.5}"#.to_string() + "\n").unwrap();
    let o = run(&["report", pair.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("line 1") && stderr.contains("whole number"),
        "{stderr}"
    );
}

/// Arena-Hard-Auto's judgment files (`model`, `games` of five-level verdicts, the baseline
/// shown first in game 1), scored both ways, by hand.
#[test]
fn arena_hard_judgments_are_scored_as_arena_hard_does_and_by_the_swap_rule() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.jsonl");
    let rec = |q: &str, g1: Option<&str>, g2: Option<&str>| {
        let game =
            |s: Option<&str>| serde_json::json!({"user_prompt": "…", "judgment": "…", "score": s});
        serde_json::json!({"question_id": q, "model": "m", "judge": "gpt-4-1106-preview",
            "games": [game(g1), game(g2)]})
        .to_string()
    };
    std::fs::write(
        &f,
        [
            // m wins strongly as B, then as A: a win; battles 3 + 1, all m's.
            rec("q1", Some("B>>A"), Some("A>B")),
            // The baseline wins strongly, then a tie: a tie by the swap rule; battles 3 lost
            // and one half.
            rec("q2", Some("A>>B"), Some("A=B")),
            // No verdict in game 2: no game, and no battles (Arena-Hard drops the record).
            rec("q3", Some("A=B"), None),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let r = stdout_json(&run(&["report", f.to_str().unwrap(), "--format", "json"]));
    assert_eq!(r["baseline"], "arena-hard-baseline", "{r}");
    let m = &r["models"][0];
    assert_eq!(m["model"], "m");
    // Swap rule: a win and a tie of two games, one game without a verdict.
    assert_eq!(
        (m["wins"].as_u64(), m["ties"].as_u64(), m["errors"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(m["adjusted_win_rate"], 0.75);
    // Arena-Hard: (4 + 0 + 0.5) points over 4 + 3 + 1 battles.
    assert_eq!(m["arena_hard_score"], 4.5 / 8.0);
    let text = String::from_utf8(run(&["report", f.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains("Arena-Hard") && text.contains("0.562"),
        "{text}"
    );
}

/// Shaberi's judgement files (`data/judgements/<judge>/<dataset>/<model>.json`, JSON lines):
/// judge, dataset and model from the path, Tengu-Bench's questions 61-65 left out, ELYZA on
/// 1-5, each dataset its own report; means by hand.
#[test]
fn shaberi_judgements_are_read_with_shaberis_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data/judgements/judge_gpt-4-turbo-preview");
    let put = |dataset: &str, lines: &[serde_json::Value]| {
        let d = root.join(dataset);
        std::fs::create_dir_all(&d).unwrap();
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        std::fs::write(d.join("org__model-7b.json"), text.join("\n") + "\n").unwrap();
    };
    let rec = |id: Option<u64>, score: serde_json::Value| {
        let mut v = serde_json::json!({"Question": "問", "ModelAnswer": "答え", "score": score, "Category": "c"});
        if let Some(id) = id {
            v["id"] = serde_json::json!(id);
        }
        v
    };
    // Tengu-Bench without ids: rows 60-66 by position (rows 1-59 graded 5).
    let mut tengu: Vec<serde_json::Value> =
        (1..=59).map(|_| rec(None, serde_json::json!(5))).collect();
    tengu.extend([0, 0, 0, 0, 0, 0].map(|s| rec(None, serde_json::json!(s)))); // rows 60-65
    tengu.push(rec(None, serde_json::json!(10))); // row 66
    put("lightblue__tengu_bench", &tengu);
    put(
        "elyza__ELYZA-tasks-100",
        &[
            rec(Some(1), serde_json::json!(4)),
            rec(Some(2), serde_json::json!(5)),
            rec(Some(3), serde_json::Value::Null),
        ],
    );
    let o = run(&[
        "report",
        root.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        stderr.contains("Tengu-Bench questions 61-65 left out"),
        "{stderr}"
    );
    let reports = stdout_json(&o);
    let by = |bench: &str| {
        reports
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["bench"] == bench)
            .unwrap_or_else(|| panic!("{bench}: {reports}"))
            .clone()
    };
    // Tengu: rows 1-60 and 66 count (61-65 left out): (59·5 + 0 + 10) / 61, on 0-10.
    let t = by("Shaberi Tengu-Bench");
    assert_eq!(t["judge"], "gpt-4-turbo-preview");
    assert_eq!(t["scale"], serde_json::json!({"min": 0, "max": 10}));
    let m = &t["models"][0];
    assert_eq!(m["model"], "org/model-7b");
    assert_eq!(m["n"], 61);
    assert!(
        (m["score"].as_f64().unwrap() - 305.0 / 61.0).abs() < 1e-12,
        "{m}"
    );
    // ELYZA: (4 + 5) / 2 on 1-5, the null left out of the mean.
    let e = by("Shaberi ELYZA-tasks-100");
    assert_eq!(e["scale"], serde_json::json!({"min": 1, "max": 5}));
    assert_eq!(e["models"][0]["score"], 4.5);
    assert_eq!(e["models"][0]["errors"], 1);
}
