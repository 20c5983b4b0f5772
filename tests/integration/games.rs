//! Fewer games for many models: `pairwise-n` (Rakuda's mode: n games drawn from all pairs,
//! seeded) and `pairwise-adaptive` (games where the ranking is least settled), through the
//! real binary against the simulator, whose models have a known true order.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;
use shinpan::simulate::SimConfig;

use crate::support::{SAMPLE, Sim, jsonl, shinpan_bin, stdout_json};

/// Six models, listed out of order, whose true order is m1 > m2 > … > m6.
const MODELS: &str = "m4,m2,m6,m1,m5,m3";
const TRUE_ORDER: [&str; 6] = ["m1", "m2", "m3", "m4", "m5", "m6"];

fn simulator() -> Sim {
    let quality: HashMap<String, f64> = TRUE_ORDER
        .iter()
        .enumerate()
        .map(|(i, m)| (m.to_string(), 0.95 - 0.1 * i as f64))
        .collect();
    Sim::start(SimConfig {
        quality,
        ..SimConfig::default()
    })
}

/// `shinpan run` of the six models on the sample questions against `sim`, with `more` flags.
fn run_models(sim: &Sim, more: &[&str]) -> std::process::Output {
    shinpan_bin()
        .args([
            "run",
            "--models",
            MODELS,
            "--judge",
            "j",
            "--questions",
            SAMPLE,
        ])
        .args(["--base-url", &sim.url])
        .args(more)
        .output()
        .unwrap()
}

/// `shinpan run` of the six models in `mode` into `out`, with `more` flags: its JSON report
/// and its summary line.
fn run(sim: &Sim, out: &Path, mode: &str, more: &[&str]) -> (Value, String) {
    let out = out.to_str().unwrap();
    let mut args = vec!["--mode", mode, "--format", "json", "--out", out];
    args.extend(more);
    let o = run_models(sim, &args);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let report = stdout_json(&o);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("shinpan: answers:"))
        .unwrap_or_else(|| panic!("a summary line in {stderr}"))
        .to_string();
    (report, line)
}

/// The games (question, pair) of a run's judgment file.
fn games(out: &Path) -> BTreeSet<(String, String, String)> {
    jsonl(&out.join("judgments/j_pair.jsonl"))
        .iter()
        .map(|r| {
            (
                r["question_id"].to_string(),
                r["model_1"].as_str().unwrap().to_string(),
                r["model_2"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pairwise_n_plays_n_games_drawn_by_the_seed() {
    let sim = simulator();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (report, line) = run(
        &sim,
        &d.join("a"),
        "pairwise-n",
        &["--games", "20", "--seed", "7"],
    );
    let drawn = games(&d.join("a"));
    assert_eq!(
        drawn.len(),
        20,
        "20 games of the 240 (16 questions × 15 pairs)"
    );
    // Every turn of each game judged, and only the answers those games need generated.
    assert_eq!(jsonl(&d.join("a/judgments/j_pair.jsonl")).len(), 40);
    let needed: BTreeSet<(String, String)> = drawn
        .iter()
        .flat_map(|(q, a, b)| [(q.clone(), a.clone()), (q.clone(), b.clone())])
        .collect();
    let answers: usize = MODELS
        .split(',')
        .map(|m| {
            let p = d.join(format!("a/answers/{m}.jsonl"));
            if p.exists() { jsonl(&p).len() } else { 0 }
        })
        .sum();
    assert_eq!(answers, needed.len(), "{line}");
    assert!(answers < 96);
    // The report expects exactly the drawn games: complete, not partial.
    let r = &report;
    assert_eq!(r["mode"], "pairwise-all");
    assert_eq!(r["partial"], false, "{r}");
    let expected: u64 = r["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["expected"].as_u64().unwrap())
        .sum();
    assert_eq!(expected, 80, "40 judged turns, counted from each side");
    // Reproducible by seed; another seed draws other games.
    run(
        &sim,
        &d.join("b"),
        "pairwise-n",
        &["--games", "20", "--seed", "7"],
    );
    assert_eq!(games(&d.join("b")), drawn);
    run(
        &sim,
        &d.join("c"),
        "pairwise-n",
        &["--games", "20", "--seed", "8"],
    );
    assert_ne!(games(&d.join("c")), drawn);
    // More games in the same directory keep the first twenty and add ten.
    let (_, line) = run(
        &sim,
        &d.join("a"),
        "pairwise-n",
        &["--games", "30", "--seed", "7"],
    );
    let more = games(&d.join("a"));
    assert_eq!(more.len(), 30);
    assert!(drawn.is_subset(&more));
    assert!(line.contains("judgments: 20 made"), "{line}");
    // --games is required, and only for the sampled modes.
    for (args, needle) in [
        (vec!["--mode", "pairwise-n"], "needs --games"),
        (
            vec!["--mode", "pairwise-all", "--games", "5"],
            "--games and --confidence apply",
        ),
        (
            vec!["--mode", "pairwise-adaptive", "--confidence", "1.5"],
            "--confidence 1.5",
        ),
    ] {
        let o = run_models(&sim, &args);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(needle),
            "{args:?}"
        );
    }
}

#[test]
fn pairwise_adaptive_finds_the_true_order_with_fewer_games_than_all_pairs() {
    let sim = simulator();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (_, line) = run(&sim, &d.join("adaptive"), "pairwise-adaptive", &[]);
    let standing = line
        .split("standing ")
        .nth(1)
        .unwrap_or_else(|| panic!("a standing in {line}"));
    assert_eq!(
        standing.split(" > ").collect::<Vec<_>>(),
        TRUE_ORDER,
        "{line}"
    );
    // Settled ("stopped before the ranking was settled" would contain the word too), with the
    // 50 of 240 games the README quotes (the simulator and the draw are seeded).
    assert!(
        line.contains("; settled: each neighbour's order at least 95% probable"),
        "{line}"
    );
    let played = games(&d.join("adaptive")).len();
    assert_eq!(played, 50, "the README says 50 of 240 games");
    assert!(
        line.contains("pairwise-adaptive: 50 of 240 games"),
        "{line}"
    );
    // All pairs find the same order, with every game.
    let (all, _) = run(&sim, &d.join("all"), "pairwise-all", &[]);
    assert_eq!(games(&d.join("all")).len(), 240);
    let mut rated: Vec<(f64, String)> = all["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["bt_rating"].as_f64().unwrap(),
                m["model"].as_str().unwrap().into(),
            )
        })
        .collect();
    rated.sort_by(|a, b| b.0.total_cmp(&a.0));
    let order: Vec<&str> = rated.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(order, TRUE_ORDER);
    eprintln!("pairwise-adaptive: {played} games for the order all 240 games give");
    // The same command again reuses every game and decides the same.
    let (_, again) = run(&sim, &d.join("adaptive"), "pairwise-adaptive", &[]);
    assert!(again.contains("judgments: 0 made"), "{again}");
    assert!(again.ends_with(standing), "{again}");
    // A budget stops it early, and says so.
    let (_, capped) = run(
        &sim,
        &d.join("capped"),
        "pairwise-adaptive",
        &["--games", "32"],
    );
    assert!(
        capped.contains("the budget of 32 games is spent"),
        "{capped}"
    );
    assert_eq!(games(&d.join("capped")).len(), 32);
}
