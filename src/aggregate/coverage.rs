//! Whether a report covers everything it should: per model, the items expected, judged with a
//! verdict, failed (judged without one) and missing (never judged: an answer failed, the run
//! was interrupted or killed, or the file simply lacks them). A report with anything failed or
//! missing is marked `partial`, so uneven counts are never mistaken for a complete run.
//!
//! What is expected comes from the run (its questions, turns and models) when known; for
//! files alone it is inferred: every model is expected on every question and turn seen for
//! any model (single), and every pairing that occurs on every question and turn seen.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::records::{Judgment, PairGame, SingleGrade};
use crate::types::Mode;

/// One model's coverage.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelCoverage {
    /// The model.
    pub model: String,
    /// Items (question, turn, and opponent in pairwise modes) it should have been judged on.
    pub expected: usize,
    /// Items with a verdict.
    pub judged: usize,
    /// Items judged without a verdict (judge failures, unreadable verdicts).
    pub failed: usize,
    /// Items never judged.
    pub missing: usize,
}

/// What a run expects: its models, baseline, and each question's id and turn count.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// The mode.
    pub mode: Option<Mode>,
    /// Candidate models.
    pub models: Vec<String>,
    /// The baseline (pairwise-baseline).
    pub baseline: Option<String>,
    /// Question ids with their turn counts.
    pub questions: Vec<(String, u32)>,
    /// Why the report is partial even if every item were there (an interrupted run).
    pub reasons: Vec<String>,
    /// The rubric's aspects in the configured order (rubric runs).
    pub aspects: Vec<String>,
    /// What the run spent so far (see [`crate::records::Evaluation::spend`]).
    pub spend: Vec<crate::records::spend::SpendRow>,
    /// The games of a sampled pairwise mode (`None`: every game of the mode).
    pub plan: Option<crate::records::GamePlan>,
    /// The official set and version the run's questions came from (`--bench`).
    pub bench: Option<String>,
    /// The question set the run recorded (`run.json`'s `set`: a file's name and digest).
    pub set: Option<String>,
    /// The scale the run grades on (graded modes).
    pub scale: Option<crate::types::Scale>,
    /// The panel the judge was one of (empty: a judge alone), and how it is pooled.
    pub panel: Vec<String>,
    pub pool: Option<crate::types::Pool>,
}

/// Names (question ids and models) as small numbers, so a million games cost a few bytes each.
#[derive(Default)]
struct Names<'a> {
    ids: HashMap<&'a str, u32>,
}

impl<'a> Names<'a> {
    fn id(&mut self, name: &'a str) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(name).or_insert(next)
    }
}

/// One judged item of a model: question, turn and opponent (`NONE` for grades), packed.
fn item(q: u32, turn: u32, opponent: u32) -> u64 {
    (u64::from(q) << 32) | (u64::from(turn.min(255)) << 24) | u64::from(opponent & 0xff_ffff)
}

/// A (question, turn) pair, packed.
fn qt(q: u32, turn: u32) -> u64 {
    (u64::from(q) << 32) | u64::from(turn)
}

/// The opponent of a grade.
const NONE: u32 = 0xff_ffff;

/// What one model has: items with a verdict, and items judged without one.
#[derive(Default)]
struct Seen {
    judged: HashSet<u64>,
    failed: HashSet<u64>,
}

impl Seen {
    fn add(&mut self, item: u64, verdict: bool) {
        if verdict {
            self.failed.remove(&item);
            self.judged.insert(item);
        } else if !self.judged.contains(&item) {
            self.failed.insert(item);
        }
    }
}

/// Per model: the (question, turn) pairs and the opponents it is expected on; every
/// combination is one expected item.
struct Expected {
    question_turns: HashSet<u64>,
    opponents: BTreeMap<String, Vec<u32>>,
}

fn tally(expected: &Expected, seen: &HashMap<u32, Seen>, names: &Names) -> Vec<ModelCoverage> {
    expected
        .opponents
        .iter()
        .map(|(model, opponents)| {
            let expected_n = expected.question_turns.len() * opponents.len();
            let counted = |items: &HashSet<u64>| {
                items
                    .iter()
                    .filter(|i| {
                        let (q, turn, o) = (
                            (*i >> 32) as u32,
                            ((*i >> 24) & 0xff) as u32,
                            (*i & 0xff_ffff) as u32,
                        );
                        expected.question_turns.contains(&qt(q, turn)) && opponents.contains(&o)
                    })
                    .count()
            };
            let s = names.ids.get(model.as_str()).and_then(|id| seen.get(id));
            let judged = s.map_or(0, |s| counted(&s.judged));
            let failed = s.map_or(0, |s| counted(&s.failed));
            ModelCoverage {
                model: model.clone(),
                expected: expected_n,
                judged,
                failed,
                missing: expected_n - judged - failed,
            }
        })
        .collect()
}

