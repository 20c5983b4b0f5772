//! What grades an item: a value a run holds a list of. Today every scorer is an LLM judge
//! (with its prompt set, endpoint, limits and cache); a rule-based metric that needs no
//! judge (exact match, character F1 against references) is another variant here, asked in
//! the same one place ([`Scorer::single`], [`Scorer::pair`]), with its own judgment file,
//! journal, coverage and cost like any judge. [`metrics`] holds those metrics, as
//! llm-jp-eval computes them.

pub mod metrics;

use crate::judge::Judge;
use crate::records::{AnswerRecord, PairJudgment, Question, SingleJudgment};

/// One scorer of a run.
#[derive(Clone)]
pub enum Scorer {
    /// An LLM judge.
    Judge(Judge),
    /// llm-jp-eval's rules: each task sample's metrics, computed here (`--tasks`).
    Rules,
}

impl Scorer {
    /// Its name: what its judgment file, journal and records are named by.
    pub fn name(&self) -> &str {
        match self {
            Scorer::Judge(j) => &j.name,
            Scorer::Rules => crate::tasks::SCORER,
        }
    }

    /// The judge, when the scorer is one (what needs an endpoint: identities, estimates).
    pub fn judge(&self) -> Option<&Judge> {
        match self {
            Scorer::Judge(j) => Some(j),
            Scorer::Rules => None,
        }
    }

    /// Grades one model's answer to one turn (1-based); `rubric` on the rubric's aspects.
    pub async fn single(
        &self,
        q: &Question,
        answer: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
        rubric: bool,
    ) -> SingleJudgment {
        match self {
            Scorer::Judge(j) if rubric => j.rubric(q, answer, turn, sample).await,
            Scorer::Judge(j) => j.single(q, answer, turn, sample).await,
            Scorer::Rules => match &q.task {
                Some(t) => crate::tasks::grade(q, t, answer),
                None => {
                    let mut j = crate::tasks::grade(
                        q,
                        &crate::tasks::TaskRef {
                            name: q.category.clone(),
                            metrics: Vec::new(),
                            input: String::new(),
                            output_length: 0,
                            few_shots: 0,
                            answer_extract_pattern: None,
                        },
                        answer,
                    );
                    j.score = None;
                    j.error = Some("not a task sample: rules score only --tasks".into());
                    j
                }
            },
        }
    }

    /// Plays one game of two answers, in both orders.
    pub async fn pair(
        &self,
        q: &Question,
        a1: &AnswerRecord,
        a2: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
    ) -> PairJudgment {
        match self {
            Scorer::Judge(j) => j.pair(q, a1, a2, turn, sample).await,
            Scorer::Rules => {
                unreachable!("task runs are single mode (checked when the options are read)")
            }
        }
    }
}
