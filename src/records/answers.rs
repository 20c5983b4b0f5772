//! FastChat's answer record (`model_answer/<model>.jsonl`, a run's `answers/<model>.jsonl`),
//! with shinpan's additions as extra fields. Reference answers use the same format.

use serde::{Deserialize, Serialize};

use crate::types::{QuestionId, Usage};

/// One sampled conversation: the assistant's reply to each turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    /// Sample index (FastChat keeps `num_choices` samples; shinpan writes one).
    #[serde(default)]
    pub index: u32,
    /// The assistant's replies, one per user turn.
    pub turns: Vec<String>,
    /// A reasoning model's thinking before each reply (shinpan extension; absent when it
    /// did not think): kept, and not shown to the judge unless configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<Option<String>>,
}

/// A candidate model's answer to one question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// The question answered, spelt as the question file spells it.
    pub question_id: QuestionId,
    /// Unique id of this answer.
    #[serde(default)]
    pub answer_id: String,
    /// The model's display name (the file name is derived from it).
    #[serde(alias = "model")]
    pub model_id: String,
    /// Sampled conversations; shinpan writes exactly one.
    pub choices: Vec<Choice>,
    /// Unix time the answer was completed.
    #[serde(default)]
    pub tstamp: f64,
    /// Tokens used to produce the whole conversation (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Why each turn stopped (`stop`, `length`, …) (shinpan extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finish_reasons: Vec<String>,
    /// The official set and version it belongs to (`--bench`: `NAME@VARIANT VERSION`;
    /// shinpan extension), so results of different versions are never mixed silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// What answered: the endpoint's URL and the weights it said it serves under the model's
    /// name (`url=…;weights=vllm root=/ckpt/7`; shinpan extension). A run whose endpoint now
    /// serves other weights regenerates the answer.
    /// Interned: every answer of a model names the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<super::Name>,
}

/// The weights an identity's text names, one per endpoint (`?` unknown, empty: none stated).
pub fn served_weights(text: &str) -> Vec<&str> {
    let mut w: Vec<&str> = text
        .split(" + ")
        .filter_map(|part| part.split_once(";weights=").map(|(_, w)| w))
        .collect();
    w.sort_unstable();
    w
}

impl AnswerRecord {
    /// The replies of the first sample, or none.
    pub fn turns(&self) -> &[String] {
        self.choices
            .first()
            .map(|c| c.turns.as_slice())
            .unwrap_or(&[])
    }
}
