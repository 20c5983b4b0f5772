//! Never losing paid-for work: the response cache, stale judgments when an answer changes,
//! faults, kills and interrupts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use shinpan::aggregate::ModelSummary;
use shinpan::records::PairJudgment;
use shinpan::simulate::{Fault, SimConfig};
use shinpan::store::read_jsonl;
use shinpan::types::Mode;

use crate::fake::{Fake, Reply};
use crate::support::{SAMPLE, Sim, builder, candidate, is_judge, jsonl, options, user_turns};

#[tokio::test]
async fn turn_one_survives_a_failed_turn_two_and_a_new_run_directory_costs_nothing() {
    let broken = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicUsize::new(0));
    let (b2, c2) = (broken.clone(), calls.clone());
    let fake = Fake::start(move |_, body| {
        c2.fetch_add(1, Ordering::SeqCst);
        if is_judge(body) {
            return Reply::Text("評価: [[7]]".into());
        }
        if user_turns(body) == 2 && b2.load(Ordering::SeqCst) {
            return Reply::Raw(503, vec![], "overloaded".into());
        }
        Reply::Text(candidate(body))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&fake, dir.path(), &["alpha"], Mode::Single, None);
    let first = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(first.summary.answer_errors.len(), 2);
    assert!(
        first.summary.answer_errors[0].contains("turn 2")
            && first.summary.answer_errors[0].contains("gave up after 2 attempts"),
        "{:?}",
        first.summary.answer_errors
    );
    assert!(first.summary.line().contains("re-run the same command"));
    let paid = calls.load(Ordering::SeqCst);
    assert_eq!(
        paid,
        2 + 2 * 2,
        "two turn-1 answers, two turn-2 attempts each"
    );

    // The provider recovers: turn 1 comes from the cache, only turn 2 is asked.
    broken.store(false, Ordering::SeqCst);
    let second = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(second.summary.answers_generated, 2);
    assert_eq!(second.summary.cache_hits, 2, "both turn-1 answers");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        paid + 2 + 4,
        "2 turn-2 answers, 4 grades"
    );
    let paid = calls.load(Ordering::SeqCst);

    // Another run directory asking the same requests is served entirely from the cache.
    let mut other = opts.clone();
    other.out = dir.path().join("elsewhere");
    let third = shinpan::pipeline::run(&other, false).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), paid, "zero API calls");
    assert_eq!(third.summary.cache_hits, 4 + 4);
    assert_eq!(third.summary.tokens, 0);
    let ModelSummary::Single(s) = &third.report.models[0] else {
        panic!()
    };
    assert_eq!((s.n, s.score), (4, Some(7.0)));

    // --refresh asks again and replaces; --no-cache neither reads nor writes.
    let mut refresh = other.clone();
    refresh.out = dir.path().join("refreshed");
    refresh.cache_mode = shinpan::client::CacheMode::Refresh;
    shinpan::pipeline::run(&refresh, false).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), paid + 8);
    let mut off = other.clone();
    off.out = dir.path().join("uncached");
    // A cache file is named, but --no-cache leaves it alone: never even created.
    let unused = dir.path().join("never.sqlite");
    off.cache = Some(unused.clone());
    off.cache_mode = shinpan::client::CacheMode::Off;
    shinpan::pipeline::run(&off, false).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), paid + 16);
    assert!(!unused.exists());
    let cache = shinpan::client::Cache::open(&dir.path().join("cache.sqlite")).unwrap();
    assert_eq!(
        cache.keys().unwrap().len(),
        8,
        "4 answer turns and 4 grades, once each"
    );
}

