//! Which judgment records count: the one rule every reader of judgment files applies (the
//! run's scheduler, the view a run leaves for FastChat's tools, and every report).
//!
//! For each item (question, model or pair of models, turn, judge):
//! 1. **Latest.** Records shinpan wrote carry an input digest; of those, the last record of
//!    each item and sample counts, and earlier ones are superseded (the item was judged
//!    again: its answer changed, or a failure was retried). Records without a digest
//!    (upstream files, where a repeated item is a second full run) all count, as FastChat's
//!    `show_result.py` counts them.
//! 2. **Samples.** The K records of an item judged K times (`--judge-samples`) collapse into
//!    one: the median grade, or each order's majority verdict, keeping the K verdicts.
//! 3. **Retried failures.** A failure shinpan recorded with its reason is superseded by a
//!    later verdict on the same item.
//!
//! A run also drops judgments whose digest no longer matches the inputs it holds ([`Inputs`]):
//! an answer replaced, its re-judging not finished.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};

use super::digest::{InputDigest, input_digest};
use super::{AnswerRecord, Question};
use crate::types::Winner;

/// The item a judgment is about; the sample index aside. `model_2` is empty for grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey<'a> {
    /// The question id's text.
    pub question: &'a str,
    /// The model graded, or the first model of a pair.
    pub model_1: &'a str,
    /// The second model of a pair; empty for grades.
    pub model_2: &'a str,
    /// The turn.
    pub turn: u32,
    /// The judge model.
    pub judge: &'a str,
}

/// An item and sample, owned: what a run looks its judgments up by. `model_2` is empty for
/// grades; the judge is the file's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemSample {
    /// The question id's text.
    pub question: String,
    /// The model graded, or the first model of a pair.
    pub model_1: String,
    /// The second model of a pair; empty for grades.
    pub model_2: String,
    /// The turn (1-based).
    pub turn: u32,
    /// Which repeated judgment (`--judge-samples`; `None` when judged once).
    pub sample: Option<u32>,
}

impl ItemSample {
    /// The item and sample of a judgment record.
    pub fn of<T: Judgment + ?Sized>(r: &T) -> Self {
        let k = r.key();
        ItemSample {
            question: k.question.to_string(),
            model_1: k.model_1.to_string(),
            model_2: k.model_2.to_string(),
            turn: k.turn,
            sample: r.sample(),
        }
    }
}

/// What the rule needs to know of a judgment record.
pub trait Judgment {
    /// The item judged.
    fn key(&self) -> ItemKey<'_>;
    /// Which repeated judgment this is (`--judge-samples`).
    fn sample(&self) -> Option<u32>;
    /// What it was made on (shinpan's records only).
    fn digest(&self) -> Option<InputDigest>;
    /// Whether it has a verdict.
    fn has_verdict(&self) -> bool;
    /// Whether shinpan recorded why it has none.
    fn recorded_failure(&self) -> bool;
    /// A game's verdicts in its two orders (`None` for grades).
    fn game_winners(&self) -> Option<[crate::types::Winner; 2]> {
        None
    }
    /// The benchmark set and version it was made on (`--bench`), when recorded.
    fn bench(&self) -> Option<&str>;
}

/// A grade that can stand for several samples.
pub trait Graded: Judgment + Clone {
    /// The usable score.
    fn score(&self) -> Option<f64>;
    /// Grades per rubric aspect.
    fn aspects(&self) -> Option<&BTreeMap<String, f64>>;
    /// Makes this record the collapsed record of its samples.
    fn set_collapsed(
        &mut self,
        score: Option<f64>,
        aspects: Option<BTreeMap<String, f64>>,
        samples: Vec<Option<f64>>,
        failure: Option<String>,
    );
}

/// A game that can stand for several samples.
pub trait Played: Judgment + Clone {
    /// `[g1_winner, g2_winner]`.
    fn winners(&self) -> [Winner; 2];
    /// Makes this record the collapsed record of its samples; each order's texts come from
    /// a sample that gave that order's majority verdict (`from`).
    fn set_collapsed(&mut self, winners: [Winner; 2], samples: Vec<[Winner; 2]>, from: [&Self; 2]);
}

