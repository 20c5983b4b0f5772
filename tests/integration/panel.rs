//! A panel of judges in one run (`--judges`), through the real binary against a scripted
//! fake: three judges — harsh, lenient (which is also a candidate, and favours itself) and
//! position-biased — grade and play every item; each judge's figures and the panel's pooled
//! ones equal hand-computed values; a second run pays nothing again; bad panels are refused.

use std::path::Path;

use serde_json::Value;

use crate::fake::{Fake, Reply, first_user};
use crate::support::{asks, is_judge, run_bin, stdout_json, write};
use shinpan::judge::verdict::Asks;

/// The candidates a script knows, and each judge's order of preference between them.
const MODELS: [&str; 3] = ["alpha", "gamma", "lenient"];

/// The candidates whose answers a judge's prompt shows, in the order shown.
fn shown(prompt: &str) -> Vec<&'static str> {
    let mut at: Vec<(usize, &str)> = MODELS
        .iter()
        .filter_map(|m| prompt.find(&format!("{m}の答え")).map(|i| (i, *m)))
        .collect();
    at.sort();
    at.into_iter().map(|(_, m)| m).collect()
}

/// Grades by judge and candidate: harsh grades alpha 6, gamma 5 and lenient 2; lenient
/// grades alpha 7, gamma 6 and itself 9; biased grades alpha 7, gamma 5 and lenient 4. On a
/// rubric, each gives that grade for 有用性, and for 正確性 one less (lenient: the same). In
/// games, harsh prefers alpha > gamma > lenient; lenient prefers itself > alpha > gamma; and
/// biased always picks the answer shown first.
fn script(_: usize, body: &Value) -> Reply {
    if !is_judge(body) {
        return Reply::Text(format!("{}の答えです。", body["model"].as_str().unwrap()));
    }
    let judge = body["model"].as_str().unwrap();
    let shown = shown(&first_user(body));
    let rank = |m: &str| -> usize {
        let order: &[&str] = match judge {
            "harsh" => &["alpha", "gamma", "lenient"],
            _ => &["lenient", "alpha", "gamma"],
        };
        order.iter().position(|x| *x == m).unwrap()
    };
    let grade = |m: &str| match (judge, m) {
        ("harsh", "alpha") => 6,
        ("harsh", "gamma") => 5,
        ("harsh", _) => 2,
        ("lenient", "alpha") => 7,
        ("lenient", "gamma") => 6,
        ("lenient", _) => 9,
        (_, "alpha") => 7,
        (_, "gamma") => 5,
        (_, _) => 4,
    };
    match asks(body) {
        Some(Asks::Choice) => {
            let first_wins = judge == "biased" || rank(shown[0]) < rank(shown[1]);
            let v = if first_wins { "A" } else { "B" };
            Reply::Text(format!("比べました。[[{v}]]"))
        }
        Some(Asks::Aspects) => {
            let g = grade(shown[0]);
            let exact = if judge == "lenient" { g } else { g - 1 };
            Reply::Text(format!(
                "観点ごとに。\n```json\n{{\"有用性\": {g}, \"正確性\": {exact}}}\n```"
            ))
        }
        _ => Reply::Text(format!("評価: [[{}]]", grade(shown[0]))),
    }
}

fn questions(dir: &Path) -> String {
    write(
        dir,
        "q.jsonl",
        "{\"question_id\": 1, \"category\": \"writing\", \"turns\": [\"春の俳句を\"]}\n{\"question_id\": 2, \"category\": \"writing\", \"turns\": [\"秋の俳句を\"]}\n",
    )
    .to_str()
    .unwrap()
    .to_string()
}

fn run(fake: &Fake, q: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    run_models(fake, "alpha,lenient", q, out, extra)
}

fn run_models(
    fake: &Fake,
    models: &str,
    q: &str,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let url = fake.base_url();
    let mut args = vec![
        "run",
        "--models",
        models,
        "--judges",
        "harsh,lenient,biased",
        "--questions",
        q,
        "--out",
        out.to_str().unwrap(),
        "--base-url",
        &url,
        "--api-key-env",
        "",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    run_bin(&args)
}

fn by_judge<'a>(reports: &'a [Value], judge: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["judge"] == judge)
        .unwrap_or_else(|| panic!("no report of {judge}"))
}

