//! Which judgments become possible as answers arrive, given the mode and what the judgment
//! file already holds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::resume::Answers;
use crate::records::{InputDigest, Question, input_digest};
use crate::types::Mode;

/// One judgment to make: indexes into the run's questions and models; turns are 1-based.
pub(super) enum Item {
    Single {
        q: usize,
        m: usize,
        turn: usize,
        sample: Option<u32>,
        /// Graded with the multi-aspect rubric.
        rubric: bool,
    },
    Pair {
        q: usize,
        m1: usize,
        m2: usize,
        turn: usize,
        sample: Option<u32>,
    },
}

/// A judgment item and sample: question id, model (or model_1), model_2 (empty for grades),
/// turn, sample.
pub(super) type ItemSample = (String, String, String, u32, Option<u32>);

/// What the judgment file holds for an item (its last record).
#[derive(Clone, Copy)]
pub(super) struct Recorded {
    /// It has a verdict.
    pub(super) valid: bool,
    /// Digest of the inputs it was made on (`None` in files shinpan did not write).
    pub(super) digest: Option<InputDigest>,
}

/// A judgment to make: question, model (model_1), model_2 (games), turn (1-based), sample.
pub(super) type Planned = (usize, usize, Option<usize>, usize, Option<u32>);

/// Decides which judgments become possible when an answer arrives.
pub(super) struct Scheduler {
    pub(super) mode: Mode,
    pub(super) baseline: Option<usize>,
    pub(super) questions: Arc<Vec<Question>>,
    pub(super) names: Vec<String>,
    pub(super) recorded: HashMap<ItemSample, Recorded>,
    /// Judgments per item (`--judge-samples`); 1 writes no sample index.
    pub(super) samples: u32,
    pub(super) reused: usize,
    /// Judgments made again because their inputs changed.
    pub(super) stale: usize,
    pub(super) queued: HashSet<(usize, usize, usize, usize)>,
}

impl Scheduler {
    /// The scheduler of a run with `setup`, starting from the judgments `recorded`.
    pub(super) fn new(
        opts: &crate::config::RunOptions,
        setup: &super::setup::Setup,
        recorded: HashMap<ItemSample, Recorded>,
    ) -> Self {
        Scheduler {
            mode: opts.mode,
            baseline: opts
                .baseline
                .as_ref()
                .and_then(|b| setup.candidates.iter().position(|c| &c.name == b)),
            questions: setup.questions.clone(),
            names: setup.candidates.iter().map(|c| c.name.clone()).collect(),
            recorded,
            samples: opts.judge_samples,
            reused: 0,
            stale: 0,
            queued: HashSet::new(),
        }
    }

    /// The pairs (model_1, model_2) a model plays on a question. With a baseline, model_1 is
    /// the candidate and model_2 the baseline (FastChat's convention); otherwise model_1 is
    /// the one listed first.
    fn partners(&self, m: usize) -> Vec<(usize, usize)> {
        let n = self.names.len();
        match (self.mode, self.baseline) {
            (Mode::Single | Mode::Rubric, _) => Vec::new(),
            (Mode::PairwiseBaseline, Some(b)) if m == b => {
                (0..n).filter(|&o| o != b).map(|o| (o, b)).collect()
            }
            (Mode::PairwiseBaseline, Some(b)) => vec![(m, b)],
            _ => (0..n)
                .filter(|&o| o != m)
                .map(|o| (m.min(o), m.max(o)))
                .collect(),
        }
    }

