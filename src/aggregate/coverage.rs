//! Whether a report covers everything it should: per model, the items expected, judged with a
//! verdict, failed (judged without one) and missing (never judged: an answer failed, the run
//! was interrupted or killed, or the file simply lacks them). A report with anything failed or
//! missing is marked `partial`, so uneven counts are never mistaken for a complete run.
//!
//! What is expected comes from the run (its questions, turns and models) when known; for
//! files alone it is inferred: every model is expected on every question and turn seen for
//! any model (single), and every pairing that occurs on every question and turn seen.

use std::collections::{BTreeMap, BTreeSet};

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
}

/// (question, turn, opponent) of one model; the opponent is empty for grades.
type Item = (String, u32, String);

#[derive(Default)]
struct Seen {
    judged: BTreeSet<Item>,
    failed: BTreeSet<Item>,
}

impl Seen {
    fn add(&mut self, item: Item, verdict: bool) {
        if verdict {
            self.failed.remove(&item);
            self.judged.insert(item);
        } else if !self.judged.contains(&item) {
            self.failed.insert(item);
        }
    }
}

fn tally(
    expected: &BTreeMap<String, BTreeSet<Item>>,
    seen: &BTreeMap<String, Seen>,
) -> Vec<ModelCoverage> {
    expected
        .iter()
        .map(|(model, items)| {
            let s = seen.get(model);
            let judged = s.map_or(0, |s| s.judged.intersection(items).count());
            let failed = s.map_or(0, |s| s.failed.intersection(items).count());
            ModelCoverage {
                model: model.clone(),
                expected: items.len(),
                judged,
                failed,
                missing: items.len() - judged - failed,
            }
        })
        .collect()
}

fn question_turns(exp: &Expectation) -> Vec<(String, u32)> {
    exp.questions
        .iter()
        .flat_map(|(q, turns)| (1..=*turns).map(move |t| (q.clone(), t)))
        .collect()
}

/// Coverage of graded rows (the current records of one judge).
pub fn single_coverage(rows: &[&SingleGrade], exp: Option<&Expectation>) -> Vec<ModelCoverage> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for r in rows {
        seen.entry(r.model.clone()).or_default().add(
            (r.question_id.to_string(), r.turn, String::new()),
            r.has_verdict(),
        );
    }
    let items: BTreeSet<Item> = match exp {
        Some(e) => question_turns(e)
            .into_iter()
            .map(|(q, t)| (q, t, String::new()))
            .collect(),
        None => seen
            .values()
            .flat_map(|s| s.judged.iter().chain(&s.failed).cloned())
            .collect(),
    };
    let models: Vec<String> = match exp {
        Some(e) => e.models.clone(),
        None => seen.keys().cloned().collect(),
    };
    let expected = models.into_iter().map(|m| (m, items.clone())).collect();
    tally(&expected, &seen)
}

/// Coverage of pairwise games (the current records of one judge), from each listed model's
/// side: with a baseline, the games against it; otherwise every game it plays.
pub fn pair_coverage(
    rows: &[&PairGame],
    baseline: Option<&str>,
    exp: Option<&Expectation>,
) -> Vec<ModelCoverage> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut pairings: BTreeSet<(String, String)> = BTreeSet::new();
    let mut question_turns_seen: BTreeSet<(String, u32)> = BTreeSet::new();
    for r in rows {
        if baseline.is_some_and(|b| r.model_1 != b && r.model_2 != b) {
            continue;
        }
        let (q, t, v) = (r.question_id.to_string(), r.turn, r.has_verdict());
        seen.entry(r.model_1.clone())
            .or_default()
            .add((q.clone(), t, r.model_2.clone()), v);
        seen.entry(r.model_2.clone())
            .or_default()
            .add((q.clone(), t, r.model_1.clone()), v);
        pairings.insert((r.model_1.clone(), r.model_2.clone()));
        pairings.insert((r.model_2.clone(), r.model_1.clone()));
        question_turns_seen.insert((q, t));
    }
    let qts: Vec<(String, u32)> = match exp {
        Some(e) => question_turns(e),
        None => question_turns_seen.into_iter().collect(),
    };
    // Opponents of each listed model.
    let mut opponents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    match (exp, baseline) {
        (Some(e), Some(b)) => {
            for m in e.models.iter().filter(|m| *m != b) {
                opponents
                    .entry(m.clone())
                    .or_default()
                    .insert(b.to_string());
            }
        }
        (Some(e), None) => {
            for m in &e.models {
                for o in e.models.iter().filter(|o| *o != m) {
                    opponents.entry(m.clone()).or_default().insert(o.clone());
                }
            }
        }
        (None, _) => {
            for (m, o) in pairings {
                if Some(m.as_str()) != baseline {
                    opponents.entry(m).or_default().insert(o);
                }
            }
        }
    }
    let expected = opponents
        .into_iter()
        .map(|(m, os)| {
            let items = os
                .iter()
                .flat_map(|o| qts.iter().map(move |(q, t)| (q.clone(), *t, o.clone())))
                .collect();
            (m, items)
        })
        .collect();
    tally(&expected, &seen)
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
            turn,
            category: None,
            failed: score.is_none(),
            sample: None,
            samples: Vec::new(),
            aspects: None,
            input_digest: None,
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
            answer_1: None,
            answer_2: None,
            question: None,
            sample: None,
            samples: Vec::new(),
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
