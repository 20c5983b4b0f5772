//! The judgment files a run leaves give FastChat's `show_result.py` the numbers
//! `shinpan report` gives, after an answer is replaced (its judgments made again) and with
//! `--judge-samples 3` (a drifting judge): superseded records and samples stay in the
//! journal, and the judgment file holds one current record per item.
//!
//! `show_result.py`'s rules are applied twice: re-implemented here from the script (single:
//! drop score -1, mean of every remaining row per turn and overall; pairwise: drop games with
//! an error in either order, a tie when either order says tie or they disagree), and by the
//! script itself when `scripts/fetch-fastchat.sh` has installed it with pandas (CI does; the
//! test says on stderr when it cannot).

use std::collections::{BTreeMap, HashMap};

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use shinpan::judge::verdict::Asks;
use shinpan::types::Mode;

use crate::fake::{Fake, Reply, first_user};
use crate::support::{builder, jsonl, judging};

/// (turn 1, turn 2, all rows) mean per model.
type Single = BTreeMap<String, [Option<f64>; 3]>;
/// (wins, losses, ties) per model, the baseline left out.
type Pairwise = BTreeMap<String, [u64; 3]>;

/// `show_result.py --mode single`, re-implemented.
fn fastchat_single(path: &Path) -> Single {
    let mut sums: BTreeMap<String, [(f64, usize); 3]> = BTreeMap::new();
    for r in jsonl(path) {
        // pandas reads null as NaN, which `!= -1` keeps and `mean()` skips.
        let Some(score) = r["score"].as_f64() else {
            continue;
        };
        if score == -1.0 {
            continue;
        }
        let s = sums
            .entry(r["model"].as_str().unwrap().to_string())
            .or_default();
        let t = r["turn"].as_u64().unwrap() as usize;
        for i in [t - 1, 2] {
            s[i].0 += score;
            s[i].1 += 1;
        }
    }
    sums.into_iter()
        .map(|(m, s)| (m, s.map(|(sum, n)| (n > 0).then(|| sum / n as f64))))
        .collect()
}

/// `show_result.py --mode pairwise-baseline`, re-implemented.
fn fastchat_pairwise(path: &Path, baseline: &str) -> Pairwise {
    let mut out: Pairwise = BTreeMap::new();
    for r in jsonl(path) {
        let (g1, g2) = (
            r["g1_winner"].as_str().unwrap(),
            r["g2_winner"].as_str().unwrap(),
        );
        if g1 == "error" || g2 == "error" {
            continue;
        }
        let (m1, m2) = (
            r["model_1"].as_str().unwrap(),
            r["model_2"].as_str().unwrap(),
        );
        if m1 != baseline && m2 != baseline {
            continue;
        }
        let mut add = |m: &str, i: usize| out.entry(m.to_string()).or_default()[i] += 1;
        if g1 == "tie" || g1 != g2 {
            add(m1, 2);
            add(m2, 2);
        } else if g1 == "model_1" {
            add(m1, 0);
            add(m2, 1);
        } else {
            add(m2, 0);
            add(m1, 1);
        }
    }
    out.remove(baseline);
    out
}

/// Runs the real `show_result.py` when it is installed; `None` (said on stderr) otherwise.
fn show_result(args: &[&str]) -> Option<String> {
    let tools = crate::support::installed(
        "SHINPAN_FASTCHAT_DIR",
        "fastchat",
        &["venv/bin/python", "show_result.py"],
        "scripts/fetch-fastchat.sh",
        "fastchat: FastChat's show_result.py not run, compared with its rules re-implemented only",
    )?;
    let o = std::process::Command::new(&tools[0])
        .arg(&tools[1])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(String::from_utf8(o.stdout).unwrap())
}

/// The rows of each `##########` section of `show_result.py`'s single-mode output: model
/// name first, score last.
fn parse_single_output(text: &str) -> Single {
    let mut out: Single = BTreeMap::new();
    let mut section = None;
    for line in text.lines() {
        if line.contains("First turn") {
            section = Some(0);
        } else if line.contains("Second turn") {
            section = Some(1);
        } else if line.contains("Average") {
            section = Some(2);
        } else if let Some(i) = section {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if let (Some(m), Some(Ok(score))) =
                (cells.first(), cells.last().map(|c| c.parse::<f64>()))
                && cells.len() >= 2
            {
                out.entry(m.to_string()).or_default()[i] = Some(score);
            }
        }
    }
    out
}

/// The rows of `show_result.py`'s pairwise output: model, win, loss, tie, rates.
fn parse_pairwise_output(text: &str) -> Pairwise {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.len() == 7
            && let (Ok(w), Ok(l), Ok(t)) = (cells[1].parse(), cells[2].parse(), cells[3].parse())
        {
            out.insert(cells[0].to_string(), [w, l, t]);
        }
    }
    out
}

fn shinpan_single(report: &Value) -> Single {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap().to_string(),
                [
                    m["turn1"].as_f64(),
                    m["turn2"].as_f64(),
                    m["score"].as_f64(),
                ],
            )
        })
        .collect()
}

fn shinpan_pairwise(report: &Value) -> Pairwise {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let n = |k: &str| m[k].as_u64().unwrap();
            (
                m["model"].as_str().unwrap().to_string(),
                [n("wins"), n("losses"), n("ties")],
            )
        })
        .collect()
}

