//! llm-jp-eval tasks scored by rule, end to end: task files with train/ few-shots, answered
//! through real HTTP by two scripted models, every sample recorded with its metrics, the
//! task scores, categories and AVG equal to hand-computed values, a second run asking
//! nothing, and bad task input named.

use std::path::Path;

use serde_json::{Value, json};

use crate::fake::{Fake, Reply, first_user};
use crate::support::{jsonl, run_bin, stderr, stdout_json};

/// A task: its name, metrics, cap, and (input, gold, good's reply, poor's reply) per sample.
type Task = (&'static str, Vec<&'static str>, u32, Vec<[&'static str; 4]>);

fn tasks() -> Vec<Task> {
    vec![
        (
            "jnli",
            vec!["exact_match"],
            3,
            vec![
                [
                    "前提：犬が走る。\n仮説：動物が走る。",
                    "entailment",
                    "  Entailment\n\n理由：犬は動物。",
                    "neutral",
                ],
                [
                    "前提：空が青い。\n仮説：雨が降る。",
                    "neutral",
                    "neutral",
                    "neutral",
                ],
                [
                    "前提：猫が寝る。\n仮説：猫が走る。",
                    "contradiction",
                    "\"contradiction\"",
                    "neutral",
                ],
                [
                    "前提：人が歩く。\n仮説：誰かが座る。",
                    "neutral",
                    "ｎｅｕｔｒａｌ",
                    "Neutral",
                ],
            ],
        ),
        (
            "jsquad",
            vec!["char_f1"],
            25,
            vec![
                [
                    "文章：首都は東京。\n質問：首都は？",
                    "東京",
                    "回答: 東京",
                    "東京都",
                ],
                [
                    "文章：梅雨がないのは小笠原諸島。\n質問：どこ？",
                    "小笠原諸島",
                    "小笠原諸島",
                    "諸島",
                ],
            ],
        ),
        (
            "jsts",
            vec!["pearson", "spearman"],
            3,
            vec![
                ["文1：a\n文2：b", "0.0", "0.0", "1"],
                ["文1：c\n文2：d", "1.5", "1.5", "0"],
                ["文1：e\n文2：f", "3.0", "3.0", "3"],
                ["文1：g\n文2：h", "4.2", "4.2", "5点"],
            ],
        ),
    ]
}

/// Writes `evaluation/{train,test}/<task>.json`; train holds two few-shots per task.
pub fn write_tasks(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("evaluation");
    for (name, metrics, cap, samples) in tasks() {
        let body = |samples: Vec<Value>| {
            json!({
                "instruction": format!("{name}の指示です。"),
                "output_length": cap,
                "metrics": metrics,
                "few_shots": [],
                "samples": samples,
            })
        };
        let test: Vec<Value> = samples
            .iter()
            .map(|s| json!({"input": s[0], "output": s[1]}))
            .collect();
        let train: Vec<Value> = (0..3)
            .map(|i| json!({"input": format!("{name}の例{i}"), "output": format!("答{i}")}))
            .collect();
        for (split, rows) in [("test", test), ("train", train)] {
            std::fs::create_dir_all(root.join(split)).unwrap();
            std::fs::write(
                root.join(split).join(format!("{name}.json")),
                serde_json::to_string_pretty(&body(rows)).unwrap(),
            )
            .unwrap();
        }
    }
    root.join("test")
}

/// The sample input a prompt ends with.
fn input_of(prompt: &str) -> String {
    let start = prompt.rfind("### 入力:\n").unwrap() + "### 入力:\n".len();
    let end = prompt.rfind("\n\n### 応答:\n").unwrap();
    prompt[start..end].to_string()
}

/// The scripted reply of `good` or `poor` to a task prompt (`None`: not a task prompt).
pub fn task_reply(body: &Value) -> Option<String> {
    let prompt = first_user(body);
    if !prompt.ends_with("### 応答:\n") {
        return None;
    }
    let input = input_of(&prompt);
    let s = tasks()
        .into_iter()
        .flat_map(|(_, _, _, s)| s)
        .find(|s| s[0] == input)?;
    Some(if body["model"] == "good" { s[2] } else { s[3] }.to_string())
}

async fn fake() -> Fake {
    Fake::start(move |_, body| Reply::Text(task_reply(body).expect("a task prompt"))).await
}

fn run(test: &Path, out: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        "--tasks",
        test.to_str().unwrap(),
        "--models",
        "good,poor",
        "--base-url",
        url,
        "--api-key-env",
        "",
        "--bootstrap",
        "0",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
        "--no-cache",
    ];
    if !extra.contains(&"--few-shots") {
        args.extend(["--few-shots", "2"]);
    }
    args.extend_from_slice(extra);
    run_bin(&args)
}

fn score<'a>(model: &'a Value, name: &str) -> &'a Value {
    &model["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))["value"]
}