#[tokio::test]
async fn a_changed_answer_invalidates_exactly_the_judgments_that_showed_it() {
    let judge_calls = Arc::new(AtomicUsize::new(0));
    let j2 = judge_calls.clone();
    let fake = Fake::start(crate::support::judging(move |body| {
        j2.fetch_add(1, Ordering::SeqCst);
        // The judge prefers whichever answer was rewritten.
        let u = crate::fake::first_user(body);
        let b = u
            .find("<|アシスタントBとの会話の開始|>")
            .or_else(|| u.find("[アシスタントBの回答の開始]"))
            .unwrap();
        Reply::Text(
            match u.find("書き直した") {
                Some(p) if p > b => "[[B]]",
                Some(_) => "[[A]]",
                None => "[[C]]",
            }
            .into(),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta", "gamma"],
        Mode::PairwiseAll,
        None,
    );
    shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(judge_calls.load(Ordering::SeqCst), 3 * 2 * 2 * 2);

    // beta's answer to question 1 is replaced: turn 2 only.
    let path = dir.path().join("out/answers/beta.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = rows.iter_mut().find(|r| r["question_id"] == 1).unwrap();
    row["choices"][0]["turns"][1] = "書き直した回答".into();
    let new: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, new).unwrap();

    let second = shinpan::pipeline::run(&opts, false).await.unwrap();
    // Exactly beta's two games on question 1, turn 2; turn 1 showed nothing that changed.
    assert_eq!(
        (
            second.summary.judgments_made,
            second.summary.judgments_stale,
            second.summary.judgments_reused
        ),
        (2, 2, 10)
    );
    assert_eq!(judge_calls.load(Ordering::SeqCst), 24 + 4);
    // The report counts the new verdicts, not the stale ones: beta wins both.
    let summary = |name: &str| {
        second
            .report
            .models
            .iter()
            .find_map(|m| match m {
                ModelSummary::Pair(p) if p.model == name => Some(p.clone()),
                _ => None,
            })
            .unwrap()
    };
    let beta = summary("beta");
    assert_eq!((beta.n, beta.wins, beta.losses, beta.ties), (8, 2, 0, 6));
    let alpha = summary("alpha");
    assert_eq!(
        (alpha.n, alpha.wins, alpha.losses, alpha.ties),
        (8, 0, 1, 7)
    );
    // The journal keeps all 14 records; the judgment file holds the 12 current ones, and
    // `shinpan report` on the run directory counts what the run's report counts.
    let rows: Vec<(usize, PairJudgment)> =
        read_jsonl(&dir.path().join("out/journal/judge_pair.jsonl")).unwrap();
    assert_eq!(rows.len(), 14);
    assert!(rows.iter().all(|(_, r)| r.input_digest.is_some()));
    let current: Vec<(usize, PairJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_pair.jsonl")).unwrap();
    assert_eq!(current.len(), 12);
    let report = crate::support::report_json(&dir.path().join("out"));
    let beta_again = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "beta")
        .unwrap()
        .clone();
    assert_eq!(
        (beta_again["wins"].as_u64(), beta_again["ties"].as_u64()),
        (Some(2), Some(6))
    );
}

fn sim_options(
    url: &str,
    dir: &std::path::Path,
    mode: Mode,
    timeout: u64,
) -> shinpan::config::RunOptions {
    builder(url, dir, &["sim-a", "sim-b"], mode)
        .judge("sim-judge")
        .questions(SAMPLE)
        .concurrency(16)
        .with(|s| s.endpoint.timeout_secs = Some(timeout))
        .build()
        .unwrap()
}

/// Each provider fault, injected into a fifth of all requests: the run completes with every
/// item done or recorded as an error with its reason, and once the provider recovers a
/// second run retries only what failed and asks for nothing already answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_ends_done_or_recorded_and_a_later_run_retries_only_the_errors() {
    for (i, fault) in Fault::ALL.into_iter().enumerate() {
        let mode = if i % 2 == 0 {
            Mode::Single
        } else {
            Mode::PairwiseAll
        };
        let dir = tempfile::tempdir().unwrap();
        let sim = Sim::start(SimConfig {
            faults: vec![(fault, 0.2)],
            hang: Some(std::time::Duration::from_secs(3)),
            seed: i as u64,
            ..Default::default()
        });
        let opts = sim_options(&sim.url, dir.path(), mode, 1);
        let first = shinpan::pipeline::run(&opts, false).await.unwrap();
        let injected = sim.faults();
        assert!(injected[fault.name()] > 0, "{fault:?} was injected");
        let s = &first.summary;
        let what = format!("{fault:?} ({mode}): {}", s.line());

        // Answers: each of 2 models × 16 questions is in its file or in errors.jsonl.
        let out = dir.path().join("out");
        let answered = jsonl(&out.join("answers/sim-a.jsonl")).len()
            + jsonl(&out.join("answers/sim-b.jsonl")).len();
        let errors = jsonl(&out.join("errors.jsonl"));
        assert_eq!(answered + errors.len(), 32, "{what}");
        assert_eq!(errors.len(), s.answer_errors.len(), "{what}");
        for e in &errors {
            assert!(!e["error"].as_str().unwrap().is_empty(), "{e}");
        }
        // Judgments: each record has a verdict or its reason.
        let jfile = if mode == Mode::Single {
            "single"
        } else {
            "pair"
        };
        let judged = jsonl(&out.join(format!("journal/sim-judge_{jfile}.jsonl")));
        for j in &judged {
            if mode == Mode::Single {
                assert!(
                    j["score"].is_number() || j["error"].is_string(),
                    "{what}: {j}"
                );
            } else {
                for g in ["g1", "g2"] {
                    let w = &j[format!("{g}_winner")];
                    assert!(
                        w != "error" || j[format!("{g}_error")].is_string(),
                        "{what}: {j}"
                    );
                }
            }
        }
        assert_eq!(judged.len(), s.judgments_made, "{what}");
        let failed = s.answer_errors.len() + s.judgment_errors;
        match fault {
            Fault::UnknownFinish => {
                assert_eq!(failed, 0, "{what}");
                let a = jsonl(&out.join("answers/sim-a.jsonl"));
                assert!(
                    a.iter()
                        .any(|r| r["finish_reasons"].to_string().contains("eos_reached")),
                    "the reason is recorded as sent"
                );
            }
            Fault::Length => {
                assert!(
                    s.truncated > 0 && s.line().contains("cut at the output cap"),
                    "{what}"
                );
            }
            Fault::ContentFilter => {
                assert!(failed > 0, "{what}");
                assert!(
                    s.failures.keys().any(|r| r.contains("refused or filtered")),
                    "{what}: {:?}",
                    s.failures
                );
            }
            _ => {}
        }
        if failed > 0 {
            assert!(
                s.line()
                    .contains("re-run the same command to retry only those"),
                "{what}"
            );
            assert!(!s.failure_lines().is_empty());
        }
        let answered_first: std::collections::HashSet<String> =
            sim.stats.answered.lock().unwrap().iter().cloned().collect();
        // The provider recovers: the same endpoint, restarted without its faults.
        let mut healthy = sim;
        healthy.restart(SimConfig {
            seed: i as u64,
            ..Default::default()
        });
        let opts = sim_options(&healthy.url, dir.path(), mode, 1);
        let second = shinpan::pipeline::run(&opts, false).await.unwrap();
        let t = &second.summary;
        let what2 = format!("{fault:?} ({mode}) second run: {}", t.line());
        assert_eq!(t.answer_errors.len() + t.judgment_errors, 0, "{what2}");
        assert_eq!(t.answers_reused, 32 - s.answer_errors.len(), "{what2}");
        assert_eq!(
            t.judgments_reused,
            s.judgments_made - s.judgment_errors,
            "{what2}"
        );
        if fault != Fault::Length {
            // A truncated judge reply without a verdict is unusable and asked for again;
            // everything else that was answered is never asked for twice.
            let again: Vec<String> = healthy
                .stats
                .answered
                .lock()
                .unwrap()
                .iter()
                .filter(|k| answered_first.contains(*k))
                .cloned()
                .collect();
            assert!(again.is_empty(), "{what2}: {} asked again", again.len());
        }
        let expected = if mode == Mode::Single {
            2 * 16 * 2
        } else {
            16 * 2
        };
        let report_n: usize = second
            .report
            .models
            .iter()
            .map(|m| match m {
                ModelSummary::Single(s) => s.n,
                ModelSummary::Pair(p) => p.n,
            })
            .sum();
        let per_game = if mode == Mode::Single { 1 } else { 2 };
        assert_eq!(report_n, expected * per_game, "{what2}");
    }
}

/// A model whose server refuses connections: its answers are recorded as errors with the
/// reason, the other model's work is done, and pointing it at a live server later retries
/// only its answers.
#[tokio::test]
async fn connection_refused_is_recorded_and_retried_later() {
    let sim = Sim::start(SimConfig::default());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1", l.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = sim_options(&sim.url, dir.path(), Mode::Single, 5);
    opts.models[1].endpoints[0].base_url = closed.clone();
    let first = shinpan::pipeline::run(&opts, false).await.unwrap();
    let s = &first.summary;
    assert_eq!((s.answers_generated, s.answer_errors.len()), (16, 16));
    // Sixteen refusals at once make the endpoint down: every answer of it fails with one
    // message naming it (the first ones may have given up on their own just before).
    let lines = s.failure_lines();
    let down = format!("answer: endpoint {closed} is not answering");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&down) && l.contains("Connection refused")),
        "{lines:?}"
    );
    let counted: usize = lines
        .iter()
        .map(|l| l.split(" × ").next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(counted, 16, "{lines:?}");
    let errors = jsonl(&dir.path().join("out/errors.jsonl"));
    assert!(
        errors
            .iter()
            .all(|e| e["model"] == "sim-b" && e["turn"] == 1)
    );
    assert_eq!(s.judgments_made, 32);

    let opts = sim_options(&sim.url, dir.path(), Mode::Single, 5);
    let before = sim.stats.answered.lock().unwrap().len();
    let second = shinpan::pipeline::run(&opts, false).await.unwrap();
    let t = &second.summary;
    assert_eq!(
        (t.answers_reused, t.answers_generated, t.judgments_reused),
        (16, 16, 32)
    );
    assert_eq!(
        sim.stats.answered.lock().unwrap().len() - before,
        16 * 2 + 32,
        "sim-b's 32 turns and its 32 grades, nothing else"
    );
}