    pub(super) fn ready(&mut self, answers: &Answers, m: usize, q: usize) -> Vec<Item> {
        let questions = self.questions.clone();
        let question = &questions[q];
        let qid = question.question_id.to_string();
        let turns = question.turns.len();
        let mut out = Vec::new();
        let samples = self.sample_ids();
        if self.mode.is_graded() {
            let rubric = self.mode == Mode::Rubric;
            let answer = answers[m][q].as_deref().expect("ready once answered");
            for turn in 1..=turns {
                let digest = input_digest(question, &[answer], turn);
                for &sample in &samples {
                    let key = (
                        qid.clone(),
                        self.names[m].clone(),
                        String::new(),
                        turn as u32,
                        sample,
                    );
                    let recorded = self.recorded.get(&key).copied();
                    if !self.reuse(recorded, digest) {
                        out.push(Item::Single {
                            q,
                            m,
                            turn,
                            sample,
                            rubric,
                        });
                    }
                }
            }
            return out;
        }
        for (m1, m2) in self.partners(m) {
            let (Some(a1), Some(a2)) = (answers[m1][q].as_deref(), answers[m2][q].as_deref())
            else {
                continue;
            };
            for turn in 1..=turns {
                if !self.queued.insert((q, m1, m2, turn)) {
                    continue;
                }
                let digest = input_digest(question, &[a1, a2], turn);
                for &sample in &samples {
                    let key = (
                        qid.clone(),
                        self.names[m1].clone(),
                        self.names[m2].clone(),
                        turn as u32,
                        sample,
                    );
                    let recorded = self.recorded.get(&key).copied();
                    if !self.reuse(recorded, digest) {
                        out.push(Item::Pair {
                            q,
                            m1,
                            m2,
                            turn,
                            sample,
                        });
                    }
                }
            }
        }
        out
    }

    /// Whether the recorded judgment of an item stands for one on inputs with digest `now`:
    /// it has a verdict and was made on the same inputs (a record without a digest, from a
    /// file shinpan did not write, cannot be checked and stands). Counts what is reused, and
    /// verdicts on other inputs, which are made again.
    fn reuse(&mut self, recorded: Option<Recorded>, now: InputDigest) -> bool {
        let Some(r) = recorded.filter(|r| r.valid) else {
            return false;
        };
        if r.digest.is_none_or(|d| d == now) {
            self.reused += 1;
            true
        } else {
            self.stale += 1;
            false
        }
    }

    /// The sample index of each repeated judgment: `None` once, or `Some(0..K)`.
    fn sample_ids(&self) -> Vec<Option<u32>> {
        if self.samples <= 1 {
            vec![None]
        } else {
            (0..self.samples).map(Some).collect()
        }
    }

    /// Judgments this run will make if every missing answer arrives: every item and sample
    /// without a record that stands for it (for progress).
    pub(super) fn planned(&self, answers: &Answers) -> usize {
        self.planned_items(answers).len()
    }

    /// The judgments [`Scheduler::planned`] counts: question, model (model_1), model_2,
    /// turn (1-based) and sample of each.
    pub(super) fn planned_items(&self, answers: &Answers) -> Vec<Planned> {
        let samples = self.sample_ids();
        let mut out = Vec::new();
        for (q, question) in self.questions.iter().enumerate() {
            let qid = question.question_id.to_string();
            for m in 0..self.names.len() {
                let pairs: Vec<(usize, Option<usize>)> = if self.mode.is_graded() {
                    vec![(m, None)]
                } else {
                    self.partners(m)
                        .into_iter()
                        .filter(|(m1, _)| *m1 == m)
                        .map(|(m1, m2)| (m1, Some(m2)))
                        .collect()
                };
                for (m1, m2) in pairs {
                    let shown: Option<Vec<&crate::records::AnswerRecord>> = [Some(m1), m2]
                        .into_iter()
                        .flatten()
                        .map(|i| answers[i][q].as_deref())
                        .collect();
                    for turn in 1..=question.turns.len() {
                        let digest = shown.as_ref().map(|s| input_digest(question, s, turn));
                        for &sample in &samples {
                            let key = (
                                qid.clone(),
                                self.names[m1].clone(),
                                m2.map(|i| self.names[i].clone()).unwrap_or_default(),
                                turn as u32,
                                sample,
                            );
                            let stands = digest.is_some_and(|d| {
                                self.recorded
                                    .get(&key)
                                    .is_some_and(|r| r.valid && r.digest.is_none_or(|x| x == d))
                            });
                            if !stands {
                                out.push((q, m1, m2, turn, sample));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Judgments that could not be made because an answer is missing.
    pub(super) fn blocked(&self, answers: &Answers) -> usize {
        let mut n = 0;
        for (q, question) in self.questions.iter().enumerate() {
            let turns = question.turns.len();
            for m in 0..self.names.len() {
                if self.mode.is_graded() {
                    if answers[m][q].is_none() {
                        n += turns * self.samples.max(1) as usize;
                    }
                    continue;
                }
                for (m1, m2) in self.partners(m) {
                    if m1 == m && (answers[m1][q].is_none() || answers[m2][q].is_none()) {
                        n += turns * self.samples.max(1) as usize;
                    }
                }
            }
        }
        n
    }
}
