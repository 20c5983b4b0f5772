//! One board over three runs: a single-mode benchmark graded 1-10, an ELYZA-style benchmark
//! graded 1-5 by each task's criteria, and llm-jp-eval tasks scored by rule; every cell and
//! average equal to hand-computed values, a missing cell marked and not counted, and two
//! figures for one model in one column refused.

use std::path::Path;

use serde_json::{Value, json};

use crate::fake::{Fake, Reply};
use crate::support::{is_judge, run_bin, stderr, stdout_json, write};

/// Every message of a request, joined.
fn all_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Candidates answer by name (task prompts as the tasks test scripts them); the judge grades
/// on 1-10 good 8, poor 6, third 5, and on 1-5 (criteria) good 4, poor 2.
async fn fake() -> Fake {
    Fake::start(|_, body| {
        if !is_judge(body) {
            return Reply::Text(
                crate::tasks::task_reply(body)
                    .unwrap_or_else(|| format!("{}の答えです。", body["model"].as_str().unwrap())),
            );
        }
        let text = all_text(body);
        let who = ["good", "poor", "third"]
            .into_iter()
            .find(|m| text.contains(&format!("{m}の答え")))
            .unwrap();
        let grade = if text.contains("課題") {
            match who {
                "good" => 4,
                _ => 2,
            }
        } else {
            match who {
                "good" => 8,
                "poor" => 6,
                _ => 5,
            }
        };
        Reply::Text(format!("評価: [[{grade}]]"))
    })
    .await
}

fn questions(dir: &Path, name: &str, criteria: bool) -> String {
    let lines: Vec<String> = (1..=4)
        .map(|i| {
            let mut q = json!({"question_id": i, "category": "writing", "turns": [format!("{}{i}を説明して", if criteria { "課題" } else { "質問" })]});
            if criteria {
                q["eval_aspect"] = json!("- 正しくなければ1点");
            }
            q.to_string()
        })
        .collect();
    write(dir, name, &(lines.join("\n") + "\n"))
        .to_str()
        .unwrap()
        .to_string()
}