fn assert_same_single(a: &Single, b: &Single, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (m, x) in a {
        for (i, (p, q)) in x.iter().zip(&b[m]).enumerate() {
            match (p, q) {
                (Some(p), Some(q)) => assert!((p - q).abs() < 1e-6, "{what}: {m} [{i}] {p} vs {q}"),
                _ => assert_eq!(p, q, "{what}: {m} [{i}]"),
            }
        }
    }
}

/// A judge whose grades follow the answer (a rewritten answer is graded 9, others by the
/// model) and drift from call to call of the same prompt: +0, −2, +3. Pairwise, it prefers the
/// rewritten answer, else answer A on odd calls.
fn drifting_judge() -> impl Fn(usize, &Value) -> Reply + Send + Sync + 'static {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    judging(move |body| {
        let prompt = first_user(body);
        let k = {
            let mut s = seen.lock().unwrap();
            let n = s.entry(prompt.clone()).or_default();
            *n += 1;
            *n - 1
        };
        if crate::support::asks(body) == Some(Asks::Choice) {
            let b = prompt
                .find("[アシスタントBの回答の開始]")
                .or_else(|| prompt.find("<|アシスタントBとの会話の開始|>"))
                .unwrap();
            return Reply::Text(match prompt.find("書き直した") {
                Some(p) if p > b => "[[B]]".into(),
                Some(_) => "[[A]]".into(),
                None if k % 2 == 1 => "[[A]]".into(),
                None => "[[C]]".into(),
            });
        }
        let base: i64 = if prompt.contains("書き直した") {
            9
        } else if prompt.contains("alphaの回答") {
            6
        } else {
            4
        };
        let grade = (base + [0, -2, 3][k % 3]).clamp(1, 10);
        Reply::Text(format!("評価: [[{grade}]]"))
    })
}

/// Replaces `model`'s answer to question 1 (both turns).
fn replace_answer(out: &Path, model: &str) {
    let path = out.join(format!("answers/{model}.jsonl"));
    let mut rows = jsonl(&path);
    let row = rows.iter_mut().find(|r| r["question_id"] == 1).unwrap();
    row["choices"][0]["turns"] = serde_json::json!(["書き直した回答1", "書き直した回答2"]);
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).unwrap();
}

async fn run_twice(opts: &shinpan::config::RunOptions, model: &str) -> Value {
    shinpan::pipeline::run(opts, false).await.unwrap();
    replace_answer(&opts.out, model);
    let second = shinpan::pipeline::run(opts, false).await.unwrap();
    assert!(
        second.summary.judgments_stale > 0,
        "the replaced answer was judged again"
    );
    serde_json::to_value(&second.report).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_result_counts_what_shinpan_report_counts() {
    let fake = Fake::start(drifting_judge()).await;
    let dir = tempfile::tempdir().unwrap();
    for samples in [1, 3] {
        let sub = dir.path().join(format!("single-{samples}"));
        std::fs::create_dir_all(&sub).unwrap();
        let opts = builder(&fake.base_url(), &sub, &["alpha", "beta"], Mode::Single)
            .judge_samples(samples)
            .build()
            .unwrap();
        let run_report = run_twice(&opts, "beta").await;
        let file = opts.out.join("judgments/judge_single.jsonl");
        let journal = jsonl(&opts.out.join("journal/judge_single.jsonl"));
        let current = jsonl(&file);
        assert_eq!(current.len(), 2 * 4, "one record per model and turn");
        assert!(
            journal.len() > current.len(),
            "superseded records stay in the journal"
        );
        let expected = fastchat_single(&file);
        let what = format!("--judge-samples {samples}");
        assert_same_single(
            &expected,
            &shinpan_single(&run_report),
            &format!("{what}: the run's report"),
        );
        assert_same_single(
            &expected,
            &shinpan_single(&crate::support::report_json(&opts.out)),
            &format!("{what}: shinpan report"),
        );
        // The medians, not the means of the samples, are what the file carries.
        if samples == 3 {
            let beta = &expected["beta"];
            assert_eq!(beta[0], Some(6.5), "medians: 9 (rewritten) and 4: {beta:?}");
        }
        if let Some(text) =
            show_result(&["--mode", "single", "--input-file", file.to_str().unwrap()])
        {
            assert_same_single(
                &expected,
                &parse_single_output(&text),
                &format!("{what}: show_result.py\n{text}"),
            );
        }
    }

    let sub = dir.path().join("pair");
    std::fs::create_dir_all(&sub).unwrap();
    let opts = builder(
        &fake.base_url(),
        &sub,
        &["alpha", "beta", "gamma"],
        Mode::PairwiseBaseline,
    )
    .baseline("gamma")
    .judge_samples(3)
    .build()
    .unwrap();
    let run_report = run_twice(&opts, "beta").await;
    let file = opts.out.join("judgments/judge_pair.jsonl");
    assert_eq!(jsonl(&file).len(), 2 * 4, "one record per game");
    let expected = fastchat_pairwise(&file, "gamma");
    assert_eq!(
        expected["beta"][0], 2,
        "beta's rewritten answer wins both turns of question 1"
    );
    assert_eq!(shinpan_pairwise(&run_report), expected, "the run's report");
    assert_eq!(
        shinpan_pairwise(&crate::support::report_json(&opts.out)),
        expected,
        "shinpan report"
    );
    if let Some(text) = show_result(&[
        "--mode",
        "pairwise-baseline",
        "--baseline-model",
        "gamma",
        "--input-file",
        file.to_str().unwrap(),
    ]) {
        assert_eq!(
            parse_pairwise_output(&text),
            expected,
            "show_result.py\n{text}"
        );
    }
}