/// The (question, turn) pairs a run expects.
fn expected_question_turns<'a>(exp: &'a Expectation, names: &mut Names<'a>) -> HashSet<u64> {
    exp.questions
        .iter()
        .flat_map(|(q, turns)| {
            let q = names.id(q);
            (1..=*turns).map(move |t| qt(q, t))
        })
        .collect()
}

/// Coverage of graded rows (the current records of one judge).
pub fn single_coverage(rows: &[&SingleGrade], exp: Option<&Expectation>) -> Vec<ModelCoverage> {
    let mut names = Names::default();
    let mut seen: HashMap<u32, Seen> = HashMap::new();
    let mut qts_seen = HashSet::new();
    let mut models_seen = BTreeSet::new();
    for r in rows {
        let (q, m) = (names.id(r.question_id.as_str()), names.id(&r.model));
        seen.entry(m)
            .or_default()
            .add(item(q, r.turn, NONE), r.has_verdict());
        qts_seen.insert(qt(q, r.turn));
        models_seen.insert(r.model.clone());
    }
    let expected = match exp {
        Some(e) => Expected {
            question_turns: expected_question_turns(e, &mut names),
            opponents: e.models.iter().map(|m| (m.clone(), vec![NONE])).collect(),
        },
        None => Expected {
            question_turns: qts_seen,
            opponents: models_seen.into_iter().map(|m| (m, vec![NONE])).collect(),
        },
    };
    tally(&expected, &seen, &names)
}

/// Coverage of pairwise games (the current records of one judge), from each listed model's
/// side: with a baseline, the games against it; otherwise every game it plays.
pub fn pair_coverage(
    rows: &[&PairGame],
    baseline: Option<&str>,
    exp: Option<&Expectation>,
) -> Vec<ModelCoverage> {
    let mut names = Names::default();
    let mut seen: HashMap<u32, Seen> = HashMap::new();
    let mut qts_seen = HashSet::new();
    let mut pairings: BTreeSet<(&str, &str)> = BTreeSet::new();
    for r in rows {
        if baseline.is_some_and(|b| r.model_1 != b && r.model_2 != b) {
            continue;
        }
        let q = names.id(r.question_id.as_str());
        let (m1, m2) = (names.id(&r.model_1), names.id(&r.model_2));
        let v = r.has_verdict();
        seen.entry(m1).or_default().add(item(q, r.turn, m2), v);
        seen.entry(m2).or_default().add(item(q, r.turn, m1), v);
        pairings.insert((&r.model_1, &r.model_2));
        pairings.insert((&r.model_2, &r.model_1));
        qts_seen.insert(qt(q, r.turn));
    }
    // Opponents of each listed model.
    let mut opponents: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    fn add<'a>(
        names: &mut Names<'a>,
        opponents: &mut BTreeMap<String, Vec<u32>>,
        m: &str,
        o: &'a str,
    ) {
        let o = names.id(o);
        let list = opponents.entry(m.to_string()).or_default();
        if !list.contains(&o) {
            list.push(o);
        }
    }
    if let Some(e) = exp
        && let Some(plan) = e.plan
    {
        return sampled_coverage(plan, e, &seen, &mut names);
    }
    let question_turns = match exp {
        Some(e) => {
            let models: Vec<&str> = e.models.iter().map(String::as_str).collect();
            for m in &models {
                match baseline {
                    Some(b) if m != &b => add(&mut names, &mut opponents, m, b),
                    Some(_) => {}
                    None => {
                        for o in models.iter().filter(|o| *o != m) {
                            add(&mut names, &mut opponents, m, o);
                        }
                    }
                }
            }
            expected_question_turns(e, &mut names)
        }
        None => {
            for (m, o) in pairings {
                if Some(m) != baseline {
                    add(&mut names, &mut opponents, m, o);
                }
            }
            qts_seen
        }
    };
    let expected = Expected {
        question_turns,
        opponents,
    };
    tally(&expected, &seen, &names)
}