/// The records that count, before retried failures are dropped: the borrowed records judged
/// once and the collapsed records of sampled items.
pub struct Current<'a, T> {
    once: Vec<&'a T>,
    collapsed: Vec<T>,
}

impl<'a, T: Judgment> Current<'a, T> {
    /// Applies the rule to grades.
    pub fn grades(rows: &[&'a T]) -> Self
    where
        T: Graded,
    {
        let rows = latest(rows);
        let (once, groups) = split_samples(rows);
        let collapsed = groups.into_values().map(|g| collapse_grades(&g)).collect();
        Current { once, collapsed }
    }

    /// Applies the rule to games.
    pub fn games(rows: &[&'a T]) -> Self
    where
        T: Played,
    {
        let rows = latest(rows);
        let (once, groups) = split_samples(rows);
        let collapsed = groups.into_values().map(|g| collapse_games(&g)).collect();
        Current { once, collapsed }
    }

    /// The records that count, in file order (collapsed items last).
    pub fn rows(&self) -> Vec<&T> {
        let mut all: Vec<&T> = Vec::with_capacity(self.once.len() + self.collapsed.len());
        all.extend(self.once.iter().copied().chain(self.collapsed.iter()));
        let retried = retried(&all);
        if !retried.is_empty() {
            let mut i = 0;
            all.retain(|_| {
                i += 1;
                !retried.contains(&(i - 1))
            });
        }
        all
    }
}

/// Rows without those superseded by a later digested record of the same item and sample.
/// Exact keys are kept only for items that occur more than once, found by a first pass over
/// key hashes, so memory stays near 16 bytes a record on a million records.
pub fn latest<'a, T: Judgment>(rows: &[&'a T]) -> Vec<&'a T> {
    let hasher = RandomState::new();
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for r in rows.iter().filter(|r| r.digest().is_some()) {
        *seen
            .entry(hasher.hash_one((r.key(), r.sample())))
            .or_default() += 1;
    }
    seen.retain(|_, n| *n > 1);
    if seen.is_empty() {
        return rows.to_vec();
    }
    let mut last: HashMap<(ItemKey, Option<u32>), usize> = HashMap::new();
    let mut stale = HashSet::new();
    for (i, r) in rows.iter().enumerate() {
        let k = (r.key(), r.sample());
        if r.digest().is_some()
            && seen.contains_key(&hasher.hash_one(k))
            && let Some(prev) = last.insert(k, i)
        {
            stale.insert(prev);
        }
    }
    rows.iter()
        .enumerate()
        .filter(|(i, _)| !stale.contains(i))
        .map(|(_, r)| *r)
        .collect()
}

/// Indexes of recorded failures that a later verdict on the same item superseded. Only
/// records that carry shinpan's failure reason qualify, so upstream files (where a repeated
/// item is a second full run) count exactly as their own scripts count them.
fn retried<T: Judgment>(rows: &[&T]) -> HashSet<usize> {
    let mut failures: HashMap<ItemKey, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.recorded_failure() {
            failures.entry(r.key()).or_default().push(i);
        }
    }
    let mut out = HashSet::new();
    if failures.is_empty() {
        return out;
    }
    for (i, r) in rows.iter().enumerate() {
        if r.has_verdict()
            && let Some(idx) = failures.get(&r.key())
        {
            out.extend(idx.iter().copied().filter(|&e| e < i));
        }
    }
    out
}

type Groups<'a, T> = BTreeMap<ItemKey<'a>, Vec<&'a T>>;

/// The records judged once (in place, keeping their order) and the sampled ones by item.
fn split_samples<'a, T: Judgment>(mut rows: Vec<&'a T>) -> (Vec<&'a T>, Groups<'a, T>) {
    let mut groups: Groups<'a, T> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.sample().is_some()) {
        groups.entry(r.key()).or_default().push(*r);
    }
    if !groups.is_empty() {
        rows.retain(|r| r.sample().is_none());
    }
    for g in groups.values_mut() {
        g.sort_by_key(|r| r.sample());
    }
    (rows, groups)
}

/// The median of some numbers (the mean of the middle two for an even count).
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    })
}