fn category(model: &Value, name: &str) -> f64 {
    model["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))["value"]
        .as_f64()
        .unwrap()
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_run_scores_every_sample_by_rule_as_llm_jp_eval_does() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let test = write_tasks(dir.path());
    let out = dir.path().join("out");
    // The estimate caps each answer at its task's output_length: 4·3 + 2·25 + 4·3 per model.
    let e = stdout_json(&run_bin(&[
        "estimate",
        "--tasks",
        test.to_str().unwrap(),
        "--models",
        "good,poor",
        "--base-url",
        &fake.base_url(),
        "--api-key-env",
        "",
        "--format",
        "json",
        "--few-shots",
        "2",
    ]));
    for row in e[0]["rows"].as_array().unwrap() {
        assert_eq!(row["requests"], 10, "{row}");
        assert_eq!(row["completion_cap"], 74, "{row}");
    }
    assert!(fake.seen().is_empty(), "an estimate sends nothing");
    let o = run(&test, &out, &fake.base_url(), &[]);
    let report = stdout_json(&o);
    let report = if report.is_array() {
        report[0].clone()
    } else {
        report
    };
    let models = report["tasks"].as_array().expect("task figures");
    assert_eq!(models[0]["model"], "good");
    let (good, poor) = (&models[0], &models[1]);

    // good: every answer right once normalised (case, full width, quotes, first paragraph,
    // 回答: dropped).
    close(score(good, "jnli_exact_match"), 1.0);
    close(score(good, "jsquad_char_f1"), 1.0);
    close(score(good, "jsts_pearson"), 1.0);
    close(score(good, "jsts_spearman"), 1.0);
    close(&good["avg"], 1.0);
    // poor: 2 of 4 NLI labels (「Neutral」 lower-cased); char_f1 80 (東京都/東京: 2·2/5) and 57 (諸島/小笠原諸島:
    // 2·2/7 = 57.1, rounded); JSTS read as 1, 0, 3, 5 (「5点」 keeps its digits).
    close(score(poor, "jnli_exact_match"), 0.5);
    close(score(poor, "jsquad_char_f1"), (0.80 + 0.57) / 2.0);
    // Pearson of (0, 1.5, 3, 4.2) and (1, 0, 3, 5), as scipy gives it; Spearman of the ranks
    // (1 2 3 4) and (2 1 3 4): 1 − 6·2 / (4·15) = 0.8.
    close(score(poor, "jsts_pearson"), 0.8597791940162166);
    close(score(poor, "jsts_spearman"), 0.8);
    close(&json!(category(poor, "NLI")), 0.5);
    close(&json!(category(poor, "RC")), 0.685);
    close(
        &json!(category(poor, "STS")),
        (0.8597791940162166 + 0.8) / 2.0,
    );
    // AVG: NLI and RC; STS is reported, not averaged (as llm-jp-eval's board).
    close(&poor["avg"], (0.5 + 0.685) / 2.0);

    // One record per sample and model, with its input, prediction, gold, reply and metrics.
    let records = jsonl(&out.join("judgments").join("rules_single.jsonl"));
    assert_eq!(records.len(), 2 * (4 + 2 + 4));
    let r = records
        .iter()
        .find(|r| r["model"] == "good" && r["question_id"] == "jnli/0")
        .unwrap();
    assert_eq!(r["task"]["prediction"], "entailment");
    assert_eq!(r["task"]["gold"], "entailment");
    assert_eq!(r["task"]["reply"], "  Entailment\n\n理由：犬は動物。");
    assert_eq!(r["task"]["input"], "前提：犬が走る。\n仮説：動物が走る。");
    assert_eq!(r["task"]["scores"]["exact_match"], 1.0);
    assert!(
        r.get("aspects").is_none(),
        "task metrics are not rubric aspects"
    );
    let r = records
        .iter()
        .find(|r| r["model"] == "poor" && r["question_id"] == "jsts/3")
        .unwrap();
    assert_eq!(r["task"]["value"], 5.0);

    // Each prompt is llm-jp-eval's, with the first two train samples as few-shots; each
    // answer greedy within the task's output_length.
    let seen = fake.seen();
    assert_eq!(seen.len(), 20);
    let jnli = seen
        .iter()
        .find(|s| {
            s.body["model"] == "good"
                && first_user(&s.body).ends_with("動物が走る。\n\n### 応答:\n")
        })
        .unwrap();
    assert_eq!(
        first_user(&jnli.body),
        "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n### 指示:\njnliの指示です。\n\n### 入力:\njnliの例0\n\n### 応答:\n答0\n\n### 入力:\njnliの例1\n\n### 応答:\n答1\n\n### 入力:\n前提：犬が走る。\n仮説：動物が走る。\n\n### 応答:\n"
    );
    assert_eq!(jnli.body["max_tokens"], 3);
    assert_eq!(jnli.body["temperature"], 0.0);

    // Run again: every answer and score is kept, nothing is asked, the figures are the same.
    let again = stdout_json(&run(&test, &out, &fake.base_url(), &[]));
    let again = if again.is_array() {
        again[0].clone()
    } else {
        again
    };
    assert_eq!(
        fake.seen().len(),
        20,
        "a finished task run asks nothing again"
    );
    assert_eq!(again["tasks"], report["tasks"]);
    // `report DIR` reads the same figures back from the files.
    let back = crate::support::report_json(&out);
    let back = if back.is_array() {
        back[0].clone()
    } else {
        back
    };
    assert_eq!(back["tasks"], report["tasks"]);
    // The review export lists the worst-scored samples first, with input, gold, prediction
    // and each metric.
    let file = dir.path().join("review.jsonl");
    let o = run_bin(&[
        "export",
        out.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let items = jsonl(&file);
    assert_eq!(items.len(), 20);
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    assert_eq!(scores[0], 0.0);
    let worst = &items[0];
    assert_eq!(worst["model"], "poor");
    assert_eq!(worst["questions"][0], worst["task"]["input"]);
    assert!(
        worst["judgment"].as_str().unwrap().contains("gold: "),
        "{worst}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_task_input_is_named_and_nothing_is_sent() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let test = write_tasks(dir.path());
    let out = dir.path().join("out");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"instruction": "x", "output_length": 5, "metrics": ["comet_wmt22"], "samples": [{"input": "a", "output": "b"}]}),
            "comet_wmt22",
        ),
        (
            json!({"instruction": "x", "metrics": ["exact_match"], "samples": [{"input": "a", "output": "b"}]}),
            "output_length",
        ),
        (
            json!({"instruction": "x", "output_length": 5, "metrics": ["bleu_en"], "samples": [{"input": "a", "output": "b"}, {"input": "c", "output": " \n"}]}),
            "sample 1: `output` is empty, and bleu_en needs a reference",
        ),
    ];
    for (body, said) in cases {
        let bad = test.join("zz_bad.json");
        std::fs::write(&bad, body.to_string()).unwrap();
        let o = run(&test, &out, &fake.base_url(), &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("zz_bad.json") && e.contains(said), "{e}");
    }
    std::fs::remove_file(test.join("zz_bad.json")).unwrap();
    let o = run(&test, &out, &fake.base_url(), &["--judge", "j"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("need no judge"), "{}", stderr(&o));
    let o = run(&test, &out, &fake.base_url(), &["--few-shots", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("5 few-shots asked"), "{}", stderr(&o));
    assert!(fake.seen().is_empty(), "nothing is sent for bad input");
    assert!(
        !out.join("judgments").exists(),
        "nothing is written for bad input"
    );
}

/// A nightly task run: the history holds llm-jp-eval's AVG with the task scores beside it,
/// and a night whose replies are worse fails the regression gate (exit 3).
#[tokio::test(flavor = "multi_thread")]
async fn a_nightly_task_run_is_gated_on_llm_jp_evals_avg() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let worse = Arc::new(AtomicBool::new(false));
    let w = worse.clone();
    let fake = Fake::start(move |_, body| {
        let mut body = body.clone();
        if w.load(Ordering::SeqCst) {
            body["model"] = json!("poor");
        }
        Reply::Text(task_reply(&body).expect("a task prompt"))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let test = write_tasks(dir.path());
    let cfg = dir.path().join("nightly.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
models = ["good"]
tasks = ["{test}"]
few_shots = 2
out = "{out}"
[endpoint]
base_url = "{url}"
api_key_env = ""
[nightly]
watch = ["good"]
"#,
            test = test.display(),
            out = dir.path().join("nightly").display(),
            url = fake.base_url(),
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let o = run_bin(&[
        "run",
        cfg,
        "--name",
        "day1",
        "--bootstrap",
        "200",
        "--quiet",
        "--no-cache",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    worse.store(true, Ordering::SeqCst);
    let o = run_bin(&[
        "run",
        cfg,
        "--name",
        "day2",
        "--bootstrap",
        "200",
        "--quiet",
        "--no-cache",
        "--fail-on-regression",
        "0.1",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let h = jsonl(&dir.path().join("nightly/history.jsonl"));
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h.iter().all(|l| l["metric"] == "llm_jp_eval_avg"), "{h:?}");
    close(&h[0]["value"], 1.0);
    close(&h[1]["value"], (0.5 + 0.685) / 2.0);
    assert_eq!(h[1]["regressed"], true);
    close(&h[1]["figures"]["scores"]["jsquad_char_f1"]["value"], 0.685);
}

/// A translation task: name, metrics, and (input, gold, reply, prediction) per sample.
type BleuTask = (&'static str, Vec<&'static str>, Vec<[&'static str; 4]>);

/// Translation tasks scored by BLEU through the binary: `bleu_en` (sacrebleu's 13a tokens)
/// and `bleu_ja` (MeCab with the IPA dictionary of the metrics environment), each reply cut
/// to its first paragraph and NFKC'd, every value equal to sacrebleu's as Nejumi's port
/// calls it; a dictionary sacrebleu does not accept, or no MeCab, refused before anything
/// is sent. COMET, which the task lists too, is a marked cell.
#[tokio::test(flavor = "multi_thread")]
async fn translation_tasks_are_scored_by_bleu_as_sacrebleu_scores_them() {
    let Some(paths) = crate::support::installed(
        "SHINPAN_METRICS_DIR",
        "metrics",
        &["venv/bin/python", "ipadic/sys.dic"],
        "scripts/fetch-metrics.sh",
        "bleu tasks against sacrebleu",
    ) else {
        return;
    };
    let dic = paths[1].parent().unwrap().to_path_buf();
    // (task, metrics, [(input, gold, reply, the prediction the metrics see)]).
    let tasks: Vec<BleuTask> = vec![
        (
            "alt-e-to-j",
            vec!["bleu_ja", "char_f1", "comet_wmt22"],
            vec![
                [
                    "The weather is nice today.",
                    "今日は天気が良いです。",
                    "今日はいい天気です。\n\n（訳注）",
                    "今日はいい天気です。",
                ],
                [
                    "I live in Tokyo.",
                    "私は東京に住んでいます。",
                    "私は東京に住んでいます。",
                    "私は東京に住んでいます。",
                ],
                [
                    "Reiwa began in 2019.",
                    "令和は２０１９年に始まった。",
                    "令和は2019年に始まりました。",
                    "令和は2019年に始まりました。",
                ],
            ],
        ),
        (
            "alt-j-to-e",
            vec!["bleu_en"],
            vec![
                [
                    "猫が寝ている。",
                    "The cat is sleeping.",
                    "The cat sleeps.",
                    "The cat sleeps.",
                ],
                [
                    "彼は医者だ。",
                    "He is a doctor.",
                    "\"He is a doctor.\"",
                    "He is a doctor.",
                ],
                ["雨が降った。", "It rained.", "  \n\nIt rained.", ""],
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let test = dir.path().join("evaluation/test");
    std::fs::create_dir_all(&test).unwrap();
    for (name, metrics, samples) in &tasks {
        let rows: Vec<Value> = samples
            .iter()
            .map(|s| json!({"input": s[0], "output": s[1]}))
            .collect();
        let body = json!({"instruction": "翻訳してください。", "output_length": 60, "metrics": metrics, "few_shots": [], "samples": rows});
        std::fs::write(test.join(format!("{name}.json")), body.to_string()).unwrap();
    }
    let replies: Vec<(String, String)> = tasks
        .iter()
        .flat_map(|(_, _, s)| s.iter().map(|s| (s[0].to_string(), s[2].to_string())))
        .collect();
    let fake = Fake::start(move |_, body| {
        let input = input_of(&first_user(body));
        let r = replies
            .iter()
            .find(|(i, _)| *i == input)
            .expect("a task prompt");
        Reply::Text(r.1.clone())
    })
    .await;
    let out = dir.path().join("out");
    let args = |out: &Path| -> Vec<String> {
        [
            "run",
            "--tasks",
            test.to_str().unwrap(),
            "--models",
            "m",
            "--base-url",
            &fake.base_url(),
            "--api-key-env",
            "",
            "--bootstrap",
            "0",
            "--format",
            "json",
            "--few-shots",
            "0",
            "--no-cache",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };

    // No MeCab, or a dictionary sacrebleu refuses: exit 2 naming the file and the metric.
    let refused = |env: &[(&str, &str)], said: &[&str]| {
        let mut c = crate::support::shinpan_bin();
        c.args(args(&dir.path().join("refused")));
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        for s in said {
            assert!(e.contains(s), "{s} not in {e}");
        }
    };
    refused(
        &[("SHINPAN_MECAB", "/nonexistent/mecab")],
        &["alt-e-to-j.json", "bleu_ja", "pip install ipadic"],
    );
    let debian = Path::new("/var/lib/mecab/dic/ipadic-utf8");
    if debian.join("sys.dic").is_file() {
        refused(
            &[("SHINPAN_MECAB_DIC", debian.to_str().unwrap())],
            &["alt-e-to-j.json", "392127", "令和", "392126"],
        );
    }
    assert!(
        fake.seen().is_empty(),
        "nothing is sent when a metric is refused"
    );

    let o = crate::support::shinpan_bin()
        .args(args(&out))
        .env("SHINPAN_MECAB_DIC", &dic)
        .output()
        .unwrap();
    let report = stdout_json(&o);
    let report = if report.is_array() {
        report[0].clone()
    } else {
        report
    };
    let model = &report["tasks"][0];

    // sacrebleu on the predictions, as Nejumi's blue_en / blue_ja call it.
    let pairs: Vec<(&str, &str, &str)> = tasks
        .iter()
        .flat_map(|(name, _, s)| s.iter().map(move |s| (*name, s[3], s[1])))
        .collect();
    let script = r#"
import json, sys, unicodedata
from sacrebleu import BLEU
out = []
for task, pred, gold in json.loads(sys.argv[1]):
    pred, gold = pred.strip(), unicodedata.normalize("NFKC", gold).strip()
    lang = "ja" if task == "alt-e-to-j" else "en"
    out.append(0.0 if not pred else BLEU(effective_order=True, trg_lang=lang).corpus_score([pred], [[gold]]).score / 100)
print(json.dumps(out))
"#;
    let o = std::process::Command::new(&paths[0])
        .args(["-c", script, &serde_json::to_string(&pairs).unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let py: Vec<f64> = serde_json::from_slice(&o.stdout).unwrap();
    let records = jsonl(&out.join("judgments").join("rules_single.jsonl"));
    for (i, (task, pred, _)) in pairs.iter().enumerate() {
        let metric = if *task == "alt-e-to-j" {
            "bleu_ja"
        } else {
            "bleu_en"
        };
        let r = records
            .iter()
            .find(|r| r["question_id"] == format!("{task}/{}", i % 3))
            .unwrap();
        assert_eq!(r["task"]["prediction"], *pred);
        close(&r["task"]["scores"][metric], py[i]);
    }
    close(
        score(model, "alt-e-to-j_bleu_ja"),
        py[..3].iter().sum::<f64>() / 3.0,
    );
    close(
        score(model, "alt-j-to-e_bleu_en"),
        py[3..].iter().sum::<f64>() / 3.0,
    );
    // COMET, listed as in llm-jp-eval's own file, is a marked cell saying why, not a zero.
    assert!(score(model, "alt-e-to-j_comet_wmt22").is_null());
    let comet = model["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "alt-e-to-j_comet_wmt22")
        .unwrap();
    assert!(
        comet["missing"].as_str().unwrap().contains("refused"),
        "{comet}"
    );
    // The identical translation scores 1, the empty prediction 0, the others in between.
    assert!(
        (py[1] - 1.0).abs() < 1e-12 && (py[4] - 1.0).abs() < 1e-12 && py[5] == 0.0,
        "{py:?}"
    );
    assert!(
        py[0] > 0.0 && py[0] < 1.0 && py[2] > 0.0 && py[2] < 1.0,
        "{py:?}"
    );
}

/// A v2 task end to end: llm-jp-eval v2's fields (`label_list`, `num_few_shots`,
/// `answer_pattern_id`, `answer_extract_pattern` with Python's lookahead, a
/// `custom_prompt_template`), few-shots from `train/`, each answer found by its pattern as
/// Python's `re` finds it, and a bad pattern id named.
#[tokio::test(flavor = "multi_thread")]
async fn a_v2_task_runs_end_to_end_with_its_answer_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evaluation");
    // (task, extra fields, [(input, gold, reply)]).
    let tasks: Vec<(&str, Value, Vec<[&str; 3]>)> = vec![
        (
            "choice",
            json!({"label_list": ["0", "1", "2"], "num_few_shots": 3, "answer_pattern_id": "choice_only_jp", "language": "ja"}),
            vec![
                ["問1", "2", "2\n理由：二番目が正しい。"],
                ["問2", "0", "１\n"],
            ],
        ),
        (
            "tagged",
            json!({"num_few_shots": 1, "answer_pattern_id": "answer_tags_jp", "custom_prompt_template": "{instruction}\n{few_shots_text}\n質問：{input}\n答え："}),
            vec![
                ["首都は？", "東京", "考えます。<answer> 東京 </answer>以上"],
                ["川は？", "信濃川", "信濃川です"],
            ],
        ),
        (
            "lookahead",
            json!({"num_few_shots": 0, "answer_extract_pattern": "答え[:：]\\s*(.*?)(?=\\n|\\Z)"}),
            vec![
                ["数は？", "3", "考え…\n答え: 3\n以上"],
                ["色は？", "赤", "答え：赤"],
            ],
        ),
    ];
    for (name, extra, samples) in &tasks {
        for split in ["test", "train"] {
            let rows: Vec<Value> = if split == "test" {
                samples
                    .iter()
                    .map(|s| json!({"input": s[0], "output": s[1]}))
                    .collect()
            } else {
                (0..4)
                    .map(|i| json!({"input": format!("例{i}"), "output": format!("{i}")}))
                    .collect()
            };
            let mut body = json!({"instruction": format!("{name}の指示"), "output_length": 20, "metrics": ["exact_match"], "samples": rows});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            std::fs::create_dir_all(root.join(split)).unwrap();
            std::fs::write(
                root.join(split).join(format!("{name}.json")),
                body.to_string(),
            )
            .unwrap();
        }
    }
    let replies: Vec<(String, String)> = tasks
        .iter()
        .flat_map(|(_, _, s)| s.iter().map(|s| (s[0].to_string(), s[2].to_string())))
        .collect();
    let fake = Fake::start(move |_, body| {
        let prompt = first_user(body);
        let r = replies
            .iter()
            .find(|(i, _)| {
                prompt.contains(&format!("{i}\n\n### 応答:\n"))
                    || prompt.ends_with(&format!("質問：{i}\n答え："))
            })
            .unwrap_or_else(|| panic!("a task prompt: {prompt}"));
        Reply::Text(r.1.clone())
    })
    .await;
    let test = root.join("test");
    let out = dir.path().join("out");
    let mut args = vec![
        "run",
        "--tasks",
        test.to_str().unwrap(),
        "--models",
        "m",
        "--base-url",
    ];
    let url = fake.base_url();
    args.push(&url);
    args.extend([
        "--api-key-env",
        "",
        "--bootstrap",
        "0",
        "--format",
        "json",
        "--no-cache",
        "--out",
        out.to_str().unwrap(),
    ]);
    let report = stdout_json(&run_bin(&args));
    let report = if report.is_array() {
        report[0].clone()
    } else {
        report
    };
    let model = &report["tasks"][0];

    // Each reply's answer as Python's re.search(pattern, reply, re.DOTALL) finds it, groups
    // joined and stripped (then NFKC, as every prediction).
    let patterns = [
        r"(?s)^(.*?)(?=\n|\Z)",
        r"<answer>(.*?)</answer>",
        "答え[:：]\\s*(.*?)(?=\\n|\\Z)",
    ];
    let cases: Vec<(&str, &str)> = tasks
        .iter()
        .zip(patterns)
        .flat_map(|((_, _, s), p)| s.iter().map(move |s| (p, s[2])))
        .collect();
    let script = r#"
import json, re, sys, unicodedata
out = []
for p, reply in json.loads(sys.argv[1]):
    m = re.search(p, reply, re.DOTALL)
    out.append(unicodedata.normalize("NFKC", "".join(g or "" for g in m.groups()).strip() if m else ""))
print(json.dumps(out, ensure_ascii=False))
"#;
    let o = std::process::Command::new("python3")
        .args(["-c", script, &serde_json::to_string(&cases).unwrap()])
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let python: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(python, ["2", "1", "東京", "", "3", "赤"]);
    let records = jsonl(&out.join("judgments").join("rules_single.jsonl"));
    let predictions: Vec<String> = [
        "choice/0",
        "choice/1",
        "tagged/0",
        "tagged/1",
        "lookahead/0",
        "lookahead/1",
    ]
    .iter()
    .map(|q| {
        records.iter().find(|r| r["question_id"] == *q).unwrap()["task"]["prediction"]
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect();
    assert_eq!(predictions, python);
    close(score(model, "choice_exact_match"), 0.5);
    close(score(model, "tagged_exact_match"), 0.5);
    close(score(model, "lookahead_exact_match"), 1.0);

    // Few-shots from train/: 3 for choice (its num_few_shots), 1 in tagged's own template.
    let seen = fake.seen();
    let choice = seen
        .iter()
        .map(|s| first_user(&s.body))
        .find(|p| p.contains("問1"))
        .unwrap();
    assert_eq!(choice.matches("### 入力:\n例").count(), 3, "{choice}");
    let tagged = seen
        .iter()
        .map(|s| first_user(&s.body))
        .find(|p| p.contains("首都は？"))
        .unwrap();
    assert_eq!(
        tagged,
        "taggedの指示\n\n\n### 入力:\n例0\n\n### 応答:\n0\n質問：首都は？\n答え："
    );

    // An unknown pattern id is named, and nothing is sent.
    let bad = test.join("zz.json");
    std::fs::write(&bad, json!({"instruction": "x", "output_length": 5, "metrics": ["exact_match"], "samples": [{"input": "a", "output": "b"}], "answer_pattern_id": "nope"}).to_string()).unwrap();
    let before = fake.seen().len();
    let o = run_bin(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("zz.json")
            && stderr(&o).contains("answer_pattern_id")
            && stderr(&o).contains("nope"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fake.seen().len(), before);
}
