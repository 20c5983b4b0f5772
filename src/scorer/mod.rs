//! What grades an item: a value a run holds a list of. An LLM judge (with its prompt set,
//! endpoint, limits and cache), or llm-jp-eval's rules, which need no judge (`--tasks`:
//! exact match, char_f1, set F1, correlations, BLEU against each sample's gold), asked in the
//! same one place ([`Scorer::single`], [`Scorer::pair`]), with its own judgment file,
//! journal and coverage like any judge. [`metrics`] holds those metrics, as llm-jp-eval
//! computes them.

pub mod bleu;
pub mod mecab;
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
            // A task run's questions are its task samples, and only they (setup).
            Scorer::Rules => crate::tasks::grade(
                q,
                q.task.as_ref().expect("a task run asks only task samples"),
                answer,
            ),
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
