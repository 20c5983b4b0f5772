//! Never losing paid-for work: the response cache, stale judgments when an answer changes,
//! faults, kills and interrupts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use shinpan::aggregate::ModelSummary;
use shinpan::judge::PairJudgment;
use shinpan::store::read_jsonl;

use crate::fake::{Fake, Reply};
use crate::pipeline::{candidate, is_judge, options};

fn user_turns(body: &serde_json::Value) -> usize {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .count()
}

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
    let opts = options(&fake, dir.path(), &["alpha"], "single", None);
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
    off.cache = None;
    off.cache_mode = shinpan::client::CacheMode::Off;
    let before = std::fs::metadata(dir.path().join("cache.sqlite"))
        .unwrap()
        .len();
    shinpan::pipeline::run(&off, false).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), paid + 16);
    let cache = shinpan::client::Cache::open(&dir.path().join("cache.sqlite")).unwrap();
    assert_eq!(
        cache.keys().unwrap().len(),
        8,
        "4 answer turns and 4 grades, once each"
    );
    assert!(before > 0);
}

#[tokio::test]
async fn a_changed_answer_invalidates_exactly_the_judgments_that_showed_it() {
    let judge_calls = Arc::new(AtomicUsize::new(0));
    let j2 = judge_calls.clone();
    let fake = Fake::start(move |_, body| {
        if is_judge(body) {
            j2.fetch_add(1, Ordering::SeqCst);
            // The judge prefers whichever answer was rewritten.
            let u = crate::fake::first_user(body);
            let b = u
                .find("<|アシスタントBとの会話の開始|>")
                .or_else(|| u.find("[アシスタントBの回答の開始]"))
                .unwrap();
            return Reply::Text(
                match u.find("書き直した") {
                    Some(p) if p > b => "[[B]]",
                    Some(_) => "[[A]]",
                    None => "[[C]]",
                }
                .into(),
            );
        }
        Reply::Text(candidate(body))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta", "gamma"],
        "pairwise-all",
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
    // The file keeps all 14 records; `shinpan report` reads it the same way.
    let rows: Vec<(usize, PairJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_pair.jsonl")).unwrap();
    assert_eq!(rows.len(), 14);
    assert!(rows.iter().all(|(_, r)| r.input_digest.is_some()));
}