/// One judge's figures in a panel report's `panel.by_judge`.
fn judge_figures<'a>(panel: &'a Value, judge: &str) -> &'a Value {
    panel["by_judge"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["judge"] == judge)
        .unwrap_or_else(|| panic!("no {judge} in {panel}"))
}

fn figure(report: &Value, model: &str, field: &str) -> f64 {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == model)
        .unwrap_or_else(|| panic!("no {model} in {report}"))[field]
        .as_f64()
        .unwrap()
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_grades_every_item_with_every_judge_and_pools_them() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path());
    let out = dir.path().join("single");
    let o = run(&fake, &q, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reports = stdout_json(&o).as_array().unwrap().clone();
    assert_eq!(reports.len(), 4, "each judge's report, then the panel's");
    // Each judge graded every item: 2 questions × 2 models, one request each.
    let judged = |j: &str| {
        fake.seen()
            .iter()
            .filter(|s| is_judge(&s.body) && s.body["model"] == j)
            .count()
    };
    for j in ["harsh", "lenient", "biased"] {
        assert_eq!(judged(j), 4, "{j}");
    }
    assert_eq!(figure(by_judge(&reports, "harsh"), "alpha", "score"), 6.0);
    assert_eq!(
        figure(by_judge(&reports, "lenient"), "lenient", "score"),
        9.0
    );
    // The panel: the mean of the three grades of each item.
    let panel = by_judge(&reports, "panel(harsh, lenient, biased)");
    assert!(near(figure(panel, "alpha", "score"), 20.0 / 3.0), "{panel}");
    assert!(near(figure(panel, "lenient", "score"), 5.0), "{panel}");
    let p = &panel["panel"];
    assert_eq!(p["pool"], "mean");
    assert_eq!(
        p["judges"],
        serde_json::json!(["harsh", "lenient", "biased"])
    );
    // Agreement between every pair of judges.
    assert_eq!(p["agreement"].as_array().unwrap().len(), 3, "{p}");
    // lenient judges itself: 9 against the others' mean of 3.
    let lenient = judge_figures(p, "lenient");
    assert_eq!(lenient["own_family"], serde_json::json!(["lenient"]));
    assert!(
        near(lenient["self_preference"].as_f64().unwrap(), 6.0),
        "{lenient}"
    );
    assert_eq!(lenient["failure_rate"], 0.0);
    // lenient's own report says it judged itself; the others' do not.
    assert_eq!(by_judge(&reports, "lenient")["self_judging"], true);
    assert!(by_judge(&reports, "harsh").get("self_judging").is_none());
    assert_eq!(lenient["requests"], 4);
    // The most disputed items first: lenient's own answers, 9 against 2.
    let first = &p["disagreements"][0];
    assert_eq!(
        (first["model_1"].as_str(), first["spread"].as_f64()),
        (Some("lenient"), Some(7.0))
    );
    assert_eq!(p["disagreeing_items"], 4);
    // The panel's interval resamples judges too: it is wider than the items alone give
    // (every judge grades alpha's two answers alike, so items alone give no width).
    let ci = panel["models"][0]["score_ci"].as_array().unwrap().clone();
    assert!(ci[0].as_f64() < ci[1].as_f64(), "{ci:?}");
    // Every judge has its own judgment file and manifest entry naming the panel.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let evals = manifest["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 3);
    for e in evals {
        assert_eq!(
            e["panel"],
            serde_json::json!(["harsh", "lenient", "biased"])
        );
        assert_eq!(e["state"], "finished");
        assert!(out.join(e["judgments"].as_str().unwrap()).is_file());
    }
    // `report DIR` shows the same pooled figures from the files.
    let o = run_bin(&["report", out.to_str().unwrap(), "--format", "json"]);
    let again = stdout_json(&o).as_array().unwrap().clone();
    let panel_again = by_judge(&again, "panel(harsh, lenient, biased)");
    assert!(near(figure(panel_again, "alpha", "score"), 20.0 / 3.0));
    let o = run_bin(&["report", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    for says in [
        "single (judge: panel(harsh, lenient, biased), scale 1-10), pooled by mean",
        "agreement between judges",
        "most disputed items (4 of 4)",
        "(the judge itself: self-judging)",
    ] {
        assert!(text.contains(says), "{says}: {text}");
    }

    // The review export lists the disputed items first, most disputed first: lenient's
    // answers (9 against 2), then alpha's (7 against 6).
    let review = dir.path().join("review.jsonl");
    let o = run_bin(&[
        "export",
        out.to_str().unwrap(),
        "--out",
        review.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> = std::fs::read_to_string(&review)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 12, "each judge's verdict on each of 4 items");
    let listed: Vec<(String, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["model"].as_str().unwrap().to_string(),
                r["judges_spread"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(
        listed[..6].iter().all(|(m, s)| m == "lenient" && *s == 7.0),
        "{listed:?}"
    );
    assert!(
        listed[6..].iter().all(|(m, s)| m == "alpha" && *s == 1.0),
        "{listed:?}"
    );
    // The page: the panel's section browses its judges' verdicts, disputed first.
    let o = run_bin(&["report", out.to_str().unwrap(), "--format", "html"]);
    let page = String::from_utf8_lossy(&o.stdout).to_string();
    let panel_section = &page[page
        .find("panel(harsh, lenient, biased)), pooled by mean</h2>")
        .unwrap()..];
    let disputed = panel_section.find("judges disagree by 7").unwrap();
    assert!(panel_section.contains("agreement between judges"));
    assert!(disputed < panel_section.find("judges disagree by 1<").unwrap());
    for j in ["harsh", "lenient", "biased"] {
        assert!(panel_section.contains(&format!("judge <b>{j}</b>")), "{j}");
    }

    // The panel's tables as users read them, in the terminal and in Markdown.
    for (format, name) in [("table", "panel_report_table"), ("md", "panel_report_md")] {
        let o = run_bin(&["report", out.to_str().unwrap(), "--format", format]);
        insta::assert_snapshot!(name, String::from_utf8(o.stdout).unwrap());
    }

    // Run again: everything stands, nothing is asked again.
    let before = fake.seen().len();
    let o = run(&fake, &q, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fake.seen().len(), before, "a second run pays nothing");

    // The median instead: alpha 7, lenient 4.
    let o = run(&fake, &q, &dir.path().join("median"), &["--pool", "median"]);
    let reports = stdout_json(&o).as_array().unwrap().clone();
    let panel = by_judge(&reports, "panel(harsh, lenient, biased)");
    assert_eq!(panel["panel"]["pool"], "median");
    assert_eq!(figure(panel, "alpha", "score"), 7.0);
    assert_eq!(figure(panel, "lenient", "score"), 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_plays_every_game_and_pools_each_order_by_majority() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path());
    let out = dir.path().join("pair");
    let o = run(
        &fake,
        &q,
        &out,
        &["--mode", "pairwise-baseline", "--baseline", "alpha"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reports = stdout_json(&o).as_array().unwrap().clone();
    // harsh: alpha wins both orders; lenient: itself; biased: the first shown, so its
    // orders disagree (a tie).
    let awr = |judge: &str| figure(by_judge(&reports, judge), "lenient", "adjusted_win_rate");
    assert_eq!(awr("harsh"), 0.0);
    assert_eq!(awr("lenient"), 1.0);
    assert_eq!(awr("biased"), 0.5);
    // Pooled: with lenient shown first, lenient and biased pick it (lenient wins that
    // order); with alpha first, harsh and biased pick alpha: the orders disagree, a tie.
    let panel = by_judge(&reports, "panel(harsh, lenient, biased)");
    assert_eq!(
        figure(panel, "lenient", "adjusted_win_rate"),
        0.5,
        "{panel}"
    );
    assert_eq!(panel["panel"]["pool"], "majority");
    let biased = judge_figures(&panel["panel"], "biased");
    assert_eq!(biased["consistency"], 0.0, "{biased}");
    assert_eq!(biased["first_position_win_rate"], 1.0, "{biased}");
    assert_eq!(panel["panel"]["agreement"].as_array().unwrap().len(), 3);
    // Every game is disputed: harsh says alpha, lenient says lenient.
    let d = &panel["panel"]["disagreements"][0];
    assert_eq!(d["spread"], 1.0, "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_grades_every_aspect_of_a_rubric_and_pools_each() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path());
    let out = dir.path().join("rubric");
    let o = run(
        &fake,
        &q,
        &out,
        &["--mode", "rubric", "--aspects", "有用性,正確性"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reports = stdout_json(&o).as_array().unwrap().clone();
    assert_eq!(reports.len(), 4);
    let aspect = |r: &Value, model: &str, a: &str| -> f64 {
        r["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == model)
            .unwrap()["aspects"][a]["score"]
            .as_f64()
            .unwrap()
    };
    // Each judge's own figures: harsh grades alpha 6 and 5, its mean 5.5.
    let harsh = by_judge(&reports, "harsh");
    assert_eq!(aspect(harsh, "alpha", "有用性"), 6.0);
    assert_eq!(aspect(harsh, "alpha", "正確性"), 5.0);
    assert_eq!(figure(harsh, "alpha", "score"), 5.5);
    // Pooled per aspect by the mean: alpha (6+7+7)/3 and (5+7+6)/3; lenient (2+9+4)/3 and
    // (1+9+3)/3. The score pools the judges' scores: (5.5+7+6.5)/3 and (1.5+9+3.5)/3.
    let panel = by_judge(&reports, "panel(harsh, lenient, biased)");
    assert_eq!(panel["mode"], "rubric");
    assert!(
        near(aspect(panel, "alpha", "有用性"), 20.0 / 3.0),
        "{panel}"
    );
    assert!(near(aspect(panel, "alpha", "正確性"), 6.0));
    assert!(near(aspect(panel, "lenient", "有用性"), 5.0));
    assert!(near(aspect(panel, "lenient", "正確性"), 13.0 / 3.0));
    assert!(near(figure(panel, "alpha", "score"), 19.0 / 3.0));
    assert!(near(figure(panel, "lenient", "score"), 14.0 / 3.0));
    assert_eq!(panel["scale"], serde_json::json!({"min": 1, "max": 10}));
    // Aspect and category intervals resample the judges too: every judge grades alpha's two
    // answers alike, so only the judges give them width.
    let alpha = &panel["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "alpha")
        .unwrap()
        .clone();
    for ci in [
        &alpha["aspects"]["有用性"]["score_ci"],
        &alpha["aspects"]["有用性"]["categories"]["writing"]["score_ci"],
        &alpha["categories"]["writing"]["score_ci"],
    ] {
        assert!(ci[0].as_f64() < ci[1].as_f64(), "{ci}");
    }
    let p = &panel["panel"];
    assert_eq!(p["pool"], "mean");
    assert_eq!(p["agreement"].as_array().unwrap().len(), 3);
    // lenient on itself: 9 against the others' (1.5 + 3.5) / 2.
    let lenient = judge_figures(p, "lenient");
    assert!(near(lenient["self_preference"].as_f64().unwrap(), 6.5));
    // Most disputed: lenient's answers, 9 against 1.5.
    let first = &p["disagreements"][0];
    assert_eq!(first["model_1"], "lenient");
    assert!(near(first["spread"].as_f64().unwrap(), 7.5), "{first}");
    // Read back from the files, the same.
    let o = run_bin(&["report", out.to_str().unwrap(), "--format", "json"]);
    let again = stdout_json(&o).as_array().unwrap().clone();
    let panel_again = by_judge(&again, "panel(harsh, lenient, biased)");
    assert!(near(aspect(panel_again, "lenient", "正確性"), 13.0 / 3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_plays_every_pair_and_rates_the_pooled_games() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path());
    let out = dir.path().join("all");
    let o = run_models(
        &fake,
        "alpha,gamma,lenient",
        &q,
        &out,
        &["--mode", "pairwise-all"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reports = stdout_json(&o).as_array().unwrap().clone();
    assert_eq!(reports.len(), 4);
    // 3 pairs × 2 questions × 2 orders for each judge.
    for j in ["harsh", "lenient", "biased"] {
        let n = fake
            .seen()
            .iter()
            .filter(|s| is_judge(&s.body) && s.body["model"] == j)
            .count();
        assert_eq!(n, 12, "{j}");
    }
    let awr = |r: &Value, m: &str| figure(r, m, "adjusted_win_rate");
    // harsh: alpha beats both, gamma beats lenient. lenient: itself beats both, alpha beats
    // gamma. biased: every game a tie (its orders disagree).
    let harsh = by_judge(&reports, "harsh");
    assert_eq!(
        [
            awr(harsh, "alpha"),
            awr(harsh, "gamma"),
            awr(harsh, "lenient")
        ],
        [1.0, 0.5, 0.0]
    );
    let lenient = by_judge(&reports, "lenient");
    assert_eq!(
        [
            awr(lenient, "alpha"),
            awr(lenient, "gamma"),
            awr(lenient, "lenient")
        ],
        [0.5, 0.0, 1.0]
    );
    let biased = by_judge(&reports, "biased");
    assert_eq!(
        [
            awr(biased, "alpha"),
            awr(biased, "gamma"),
            awr(biased, "lenient")
        ],
        [0.5, 0.5, 0.5]
    );
    // Pooled, each order by majority: alpha–gamma, harsh and lenient agree on alpha in both
    // orders (alpha wins); alpha–lenient and gamma–lenient, harsh and lenient split and
    // biased sides with whichever is shown first, so the orders disagree (ties).
    // alpha: win + tie = 0.75; gamma: loss + tie = 0.25; lenient: two ties = 0.5.
    let panel = by_judge(&reports, "panel(harsh, lenient, biased)");
    assert_eq!(
        [
            awr(panel, "alpha"),
            awr(panel, "gamma"),
            awr(panel, "lenient")
        ],
        [0.75, 0.25, 0.5],
        "{panel}"
    );
    // The pooled games are rated: alpha first, then lenient, then gamma.
    let rating = |m: &str| figure(panel, m, "bt_rating");
    assert!(rating("alpha") > rating("lenient") && rating("lenient") > rating("gamma"));
    let p = &panel["panel"];
    assert_eq!(p["pool"], "majority");
    // lenient on itself: 1.0 against the others' (0.0 + 0.5) / 2.
    let lenient = judge_figures(p, "lenient");
    assert!(near(lenient["self_preference"].as_f64().unwrap(), 0.75));
    assert_eq!(lenient["consistency"], 1.0);
    // harsh and lenient agree on alpha–gamma only: 4 of 12 verdicts (2 games × 2 orders).
    let pair = p["agreement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["judge_a"] == "harsh" && a["judge_b"] == "lenient")
        .unwrap_or_else(|| panic!("{p}"));
    assert!(
        near(pair["agreement"].as_f64().unwrap(), 1.0 / 3.0),
        "{pair}"
    );
    // Every game is disputed; those with lenient in them the most (1 against 0).
    assert_eq!(p["disagreeing_items"], 6);
    let spreads: Vec<f64> = p["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["spread"].as_f64().unwrap())
        .collect();
    assert_eq!(spreads, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]);
}

#[test]
fn bad_panels_are_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path());
    let base = |judges: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "run",
            "--models",
            "a,b",
            "--questions",
            &q,
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--api-key-env",
            "",
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(judges.iter().map(|s| s.to_string()));
        a
    };
    for (args, says) in [
        (
            base(&["--judge", "gpt-4o,claude"]),
            "for a panel give --judges gpt-4o,claude",
        ),
        (
            base(&["--judges", "x,y,x"]),
            "--judges: \"x\" is named twice",
        ),
        (
            base(&["--judge", "x", "--pool", "mean"]),
            "--pool mean: a single judge has nothing to pool",
        ),
        (
            base(&[
                "--judges",
                "x,y",
                "--pool",
                "mean",
                "--mode",
                "pairwise-all",
            ]),
            "--pool mean: the verdicts of a game are pooled by majority",
        ),
        (
            base(&["--judges", "x,y", "--pool", "vote"]),
            "--pool \"vote\": expected",
        ),
        (
            base(&[
                "--judges",
                "x,y",
                "--mode",
                "pairwise-adaptive",
                "--games",
                "4",
            ]),
            "a panel (--judges) plays pairwise-all or pairwise-n",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run_bin(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!dir.path().join("out").exists());
    }
}

#[test]
fn a_sharded_panel_run_merges_into_the_figures_of_the_whole_run() {
    use shinpan::simulate::{JudgeStyle, SimConfig};
    let style = |offset, position_bias| JudgeStyle {
        offset,
        position_bias,
    };
    let sim = crate::support::Sim::start(SimConfig {
        quality: [("a".to_string(), 0.8), ("b".to_string(), 0.4)].into(),
        judges: [
            ("harsh".to_string(), style(-2.0, 0.0)),
            ("lenient".to_string(), style(2.0, 0.0)),
            ("biased".to_string(), style(0.0, 0.6)),
        ]
        .into(),
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c.sqlite");
    let run = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec![
            "run",
            "--models",
            "a,b",
            "--judges",
            "harsh,lenient,biased",
            "--questions",
            crate::support::SAMPLE,
            "--base-url",
            &sim.url,
            "--api-key-env",
            "",
            "--cache",
            cache.to_str().unwrap(),
            "--format",
            "json",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run_bin(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let whole = stdout_json(&run("whole", &[]));
    run("s0", &["--shard", "0/2"]);
    run("s1", &["--shard", "1/2"]);
    let s = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let o = run_bin(&[
        "merge",
        &s("s0"),
        &s("s1"),
        "--out",
        &s("merged"),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged = stdout_json(&o);
    let figures = |rs: &Value| -> Vec<(String, Value)> {
        rs.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["judge"].as_str().unwrap().to_string(),
                    r["models"].clone(),
                )
            })
            .collect()
    };
    // The run lists its judges as given, merge by name: compare them judge by judge.
    let (mut w, mut m) = (figures(&whole), figures(&merged));
    w.sort_by(|a, b| a.0.cmp(&b.0));
    m.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(w.len(), 4, "three judges and the panel");
    assert_eq!(
        w, m,
        "every judge's and the panel's figures, intervals included"
    );
}

/// The simulator playing three judges of different strictness and bias.
fn panel_sim(quality: &[(&str, f64)]) -> crate::support::Sim {
    use shinpan::simulate::{JudgeStyle, SimConfig};
    let style = |offset, position_bias| JudgeStyle {
        offset,
        position_bias,
    };
    crate::support::Sim::start(SimConfig {
        quality: quality.iter().map(|(m, q)| (m.to_string(), *q)).collect(),
        judges: [
            ("harsh".to_string(), style(-2.0, 0.0)),
            ("lenient".to_string(), style(2.0, 0.0)),
            ("biased".to_string(), style(0.0, 0.6)),
        ]
        .into(),
        ..SimConfig::default()
    })
}

fn row<'a>(rows: &'a Value, model: &str, stage: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model && r["stage"] == stage)
        .unwrap_or_else(|| panic!("no {model} {stage} in {rows}"))
}

#[test]
fn estimate_counts_every_judge_of_a_panel_and_the_run_sends_that() {
    let sim = panel_sim(&[("a", 0.8), ("b", 0.4)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = |cmd: &str| -> Vec<String> {
        [
            cmd,
            "--models",
            "a,b",
            "--judges",
            "harsh,lenient,biased",
            "--questions",
            crate::support::SAMPLE,
            "--base-url",
            &sim.url,
            "--api-key-env",
            "",
            "--no-cache",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let call = |cmd: &str| {
        let a = args(cmd);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = run_bin(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout_json(&o)
    };
    let estimate = call("estimate")[0].clone();
    assert_eq!(estimate["judge"], "harsh, lenient, biased");
    let reports = call("run");
    let panel = by_judge(reports.as_array().unwrap(), "panel(harsh, lenient, biased)");
    // 16 two-turn questions × 2 models: 64 answers, each graded by each of three judges.
    for j in ["harsh", "lenient", "biased"] {
        let (e, r) = (
            row(&estimate["rows"], j, "judge"),
            row(&panel["spend"], j, "judge"),
        );
        assert_eq!(e["requests"], 64, "{j}: {e}");
        assert_eq!(r["requests"], 64, "{j}: {r}");
    }
    // The answers once, in the estimate and in the panel's spend.
    assert_eq!(row(&estimate["rows"], "a", "answer")["requests"], 32);
    assert_eq!(row(&panel["spend"], "a", "answer")["requests"], 32);
}

#[test]
fn compare_pools_a_panels_games() {
    let sim = panel_sim(&[("strong", 0.9), ("weak", 0.2)]);
    let dir = tempfile::tempdir().unwrap();
    let o = run_bin(&[
        "compare",
        "strong",
        "weak",
        "--judges",
        "harsh,lenient,biased",
        "--questions",
        crate::support::SAMPLE,
        "--base-url",
        &sim.url,
        "--api-key-env",
        "",
        "--out",
        dir.path().join("cmp").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = stdout_json(&o);
    assert_eq!(h["judge"], "panel(harsh, lenient, biased)");
    let n = |k: &str| h[k].as_u64().unwrap();
    assert_eq!(n("games") + n("errors"), 32, "{h}");
    assert!(h["adjusted_win_rate"].as_f64().unwrap() > 0.8, "{h}");
    // Every judge played every game, in both orders.
    for j in ["harsh", "lenient", "biased"] {
        let lines =
            std::fs::read_to_string(dir.path().join(format!("cmp/judgments/{j}_pair.jsonl")))
                .unwrap()
                .lines()
                .count();
        assert_eq!(lines, 32, "{j}");
    }
}

#[test]
fn a_recurring_panel_run_keeps_a_series_per_judge_and_for_the_panel() {
    let (good, bad) = (
        panel_sim(&[("my-model", 0.9), ("base", 0.5)]),
        panel_sim(&[("my-model", 0.2), ("base", 0.5)]),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(crate::support::SAMPLE, dir.path().join("q.jsonl")).unwrap();
    let cfg = write(
        dir.path(),
        "nightly.toml",
        &format!(
            "models = [\"my-model\", \"base\"]\njudges = [\"harsh\", \"lenient\", \"biased\"]\n\
             modes = [\"single\"]\nquestions = \"q.jsonl\"\nout = \"nightly\"\n\
             [endpoint]\nbase_url = \"{}\"\napi_key_env = \"\"\n[nightly]\nwatch = [\"my-model\"]\n",
            good.url
        ),
    );
    let cfg = cfg.to_str().unwrap();
    let o = run_bin(&["run", cfg, "--name", "day1", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let history = || crate::support::jsonl(&dir.path().join("nightly/history.jsonl"));
    let judges: std::collections::BTreeSet<String> = history()
        .iter()
        .filter(|l| l["model"] == "my-model")
        .map(|l| l["judge"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        judges,
        [
            "biased",
            "harsh",
            "lenient",
            "panel(harsh, lenient, biased)"
        ]
        .map(String::from)
        .into(),
        "one series per judge and one for the panel"
    );
    // The next night my-model is much worse: every series falls, the panel's among them.
    let o = run_bin(&[
        "run",
        cfg,
        "--name",
        "day2",
        "--format",
        "json",
        "--base-url",
        &bad.url,
        "--fail-on-regression",
        "0.3",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let regressed: std::collections::BTreeSet<String> = out["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["model"] == "my-model" && c["status"] == "regressed")
        .map(|c| c["judge"].as_str().unwrap().to_string())
        .collect();
    assert!(
        regressed.contains("panel(harsh, lenient, biased)") && regressed.len() == 4,
        "{out}"
    );
    // The panel's series is its own: its night-two line compares with its night-one line.
    let h = history();
    let panel: Vec<&Value> = h
        .iter()
        .filter(|l| l["model"] == "my-model" && l["judge"] == "panel(harsh, lenient, biased)")
        .collect();
    assert_eq!(panel.len(), 2);
    assert!(panel[1]["value"].as_f64() < panel[0]["value"].as_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_judge_of_a_panel_is_asked_through_its_own_endpoint() {
    let (first, second) = (Fake::start(script).await, Fake::start(script).await);
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path());
    let cfg = write(
        dir.path(),
        "shinpan.toml",
        &format!(
            "models = [\"alpha\", \"lenient\"]\njudges = [\"harsh\", \"biased\"]\nquestions = \"{q}\"\n\
             [endpoint]\nbase_url = \"{}\"\napi_key_env = \"\"\n\
             [endpoints.other]\nbase_url = \"{}\"\napi_key_env = \"\"\nrpm = 600\n\
             [model.biased]\nendpoint = \"other\"\n",
            first.base_url(),
            second.base_url()
        ),
    );
    let out = dir.path().join("out");
    let o = run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let asked = |f: &Fake| -> Vec<String> {
        let mut m: Vec<String> = f
            .seen()
            .iter()
            .map(|s| s.body["model"].as_str().unwrap().to_string())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    assert_eq!(asked(&first), ["alpha", "harsh", "lenient"]);
    assert_eq!(asked(&second), ["biased"]);
    // A judge's endpoint that does not exist is refused before any request, naming it.
    let bad = write(
        dir.path(),
        "bad.toml",
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("endpoint = \"other\"", "endpoint = \"nope\""),
    );
    let before = first.seen().len() + second.seen().len();
    let o = run_bin(&[
        "run",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("model \"biased\" names endpoint \"nope\""),
        "{stderr}"
    );
    assert_eq!(first.seen().len() + second.seen().len(), before);
    assert!(!dir.path().join("bad").exists());
}
