//! Every file format shinpan reads and writes, each in one module with its reader and its
//! writer: questions and references ([`questions`]), answers ([`answers`]), single and rubric
//! judgments ([`single`]), pairwise judgments ([`pair`]), failed answers ([`errors`]), a run
//! directory's manifest ([`manifest`]) and its layout ([`layout`]). Which judgment records
//! count is decided in one place, [`current`]; what a judgment was made on, in [`digest`].
//! The formats are FastChat's (`llm_judge`), read leniently so that its Japanese forks'
//! files (ja-vicuna-qa, Japanese MT-bench) load too.

pub mod answers;
pub mod current;
pub mod digest;
pub mod errors;
pub mod history;
pub mod layout;
pub mod manifest;
pub mod name;
pub mod pair;
pub mod plan;
pub mod questions;
pub mod single;
pub mod spend;
pub mod text;

pub use answers::{AnswerRecord, Choice};
pub use current::{Current, Inputs, ItemKey, ItemSample, Judgment};
pub use digest::{InputDigest, input_digest};
pub use errors::ErrorRecord;
pub use history::{HistoryLine, SeriesKey, append_history, latest_per_run, read_history};
pub use layout::RunDir;
pub use manifest::{Evaluation, Expected, Manifest, RunState};
pub use name::Name;
pub use pair::{PairGame, PairJudgment};
pub use plan::{Game, GamePlan, game_order, sample_games};
pub use questions::{
    BenchError, Question, REFERENCE_CATEGORIES, attach_references, load_questions,
};
pub use single::{SingleGrade, SingleJudgment};

use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::store::StoreError;
use crate::types::JudgeId;

/// The judge model of a record, without the prompt name: FastChat's `judge: [model, prompt]`
/// or ja-vicuna-qa's `judge_model: "model"` (the lean readers keep only this).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JudgeName(pub Name);

impl JudgeName {
    /// The judge model's name.
    pub fn model(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for JudgeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = JudgeId::deserialize(d)?;
        Ok(JudgeName(Name::intern(id.model())))
    }
}

/// The verdicts of the repeated judgments (`--judge-samples`) a collapsed record stands for;
/// empty for a record judged once. Written as a list; boxed, so that a million records that
/// have none cost a pointer each.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples<T>(Option<Box<[T]>>);

impl<T> Default for Samples<T> {
    fn default() -> Self {
        Samples(None)
    }
}

impl<T> Samples<T> {
    /// The verdicts, in sample order.
    pub fn as_slice(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The verdicts, in sample order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }
}

impl<T> From<Vec<T>> for Samples<T> {
    fn from(v: Vec<T>) -> Self {
        Samples((!v.is_empty()).then(|| v.into_boxed_slice()))
    }
}

impl<T: serde::Serialize> serde::Serialize for Samples<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Samples<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<T>::deserialize(d)?.into())
    }
}

/// What a JSONL file holds, told by its first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Single-mode or rubric judgments.
    Single,
    /// Pairwise judgments.
    Pair,
    /// Model answers (or reference answers).
    Answers,
    /// Questions.
    Questions,
    /// Answers that could not be generated (`errors.jsonl`).
    Errors,
    /// Judge prompt templates (FastChat's `judge_prompts.jsonl`).
    JudgePrompts,
    /// Human votes in FastChat's `compute_agreement` format (`model_a`, `model_b`, `winner`).
    HumanVotes,
    /// Rakuda's pairwise judgments: one order per record (`model1_id` shown first,
    /// `model2_id`, `winner`).
    RakudaPair,
    /// AlpacaEval's annotations (`annotations.json`): a JSON array of one-order games with a
    /// continuous `preference`.
    AlpacaPair,
    /// Arena-Hard-Auto's judgments: a model's two games against the baseline (`games`).
    ArenaHardPair,
    /// Shaberi's judgements: one grade per line (`Question`, `ModelAnswer`, `score`).
    ShaberiSingle,
}

impl Kind {
    /// What the kind is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Single => "single-mode judgments",
            Kind::Pair => "pairwise judgments",
            Kind::Answers => "answers",
            Kind::Questions => "questions",
            Kind::Errors => "failed answers",
            Kind::JudgePrompts => "judge prompts",
            Kind::HumanVotes => "human votes",
            Kind::RakudaPair => "Rakuda pairwise judgments",
            Kind::AlpacaPair => "AlpacaEval annotations",
            Kind::ArenaHardPair => "Arena-Hard-Auto judgments",
            Kind::ShaberiSingle => "Shaberi judgements",
        }
    }
}

