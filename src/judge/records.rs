//! Judgment records in FastChat's format (shinpan's additions are extra fields), read
//! leniently so that FastChat's and ja-vicuna-qa's published files load too.

use serde::{Deserialize, Deserializer, Serialize};

use crate::bench::{QuestionId, Usage};

/// Which judge produced a judgment: FastChat writes `[judge_model, prompt_name]`; ja-vicuna-qa
/// writes `judge_model` and `judge_prompt` as separate fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JudgeId(pub Vec<String>);

impl JudgeId {
    /// The judge model's name.
    pub fn model(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or("")
    }
}

impl<'de> Deserialize<'de> for JudgeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            One(String),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::List(v) => JudgeId(v),
            Raw::One(s) => JudgeId(vec![s]),
        })
    }
}

/// The winner of one order of a pairwise game, already mapped back to model identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// `model_1` won.
    #[serde(rename = "model_1")]
    Model1,
    /// `model_2` won.
    #[serde(rename = "model_2")]
    Model2,
    /// Neither won.
    Tie,
    /// No verdict could be obtained (see the record's error fields).
    Error,
}

fn default_turn() -> u32 {
    1
}

/// A 1-10 grade of one model's answer to one turn (`<judge>_single.jsonl`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SingleJudgment {
    /// The question graded.
    pub question_id: QuestionId,
    /// The model graded.
    pub model: String,
    /// `[judge_model, prompt_name]`.
    #[serde(default, alias = "judge_model")]
    pub judge: JudgeId,
    /// The rendered prompt sent to the judge.
    #[serde(default)]
    pub user_prompt: String,
    /// The judge's reply.
    #[serde(default)]
    pub judgment: String,
    /// The rating; `null` (or FastChat's `-1`) when no verdict could be read.
    #[serde(default)]
    pub score: Option<f64>,
    /// The turn graded (1-based).
    #[serde(default = "default_turn")]
    pub turn: u32,
    /// Unix time of the judgment.
    #[serde(default)]
    pub tstamp: f64,
    /// The question's category (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Why there is no score (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which of `--judge-samples` repeated judgments this is (absent when judged once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u32>,
    /// Grades per rubric aspect (rubric mode); `score` is their weighted mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspects: Option<std::collections::BTreeMap<String, f64>>,
    /// The judge's replies when asked again for a readable verdict (shinpan extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasks: Vec<String>,
    /// Judge tokens spent (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Digest of what was judged: the question and reference turns shown and every answer
    /// turn shown (shinpan extension). A judgment is reused only while it matches, so a
    /// changed answer invalidates exactly the judgments that showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_digest: Option<String>,
}

impl SingleJudgment {
    /// The usable score, or `None` for an error row (null, -1, or an error recorded).
    pub fn valid_score(&self) -> Option<f64> {
        match self.score {
            Some(s) if self.error.is_none() && s != -1.0 => Some(s),
            _ => None,
        }
    }
}

/// Both orders of one pairwise game (`<judge>_pair.jsonl`). Game 1 shows `model_1` as
/// assistant A; game 2 shows `model_2` as A.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairJudgment {
    /// The question.
    pub question_id: QuestionId,
    /// The first model of the pair.
    pub model_1: String,
    /// The second model of the pair.
    pub model_2: String,
    /// Winner of game 1 (model_1 shown first).
    pub g1_winner: Winner,
    /// Winner of game 2 (model_2 shown first).
    pub g2_winner: Winner,
    /// `[judge_model, prompt_name]`.
    #[serde(default, alias = "judge_model")]
    pub judge: JudgeId,
    /// Prompt of game 1.
    #[serde(default)]
    pub g1_user_prompt: String,
    /// Judge's reply in game 1.
    #[serde(default)]
    pub g1_judgment: String,
    /// Prompt of game 2.
    #[serde(default)]
    pub g2_user_prompt: String,
    /// Judge's reply in game 2.
    #[serde(default)]
    pub g2_judgment: String,
    /// The turn compared (1-based).
    #[serde(default = "default_turn")]
    pub turn: u32,
    /// Unix time of the judgment.
    #[serde(default)]
    pub tstamp: f64,
    /// The question's category (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Which of `--judge-samples` repeated judgments this is (absent when judged once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u32>,
    /// Why game 1 has no verdict (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g1_error: Option<String>,
    /// Why game 2 has no verdict (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g2_error: Option<String>,
    /// Judge tokens spent on both games (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Digest of what was judged: the question and reference turns shown and every answer
    /// turn shown (shinpan extension). A judgment is reused only while it matches, so a
    /// changed answer invalidates exactly the judgments that showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_digest: Option<String>,
}
