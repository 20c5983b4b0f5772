//! Official sets on demand: `shinpan data fetch` from a local HTTP mirror that serves
//! `../shared/datasets` under the paths of the pinned URLs (as a team's mirror would), with
//! checksums that match, one that does not, a file that is missing and no server at all; an
//! unpinned set (ELYZA-tasks-100, a fixture in its format) checked against what its first
//! fetch recorded; and `--bench` running on what was fetched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use shinpan::simulate::SimConfig;

use crate::support::{Sim, run_bin, stdout_json};

const DS: &str = "../shared/datasets";

/// The sets' licence files, which SOURCES.tsv does not list: each repository's root LICENSE
/// at the pinned commit, kept under the set's folder.
const LICENCES: [(&str, &str, &str); 4] = [
    (
        "ja_vicuna_qa",
        "ku-nlp/ja-vicuna-qa-benchmark",
        "128a862da6a4478c3e80ab3c3b716d1417380751",
    ),
    (
        "japanese_mt_bench",
        "Stability-AI/FastChat",
        "e37eb28ee490480f6f4989274ed47c55f7dfce82",
    ),
    (
        "rakuda",
        "yuzu-ai/japanese-llm-ranking",
        "fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c",
    ),
    (
        "mt_bench",
        "lm-sys/FastChat",
        "0e6d3e4beaab66f4d3f93db72541a4abab8af28d",
    ),
];

/// ELYZA-tasks-100's format: a CSV of `input`, `output`, `eval_aspect`.
const ELYZA: &str = "input,output,eval_aspect\n\
\"仕事の熱意を取り戻すためのアイデアを5つ挙げてください。\",\"1. 新しい技能を学ぶ\n2. 目標を立て直す\",\"- 熱意を取り戻すアイデアが5つでなければ-1点\n- 実行できないアイデアは-1点\"\n\
\"次の文を、要点を残して短くしてください: 「今日は雨なので、傘を持って、駅まで歩きます。」\",\"雨なので傘を持ち駅まで歩く。\",\"- 要点（雨、傘、駅まで徒歩）が欠けたら-2点\"\n\
\"「りんご, みかん, ぶどう」を五十音順に並べてください。\",ぶどう、みかん、りんご,\"- 順序が違えば1点\"\n";

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A mirror on its own thread: the files by URL path.
struct Mirror {
    base: String,
    files: Files,
}

impl Mirror {
    fn start() -> Mirror {
        let mut files = HashMap::new();
        let sources = std::fs::read_to_string(Path::new(DS).join("SOURCES.tsv")).unwrap();
        for line in sources.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let (shared, repo, commit, path) = (f[0], f[1], f[2], f[3]);
            let bytes = std::fs::read(Path::new(DS).join(shared)).unwrap();
            files.insert(format!("/{repo}/{commit}/{path}"), bytes);
        }
        for (dir, repo, commit) in LICENCES {
            let bytes = std::fs::read(Path::new(DS).join(dir).join("LICENSE")).unwrap();
            files.insert(format!("/{repo}/{commit}/LICENSE"), bytes);
        }
        files.insert(
            "/datasets/elyza/ELYZA-tasks-100/resolve/main/test.csv".into(),
            ELYZA.as_bytes().to_vec(),
        );
        let files: Files = Arc::new(Mutex::new(files));
        let (tx, rx) = std::sync::mpsc::channel();
        let served = files.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                    let served = served.clone();
                    async move {
                        match served.lock().unwrap().get(uri.path()) {
                            Some(b) => (axum::http::StatusCode::OK, b.clone()),
                            None => (axum::http::StatusCode::NOT_FOUND, b"not found".to_vec()),
                        }
                    }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Mirror {
            base: format!("http://{addr}"),
            files,
        }
    }
}

fn fetch(data: &Path, base: &str, names: &[&str]) -> std::process::Output {
    let mut args = vec!["data", "fetch"];
    args.extend(names);
    args.extend(["--data-dir", data.to_str().unwrap(), "--mirror", base]);
    run_bin(&args)
}

