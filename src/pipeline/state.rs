//! What a run holds between its stages: the answers by model and question, what the
//! judgment file already says of each item, and the judgments still to make.

use std::sync::Arc;

use crate::records::{AnswerRecord, InputDigest};
use crate::types::Winner;

/// Answers by model and question index (`None`: missing or incomplete).
pub(super) type Answers = Vec<Vec<Option<Arc<AnswerRecord>>>>;

/// What the judgment file holds for an item (its last record).
#[derive(Clone, Copy)]
pub(super) struct Recorded {
    /// It has a verdict.
    pub(super) valid: bool,
    /// Digest of the inputs it was made on (`None` in files shinpan did not write).
    pub(super) digest: Option<InputDigest>,
    /// A game's verdicts in its two orders (`None` for grades).
    pub(super) winners: Option<[Winner; 2]>,
    /// It was made on this run's benchmark set and version (or neither recorded one).
    pub(super) same_bench: bool,
}

/// A judgment still to make, by indexes into the run's scorers, questions and models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Planned {
    /// The scorer.
    pub(super) s: usize,
    /// The question.
    pub(super) q: usize,
    /// The model graded, or the first model of a game.
    pub(super) m1: usize,
    /// The second model of a game (`None` for grades).
    pub(super) m2: Option<usize>,
    /// The turn (1-based).
    pub(super) turn: usize,
    /// Which repeated judgment.
    pub(super) sample: Option<u32>,
}
