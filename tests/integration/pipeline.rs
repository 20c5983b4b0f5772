//! The pipeline through the library against the scripted fake: both-order judging, the swap
//! rule, re-asks, multi-turn generation, reuse of answers and judgments.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use shinpan::aggregate::ModelSummary;
use shinpan::records::{PairJudgment, SingleJudgment};
use shinpan::store::read_jsonl;
use shinpan::types::{Mode, Winner};

use crate::fake::{Fake, Reply, first_user};
use crate::support::{is_judge, judging, options};

#[tokio::test]
async fn every_pairwise_game_is_judged_in_both_orders_and_combined_by_the_swap_rule() {
    // A judge that always prefers whatever is shown first: every game is inconsistent.
    let fake = Fake::start(judging(|_| Reply::Text("Aの方が良い。[[A]]".into()))).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta"],
        Mode::PairwiseBaseline,
        Some("beta"),
    );
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();

    let rows: Vec<(usize, PairJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_pair.jsonl")).unwrap();
    assert_eq!(rows.len(), 4, "2 questions × 2 turns");
    for (_, r) in &rows {
        assert_eq!((r.model_1.as_str(), r.model_2.as_str()), ("alpha", "beta"));
        // Game 1 shows model_1 first, game 2 shows model_2 first; "A" maps back accordingly.
        assert_eq!((r.g1_winner, r.g2_winner), (Winner::Model1, Winner::Model2));
        let t = r.turn;
        let (a1, b1) = (format!("alphaの回答{t}"), format!("betaの回答{t}"));
        let p1 = &r.g1_user_prompt;
        let p2 = &r.g2_user_prompt;
        assert!(
            p1.find(&a1).unwrap() < p1.find(&b1).unwrap(),
            "game 1 shows alpha first"
        );
        assert!(
            p2.find(&b1).unwrap() < p2.find(&a1).unwrap(),
            "game 2 shows beta first"
        );
    }
    // Judge requests: 4 games × 2 orders.
    let judge_calls = fake.seen().iter().filter(|s| is_judge(&s.body)).count();
    assert_eq!(judge_calls, 8);
    let ModelSummary::Pair(p) = &out.report.models[0] else {
        panic!()
    };
    assert_eq!(
        (p.model.as_str(), p.wins, p.losses, p.ties),
        ("alpha", 0, 0, 4)
    );
    assert_eq!(p.position_consistency, Some(0.0));
    assert_eq!(p.adjusted_win_rate, Some(0.5));
}