/// What a file holding one JSON array holds, from its first element: AlpacaEval's
/// annotations are the one such format read.
fn array_kind(path: &Path) -> Result<Kind, StoreError> {
    let rows = read_array::<serde_json::Value>(path)?;
    let first = rows.first().and_then(|v| v.as_object());
    let has = |k: &str| first.is_some_and(|o| o.contains_key(k));
    if [
        "instruction",
        "output_1",
        "generator_1",
        "output_2",
        "generator_2",
    ]
    .iter()
    .all(|k| has(k))
    {
        return Ok(Kind::AlpacaPair);
    }
    let keys: Vec<&str> = first
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    Err(StoreError::Parse {
        line: 1,
        message: format!(
            "a JSON array of records with fields {}; the arrays read are AlpacaEval's annotations (instruction, output_1, generator_1, output_2, generator_2, preference)",
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            }
        ),
    })
}

/// Reads a file holding one JSON array (one line or pretty-printed; a byte-order mark is
/// skipped).
pub fn read_array<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, StoreError> {
    let bytes = std::fs::read(path)?;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    serde_json::from_slice(bytes).map_err(|e| StoreError::Parse {
        line: e.line(),
        message: format!("not a JSON array of records: {e}"),
    })
}

/// Tells what a JSONL file holds from its first record (a UTF-8 byte-order mark is skipped;
/// an empty file is `None`). A first line that is not a JSON object, or an object of no
/// known kind, is an error naming the line, so no file is ever skipped unnoticed.
pub fn kind_of(path: &Path) -> Result<Option<Kind>, StoreError> {
    use std::io::BufRead;
    let f = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::new(f);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(None);
        }
        line_no += 1;
        let text = std::str::from_utf8(&buf).map_err(|_| StoreError::Parse {
            line: line_no,
            message: "not UTF-8 text".into(),
        })?;
        let text = if line_no == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        if text.trim().is_empty() {
            continue;
        }
        if text.trim_start().starts_with('[') {
            return array_kind(path).map(Some);
        }
        let complete = buf.last() == Some(&b'\n');
        let parsed =
            serde_json::from_str(text).or_else(|e| match crate::store::nan_as_null(text) {
                Some(fixed) => serde_json::from_str(&fixed),
                None => Err(e),
            });
        let v: serde_json::Value = match parsed {
            Ok(v) => v,
            // A torn first record of a file a killed run had just created.
            Err(_) if !complete => return Ok(None),
            Err(e) => {
                return Err(StoreError::Parse {
                    line: line_no,
                    message: format!("not a JSON record: {e}"),
                });
            }
        };
        let has = |k: &str| v.get(k).is_some();
        let kind = if has("games") && has("model") && (has("question_id") || has("uid")) {
            Kind::ArenaHardPair
        } else if has("ModelAnswer") && has("score") && has("Question") {
            Kind::ShaberiSingle
        } else if has("g1_winner") {
            Kind::Pair
        } else if has("score") && has("model") {
            Kind::Single
        } else if has("choices") && has("question_id") {
            Kind::Answers
        } else if has("turns") && has("question_id") {
            Kind::Questions
        } else if has("stage") && has("question_id") && has("error") {
            Kind::Errors
        } else if has("prompt_template") {
            Kind::JudgePrompts
        } else if has("model1_id") && has("model2_id") && has("winner") {
            Kind::RakudaPair
        } else if has("model_a") && has("model_b") && has("winner") {
            Kind::HumanVotes
        } else {
            let keys: Vec<&str> = v
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(StoreError::Parse {
                line: line_no,
                message: format!(
                    "not a judgment, answer or question record (fields: {}); expected FastChat's formats (g1_winner, or model and score, or question_id with choices or turns)",
                    if keys.is_empty() {
                        "none".to_string()
                    } else {
                        keys.join(", ")
                    }
                ),
            });
        };
        return Ok(Some(kind));
    }
}

/// A whole number written as an integer or as an integral float (`1` or `1.0`, as pandas
/// writes an integer column that had a missing value); `2.5` or a negative number is refused.
pub fn integral_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use serde::Deserialize;
    let n = serde_json::Number::deserialize(d)?;
    if let Some(v) = n.as_u64() {
        return u32::try_from(v).map_err(|_| serde::de::Error::custom(format!("{n} is too large")));
    }
    match n.as_f64() {
        Some(x) if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) => Ok(x as u32),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number, found {n}"
        ))),
    }
}
