//! Every grade on the scale its prompt asked for: a run of ELYZA-style criteria questions
//! (graded 1-5) states its scale in the JSON report and the history, draws its axes and
//! histograms 1-5, exports and reads back labels on 1-5, and the regression gate reads its
//! threshold on 1-5; an upstream prompt set may ask for 0-10.

use std::path::Path;

use serde_json::{Value, json};

use crate::fake::{Fake, Reply, first_user};
use crate::support::{is_judge, jsonl, run_bin, stdout_json, write};

/// Ten single-turn questions, each with its own grading criteria.
fn criteria_questions(dir: &Path) -> String {
    let lines: Vec<String> = (1..=10)
        .map(|i| {
            json!({
                "question_id": i,
                "category": "elyza",
                "turns": [format!("{i}+{i}は?")],
                "eval_aspect": "- 正しくなければ1点",
            })
            .to_string()
        })
        .collect();
    write(dir, "q.jsonl", &(lines.join("\n") + "\n"))
        .to_str()
        .unwrap()
        .to_string()
}

/// Candidates answer by name; the judge grades mine 4 and the base 2, on 1-5.
fn script(_: usize, body: &Value) -> Reply {
    if !is_judge(body) {
        return Reply::Text(format!("{}の答えです。", body["model"].as_str().unwrap()));
    }
    let grade = if first_user(body).contains("mineの答え") {
        4
    } else {
        2
    };
    Reply::Text(format!("基準に照らして採点しました。評価: [[{grade}]]"))
}

