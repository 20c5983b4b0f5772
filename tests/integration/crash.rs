//! The real binary killed, interrupted, and run twice at once on one cache, against the
//! in-process simulator, which logs the cache key of every request it answered.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::Value;
use shinpan::simulate::SimConfig;

use crate::support::{SAMPLE, Sim};

const MODELS: &str = "crash-a,crash-b,crash-c";

fn spawn_run(url: &str, out: &Path, cache: &Path) -> Child {
    spawn_judged(
        url,
        out,
        cache,
        &["--judge", "crash-judge", "--mode", "pairwise-all"],
    )
}

/// A panel of three judges grading every turn: 96 answer requests, 3 × 96 grades.
const PANEL: [&str; 3] = ["crash-j1", "crash-j2", "crash-j3"];

fn spawn_panel(url: &str, out: &Path, cache: &Path) -> Child {
    let judges = PANEL.join(",");
    spawn_judged(url, out, cache, &["--judges", &judges, "--mode", "single"])
}

fn spawn_judged(url: &str, out: &Path, cache: &Path, judging: &[&str]) -> Child {
    crate::shinpan_bin()
        .args(["run", "--models", MODELS])
        .args(judging)
        .args(["--questions", SAMPLE])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ])
        .args(["--base-url", url, "--api-key-env", "", "--concurrency", "4"])
        .args(["--bootstrap", "0", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn sim() -> Sim {
    Sim::start(SimConfig {
        latency: Duration::from_millis(25),
        seed: 3,
        ..Default::default()
    })
}

/// Starts a run (on `cache`) `rounds` times and SIGKILLs it after `after` more answered requests (drawn
/// per round, plus 0-15 ms), so every round dies mid-run however fast the machine is. Returns
/// what a round asked for that an earlier one had already stored in the cache.
async fn kill_repeatedly(
    sim: &Sim,
    rounds: usize,
    after: std::ops::RangeInclusive<usize>,
    rng: &mut rand::rngs::StdRng,
    seed: u64,
    cache: &Path,
    spawn: impl Fn() -> Child,
) -> Vec<String> {
    let mut asked_again = Vec::new();
    for round in 0..rounds {
        let before = answered(sim).len();
        let held = cache_keys(cache);
        let mut child = spawn();
        let target = rng.random_range(after.clone());
        let started = Instant::now();
        while answered(sim).len() - before < target && started.elapsed() < Duration::from_secs(60) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "seed {seed}: finished early"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..15))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        asked_again.extend(
            answered(sim)[before..]
                .iter()
                .filter(|k| held.contains(*k))
                .map(|k| format!("round {round}: {k}")),
        );
    }
    asked_again
}

fn answered(sim: &Sim) -> Vec<String> {
    sim.stats.answered.lock().unwrap().clone()
}

fn cache_keys(path: &Path) -> HashSet<String> {
    if !path.exists() {
        return HashSet::new();
    }
    shinpan::client::Cache::open(path)
        .unwrap()
        .keys()
        .unwrap()
        .into_iter()
        .collect()
}

/// Every line of every JSONL file under `dir` parses; returns the records by file name.
fn records(dir: &Path) -> HashMap<String, Vec<Value>> {
    let mut out = HashMap::new();
    for sub in ["answers", "journal", "judgments"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{} ends torn",
                p.display()
            );
            let rows = text
                .lines()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{}: torn line {l:?}: {e}", p.display()))
                })
                .collect();
            out.insert(
                format!("{sub}/{}", p.file_name().unwrap().to_str().unwrap()),
                rows,
            );
        }
    }
    out
}

