//! `errors.jsonl`: answers that could not be generated, with the reason (judgments without a
//! verdict are in the judgment files, with theirs). At the end of a run the file is rewritten
//! to list only what is still missing, so it never disagrees with the answer files.

use serde::{Deserialize, Serialize};

use crate::types::QuestionId;

/// One answer that could not be generated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorRecord {
    /// The stage that failed (`answer`).
    pub stage: String,
    /// The model asked.
    pub model: String,
    /// The question, spelt as the question file spells it.
    pub question_id: QuestionId,
    /// The turn that failed (1-based).
    pub turn: usize,
    /// Why.
    pub error: String,
    /// Unix time of the failure.
    pub tstamp: f64,
}
