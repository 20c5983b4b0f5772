//! The review export (`shinpan export`) and its labels read back (`shinpan agreement
//! --labels`), through the real binary on runs made against the scripted fake.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use shinpan::judge::verdict::Asks;
use shinpan::types::Mode;

use crate::fake::{Fake, Reply, first_user};
use crate::support::{asks, builder, candidate, jsonl, run_bin, stdout_json, write};

/// Candidates answer by name and turn (beta's answers carry markup); the judge grades alpha 7
/// and beta 4, grades rubric aspects 8 and 6, and prefers alpha in both orders except on
/// turn 2 of the math question (the last item in question order), where it prefers
/// whichever answer is shown first.
fn script(_: usize, body: &Value) -> Reply {
    let prompt = first_user(body);
    match asks(body) {
        None if body["model"] == "beta" => Reply::Text(format!(
            "{}<script>alert(1)</script><img src=x onerror=alert(2)>",
            candidate(body)
        )),
        None => Reply::Text(candidate(body)),
        Some(Asks::Rating) => {
            let grade = if prompt.contains("alphaの回答") {
                7
            } else {
                4
            };
            Reply::Text(format!("説明です。評価: [[{grade}]]"))
        }
        Some(Asks::Aspects) => Reply::Text("{\"有用性\": 8, \"正確性\": 6}".into()),
        Some(Asks::Choice) => {
            let math_turn_2 = prompt.contains("2倍");
            let alpha_first =
                prompt.find("alphaの回答").unwrap() < prompt.find("betaの回答").unwrap();
            let v = if math_turn_2 || alpha_first { "A" } else { "B" };
            Reply::Text(format!("比べました。[[{v}]]"))
        }
    }
}

async fn run(fake: &Fake, dir: &Path, mode: Mode) -> PathBuf {
    let mut b = builder(&fake.base_url(), dir, &["alpha", "beta"], mode);
    if mode == Mode::PairwiseBaseline {
        b = b.baseline("beta");
    }
    if mode == Mode::Rubric {
        b = b.with(|s| s.aspects = Some(vec!["有用性".into(), "正確性".into()]));
    }
    let opts = b.build().unwrap();
    shinpan::pipeline::run(&opts, false).await.unwrap();
    opts.out
}