/// One record for the samples of a graded item: the median grade (each aspect the median
/// of the samples that graded it), the texts of the sample nearest the median.
fn collapse_grades<T: Graded>(group: &[&T]) -> T {
    let samples: Vec<Option<f64>> = group.iter().map(|r| r.score()).collect();
    let med = median(samples.iter().flatten().copied().collect());
    let base = match med {
        Some(m) => group
            .iter()
            .filter(|r| r.score().is_some())
            .min_by(|a, b| {
                let d = |r: &&&T| (r.score().unwrap_or(m) - m).abs();
                d(a).total_cmp(&d(b))
            })
            .copied()
            .unwrap_or(group[0]),
        None => group[0],
    };
    let mut row = base.clone();
    let aspects = base.aspects().map(|_| {
        let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in group.iter().filter(|r| r.score().is_some()) {
            for (a, v) in r.aspects().into_iter().flatten() {
                per.entry(a.clone()).or_default().push(*v);
            }
        }
        per.into_iter()
            .filter_map(|(a, v)| median(v).map(|m| (a, m)))
            .collect()
    });
    let failure = med
        .is_none()
        .then(|| format!("none of {} samples had a verdict", group.len()));
    row.set_collapsed(med, aspects.filter(|_| med.is_some()), samples, failure);
    row
}

/// The most frequent verdict among those with one; a tie for the top between different
/// verdicts is a tie; all errors stay an error.
pub fn majority(ws: impl Iterator<Item = Winner>) -> Winner {
    let mut counts: BTreeMap<Winner, usize> = BTreeMap::new();
    for w in ws.filter(|w| *w != Winner::Error) {
        *counts.entry(w).or_default() += 1;
    }
    let Some(top) = counts.values().copied().max() else {
        return Winner::Error;
    };
    let leaders: Vec<Winner> = counts
        .iter()
        .filter(|(_, n)| **n == top)
        .map(|(w, _)| *w)
        .collect();
    if leaders.len() == 1 {
        leaders[0]
    } else {
        Winner::Tie
    }
}

/// One record for the samples of a game: each order takes the majority of its samples'
/// verdicts, so position consistency keeps its meaning.
fn collapse_games<T: Played>(group: &[&T]) -> T {
    let samples: Vec<[Winner; 2]> = group.iter().map(|r| r.winners()).collect();
    let winners = [0, 1].map(|o| majority(samples.iter().map(|w| w[o])));
    let from = [0, 1].map(|o| {
        group
            .iter()
            .find(|r| r.winners()[o] == winners[o])
            .copied()
            .unwrap_or(group[0])
    });
    let mut row = group[0].clone();
    row.set_collapsed(winners, samples, from);
    row
}

/// The questions and answers a run holds now.
pub struct Inputs<'a> {
    questions: HashMap<&'a str, &'a Question>,
    answers: HashMap<(&'a str, &'a str), &'a AnswerRecord>,
}

impl<'a> Inputs<'a> {
    /// Indexes questions and the answers held for them.
    pub fn new(
        questions: &'a [Question],
        answers: impl IntoIterator<Item = &'a AnswerRecord>,
    ) -> Self {
        Self {
            questions: questions
                .iter()
                .map(|q| (q.question_id.as_str(), q))
                .collect(),
            answers: answers
                .into_iter()
                .map(|a| ((a.model_id.as_str(), a.question_id.as_str()), a))
                .collect(),
        }
    }

    /// Whether a judgment was made on the inputs held now. One without a digest, or whose
    /// inputs are not all held, cannot be checked and counts.
    pub fn matches<T: Judgment>(&self, r: &T) -> bool {
        let Some(d) = r.digest() else { return true };
        let k = r.key();
        let Some(q) = self.questions.get(k.question) else {
            return true;
        };
        let models: &[&str] = if k.model_2.is_empty() {
            &[k.model_1]
        } else {
            &[k.model_1, k.model_2]
        };
        let Some(shown) = models
            .iter()
            .map(|m| self.answers.get(&(*m, k.question)).copied())
            .collect::<Option<Vec<&AnswerRecord>>>()
        else {
            return true;
        };
        input_digest(q, &shown, k.turn as usize) == d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Choice, SingleGrade};
    use crate::types::QuestionId;