fn run(url: &str, out: &Path, models: &str, what: &[&str]) {
    let mut args = vec![
        "run",
        "--models",
        models,
        "--base-url",
        url,
        "--api-key-env",
        "",
        "--out",
        out.to_str().unwrap(),
        "--no-cache",
        "--bootstrap",
        "0",
        "--quiet",
    ];
    args.extend_from_slice(what);
    let o = run_bin(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The command exits 2, its error saying every one of `words`.
fn refused(args: &[&str], words: &[&str]) {
    let o = run_bin(args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for w in words {
        assert!(stderr(&o).contains(w), "{w}: {}", stderr(&o));
    }
}

/// The entry of `model` in a JSON array of rows (`"model"` fields).
fn by_model(rows: &Value, model: &str) -> Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model)
        .unwrap_or_else(|| panic!("no row for {model} in {rows}"))
        .clone()
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_board_of_three_runs_equals_its_hand_computed_cells_and_averages() {
    let fake = fake().await;
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let (mt, elyza, tasks) = (
        dir.path().join("mt"),
        dir.path().join("elyza"),
        dir.path().join("tasks"),
    );
    let q = questions(dir.path(), "mt.jsonl", false);
    run(
        &url,
        &mt,
        "good,poor,third",
        &["--judge", "j", "--questions", &q],
    );
    let q = questions(dir.path(), "elyza.jsonl", true);
    run(
        &url,
        &elyza,
        "good,poor",
        &["--judge", "j", "--questions", &q],
    );
    let test = crate::tasks::write_tasks(dir.path());
    run(
        &url,
        &tasks,
        "good,poor",
        &["--tasks", test.to_str().unwrap(), "--few-shots", "2"],
    );

    let paths = [
        mt.to_str().unwrap(),
        elyza.to_str().unwrap(),
        tasks.to_str().unwrap(),
    ];
    let mut args = vec!["board", "--format", "json", "--bootstrap", "0"];
    args.extend(paths);
    let b = stdout_json(&run_bin(&args));
    let columns: Vec<&str> = b["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        columns[0].starts_with("mt.jsonl sha256:") && columns[0].ends_with(" · j (single)"),
        "{columns:?}"
    );
    assert!(columns[1].starts_with("elyza.jsonl sha256:"), "{columns:?}");
    assert_eq!(
        &columns[2..],
        [
            "jnli_exact_match (2-shot)",
            "jsquad_char_f1 (2-shot)",
            "jsts_pearson (2-shot)",
            "jsts_spearman (2-shot)",
            "llm-jp-eval AVG (2-shot)"
        ]
    );
    assert_eq!(b["columns"][0]["normalised"], "mean / 10 (scale 1-10)");
    assert_eq!(b["columns"][1]["normalised"], "mean / 5 (scale 1-5)");
    let row = |m: &str| by_model(&b["rows"], m);
    let (good, poor, third) = (row("good"), row("poor"), row("third"));
    // 1-10 means over 10, 1-5 means over 5, the tasks' AVG as it is.
    close(&good["cells"][0]["value"], 0.8);
    close(&good["cells"][1]["value"], 0.8);
    close(&good["cells"][6]["value"], 1.0);
    close(&poor["cells"][0]["value"], 0.6);
    close(&poor["cells"][1]["value"], 0.4);
    close(&poor["cells"][3]["value"], 0.685);
    close(&poor["cells"][6]["value"], (0.5 + 0.685) / 2.0);
    // The averages: the three headline cells, not the task scores AVG already holds.
    close(&good["average"], (0.8 + 0.8 + 1.0) / 3.0);
    close(&poor["average"], (0.6 + 0.4 + 0.5925) / 3.0);
    // third ran only the first benchmark: its other cells are missing, not zero.
    close(&third["cells"][0]["value"], 0.5);
    assert!(third["cells"][1].is_null() && third["cells"][6].is_null());
    assert_eq!(third["missing"], 2);
    close(&third["average"], 0.5);
    assert_eq!(b["rows"][0]["model"], "good");
    assert_eq!(good["cells"][0]["source"], paths[0]);
    // CSV and the table carry the same figures; a missing cell is marked.
    let mut args = vec!["board", "--format", "csv", "--bootstrap", "0"];
    args.extend(paths);
    let o = run_bin(&args);
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(
        csv.lines().any(|l| l.starts_with("third,0.5,2,0.5,,,,")),
        "{csv}"
    );
    let mut args = vec!["board", "--bootstrap", "0"];
    args.extend(paths);
    let table = String::from_utf8(run_bin(&args).stdout).unwrap();
    assert!(table.contains("—") && table.contains("0.8667"), "{table}");
    // The nejumi3 preset over the MT-bench-like run and the tasks at 0 and 2 shots: 情報検索
    // is JSQuAD's mean of 0- and 2-shot; a category with an input missing is missing, and
    // says which; GLP, ALT and TOTAL wait for every category.
    let zero = dir.path().join("tasks0");
    run(
        &url,
        &zero,
        "good,poor",
        &["--tasks", test.to_str().unwrap(), "--few-shots", "0"],
    );
    let o = run_bin(&[
        "board",
        "--format",
        "json",
        "--bootstrap",
        "0",
        "--preset",
        "nejumi3",
        paths[0],
        paths[2],
        zero.to_str().unwrap(),
    ]);
    let b = stdout_json(&o);
    let preset = &b["preset"];
    assert_eq!(preset["name"], "nejumi3");
    let row = |m: &str| by_model(&preset["rows"], m);
    let cat = |r: &Value, n: &str| {
        r["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    close(&cat(&row("good"), "GLP_情報検索")["value"], 1.0);
    close(&cat(&row("poor"), "GLP_情報検索")["value"], 0.685);
    let sem = cat(&row("good"), "GLP_意味解析");
    assert!(sem["value"].is_null());
    assert!(
        sem["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "janli 0-shot"),
        "{sem}"
    );
    assert!(
        !sem["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "jnli 0-shot"),
        "{sem}"
    );
    let expr = cat(&row("good"), "GLP_表現");
    assert!(
        expr["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "MT-bench roleplay"),
        "{expr}"
    );
    assert_eq!(row("good")["glp_filled"], 1);
    assert!(row("good")["glp"].is_null() && row("good")["total"].is_null());
    close(&row("good")["glp_partial"], 1.0);
    // nejumi4 over the same runs: each category the mean of what is there (表現 from MT-bench
    // writing alone, marked partial), its parents the mean of theirs, GLP theirs — given, as
    // both MT-bench and jaster were run; ALT and TOTAL not.
    let b4 = stdout_json(&run_bin(&[
        "board",
        "--format",
        "json",
        "--bootstrap",
        "0",
        "--preset",
        "nejumi4",
        paths[0],
        paths[2],
        zero.to_str().unwrap(),
    ]));
    let row4 = |m: &str| by_model(&b4["preset"]["rows"], m);
    for (m, expr, rc, nli) in [("good", 0.8, 1.0, 1.0), ("poor", 0.6, 0.685, 0.5)] {
        let r = row4(m);
        close(&cat(&r, "GLP_表現")["value"], expr);
        assert!(
            cat(&r, "GLP_表現")["missing"]
                .as_array()
                .unwrap()
                .contains(&json!("MT-bench roleplay")),
            "{r}"
        );
        close(&cat(&r, "GLP_情報検索")["value"], rc);
        close(&cat(&r, "GLP_応用的言語性能")["value"], (expr + rc) / 2.0);
        close(&cat(&r, "GLP_基礎的言語性能")["value"], nli);
        assert!(cat(&r, "GLP_推論能力")["value"].is_null());
        close(&r["glp"], ((expr + rc) / 2.0 + nli) / 2.0);
        assert_eq!(
            (r["glp_filled"].clone(), r["glp_of"].clone()),
            (json!(2), json!(5))
        );
        assert!(r["alt"].is_null() && r["total"].is_null());
        close(&r["total_partial"], ((expr + rc) / 2.0 + nli) / 2.0);
    }
    let table4 = String::from_utf8(
        run_bin(&[
            "board",
            "--bootstrap",
            "0",
            "--preset",
            "nejumi4",
            paths[0],
            paths[2],
            zero.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    assert!(
        table4.contains("board: nejumi4")
            && table4.contains("0.8000*")
            && table4.contains("· 表現"),
        "{table4}"
    );
    // The page: both tables, a radar of each model's headline figures and of its GLP
    // categories, under the report's content policy.
    let o = run_bin(&[
        "board",
        "--format",
        "html",
        "--bootstrap",
        "0",
        "--preset",
        "nejumi3",
        paths[0],
        paths[1],
        paths[2],
        zero.to_str().unwrap(),
    ]);
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(page.contains("Content-Security-Policy"));
    for m in ["good", "poor"] {
        assert!(page.contains(&format!("aria-label=\"radar: {m}\"")), "{m}");
        assert!(page.contains(&format!("aria-label=\"GLP: {m}\"")), "{m}");
    }
    assert!(page.contains("board: nejumi3"));
    // A board file: its runs (relative to it), categories over cells by pattern, weights.
    let toml = write(
        dir.path(),
        "board.toml",
        r#"
runs = ["mt", "elyza", "tasks"]
[[category]]
name = "対話"
cells = ["mt.jsonl*", "elyza.jsonl*"]
[[category]]
name = "jaster"
cells = ["llm-jp-eval AVG*"]
weight = 2
"#,
    );
    let b = stdout_json(&run_bin(&[
        "board",
        toml.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]));
    let own = |m: &str| by_model(&b["own"]["rows"], m);
    close(&own("good")["categories"][0][1], 0.8);
    close(&own("good")["total"], (0.8 + 2.0 * 1.0) / 3.0);
    close(&own("poor")["categories"][0][1], 0.5);
    close(&own("poor")["total"], (0.5 + 2.0 * 0.5925) / 3.0);
    // third has no jaster: the category is missing, so is the total; the filled mean beside.
    assert!(own("third")["categories"][1][1].is_null());
    assert!(own("third")["total"].is_null());
    close(&own("third")["total_filled"], 0.5);
    assert_eq!(b["own"]["rows"][0]["model"], "good");
    // A category no run can fill: refused, the file and category named.
    let bad = write(
        dir.path(),
        "bad.toml",
        "runs = [\"mt\"]\n[[category]]\nname = \"翻訳\"\ncells = [\"alt-e-to-j*\"]\n",
    );
    refused(&["board", bad.to_str().unwrap()], &["bad.toml", "翻訳"]);
    let typo = write(
        dir.path(),
        "typo.toml",
        "runs = [\"mt\"]\n[[category]]\nname = \"x\"\ncell = [\"a\"]\n",
    );
    refused(&["board", typo.to_str().unwrap()], &["typo.toml", "cell"]);
    let o = run_bin(&["board", "--preset", "nejumi9", paths[0]]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nejumi3, nejumi4"), "{}", stderr(&o));
    // The same benchmark twice for one model: refused, both runs named.
    let mut args = vec!["board", "--bootstrap", "0", paths[0], paths[0]];
    args.truncate(5);
    let o = run_bin(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("two figures"), "{}", stderr(&o));
}

/// The board over nightly runs: two recurring runs (a judged benchmark and tasks by rule),
/// three nights; each night's runs on one board, each model's average followed night to
/// night with its change, and a night whose benchmark changed version (other questions)
/// given no change, as its average covers another column.
#[tokio::test(flavor = "multi_thread")]
async fn the_boards_history_follows_each_model_night_by_night() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let worse = Arc::new(AtomicBool::new(false));
    let w = worse.clone();
    // good answers and is graded as poor on a worse night: 6 on 1-10, poor's task replies.
    let fake = Fake::start(move |_, body| {
        let worse = w.load(Ordering::SeqCst);
        if !is_judge(body) {
            let mut asked = body.clone();
            if worse {
                asked["model"] = json!("poor");
            }
            return Reply::Text(
                crate::tasks::task_reply(&asked)
                    .unwrap_or_else(|| format!("{}の答えです。", body["model"].as_str().unwrap())),
            );
        }
        let good = all_text(body).contains("goodの答え");
        Reply::Text(format!("評価: [[{}]]", if good && !worse { 8 } else { 6 }))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path(), "mt.jsonl", false);
    let test = crate::tasks::write_tasks(dir.path());
    let (mt_out, tasks_out) = (
        dir.path().join("nightly-mt"),
        dir.path().join("nightly-tasks"),
    );
    let config = |name: &str, body: String| {
        write(
            dir.path(),
            name,
            &format!(
                "{body}\n[endpoint]\nbase_url = \"{}\"\napi_key_env = \"\"\n[nightly]\n",
                fake.base_url()
            ),
        )
    };
    let mt = config(
        "mt.toml",
        format!(
            "models = [\"good\", \"poor\"]\njudge = \"j\"\nquestions = \"{q}\"\nout = \"{}\"",
            mt_out.display()
        ),
    );
    let tasks = config(
        "tasks.toml",
        format!(
            "models = [\"good\", \"poor\"]\ntasks = [\"{}\"]\nfew_shots = 2\nout = \"{}\"",
            test.display(),
            tasks_out.display()
        ),
    );
    let night = |name: &str| {
        for cfg in [&mt, &tasks] {
            let o = run_bin(&[
                "run",
                cfg.to_str().unwrap(),
                "--name",
                name,
                "--bootstrap",
                "0",
                "--quiet",
            ]);
            // A worse night fails the regression gate (3); the runs are written either way.
            assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
        }
    };
    night("2026-12-01");
    worse.store(true, Ordering::SeqCst);
    night("2026-12-02");
    // The benchmark's next version: other questions, so another column.
    std::fs::write(
        &q,
        "{\"question_id\": 1, \"category\": \"writing\", \"turns\": [\"新しい質問を説明して\"]}\n",
    )
    .unwrap();
    night("2026-12-03");

    let outs = [mt_out.to_str().unwrap(), tasks_out.to_str().unwrap()];
    let mut args = vec!["board", "--history", "--format", "json", "--bootstrap", "0"];
    args.extend(outs);
    let h = stdout_json(&run_bin(&args));
    let nights: Vec<&str> = h["nights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["night"].as_str().unwrap())
        .collect();
    assert_eq!(nights, ["2026-12-01", "2026-12-02", "2026-12-03"]);
    let series = |m: &str| {
        h["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["model"] == m)
            .unwrap()["points"]
            .as_array()
            .unwrap()
            .clone()
    };
    let good = series("good");
    // Night 1: MT 8/10 and the tasks' AVG 1; night 2: MT 6/10 and poor's AVG (0.5 + 0.685) / 2.
    close(&good[0]["average"], (0.8 + 1.0) / 2.0);
    let second = (0.6 + 0.5925) / 2.0;
    close(&good[1]["average"], second);
    close(&good[1]["change"], second - 0.9);
    assert_eq!(good[0]["columns"], good[1]["columns"]);
    // Night 3: the same figures, but over another MT column: no change, marked.
    close(&good[2]["average"], second);
    assert_eq!(good[2]["columns_changed"], true);
    assert!(good[2].get("change").is_none(), "{}", good[2]);
    assert_ne!(good[2]["columns"], good[1]["columns"]);
    // poor is the same every night.
    let poor = series("poor");
    close(&poor[1]["change"], 0.0);

    // The table: one summary row per model and a table per model; CSV a row per night; the
    // page a line per model.
    let mut args = vec!["board", "--history", "--bootstrap", "0"];
    args.extend(outs);
    let table = String::from_utf8(run_bin(&args).stdout).unwrap();
    assert!(
        table.contains("board over the nights: good")
            && table.contains("≠ columns")
            && table.contains("columns changed")
            && table.contains("-0.3038"),
        "{table}"
    );
    let mut args = vec!["board", "--history", "--format", "csv", "--bootstrap", "0"];
    args.extend(outs);
    let csv = String::from_utf8(run_bin(&args).stdout).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "{csv}");
    assert!(
        csv.lines().any(|l| l.starts_with("good,2026-12-03,")),
        "{csv}"
    );
    let mut args = vec![
        "board",
        "--history",
        "--format",
        "html",
        "--bootstrap",
        "0",
        "--preset",
        "nejumi4",
    ];
    args.extend(outs);
    let page = String::from_utf8(run_bin(&args).stdout).unwrap();
    assert!(page.contains("Content-Security-Policy"));
    assert!(page.contains("aria-label=\"average: good\""), "{page}");
    assert!(
        page.contains("nejumi4"),
        "the preset's headline is a column"
    );
    // A path that is not a recurring run's directory is refused.
    refused(
        &["board", "--history", q.as_str()],
        &["mt.jsonl", "recurring run"],
    );
}