fn export(out: &Path, args: &[&str]) -> Vec<u8> {
    let o = run_bin(&[&["export", out.to_str().unwrap()][..], args].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn records(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_shows_everything_a_reviewer_needs() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let single = run(&fake, &dir.path().join("s"), Mode::Single).await;
    let rubric = run(&fake, &dir.path().join("r"), Mode::Rubric).await;
    let pair = run(&fake, &dir.path().join("p"), Mode::PairwiseBaseline).await;

    // Single: one record per model and turn, with the question, reference, whole answer,
    // grade, the judge's reply, and empty label and comment.
    let rs = records(&export(&single, &[]));
    assert_eq!(rs.len(), 2 * 4);
    let math2 = rs
        .iter()
        .find(|r| r["question_id"] == 2 && r["turn"] == 2 && r["model"] == "alpha")
        .unwrap();
    assert_eq!(math2["mode"], "single");
    assert_eq!(math2["category"], "math");
    assert_eq!(math2["questions"], json!(["2+3は？", "それを2倍すると？"]));
    assert_eq!(math2["reference"], json!(["模範: 5", "模範: 10"]));
    assert_eq!(math2["answer"], json!(["alphaの回答1", "alphaの回答2"]));
    assert_eq!(
        (math2["score"].as_f64(), math2["consistent"].as_bool()),
        (Some(7.0), Some(true))
    );
    assert!(math2["judgment"].as_str().unwrap().contains("[[7]]"));
    assert_eq!(
        (math2["label"].clone(), math2["comment"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(
        math2.as_object().unwrap().contains_key("label"),
        "the empty field is there to fill"
    );
    assert!(
        rs.iter()
            .filter(|r| r["question_id"] == 1)
            .all(|r| r.get("reference").is_none())
    );

    // Rubric: the aspects' grades.
    let rr = records(&export(&rubric, &[]));
    assert_eq!(rr[0]["mode"], "rubric");
    assert_eq!(rr[0]["aspects"], json!({"有用性": 8.0, "正確性": 6.0}));

    // Pairwise: both answers, both orders' verdicts and explanations, the combined result and
    // whether the orders agree; the inconsistent game first, though it is the last in
    // question order, then the rest in question order.
    let rp = records(&export(&pair, &[]));
    assert_eq!(rp.len(), 4);
    let first = &rp[0];
    assert_eq!(
        (first["question_id"].clone(), first["turn"].clone()),
        (json!(2), json!(2))
    );
    let rest: Vec<(Value, Value)> = rp[1..]
        .iter()
        .map(|r| (r["question_id"].clone(), r["turn"].clone()))
        .collect();
    assert_eq!(
        rest,
        [
            (json!(1), json!(1)),
            (json!(1), json!(2)),
            (json!(2), json!(1))
        ]
    );
    assert_eq!(first["consistent"], false);
    assert_eq!(
        (first["g1_winner"].as_str(), first["g2_winner"].as_str()),
        (Some("model_1"), Some("model_2"))
    );
    assert_eq!(first["result"], "tie");
    assert!(first["g1_judgment"].as_str().unwrap().contains("[[A]]"));
    assert!(
        first["answer_2"][0].as_str().unwrap().contains("<script>"),
        "answers as given"
    );
    for r in &rp[1..] {
        assert_eq!(
            (r["consistent"].as_bool(), r["result"].as_str()),
            (Some(true), Some("model_1"))
        );
    }
    let only = records(&export(&pair, &["--only", "inconsistent"]));
    assert_eq!(only.len(), 1);
    assert!(
        String::from_utf8(export(&pair, &["--only", "errors"]))
            .unwrap()
            .is_empty()
    );

    // Markdown: answers and rationales side by side, model text escaped.
    let md = String::from_utf8(export(&pair, &["--format", "md"])).unwrap();
    assert!(
        md.contains("| | alpha (A in game 1) | beta (A in game 2) |"),
        "{md}"
    );
    assert!(md.contains("⚠ inconsistent"));
    assert!(
        !md.contains("<script>") && md.contains("&lt;script&gt;"),
        "{md}"
    );
    assert!(!md.contains("<img"));
    // CSV: one row per item with the export's columns.
    let csv = export(&single, &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(&csv[..]);
    let headers = reader.headers().unwrap().clone();
    assert!(
        [
            "question_id",
            "questions",
            "answer",
            "score",
            "judgment",
            "label",
            "comment"
        ]
        .iter()
        .all(|c| headers.iter().any(|h| h == *c))
    );
    assert_eq!(reader.records().count(), 8);
    // To a file, atomically.
    let file = dir.path().join("review.jsonl");
    export(&pair, &["--out", file.to_str().unwrap()]);
    assert_eq!(jsonl(&file).len(), 4);
}

/// Fills every label of an export with `label(record)`.
fn labelled(bytes: &[u8], label: impl Fn(&Value) -> Value) -> String {
    records(bytes)
        .into_iter()
        .map(|mut r| {
            r["label"] = label(&r);
            format!("{r}\n")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_read_back_give_judge_human_agreement() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = run(&fake, &dir.path().join("p"), Mode::PairwiseBaseline).await;
    let single = run(&fake, &dir.path().join("s"), Mode::Single).await;

    // The reviewer agrees with the judge on every game but the inconsistent one, which they
    // call for alpha (the judge's result there is a tie).
    let exported = export(&pair, &[]);
    let labels = write(
        dir.path(),
        "pair-labels.jsonl",
        &labelled(&exported, |r| {
            if r["consistent"] == true {
                r["result"].clone()
            } else {
                json!("alpha")
            }
        }),
    );
    let out = stdout_json(&run_bin(&[
        "agreement",
        pair.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let p = &out["pairwise"]["pairs"][0];
    assert_eq!(
        (p["judge_a"].as_str(), p["judge_b"].as_str()),
        (Some("human"), Some("judge"))
    );
    assert_eq!(
        (p["n"].as_u64(), p["agreement"].as_f64()),
        (Some(4), Some(0.75))
    );
    assert_eq!(
        p["agreement_without_ties"], 1.0,
        "the one disagreement is a tie"
    );

    // Grades: the reviewer gives the judge's grade, one point higher for beta: the grades
    // correlate perfectly.
    let exported = export(&single, &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(&exported[..]);
    let headers = reader.headers().unwrap().clone();
    let (score, model, label) = ["score", "model", "label"]
        .map(|c| headers.iter().position(|h| h == c).unwrap())
        .into();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for rec in reader.records() {
        let mut rec: Vec<String> = rec.unwrap().iter().map(str::to_string).collect();
        let s: f64 = rec[score].parse().unwrap();
        rec[label] = (s + if rec[model] == "beta" { 1.0 } else { 0.0 }).to_string();
        writer.write_record(&rec).unwrap();
    }
    let csv_labels = dir.path().join("single-labels.csv");
    std::fs::write(&csv_labels, writer.into_inner().unwrap()).unwrap();
    let out = stdout_json(&run_bin(&[
        "agreement",
        single.to_str().unwrap(),
        "--labels",
        csv_labels.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let s = &out["single"]["pairs"][0];
    assert_eq!(
        (s["n"].as_u64(), s["score_pearson"].as_f64()),
        (Some(8), Some(1.0)),
        "{s}"
    );
    assert_eq!(out["single"]["by_model"]["beta"]["human"], 5.0);
    assert_eq!(out["single"]["by_model"]["beta"]["judge"], 4.0);

    // A label that is not one: exit 2 naming the file and line.
    let bad = write(
        dir.path(),
        "bad.jsonl",
        &labelled(&export(&pair, &[]), |_| json!("gamma")),
    );
    let o = run_bin(&[
        "agreement",
        pair.to_str().unwrap(),
        "--labels",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("bad.jsonl:1: label \"gamma\""), "{stderr}");
}