fn config(dir: &Path, url: &str) -> String {
    let q = criteria_questions(dir);
    let p = dir.join("nightly.toml");
    std::fs::write(
        &p,
        format!(
            r#"
models = ["mine", "base"]
judge = "j"
mode = "single"
questions = "{q}"
out = "{out}"
[endpoint]
base_url = "{url}"
api_key_env = ""
[nightly]
watch = ["mine"]
"#,
            out = dir.join("nightly").display()
        ),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

fn ticks(svg: &str) -> Vec<String> {
    svg.split("class=\"tick\">")
        .skip(1)
        .map(|t| t.split('<').next().unwrap().to_string())
        .collect()
}

/// The `<svg>` of the figure titled `title`.
fn figure<'a>(page: &'a str, title: &str) -> &'a str {
    let start = page
        .find(&format!("aria-label=\"{title}\""))
        .unwrap_or_else(|| panic!("no figure {title}"));
    let end = page[start..].find("</svg>").unwrap() + start;
    &page[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn criteria_grades_are_stated_drawn_labelled_and_gated_on_one_to_five() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fake.base_url());
    let o = run_bin(&["run", &cfg, "--name", "day1", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout_json(&o);

    // JSON: the scale beside the report and every mean.
    let five = json!({"min": 1, "max": 5});
    let report = &out["reports"][0];
    assert_eq!(report["scale"], five, "{report}");
    for m in report["models"].as_array().unwrap() {
        assert_eq!(m["scale"], five, "{m}");
    }
    let mine = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "mine")
        .unwrap();
    assert_eq!(mine["score"], 4.0);
    let grades = jsonl(&dir.path().join("nightly/day1/judgments/j_single.jsonl"));
    assert!(grades.iter().all(|g| g["scale"] == five), "{:?}", grades[0]);
    // The history states it too.
    let h = jsonl(&dir.path().join("nightly/history.jsonl"));
    assert!(h.iter().all(|l| l["scale"] == five), "{h:?}");

    // Text and Markdown: the report's title says the scale, and the Markdown's note.
    let run_dir = dir.path().join("nightly/day1");
    let o = run_bin(&["report", run_dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("single (judge: j, scale 1-5)"), "{text}");
    let o = run_bin(&["report", run_dir.to_str().unwrap(), "--format", "md"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("mean grade on the 1-5 scale"), "{md}");
    assert!(!md.contains("1-10"), "{md}");

    // HTML: the leaderboard's axis ends at 5, the histogram has the points 1-5 and no more.
    let page = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    let board = ticks(figure(&page, "Mean score"));
    assert_eq!(board.last().map(String::as_str), Some("5"), "{board:?}");
    assert_eq!(
        ticks(figure(&page, "Score distribution")),
        ["1", "2", "3", "4", "5"]
    );
    assert!(page.contains("each point of the 1-5 scale"));
    assert!(!page.contains("1-10"), "nothing on the page says 1-10");

    // Review: the export states the scale; a label off it is refused, one on it is read.
    let o = run_bin(&["export", run_dir.to_str().unwrap(), "--format", "csv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut reader = csv::Reader::from_reader(&o.stdout[..]);
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (scale, label) = (col("scale"), col("label"));
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r[scale] == "1-5"));
    let labelled = |grade: &str| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&headers).unwrap();
        for r in &rows {
            let mut r = r.clone();
            r[label] = grade.into();
            w.write_record(&r).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    };
    let bad = write(dir.path(), "bad.csv", &labelled("7"));
    let o = run_bin(&[
        "agreement",
        run_dir.to_str().unwrap(),
        "--labels",
        bad.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("expected a grade from 1 to 5"), "{err}");
    let good = write(dir.path(), "good.csv", &labelled("4"));
    let o = run_bin(&[
        "agreement",
        run_dir.to_str().unwrap(),
        "--labels",
        good.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let agreement = stdout_json(&o);
    assert_eq!(agreement["single"]["by_model"]["mine"]["human"], 4.0);

    // The gate: last night looked 0.2 better, with no noise. A threshold of 0.3 is read on
    // 1-10, so on 1-5 it is 0.3 × 4/9 = 0.133: a drop of 0.2 fails the gate, which it
    // would not on 1-10; 0.5 (0.222 on 1-5) tolerates it.
    let path = dir.path().join("nightly/history.jsonl");
    let lines: Vec<String> = jsonl(&path)
        .into_iter()
        .map(|mut l| {
            let v = l["value"].as_f64().unwrap() + 0.2;
            l["value"] = v.into();
            l["ci"] = json!([v - 0.001, v + 0.001]);
            l.to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let gate = |name: &str, threshold: &str| {
        let o = run_bin(&[
            "run",
            &cfg,
            "--name",
            name,
            "--format",
            "json",
            "--fail-on-regression",
            threshold,
        ]);
        let out: Value = serde_json::from_slice(&o.stdout).unwrap();
        let mine = out["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["model"] == "mine")
            .unwrap()
            .clone();
        (o.status.code(), mine)
    };
    let (code, change) = gate("day2", "0.5");
    assert_eq!(code, Some(0), "{change}");
    assert_eq!(change["status"], "fell", "{change}");
    assert!((change["threshold"].as_f64().unwrap() - 0.5 * 4.0 / 9.0).abs() < 1e-9);
    assert_eq!(change["scale"], five, "{change}");
    // day2 is now the previous comparable run, with a real interval of zero width; make it
    // look 0.2 better again for the next night.
    let lines: Vec<String> = jsonl(&path)
        .into_iter()
        .map(|mut l| {
            if l["run"] == "day2" {
                let v = l["value"].as_f64().unwrap() + 0.2;
                l["value"] = v.into();
                l["ci"] = json!([v - 0.001, v + 0.001]);
            }
            l.to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, change) = gate("day3", "0.3");
    assert_eq!(code, Some(3), "{change}");
    assert_eq!(change["status"], "regressed", "{change}");
    assert!((change["threshold"].as_f64().unwrap() - 0.3 * 4.0 / 9.0).abs() < 1e-9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_set_that_asks_for_zero_to_ten_grades_on_zero_to_ten() {
    // A FastChat-format prompt set whose single prompt states 0-10; the judge gives 0, which
    // is a grade there (and refused on 1-10).
    let fake = Fake::start(|_, body| {
        if body["messages"][0]["content"]
            .as_str()
            .is_some_and(|s| s.contains("0から10"))
        {
            Reply::Text("評価: [[0]]".into())
        } else {
            Reply::Text("答えです。".into())
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let set = write(
        dir.path(),
        "judge_prompts.jsonl",
        &(json!({
            "name": "single-0-10",
            "type": "single",
            "system_prompt": "回答を0から10で採点してください。",
            "prompt_template": "[質問]\n{question}\n\n[アシスタントの回答の開始]\n{answer}\n[アシスタントの回答の終了]",
            "output_format": "[[rating]]",
            "scale": {"min": 0, "max": 10},
        })
        .to_string()
            + "\n"),
    );
    let q = write(
        dir.path(),
        "q.jsonl",
        "{\"question_id\": 1, \"turns\": [\"1+1は?\"]}\n",
    );
    let out = dir.path().join("out");
    let o = run_bin(&[
        "run",
        "--models",
        "a",
        "--judge",
        "j",
        "--questions",
        q.to_str().unwrap(),
        "--prompt-set",
        set.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        &fake.base_url(),
        "--api-key-env",
        "",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = stdout_json(&o);
    assert_eq!(report["scale"], json!({"min": 0, "max": 10}), "{report}");
    assert_eq!(report["models"][0]["score"], 0.0, "{report}");
    let g = &jsonl(&out.join("judgments/j_single.jsonl"))[0];
    assert_eq!(g["scale"], json!({"min": 0, "max": 10}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rubric_on_one_to_five_asks_reads_and_draws_every_aspect_on_it() {
    // mine: 有用性 4 and 正確性 5; base: 2 and 1. Asked again, a judge that first said 7
    // (beyond 5) for base's 有用性 gives 2.
    let fake = Fake::start(|_, body: &Value| {
        if !is_judge(body) {
            return Reply::Text(format!("{}の答えです。", body["model"].as_str().unwrap()));
        }
        let prompt = first_user(body);
        let reasked = body["messages"].as_array().unwrap().len() > 3;
        let (useful, exact) = match (prompt.contains("mineの答え"), reasked) {
            (true, _) => (4, 5),
            (false, false) => (7, 1),
            (false, true) => (2, 1),
        };
        Reply::Text(format!(
            "観点ごとに。\n```json\n{{\"有用性\": {useful}, \"正確性\": {exact}}}\n```"
        ))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let q = write(
        dir.path(),
        "q.jsonl",
        "{\"question_id\": 1, \"category\": \"writing\", \"turns\": [\"春の俳句を\"]}\n",
    );
    let out = dir.path().join("out");
    let url = fake.base_url();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--models",
            "mine,base",
            "--judge",
            "j",
            "--mode",
            "rubric",
            "--aspects",
            "有用性,正確性",
            "--questions",
            q.to_str().unwrap(),
            "--base-url",
            &url,
            "--api-key-env",
            "",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        run_bin(&args)
    };
    let o = run(&["--rubric-scale", "1-5"]);
    let report = stdout_json(&o);
    let five = json!({"min": 1, "max": 5});
    assert_eq!(report["scale"], five, "{report}");
    let model = |m: &str| {
        report["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["model"] == m)
            .unwrap()
            .clone()
    };
    assert_eq!(model("mine")["aspects"]["正確性"]["score"], 5.0);
    assert_eq!(model("mine")["score"], 4.5);
    assert_eq!(model("base")["aspects"]["有用性"]["score"], 2.0);
    // The prompt asked for 1-5, and 7 was asked again rather than read.
    let judged: Vec<String> = fake
        .seen()
        .iter()
        .filter(|s| is_judge(&s.body))
        .map(|s| first_user(&s.body))
        .collect();
    assert!(
        judged.iter().all(|p| p.contains("1から5までの整数")),
        "{judged:?}"
    );
    let grades = jsonl(&out.join("judgments/j_rubric.jsonl"));
    assert!(grades.iter().all(|g| g["scale"] == five), "{grades:?}");
    // The page draws the aspects on 1-5.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let axis = ticks(figure(&page, "Mean grade per aspect"));
    assert_eq!(axis.last().map(String::as_str), Some("5"), "{axis:?}");

    // A scale that is not one is refused before any request, naming the flag.
    let before = fake.seen().len();
    for bad in ["5-1", "1to5", "0-300"] {
        let o = run(&["--rubric-scale", bad]);
        assert_eq!(o.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("--rubric-scale"), "{stderr}");
    }
    assert_eq!(fake.seen().len(), before);
}