fn listed(data: &Path) -> Value {
    stdout_json(&run_bin(&[
        "data",
        "list",
        "--data-dir",
        data.to_str().unwrap(),
        "--format",
        "json",
    ]))
}

/// `shinpan run` of `models` judged by `judge`, against the simulator, into `out`, with the
/// sets in `data`, and `more` flags.
fn run_on(
    sim: &Sim,
    data: &Path,
    out: &Path,
    models: &str,
    judge: &str,
    more: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "run",
        "--models",
        models,
        "--judge",
        judge,
        "--base-url",
        &sim.url,
        "--api-key-env",
        "",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(more);
    run_bin(&args)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_pinned_set_fetches_from_a_mirror_and_checks_out() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for name in ["ja-vicuna-qa", "japanese-mt-bench", "rakuda", "mt-bench"] {
        let started = Instant::now();
        let o = fetch(&data, &mirror.base, &[name]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let said = String::from_utf8_lossy(&o.stderr);
        eprintln!(
            "{} ({:.2}s with the process)",
            said.trim(),
            started.elapsed().as_secs_f64()
        );
        assert!(said.contains(&format!("shinpan: {name} ")), "{said}");
    }
    let list = listed(&data);
    for set in list.as_array().unwrap() {
        let fetched = set["name"] != "elyza-tasks-100" && set["name"] != "jglue";
        for f in set["files"].as_array().unwrap() {
            assert_eq!(f["fetched"], fetched, "{} {}", set["name"], f["name"]);
        }
    }
    // A second fetch downloads nothing.
    let o = fetch(&data, &mirror.base, &["ja-vicuna-qa"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 file(s) downloaded"));
    // The files are the upstream's, byte for byte.
    let q = data.join("ja-vicuna-qa/128a862/question.jsonl");
    let upstream = std::fs::read(Path::new(DS).join("ja_vicuna_qa/question.jsonl")).unwrap();
    assert!(std::fs::read(q).unwrap() == upstream);
}

#[test]
fn a_mismatch_a_missing_file_or_no_server_fails_clearly_and_writes_nothing() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let q = "/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/data/jp_bench/question.jsonl";
    let good = mirror.files.lock().unwrap()[q].clone();
    // A file that is not the pinned one.
    let mut bad = good.clone();
    bad.extend_from_slice(b"{\"question_id\": 81}\n");
    mirror.files.lock().unwrap().insert(q.into(), bad);
    let o = fetch(&data, &mirror.base, &["ja-vicuna-qa"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("question.jsonl")
            && e.contains("not the pinned file")
            && e.contains("nothing written"),
        "{e}"
    );
    assert!(files_under(&data).is_empty(), "{:?}", files_under(&data));
    // A file the mirror lacks.
    mirror.files.lock().unwrap().insert(q.into(), good);
    let j = "/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/data/jp_bench/judge_prompts.jsonl";
    let prompts = mirror.files.lock().unwrap().remove(j).unwrap();
    let o = fetch(&data, &mirror.base, &["ja-vicuna-qa"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("judge_prompts.jsonl") && e.contains("HTTP 404"),
        "{e}"
    );
    assert!(files_under(&data).is_empty());
    mirror.files.lock().unwrap().insert(j.into(), prompts);
    // No server at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let o = fetch(&data, &format!("http://{closed}"), &["rakuda"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("cannot download") && e.contains("--mirror"),
        "{e}"
    );
    assert!(files_under(&data).is_empty());
    // An unknown set is a usage error.
    let o = fetch(&data, &mirror.base, &["no-such-set"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown set"));
}

#[test]
fn an_unpinned_set_is_held_to_the_checksum_of_its_first_fetch() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let o = fetch(&data, &mirror.base, &["elyza-tasks-100"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = data.join("elyza-tasks-100/unpinned");
    assert_eq!(
        std::fs::read_to_string(dir.join("test.csv")).unwrap(),
        ELYZA
    );
    assert!(
        std::fs::read_to_string(dir.join("SHA256SUMS"))
            .unwrap()
            .ends_with("  test.csv\n")
    );
    // Upstream changes the file: the copy held is still right, and a fresh download of the
    // changed file is refused.
    let path = "/datasets/elyza/ELYZA-tasks-100/resolve/main/test.csv";
    mirror
        .files
        .lock()
        .unwrap()
        .insert(path.into(), b"input,output,eval_aspect\n".to_vec());
    std::fs::remove_file(dir.join("test.csv")).unwrap();
    let o = fetch(&data, &mirror.base, &["elyza-tasks-100"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("test.csv") && e.contains("not the pinned file"),
        "{e}"
    );
    assert!(!dir.join("test.csv").exists());
}

#[test]
fn bench_runs_on_the_fetched_set_and_records_it() {
    let mirror = Mirror::start();
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("out");
    let run_into =
        |out: &Path, bench: &str| run_on(&sim, &data, out, "a", "j", &["--bench", bench]);
    let run = |extra: &[&str]| run_into(&out, extra[1]);
    // Not fetched yet: a usage error that says what to do.
    let o = run(&["--bench", "ja-vicuna-qa"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shinpan data fetch ja-vicuna-qa"));
    assert!(!out.exists(), "nothing written");
    let o = fetch(&data, &mirror.base, &["ja-vicuna-qa", "japanese-mt-bench"]);
    assert!(o.status.success());
    let o = run(&["--bench", "ja-vicuna-qa"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let answers = std::fs::read_to_string(out.join("answers/a.jsonl")).unwrap();
    assert_eq!(answers.lines().count(), 80);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["evaluations"][0]["bench"],
        "ja-vicuna-qa@80 128a862"
    );
    // A variant, and one that does not exist.
    let o = run_into(&tmp.path().join("jmt"), "japanese-mt-bench@60");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("jmt/questions.jsonl"))
            .unwrap()
            .lines()
            .count(),
        60
    );
    let o = run(&["--bench", "japanese-mt-bench@70"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no variant \"70\""));
    // Every answer and judgment carries the set and version.
    for f in ["answers/a.jsonl", "judgments/j_single.jsonl"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        let label = "\"bench\":\"ja-vicuna-qa@80 128a862\"";
        assert!(text.lines().all(|l| l.contains(label)), "{f}");
    }
    // The other version of the set in another directory: reported apart, with a warning.
    let jmt = tmp.path().join("jmt");
    let full = tmp.path().join("jmt80");
    assert!(run_into(&full, "japanese-mt-bench").status.success());
    let o = run_bin(&[
        "report",
        jmt.to_str().unwrap(),
        full.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let reports = stdout_json(&o);
    let benches: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["bench"].as_str().unwrap())
        .collect();
    assert_eq!(
        benches,
        [
            "japanese-mt-bench@60 e37eb28",
            "japanese-mt-bench@80 e37eb28"
        ]
    );
    // Two run directories are two runs, each report named by its run.
    let runs: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].as_str().unwrap())
        .collect();
    assert_eq!(runs, [jmt.to_str().unwrap(), full.to_str().unwrap()]);
    // The same directory run on the other version is refused before anything is sent: a
    // directory holds one question set.
    let before = std::fs::read(jmt.join("run.json")).unwrap();
    let o = run_into(&jmt, "japanese-mt-bench");
    let said = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(
        said.contains("japanese-mt-bench@60 e37eb28")
            && said.contains("japanese-mt-bench@80 e37eb28")
            && said.contains("one question set"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(jmt.join("run.json")).unwrap(),
        before,
        "nothing written"
    );
}

#[test]
fn every_published_prompt_set_loads_renders_and_parses() {
    use shinpan::judge::{OutputFormat, PromptKind, PromptSet};
    let placeholder = regex::Regex::new(r"\{([a-z_0-9]+)\}").unwrap();
    for (name, file, want) in [
        ("ja-vicuna-qa", "ja_vicuna_qa/judge_prompts.jsonl", 4),
        (
            "japanese-mt-bench",
            "japanese_mt_bench/judge_ja_prompts.jsonl",
            2,
        ),
        ("rakuda", "rakuda/judge_prompts.jsonl", 1),
        ("mt-bench", "mt_bench/judge_prompts.jsonl", 8),
    ] {
        let set = PromptSet::load(name, &Path::new(DS).join(file)).unwrap();
        assert_eq!(set.names().len(), want, "{name}: {:?}", set.names());
        // The published templates, by name, to see which variables each one names.
        let published: std::collections::HashMap<String, String> =
            crate::support::jsonl(&Path::new(DS).join(file))
                .into_iter()
                .map(|r| {
                    (
                        r["name"].as_str().unwrap().to_string(),
                        r["prompt_template"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
        for (kind, upstream) in set.names() {
            // Exactly the variables the judge gives that judgment, as values that show where
            // they went.
            let marked: Vec<(&str, String)> = kind
                .variables()
                .iter()
                .map(|v| (*v, format!("⟦{v}⟧")))
                .collect();
            let vars: Vec<(&str, &str)> = marked.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let messages = set.render(kind, &vars).unwrap();
            let user = &messages.last().unwrap().content;
            assert!(
                !user.contains('{'),
                "{name} {upstream}: unfilled placeholder in {user}"
            );
            // Every variable the published template names landed where it stands.
            let template = published[upstream].replace("{{", "").replace("}}", "");
            let named: Vec<&str> = placeholder
                .captures_iter(&template)
                .map(|c| c.get(1).unwrap().as_str())
                .collect();
            assert!(!named.is_empty(), "{name} {upstream}");
            for v in named {
                // Upstream's turn-1 `ref_answer_1` is what shinpan calls `ref_answer`.
                let ours = if v == "ref_answer_1" && !kind.variables().contains(&v) {
                    "ref_answer"
                } else {
                    v
                };
                assert!(
                    user.contains(&format!("⟦{ours}⟧")),
                    "{name} {upstream}: {{{v}}} did not land in {user}"
                );
            }
            let p = set.prompt(kind).unwrap();
            // A verdict in the prompt's own format reads back.
            match (kind, p.format) {
                (_, OutputFormat::LastDigit) => {
                    assert_eq!(
                        p.choice("比較しました。\n2").unwrap(),
                        shinpan::judge::verdict::Choice::B
                    );
                }
                (
                    PromptKind::Pair
                    | PromptKind::PairRef
                    | PromptKind::PairMulti
                    | PromptKind::PairRefMulti,
                    _,
                ) => {
                    assert_eq!(
                        p.choice("…[[C]]").unwrap(),
                        shinpan::judge::verdict::Choice::Tie
                    );
                }
                _ => assert_eq!(p.rating("評価：[[7]]").unwrap(), 7.0),
            }
        }
    }
}

#[test]
fn a_run_on_ja_vicuna_qa_with_its_prompts_writes_records_shaped_as_upstreams() {
    let mirror = Mirror::start();
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(
        fetch(&data, &mirror.base, &["ja-vicuna-qa"])
            .status
            .success()
    );
    let out = tmp.path().join("out");
    let o = run_on(
        &sim,
        &data,
        &out,
        "calm2,davinci",
        "gpt-4",
        &[
            "--mode",
            "pairwise-baseline",
            "--baseline",
            "davinci",
            "--bench",
            "ja-vicuna-qa",
            "--prompt-set",
            "ja-vicuna-qa",
            "--format",
            "json",
        ],
    );
    let report = stdout_json(&o);
    assert_eq!(report["partial"], false, "{report}");
    let ours = crate::support::jsonl(&out.join("judgments/gpt-4_pair.jsonl"));
    assert_eq!(ours.len(), 80);
    // The upstream FastChat-format records of ja-vicuna-qa: every field they have, ours has.
    let upstream = crate::support::jsonl(
        &Path::new(DS).join("ja_vicuna_qa/model_judgment_at_4258021/gpt-4_pair.jsonl"),
    );
    let keys = |r: &Value| -> std::collections::BTreeSet<String> {
        r.as_object().unwrap().keys().cloned().collect()
    };
    let missing: Vec<String> = keys(&upstream[0])
        .difference(&keys(&ours[0]))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "fields upstream has and ours lacks: {missing:?}"
    );
    // Named as the set names its prompts, and shown as it shows them.
    for r in &ours {
        let prompt = r["judge"][1].as_str().unwrap();
        assert!(["pair", "pair-math"].contains(&prompt), "{prompt}");
        assert!(
            r["g1_user_prompt"]
                .as_str()
                .unwrap()
                .starts_with("[ユーザーの質問]\n")
        );
    }
    // The coding and math questions (exactly ids 61-70 upstream, each with a GPT-4
    // reference) were judged with the reference prompt, and no other.
    let mut math: Vec<i64> = ours
        .iter()
        .filter(|r| r["judge"][1] == "pair-math")
        .map(|r| r["question_id"].as_i64().unwrap())
        .collect();
    math.sort_unstable();
    assert_eq!(math, (61..=70).collect::<Vec<i64>>());
}

#[test]
fn elyza_tasks_are_graded_one_to_five_by_their_own_criteria() {
    let mirror = Mirror::start();
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(
        fetch(&data, &mirror.base, &["elyza-tasks-100"])
            .status
            .success()
    );
    let out = tmp.path().join("out");
    let o = run_on(
        &sim,
        &data,
        &out,
        "a",
        "j",
        &["--bench", "elyza-tasks-100", "--format", "json"],
    );
    let report = stdout_json(&o);
    assert_eq!(report["partial"], false, "{report}");
    let grades = crate::support::jsonl(&out.join("judgments/j_single.jsonl"));
    assert_eq!(grades.len(), 3);
    for g in &grades {
        assert_eq!(g["judge"][1], "criteria");
        let s = g["score"].as_f64().unwrap();
        assert!((1.0..=5.0).contains(&s), "{s}");
    }
    // The task's own criteria and reference output are what the judge was shown.
    let first = grades.iter().find(|g| g["question_id"] == 1).unwrap();
    let prompt = first["user_prompt"].as_str().unwrap();
    assert!(
        prompt.contains("熱意を取り戻すアイデアが5つでなければ-1点\n- 実行できないアイデアは-1点")
    );
    assert!(prompt.contains("1. 新しい技能を学ぶ\n2. 目標を立て直す"));
    // Any question file with such a field is graded the same way.
    let q = crate::support::write(
        tmp.path(),
        "q.jsonl",
        "{\"question_id\": 1, \"turns\": [\"1+1は?\"], \"eval_aspect\": \"- 2でなければ1点\"}\n",
    );
    let out2 = tmp.path().join("out2");
    let o = run_on(
        &sim,
        &data,
        &out2,
        "a",
        "j",
        &["--questions", q.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g = &crate::support::jsonl(&out2.join("judgments/j_single.jsonl"))[0];
    assert_eq!(g["judge"][1], "criteria");
    assert!(
        g["user_prompt"]
            .as_str()
            .unwrap()
            .contains("2でなければ1点")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_criteria_grade_outside_one_to_five_is_asked_again() {
    use crate::fake::{Fake, Reply};
    // The judge first grades 8 (on a 1-10 habit), then, asked again, 4.
    let fake = Fake::start(|_, body| {
        if !crate::support::is_judge(body) {
            return Reply::Text("2です。".into());
        }
        let asked_again = body["messages"].as_array().unwrap().len() > 2;
        Reply::Text(
            if asked_again {
                "[[4]]"
            } else {
                "良い回答です。評価: [[8]]"
            }
            .into(),
        )
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let q = crate::support::write(
        tmp.path(),
        "q.jsonl",
        "{\"question_id\": 1, \"turns\": [\"1+1は?\"], \"eval_aspect\": \"- 2でなければ1点\"}\n",
    );
    let out = tmp.path().join("out");
    let o = run_bin(&[
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
        &fake.base_url(),
        "--api-key-env",
        "",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g = &crate::support::jsonl(&out.join("judgments/j_single.jsonl"))[0];
    assert_eq!(g["judge"][1], "criteria");
    assert_eq!(g["score"], 4.0, "{g}");
    assert_eq!(g["reasks"], serde_json::json!(["[[4]]"]), "{g}");
    let judge_calls: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|s| crate::support::is_judge(&s.body))
        .collect();
    assert_eq!(judge_calls.len(), 2, "the first reply and the re-ask");
    let reask = judge_calls[1].messages().last().unwrap().1.clone();
    assert!(
        reask.contains("1から5"),
        "the re-ask states the scale: {reask}"
    );
}

#[test]
fn a_set_changed_since_it_was_fetched_is_refused_before_anything_is_sent() {
    let mirror = Mirror::start();
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(
        fetch(&data, &mirror.base, &["ja-vicuna-qa"])
            .status
            .success()
    );
    // Someone edits a question in the fetched copy.
    let q = walk(&data)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "question.jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&q).unwrap();
    std::fs::write(
        &q,
        text.replacen("\"turns\": [\"", "\"turns\": [\"（改）", 1),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = run_on(&sim, &data, &out, "a", "j", &["--bench", "ja-vicuna-qa"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("question.jsonl has changed")
            && err.contains("shinpan data fetch ja-vicuna-qa"),
        "{err}"
    );
    assert_eq!(
        sim.stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(!out.exists());
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_simulator_grades_the_answer_under_judgment_with_every_prompt_set() {
    // Before, with an upstream set's own prompts the simulated judge graded the length of the
    // whole prompt, so every model scored about 10 and a drop in quality barely showed.
    let mirror = Mirror::start();
    let sim = Sim::start(SimConfig {
        quality: [("good".to_string(), 0.8), ("poor".to_string(), 0.3)].into(),
        ..SimConfig::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(
        fetch(&data, &mirror.base, &["ja-vicuna-qa", "mt-bench"])
            .status
            .success()
    );
    let mean = |bench: &str, prompts: &str| -> (f64, f64) {
        let out = tmp.path().join(format!("{bench}-{prompts}"));
        let o = run_on(
            &sim,
            &data,
            &out,
            "good,poor",
            "gpt-4",
            &[
                "--bench",
                bench,
                "--prompt-set",
                prompts,
                "--format",
                "json",
            ],
        );
        let r = stdout_json(&o);
        let score = |m: &str| {
            r["models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["model"] == m)
                .unwrap()["score"]
                .as_f64()
                .unwrap()
        };
        (score("good"), score("poor"))
    };
    let (shinpan_good, shinpan_poor) = mean("ja-vicuna-qa", "shinpan");
    for (bench, prompts) in [("ja-vicuna-qa", "ja-vicuna-qa"), ("mt-bench", "mt-bench")] {
        let (good, poor) = mean(bench, prompts);
        assert!(good < 9.5 && poor > 1.0, "{bench}: {good} vs {poor}");
        assert!(
            good - poor > 3.0,
            "{bench}: quality 0.8 against 0.3 shows as {good} vs {poor}"
        );
        // The judge grades the same answers alike whichever prompt asks.
        if bench == "ja-vicuna-qa" {
            assert!(
                (good - shinpan_good).abs() < 0.5,
                "{good} vs {shinpan_good}"
            );
            assert!(
                (poor - shinpan_poor).abs() < 0.5,
                "{poor} vs {shinpan_poor}"
            );
        }
    }
}

/// The sha256 of a file.
fn sha256(path: &Path) -> String {
    use std::fmt::Write;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    digest.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

/// JGLUE converted as llm-jp-eval 1.4.1 converts it: the JCommonsenseQA and JSTS dev files
/// byte-identical to the ones llm-jp/scripts' installer checks
/// (`evaluation/installers/llm-jp-eval-v1.4.1/resources/sha256sums.csv` at 0a70387), every
/// test split complete; then `--tasks jglue` runs end to end against the simulator.
#[test]
fn jglue_converts_into_llm_jp_evals_files_byte_for_byte_and_runs_as_tasks() {
    let mirror = Mirror::start();
    // JNLI's and JSQuAD's train files are not among the shared files: small ones in their
    // formats stand in (their checksums are recorded at the first fetch, as upstream's are).
    let commit = "6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33";
    let jnli: String = (0..10)
        .map(|i| format!("{{\"sentence_pair_id\": \"{i}\", \"yjcaptions_id\": \"x\", \"sentence1\": \"前提{i}\", \"sentence2\": \"仮説{i}\", \"label\": \"neutral\"}}\n"))
        .collect();
    let jsquad = r#"{"data": [{"title": "t", "paragraphs": [{"qas": [{"question": "q1", "id": "a", "answers": [{"text": "答え", "answer_start": 0}], "is_impossible": false}, {"question": "q2", "id": "b", "answers": [{"text": "別", "answer_start": 0}], "is_impossible": false}], "context": "t [SEP] 答え 別"}]}]}"#;
    {
        let mut files = mirror.files.lock().unwrap();
        files.insert(
            format!("/yahoojapan/JGLUE/{commit}/datasets/jnli-v1.1/train-v1.1.json"),
            jnli.into_bytes(),
        );
        files.insert(
            format!("/yahoojapan/JGLUE/{commit}/datasets/jsquad-v1.1/train-v1.1.json"),
            jsquad.as_bytes().to_vec(),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let started = Instant::now();
    let o = fetch(&data, &mirror.base, &["jglue"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stderr);
    eprintln!(
        "{} ({:.2}s with the process)",
        said.trim(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        said.contains("12 llm-jp-eval task file(s) written"),
        "{said}"
    );
    let eval = data.join("jglue/6791a50/evaluation");
    assert_eq!(
        sha256(&eval.join("dev/jcommonsenseqa.json")),
        "ac30df014eee8d24d62a5e1fbd4ed1e3b5d76bffb836ffb4c9fa59e72a056591"
    );
    assert_eq!(
        sha256(&eval.join("dev/jsts.json")),
        "e17f77bdd3ffc3cccf4b3a1af8a1463b8cae260ba8c607188b8e4b45f468806e"
    );
    // Every valid record becomes a test sample: 1,119 JCommonsenseQA, 2,434 JNLI, 4,442
    // JSQuAD questions, 1,457 JSTS pairs; train splits 90 / 10.
    let samples = |split: &str, task: &str| {
        let v: Value = serde_json::from_slice(
            &std::fs::read(eval.join(split).join(format!("{task}.json"))).unwrap(),
        )
        .unwrap();
        v["samples"].as_array().unwrap().len()
    };
    assert_eq!(samples("test", "jcommonsenseqa"), 1119);
    assert_eq!(samples("test", "jnli"), 2434);
    assert_eq!(samples("test", "jsquad"), 4442);
    assert_eq!(samples("test", "jsts"), 1457);
    assert_eq!((samples("train", "jnli"), samples("dev", "jnli")), (9, 1));
    assert_eq!(
        (samples("train", "jsquad"), samples("dev", "jsquad")),
        (1, 1)
    );
    // A task set is no question set.
    let sim = Sim::start(SimConfig::default());
    let out = tmp.path().join("out");
    let o = run_on(&sim, &data, &out, "a", "j", &["--bench", "jglue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tasks jglue"));
    // The four tasks answered by the simulator and scored by rule.
    let o = run_bin(&[
        "run",
        "--models",
        "a,b",
        "--tasks",
        "jglue",
        "--data-dir",
        data.to_str().unwrap(),
        "--max-samples",
        "5",
        "--few-shots",
        "1",
        "--base-url",
        &sim.url,
        "--api-key-env",
        "",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "50",
    ]);
    let report = stdout_json(&o);
    let report = if report.is_array() {
        report[0].clone()
    } else {
        report
    };
    let models = report["tasks"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let names: Vec<&str> = models[0]["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "jcommonsenseqa_exact_match",
            "jnli_exact_match",
            "jsquad_char_f1",
            "jsts_pearson",
            "jsts_spearman"
        ]
    );
    for s in models[0]["scores"].as_array().unwrap() {
        assert_eq!(s["samples"], 5);
        assert!(s["value"].is_number(), "{s}");
    }
    let cats: Vec<&str> = models[0]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["NLI", "RC", "MC", "STS"]);
    assert!(models[0]["avg"].is_number());
    assert_eq!(
        crate::support::jsonl(&out.join("judgments/rules_single.jsonl")).len(),
        2 * 4 * 5
    );
}