    fn grade(q: &str, digest: Option<u64>, score: Option<f64>, sample: Option<u32>) -> SingleGrade {
        SingleGrade {
            question_id: QuestionId::text(q),
            model: "m".into(),
            judge: crate::records::JudgeName("j".into()),
            score,
            stated_scale: None,
            turn: 1,
            category: None,
            bench: None,
            failed: score.is_none() && digest.is_some(),
            sample,
            samples: Default::default(),
            aspects: None,
            input_digest: digest.map(InputDigest),
            task: None,
        }
    }

    #[test]
    fn the_last_digested_record_of_an_item_counts_and_undigested_repeats_all_count() {
        let rows = [
            grade("q1", None, Some(1.0), None),
            grade("q1", None, Some(2.0), None),
            grade("q2", Some(1), Some(3.0), None),
            grade("q3", Some(7), Some(4.0), None),
            grade("q2", Some(2), Some(5.0), None),
        ];
        let refs: Vec<&SingleGrade> = rows.iter().collect();
        let cur = Current::grades(&refs);
        let kept: Vec<f64> = cur.rows().iter().filter_map(|r| r.score).collect();
        assert_eq!(kept, [1.0, 2.0, 4.0, 5.0]);
    }

    #[test]
    fn samples_collapse_to_the_median_and_keep_every_grade() {
        let rows = [
            grade("q1", Some(1), Some(8.0), Some(0)),
            grade("q1", Some(1), None, Some(1)),
            grade("q1", Some(1), Some(3.0), Some(2)),
            grade("q1", Some(1), Some(5.0), Some(3)),
        ];
        let refs: Vec<&SingleGrade> = rows.iter().collect();
        let cur = Current::grades(&refs);
        let rows = cur.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].score, Some(5.0));
        assert_eq!(
            rows[0].samples.as_slice(),
            [Some(8.0), None, Some(3.0), Some(5.0)]
        );
        assert_eq!(rows[0].sample, None);
    }

    #[test]
    fn a_recorded_failure_is_superseded_by_a_later_verdict() {
        let mut failed = grade("q1", None, None, None);
        failed.failed = true;
        let rows = [failed, grade("q1", None, Some(6.0), None)];
        let refs: Vec<&SingleGrade> = rows.iter().collect();
        let cur = Current::grades(&refs);
        assert_eq!(cur.rows().len(), 1);
        assert_eq!(cur.rows()[0].score, Some(6.0));
    }

    #[test]
    fn majority_rules() {
        use Winner::*;
        assert_eq!(majority([Model1, Model1, Model2].into_iter()), Model1);
        assert_eq!(majority([Model1, Model2].into_iter()), Tie);
        assert_eq!(majority([Error, Model2, Error].into_iter()), Model2);
        assert_eq!(majority([Error, Error].into_iter()), Error);
    }

    #[test]
    fn inputs_match_only_the_answers_held_now() {
        let q = vec![Question {
            question_id: QuestionId::number(1),
            category: "writing".into(),
            turns: vec!["一".into(), "二".into()],
            reference: None,
            criteria: None,
            bench: None,
            task: None,
        }];
        let answer = |turns: &[&str]| AnswerRecord {
            question_id: QuestionId::number(1),
            answer_id: String::new(),
            model_id: "m".into(),
            choices: vec![Choice {
                index: 0,
                turns: turns.iter().map(|t| t.to_string()).collect(),
                reasoning: Vec::new(),
            }],
            tstamp: 0.0,
            usage: None,
            finish_reasons: Vec::new(),
            bench: None,
            served: None,
        };
        let old = answer(&["a", "b"]);
        let now = [answer(&["a", "b2"])];
        let inputs = Inputs::new(&q, now.iter());
        let judged = |turn: u32, d: Option<InputDigest>| {
            let mut g = grade("1", None, Some(5.0), None);
            g.turn = turn;
            g.input_digest = d;
            g
        };
        let d1 = input_digest(&q[0], &[&old], 1);
        let d2 = input_digest(&q[0], &[&old], 2);
        assert!(
            inputs.matches(&judged(1, Some(d1))),
            "turn 1 showed nothing that changed"
        );
        assert!(
            !inputs.matches(&judged(2, Some(d2))),
            "turn 2 showed the old answer"
        );
        assert!(
            inputs.matches(&judged(2, None)),
            "no digest: cannot tell, counts"
        );
    }
}