/// Coverage of a sampled pairwise mode: `pairwise-n` expects the games it drew (drawn again
/// from the plan's seed); `pairwise-adaptive` chose its games as it went, so it expects the
/// games it made (the run's state says whether it finished).
fn sampled_coverage<'a>(
    plan: crate::records::GamePlan,
    e: &'a Expectation,
    seen: &HashMap<u32, Seen>,
    names: &mut Names<'a>,
) -> Vec<ModelCoverage> {
    use crate::records::GamePlan;
    let models: Vec<u32> = e.models.iter().map(|m| names.id(m)).collect();
    let mut expected: BTreeMap<&str, HashSet<u64>> = e
        .models
        .iter()
        .map(|m| (m.as_str(), HashSet::new()))
        .collect();
    match plan {
        GamePlan::Sample { games, seed } => {
            let qids: Vec<String> = e.questions.iter().map(|(q, _)| q.clone()).collect();
            for (q, m1, m2) in crate::records::sample_games(seed, &qids, &e.models, games) {
                let (qid, turns) = (names.id(&e.questions[q].0), e.questions[q].1);
                for turn in 1..=turns {
                    for (me, other) in [(m1, m2), (m2, m1)] {
                        if let Some(set) = expected.get_mut(e.models[me].as_str()) {
                            set.insert(item(qid, turn, models[other]));
                        }
                    }
                }
            }
        }
        GamePlan::Adaptive { .. } => {
            let qts = expected_question_turns(e, names);
            for (m, &id) in e.models.iter().zip(&models) {
                if let Some(s) = seen.get(&id) {
                    let set = expected.get_mut(m.as_str()).expect("every model listed");
                    set.extend(s.judged.iter().chain(&s.failed).filter(|i| {
                        qts.contains(&qt((*i >> 32) as u32, ((*i >> 24) & 0xff) as u32))
                            && models.contains(&((*i & 0xff_ffff) as u32))
                    }));
                }
            }
        }
    }
    expected
        .into_iter()
        .map(|(model, items)| {
            let s = names.ids.get(model).and_then(|id| seen.get(id));
            let count =
                |set: Option<&HashSet<u64>>| set.map_or(0, |x| x.intersection(&items).count());
            let judged = count(s.map(|s| &s.judged));
            let failed = count(s.map(|s| &s.failed));
            ModelCoverage {
                model: model.to_string(),
                expected: items.len(),
                judged,
                failed,
                missing: items.len() - judged - failed,
            }
        })
        .collect()
}

/// Why a report with this coverage is partial (empty when it is complete).
pub fn partial_reasons(coverage: &[ModelCoverage], exp: Option<&Expectation>) -> Vec<String> {
    let mut out: Vec<String> = exp.map(|e| e.reasons.clone()).unwrap_or_default();
    let failed: usize = coverage.iter().map(|c| c.failed).sum();
    let missing: usize = coverage.iter().map(|c| c.missing).sum();
    if failed > 0 {
        out.push(format!("{failed} judgment(s) without a verdict"));
    }
    if missing > 0 {
        out.push(format!("{missing} judgment(s) missing"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::JudgeName;
    use crate::types::{QuestionId, Winner};

    fn grade(model: &str, q: i64, turn: u32, score: Option<f64>) -> SingleGrade {
        SingleGrade {
            question_id: QuestionId::number(q),
            model: model.into(),
            judge: JudgeName("j".into()),
            score,
            stated_scale: None,
            turn,
            category: None,
            bench: None,
            failed: score.is_none(),
            sample: None,
            samples: Default::default(),
            aspects: None,
            input_digest: None,
            task: None,
        }
    }

    #[test]
    fn inferred_single_coverage_finds_uneven_counts() {
        let rows = [
            grade("a", 1, 1, Some(5.0)),
            grade("a", 2, 1, Some(5.0)),
            grade("b", 1, 1, None),
        ];
        let refs: Vec<&SingleGrade> = rows.iter().collect();
        let c = single_coverage(&refs, None);
        assert_eq!(
            c.iter()
                .map(|c| (c.model.as_str(), c.expected, c.judged, c.failed, c.missing))
                .collect::<Vec<_>>(),
            [("a", 2, 2, 0, 0), ("b", 2, 0, 1, 1)]
        );
        assert_eq!(
            partial_reasons(&c, None),
            ["1 judgment(s) without a verdict", "1 judgment(s) missing"]
        );
    }

    #[test]
    fn expected_pairwise_coverage_counts_missing_games_against_the_baseline() {
        let game = |m1: &str, q: i64, w: Winner| PairGame {
            question_id: QuestionId::number(q),
            model_1: m1.into(),
            model_2: "base".into(),
            g1_winner: w,
            g2_winner: w,
            judge: JudgeName("j".into()),
            turn: 1,
            category: None,
            bench: None,
            answer_1: None,
            answer_2: None,
            question: None,
            one_order: false,
            preference: None,
            battles: [0, 0],
            sample: None,
            samples: Default::default(),
            g1_failed: false,
            g2_failed: false,
            input_digest: None,
        };
        let rows = [game("a", 1, Winner::Model1), game("a", 2, Winner::Error)];
        let refs: Vec<&PairGame> = rows.iter().collect();
        let exp = Expectation {
            mode: Some(Mode::PairwiseBaseline),
            models: vec!["a".into(), "b".into(), "base".into()],
            baseline: Some("base".into()),
            questions: vec![("1".into(), 1), ("2".into(), 1), ("3".into(), 1)],
            reasons: Vec::new(),
            aspects: Vec::new(),
            ..Default::default()
        };
        let c = pair_coverage(&refs, Some("base"), Some(&exp));
        assert_eq!(
            c.iter()
                .map(|c| (c.model.as_str(), c.expected, c.judged, c.failed, c.missing))
                .collect::<Vec<_>>(),
            [("a", 3, 1, 1, 1), ("b", 3, 0, 0, 3)]
        );
    }
}