/// 3 models × 16 two-turn questions: 48 answers, and 3 pairs × 32 turns = 96 games.
fn assert_complete_once(dir: &Path) {
    let recs = records(dir);
    let mut answers = HashSet::new();
    for m in MODELS.split(',') {
        for r in &recs[&format!("answers/{m}.jsonl")] {
            assert!(
                answers.insert((m, r["question_id"].to_string())),
                "answer twice: {r}"
            );
        }
    }
    assert_eq!(answers.len(), 48);
    let mut games = HashSet::new();
    for r in &recs["judgments/crash-judge_pair.jsonl"] {
        let key = (
            r["question_id"].to_string(),
            r["model_1"].to_string(),
            r["model_2"].to_string(),
            r["turn"].to_string(),
        );
        assert!(games.insert(key), "game twice: {r}");
        assert!(
            r["g1_winner"] != "error" && r["g2_winner"] != "error",
            "{r}"
        );
    }
    assert_eq!(games.len(), 96);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_then_finished_every_record_once_nothing_paid_twice() {
    let sim = sim();
    let url = sim.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (out, cache) = (dir.path().join("out"), dir.path().join("cache.sqlite"));
    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // Kill points are drawn in progress (after 1-40 more answered requests, plus 0-15 ms),
    // not in wall time, so every round is killed mid-run however fast the machine is: six
    // rounds make at most 240 of the 288 requests.
    let kills = 6;
    let mut asked_again = kill_repeatedly(&sim, kills, 1..=40, &mut rng, seed, &cache, || {
        spawn_run(&url, &out, &cache)
    })
    .await;
    let held = cache_keys(&cache);
    let before = answered(&sim).len();
    let child = spawn_run(&url, &out, &cache);
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "seed {seed}: {stderr}");
    asked_again.extend(
        answered(&sim)[before..]
            .iter()
            .filter(|k| held.contains(*k))
            .cloned(),
    );
    assert!(asked_again.is_empty(), "seed {seed}: {asked_again:?}");
    assert_complete_once(&out);
    // Every answered request is in the cache; the ones answered twice were in flight when a
    // kill came (sent, but their reply never stored), which the cache cannot prevent.
    let all = answered(&sim);
    let distinct: HashSet<&String> = all.iter().collect();
    assert!(distinct.iter().all(|k| cache_keys(&cache).contains(*k)));
    eprintln!(
        "seed {seed}: {kills} kills, {} requests answered, {} distinct ({} re-sent after a kill)",
        all.len(),
        distinct.len(),
        all.len() - distinct.len()
    );
    // And one more run costs nothing.
    let before = answered(&sim).len();
    let o = spawn_run(&url, &out, &cache).wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(
        answered(&sim).len(),
        before,
        "a finished run re-run makes no API call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_killed_mid_run_finishes_with_every_grade_of_every_judge_once() {
    let sim = sim();
    let url = sim.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (out, cache) = (dir.path().join("out"), dir.path().join("cache.sqlite"));
    let seed: u64 = rand::rng().random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // Four kills, each after 20-80 more answered requests: at most 320 of the 384.
    let mut asked_again = kill_repeatedly(&sim, 4, 20..=80, &mut rng, seed, &cache, || {
        spawn_panel(&url, &out, &cache)
    })
    .await;
    let held = cache_keys(&cache);
    let before = answered(&sim).len();
    let o = spawn_panel(&url, &out, &cache).wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "seed {seed}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    asked_again.extend(
        answered(&sim)[before..]
            .iter()
            .filter(|k| held.contains(*k))
            .cloned(),
    );
    assert!(asked_again.is_empty(), "seed {seed}: {asked_again:?}");
    // Every judge graded every turn of every answer exactly once, with a grade.
    let recs = records(&out);
    for j in PANEL {
        let mut graded = HashSet::new();
        for r in &recs[&format!("judgments/{j}_single.jsonl")] {
            let key = (
                r["question_id"].to_string(),
                r["model"].to_string(),
                r["turn"].to_string(),
            );
            assert!(graded.insert(key), "seed {seed}: {j} graded twice: {r}");
            assert!(r["score"].is_number(), "seed {seed}: {r}");
        }
        assert_eq!(graded.len(), 96, "seed {seed}: {j}");
    }
    // The panel's report pools all three, and a run again costs nothing.
    let report = crate::support::run_bin(&["report", out.to_str().unwrap(), "--format", "json"]);
    let reports = crate::support::stdout_json(&report);
    let panel = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["judge"] == "panel(crash-j1, crash-j2, crash-j3)")
        .unwrap_or_else(|| panic!("{reports}"));
    assert_eq!(panel["models"].as_array().unwrap().len(), 3);
    let before = answered(&sim).len();
    let o = spawn_panel(&url, &out, &cache).wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(answered(&sim).len(), before, "seed {seed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_and_keeps_everything_finished() {
    let sim = sim();
    let url = sim.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (out, cache) = (dir.path().join("out"), dir.path().join("cache.sqlite"));
    let child = spawn_run(&url, &out, &cache);
    let started = Instant::now();
    while answered(&sim).len() < 60 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted (Ctrl-C): re-run the same command to resume"),
        "{stderr}"
    );
    // Whole lines only, and every finished answer is on disk.
    let recs = records(&out);
    let kept: usize = MODELS
        .split(',')
        .map(|m| recs.get(&format!("answers/{m}.jsonl")).map_or(0, Vec::len))
        .sum();
    assert!(kept > 0 && kept < 48, "{kept} answers kept");
    // The requests in flight at Ctrl-C were let finish: every reply the server sent, before
    // and after the signal, is in the cache (none paid for and dropped).
    let sent: HashSet<String> = answered(&sim).into_iter().collect();
    let stored = cache_keys(&cache);
    let lost: Vec<&String> = sent.iter().filter(|k| !stored.contains(*k)).collect();
    assert!(
        lost.is_empty(),
        "{} replies paid for and not kept: {lost:?}",
        lost.len()
    );
    // The report it left says it is partial, what is missing, and why.
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report-pairwise-all.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["partial"], true, "{report}");
    assert!(
        report["partial_reasons"][0]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{report}"
    );
    let missing: u64 = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["missing"].as_u64().unwrap())
        .sum();
    assert!(missing > 0, "{report}");
    let md = std::fs::read_to_string(out.join("report-pairwise-all.md")).unwrap();
    assert!(
        md.contains("**PARTIAL: the run was interrupted (Ctrl-C)"),
        "{md}"
    );
    // Read back from the directory, the report says the same.
    let again = crate::support::report_json(&out);
    assert_eq!(again["partial"], true);
    assert_eq!(again["coverage"], report["coverage"]);
    let held = cache_keys(&cache);
    let before = answered(&sim).len();
    let o = spawn_run(&url, &out, &cache).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        answered(&sim)[before..].iter().all(|k| !held.contains(k)),
        "nothing stored before the interrupt is asked again"
    );
    // And the resumed run asked exactly for what was missing, each once: 96 answer turns and
    // 192 judge calls in all, over the two runs.
    let resumed = &answered(&sim)[before..];
    let distinct: HashSet<&String> = resumed.iter().collect();
    assert_eq!(distinct.len(), resumed.len(), "no request twice");
    assert_eq!(held.len() + resumed.len(), 96 + 192);
    assert_complete_once(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_cache() {
    let sim = sim();
    let url = sim.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("shared.sqlite");
    let (o1, o2) = (dir.path().join("one"), dir.path().join("two"));
    let a = spawn_run(&url, &o1, &cache);
    let b = spawn_run(&url, &o2, &cache);
    let (ra, rb) = tokio::task::spawn_blocking(move || {
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    for r in [&ra, &rb] {
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{stderr}");
        assert!(
            !stderr.contains("without the cache"),
            "no cache error: {stderr}"
        );
    }
    assert_complete_once(&o1);
    assert_complete_once(&o2);
    // Each distinct request is stored once, whichever process asked first, and sent once:
    // a request in flight in one process is waited for by the other (its claim in the cache).
    let all = answered(&sim);
    let distinct: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(cache_keys(&cache), distinct);
    assert_eq!(
        distinct.len(),
        48 * 2 + 96 * 2,
        "96 answer turns, 192 judge calls"
    );
    eprintln!(
        "two processes on one cache: {} requests sent for {} distinct",
        all.len(),
        distinct.len()
    );
    assert_eq!(all.len(), distinct.len(), "no request paid twice");
    // A third run elsewhere is served entirely from the shared cache.
    let before = answered(&sim).len();
    let o = spawn_run(&url, &dir.path().join("three"), &cache)
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(answered(&sim).len(), before);
    assert!(stderr.contains("0 API attempts"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_directory_is_refused_while_the_first_runs() {
    let sim = sim();
    let url = sim.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = spawn_run(&url, &out, &dir.path().join("c1.sqlite"));
    let started = Instant::now();
    while answered(&sim).len() < 10 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let o = spawn_run(&url, &out, &dir.path().join("c2.sqlite"))
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("another shinpan run (pid {})", first.id())),
        "{stderr}"
    );
    let o = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(o.status.success());
    assert_complete_once(&out);
}