#[tokio::test]
async fn consistent_verdicts_count_as_wins_from_the_candidates_side() {
    // A judge that always prefers alpha, wherever it is shown.
    let fake = Fake::start(judging(|body| {
        let u = first_user(body);
        let a_is_alpha = u.find("alpha").unwrap() < u.find("beta").unwrap();
        Reply::Text(if a_is_alpha { "[[A]]" } else { "[[B]]" }.into())
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    // beta is the candidate here and alpha the baseline: the report is from beta's side.
    let opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta"],
        Mode::PairwiseBaseline,
        Some("alpha"),
    );
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let ModelSummary::Pair(p) = &out.report.models[0] else {
        panic!()
    };
    assert_eq!(
        (p.model.as_str(), p.wins, p.losses, p.ties),
        ("beta", 0, 4, 0)
    );
    assert_eq!(
        (p.win_rate, p.loss_rate, p.position_consistency),
        (Some(0.0), Some(1.0), Some(1.0))
    );
}

#[tokio::test]
async fn turn_two_sees_turn_one_and_is_judged_with_the_multi_turn_prompt() {
    let fake = Fake::start(judging(|_| Reply::Text("評価: [[7]]".into()))).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&fake, dir.path(), &["alpha"], Mode::Single, None);
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let seen = fake.seen();
    let turn2 = seen
        .iter()
        .find(|s| {
            !is_judge(&s.body) && s.messages().len() == 3 && s.messages()[0].1.contains("俳句")
        })
        .expect("a turn-2 request");
    let m = turn2.messages();
    assert_eq!(m[1], ("assistant".to_string(), "alphaの回答1".to_string()));
    assert_eq!(m[2].1, "それを英語に訳してください。");
    // Temperatures from the category table: writing 0.7, math 0.0.
    let temps: Vec<f64> = seen
        .iter()
        .filter(|s| !is_judge(&s.body))
        .map(|s| s.body["temperature"].as_f64().unwrap())
        .collect();
    assert!(temps.contains(&0.0) && temps.iter().any(|t| (t - 0.7).abs() < 1e-6));

    let rows: Vec<(usize, SingleJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_single.jsonl")).unwrap();
    let prompt_of = |qid: &str, turn: u32| {
        rows.iter()
            .find(|(_, r)| r.question_id.as_str() == qid && r.turn == turn)
            .map(|(_, r)| r.judge.0[1].clone())
            .unwrap()
    };
    assert_eq!(prompt_of("1", 1), "single");
    assert_eq!(prompt_of("1", 2), "single-multi");
    assert_eq!(prompt_of("2", 1), "single-ref");
    assert_eq!(prompt_of("2", 2), "single-ref-multi");
    let multi = &rows
        .iter()
        .find(|(_, r)| r.judge.0[1] == "single-ref-multi")
        .unwrap()
        .1;
    assert!(
        multi.user_prompt.contains("alphaの回答1") && multi.user_prompt.contains("alphaの回答2")
    );
    // The reference turns are shown (text the template itself does not contain).
    for r in ["模範: 5", "模範: 10"] {
        assert!(
            multi.user_prompt.contains(r),
            "reference {r:?} is shown: {}",
            multi.user_prompt
        );
    }
    let ModelSummary::Single(s) = &out.report.models[0] else {
        panic!()
    };
    assert_eq!(
        (s.n, s.errors, s.score, s.turn1, s.turn2),
        (4, 0, Some(7.0), Some(7.0), Some(7.0))
    );
}

#[tokio::test]
async fn an_unreadable_verdict_is_asked_again_then_recorded_as_an_error() {
    // Question 1: no tag at first, a tag when asked again. Question 2: never a tag.
    let fake = Fake::start(judging(|body| {
        let reasked = body["messages"].as_array().unwrap().len() > 2;
        if first_user(body).contains("俳句") {
            Reply::Text(
                if reasked {
                    "［［９］］"
                } else {
                    "とても良い回答です。"
                }
                .into(),
            )
        } else {
            Reply::Text("評価は[[11]]です。".into())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&fake, dir.path(), &["alpha"], Mode::Single, None);
    opts.reasks = 1;
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let rows: Vec<(usize, SingleJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_single.jsonl")).unwrap();
    for (_, r) in &rows {
        if r.question_id.as_str() == "1" {
            assert_eq!((r.score, r.reasks.len()), (Some(9.0), 1), "{r:?}");
        } else {
            assert_eq!(r.score, None);
            assert!(
                r.error.as_deref().unwrap().contains("outside 1-10"),
                "{:?}",
                r.error
            );
        }
    }
    let ModelSummary::Single(s) = &out.report.models[0] else {
        panic!()
    };
    assert_eq!(
        (s.n, s.errors, s.score),
        (2, 2, Some(9.0)),
        "errors excluded from the mean"
    );
    assert_eq!(out.summary.judgment_errors, 2);
}

#[tokio::test]
async fn a_second_run_reuses_answers_and_judgments() {
    let fake = Fake::start(judging(|_| Reply::Text("[[C]]".into()))).await;
    let calls = || fake.seen().len();
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta", "gamma"],
        Mode::PairwiseAll,
        None,
    );
    let first = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(first.summary.answers_generated, 6);
    assert_eq!(
        first.summary.judgments_made,
        3 * 2 * 2,
        "3 pairs × 2 questions × 2 turns"
    );
    let after_first = calls();
    assert_eq!(
        after_first,
        6 * 2 + 12 * 2,
        "2 turns per answer, 2 orders per game"
    );

    let second = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(calls(), after_first, "no API call on a finished run");
    assert_eq!(
        (
            second.summary.answers_reused,
            second.summary.judgments_reused
        ),
        (6, 12)
    );

    // A new model joins: only its answers and its games are new.
    let opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta", "gamma", "delta"],
        Mode::PairwiseAll,
        None,
    );
    let third = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(third.summary.answers_generated, 2);
    assert_eq!(third.summary.judgments_made, 3 * 2 * 2);
    assert_eq!(third.report.mode, Mode::PairwiseAll);
    assert_eq!(third.report.models.len(), 4);
}

#[tokio::test]
async fn a_later_run_retries_only_the_failed_judgments_and_the_report_counts_the_retry() {
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f2 = fixed.clone();
    let judge_calls = Arc::new(AtomicUsize::new(0));
    let j2 = judge_calls.clone();
    let fake = Fake::start(judging(move |body| {
        j2.fetch_add(1, Ordering::SeqCst);
        // The judge cannot grade the math question until it is "fixed".
        if first_user(body).contains("2+3") && !f2.load(Ordering::SeqCst) {
            Reply::Text("採点できません。".into())
        } else {
            Reply::Text("[[6]]".into())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&fake, dir.path(), &["alpha"], Mode::Single, None);
    opts.reasks = 0;
    let first = shinpan::pipeline::run(&opts, false).await.unwrap();
    let ModelSummary::Single(s) = &first.report.models[0] else {
        panic!()
    };
    assert_eq!((s.n, s.errors), (2, 2));
    assert_eq!(judge_calls.load(Ordering::SeqCst), 4);

    fixed.store(true, Ordering::SeqCst);
    let second = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(
        judge_calls.load(Ordering::SeqCst),
        6,
        "only the two failed turns are judged again"
    );
    assert_eq!(
        (
            second.summary.judgments_made,
            second.summary.judgments_reused
        ),
        (2, 2)
    );
    let ModelSummary::Single(s) = &second.report.models[0] else {
        panic!()
    };
    assert_eq!(
        (s.n, s.errors, s.score),
        (4, 0, Some(6.0)),
        "the retried errors no longer count"
    );
    // The journal keeps every record, the failed ones superseded; the judgment file that
    // FastChat's tools read holds only the current ones.
    let out = dir.path().join("out");
    assert_eq!(
        crate::support::lines(&out.join("journal/judge_single.jsonl")),
        6
    );
    let current: Vec<(usize, SingleJudgment)> =
        read_jsonl(&out.join("judgments/judge_single.jsonl")).unwrap();
    assert_eq!(current.len(), 4);
    assert!(
        current
            .iter()
            .all(|(_, r)| r.score == Some(6.0) && r.error.is_none())
    );
}

/// A judge that drifts: the k-th time it sees the same prompt it gives `by_call[k]` (the sample
/// index is never sent, so the K samples of an item are K identical requests).
fn drifting(
    by_call: impl Fn(&str, usize) -> String + Send + Sync + 'static,
) -> impl Fn(usize, &serde_json::Value) -> Reply + Send + Sync + 'static {
    let seen: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
    judging(move |body| {
        let prompt = first_user(body);
        let k = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(prompt.clone()).or_default();
            *n += 1;
            *n - 1
        };
        Reply::Text(by_call(&prompt, k))
    })
}

#[tokio::test]
async fn repeated_grades_take_the_median_and_find_the_unstable_items() {
    // The haiku question's turns get 5, 9 and 6 on the three calls; the math one always 8.
    let fake = Fake::start(drifting(|prompt, k| {
        let grade = if prompt.contains("俳句") {
            [5, 9, 6][k]
        } else {
            8
        };
        format!("評価: [[{grade}]]")
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&fake, dir.path(), &["alpha"], Mode::Single, None);
    opts.judge_samples = 3;
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(out.summary.judgments_made, 4 * 3, "4 turns × 3 samples");
    let ModelSummary::Single(s) = &out.report.models[0] else {
        panic!()
    };
    // Medians: 6 for each haiku turn (of 5, 9, 6), 8 for each math turn.
    assert_eq!(
        (s.n, s.turn1, s.turn2, s.score),
        (4, Some(7.0), Some(7.0), Some(7.0))
    );
    assert_eq!(s.categories["writing"].score, Some(6.0));
    assert_eq!(s.categories["math"].score, Some(8.0));
    let sampling = out.report.sampling.as_ref().expect("sampling figures");
    assert_eq!(
        (sampling.samples, sampling.items, sampling.unstable_items),
        (3, 4, 2)
    );
    assert_eq!(sampling.mean_spread, 2.0, "(4 + 4 + 0 + 0) / 4");
    for u in &sampling.unstable {
        // Which sample got which call depends on arrival order; the grades do not.
        let mut values = u.values.clone();
        values.sort_by(f64::total_cmp);
        assert_eq!(
            (u.question_id.as_str(), values, u.spread),
            ("1", vec![5.0, 6.0, 9.0], 4.0)
        );
    }
    let rows: Vec<(usize, SingleJudgment)> =
        read_jsonl(&dir.path().join("out/journal/judge_single.jsonl")).unwrap();
    let samples: std::collections::BTreeSet<Option<u32>> =
        rows.iter().map(|(_, r)| r.sample).collect();
    assert_eq!(
        samples.into_iter().collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(2)]
    );
    // The judgment file has one record per item: the median, with the three grades kept.
    let current: Vec<(usize, SingleJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_single.jsonl")).unwrap();
    assert_eq!(current.len(), 4);
    for (_, r) in &current {
        assert_eq!((r.sample, r.samples.len()), (None, 3), "{r:?}");
        let expected = if r.question_id.as_str() == "1" {
            6.0
        } else {
            8.0
        };
        assert_eq!(r.score, Some(expected), "{r:?}");
        // The texts kept are those of the sample that gave the median.
        assert!(r.judgment.contains(&format!("[[{expected}]]")), "{r:?}");
    }

    // A second run has every sample already.
    let before = fake.seen().len();
    let again = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(fake.seen().len(), before);
    assert_eq!(again.summary.judgments_reused, 12);
}

#[tokio::test]
async fn repeated_games_take_each_orders_majority_and_find_the_unstable_items() {
    // A judge that prefers whichever answer is shown first (every game a tie by the swap
    // rule), except on its third call for turn 1 of the haiku question, where it prefers
    // beta in both orders: that sample is a win for beta, the majority of each order still
    // the first-shown answer.
    let fake = Fake::start(drifting(|prompt, k| {
        let unstable = prompt.contains("俳句") && !prompt.contains("英語");
        let beta_first = prompt.find("betaの回答").unwrap() < prompt.find("alphaの回答").unwrap();
        let v = if unstable && k == 2 && !beta_first {
            "B"
        } else {
            "A"
        };
        format!("[[{v}]]")
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(
        &fake,
        dir.path(),
        &["alpha", "beta"],
        Mode::PairwiseBaseline,
        Some("beta"),
    );
    opts.judge_samples = 3;
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let sampling = out.report.sampling.as_ref().expect("sampling figures");
    assert_eq!(
        (sampling.samples, sampling.items, sampling.unstable_items),
        (3, 4, 1)
    );
    let u = &sampling.unstable[0];
    assert_eq!(
        (u.question_id.as_str(), u.turn, u.model.as_str()),
        ("1", 1, "alpha vs beta")
    );
    // Per sample: two ties and a win for beta (in some order): 1 of 3 differs.
    let mut values = u.values.clone();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, [0.0, 0.5, 0.5]);
    assert!((u.spread - 1.0 / 3.0).abs() < 1e-12);
    let current: Vec<(usize, PairJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_pair.jsonl")).unwrap();
    assert_eq!(current.len(), 4);
    for (_, r) in &current {
        assert_eq!(
            (r.g1_winner, r.g2_winner),
            (Winner::Model1, Winner::Model2),
            "{r:?}"
        );
        assert_eq!(r.samples.len(), 3);
    }
}

#[tokio::test]
async fn rubric_mode_grades_every_aspect_in_one_call_and_weights_them() {
    let fake = Fake::start(judging(|_| {
        // Messy but valid: prose, a fenced JSON object with a full-width digit and a string.
        Reply::Text("説明…\n```json\n{\"有用性\": 8, \"正確性\": \"４\"}\n```".into())
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&fake, dir.path(), &["alpha"], Mode::Rubric, None);
    // Configured in an order that is not the names' sorted order.
    opts.aspects = vec![("正確性".into(), 3.0), ("有用性".into(), 1.0)];
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    assert_eq!(out.report.mode, Mode::Rubric);
    // Tables list the aspects in the configured order, in the run's report and read back.
    assert_eq!(out.report.aspects, ["正確性", "有用性"]);
    use shinpan::report::Exporter;
    let md = shinpan::report::MarkdownExporter
        .serialize(std::slice::from_ref(&out.report))
        .unwrap();
    assert!(
        String::from_utf8(md)
            .unwrap()
            .contains("| model | 正確性 | 有用性 |")
    );
    let again = crate::support::report_json(&dir.path().join("out"));
    assert_eq!(again["aspects"], serde_json::json!(["正確性", "有用性"]));
    let ModelSummary::Single(s) = &out.report.models[0] else {
        panic!()
    };
    // Weighted: (8·1 + 4·3) / 4 = 5.
    assert_eq!((s.n, s.errors, s.score), (4, 0, Some(5.0)));
    assert_eq!(s.aspects["有用性"].score, Some(8.0));
    assert_eq!(s.aspects["正確性"].score, Some(4.0));
    assert_eq!(s.aspects["正確性"].categories["math"].score, Some(4.0));
    assert_eq!(
        s.aspects["正確性"].categories["math"].score_ci,
        Some([4.0, 4.0])
    );
    let rows: Vec<(usize, SingleJudgment)> =
        read_jsonl(&dir.path().join("out/judgments/judge_rubric.jsonl")).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|(_, r)| r.aspects.as_ref().unwrap().len() == 2)
    );
    // The prompt lists the aspects, and the math question shows its reference answer.
    let math = rows
        .iter()
        .find(|(_, r)| r.question_id.as_str() == "2" && r.turn == 1)
        .unwrap();
    assert!(math.1.user_prompt.contains("- 正確性"));
    assert!(
        math.1.user_prompt.contains("模範: 5"),
        "the reference is shown"
    );
}
