//! Answer lengths and languages for reports, from answer files (a run's `answers/`, FastChat's
//! `model_answer/`) and question files, kept as [`TextStats`] only.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::records::text::TextStats;
use crate::records::{AnswerRecord, Question};
use crate::store::{StoreError, read_jsonl};
use crate::types::QuestionId;

/// A text deserialised straight into its statistics.
#[derive(Debug, Clone, Copy)]
struct Measured(TextStats);

impl<'de> Deserialize<'de> for Measured {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: std::borrow::Cow<'de, str> = std::borrow::Cow::deserialize(d)?;
        Ok(Measured(TextStats::of(&s)))
    }
}

#[derive(Deserialize)]
struct MeasuredChoice {
    turns: Vec<Measured>,
    #[serde(default)]
    reasoning: Vec<Option<Measured>>,
}

#[derive(Deserialize)]
struct MeasuredAnswer {
    question_id: QuestionId,
    #[serde(alias = "model")]
    model_id: String,
    choices: Vec<MeasuredChoice>,
}

#[derive(Deserialize)]
struct MeasuredQuestion {
    question_id: QuestionId,
    #[serde(default)]
    category: Option<String>,
    turns: Vec<Measured>,
}

/// Statistics of answers by (model, question, turn), and the language and category of
/// questions (judgment records from upstream carry no category; the question file does).
#[derive(Debug, Default)]
pub struct AnswerIndex {
    /// By model, then question: each turn's statistics (looked up without allocating, as a
    /// report looks up both answers of every game).
    answers: HashMap<String, HashMap<String, Vec<Option<TextStats>>>>,
    /// Characters of a reasoning model's thinking, by (model, question, turn).
    reasoning: HashMap<(String, String, u32), usize>,
    questions: HashMap<String, Vec<Option<bool>>>,
    categories: HashMap<String, String>,
}

impl AnswerIndex {
    /// Adds every answer of a FastChat answer file.
    pub fn add_answers(&mut self, path: &Path) -> Result<(), StoreError> {
        for (_, a) in read_jsonl::<MeasuredAnswer>(path)? {
            if let Some(c) = a.choices.into_iter().next() {
                let qid = a.question_id.as_str();
                self.insert_answer(&a.model_id, qid, c.turns.into_iter().map(|t| t.0));
                let thought = c
                    .reasoning
                    .into_iter()
                    .map(|r| r.map(|m| m.0.chars as usize));
                self.insert_reasoning(&a.model_id, qid, thought);
            }
        }
        Ok(())
    }

    /// Adds the language of every question turn of a FastChat question file.
    pub fn add_questions(&mut self, path: &Path) -> Result<(), StoreError> {
        for (_, q) in read_jsonl::<MeasuredQuestion>(path)? {
            if let Some(c) = q.category {
                self.categories.insert(q.question_id.to_string(), c);
            }
            self.insert_question(q.question_id.as_str(), q.turns.into_iter().map(|t| t.0));
        }
        Ok(())
    }

    /// Adds an answer already in memory.
    pub fn add_answer(&mut self, a: &AnswerRecord) {
        let turns = a.turns().iter().map(|t| TextStats::of(t));
        self.insert_answer(&a.model_id, a.question_id.as_str(), turns);
        if let Some(c) = a.choices.first() {
            let thought = c
                .reasoning
                .iter()
                .map(|r| r.as_deref().map(|t| t.chars().count()));
            self.insert_reasoning(&a.model_id, a.question_id.as_str(), thought);
        }
    }

    fn insert_reasoning(
        &mut self,
        model: &str,
        qid: &str,
        turns: impl Iterator<Item = Option<usize>>,
    ) {
        for (i, chars) in turns.enumerate() {
            if let Some(n) = chars {
                self.reasoning
                    .insert((model.to_string(), qid.to_string(), i as u32 + 1), n);
            }
        }
    }

    /// Mean characters of a model's thinking per answer turn that has some, in
    /// (question, turn) order; `None` when it never thought aloud.
    pub fn reasoning_chars(&self, model: &str) -> Option<f64> {
        let mut xs: Vec<(&str, u32, usize)> = self
            .reasoning
            .iter()
            .filter(|((m, _, _), _)| m == model)
            .map(|((_, q, t), n)| (q.as_str(), *t, *n))
            .collect();
        xs.sort_unstable();
        let values: Vec<f64> = xs.into_iter().map(|(_, _, n)| n as f64).collect();
        super::mean(&values)
    }

    /// Adds a question already in memory.
    pub fn add_question(&mut self, q: &Question) {
        self.categories
            .insert(q.question_id.to_string(), q.category.clone());
        self.insert_question(
            q.question_id.as_str(),
            q.turns.iter().map(|t| TextStats::of(t)),
        );
    }

    fn insert_answer(&mut self, model: &str, qid: &str, turns: impl Iterator<Item = TextStats>) {
        let slots = self
            .answers
            .entry(model.to_string())
            .or_default()
            .entry(qid.to_string())
            .or_default();
        for (i, t) in turns.enumerate() {
            if slots.len() <= i {
                slots.resize(i + 1, None);
            }
            slots[i] = Some(t);
        }
    }

    fn insert_question(&mut self, qid: &str, turns: impl Iterator<Item = TextStats>) {
        let slots = self.questions.entry(qid.to_string()).or_default();
        for (i, t) in turns.enumerate() {
            if let Some(ja) = t.japanese {
                if slots.len() <= i {
                    slots.resize(i + 1, None);
                }
                slots[i] = Some(ja);
            }
        }
    }

    /// The statistics of a model's answer, if known.
    pub fn answer(&self, model: &str, qid: &str, turn: u32) -> Option<TextStats> {
        let turns = self.answers.get(model)?.get(qid)?;
        turns
            .get((turn as usize).checked_sub(1)?)
            .copied()
            .flatten()
    }

    /// Whether a question turn is in Japanese; `None` when the question is unknown.
    pub fn question_japanese(&self, qid: &str, turn: u32) -> Option<bool> {
        let turns = self.questions.get(qid)?;
        turns
            .get((turn as usize).checked_sub(1)?)
            .copied()
            .flatten()
    }

    /// The category of a question, when its question file was read.
    pub fn category(&self, qid: &str) -> Option<&str> {
        self.categories.get(qid).map(String::as_str)
    }

    /// Whether any answer is known.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

/// Whether an answer counts against the language check: it answers a Japanese question (or
/// one whose language is unknown) and is itself, by its script, not Japanese.
pub fn off_language(question_japanese: Option<bool>, answer: Option<TextStats>) -> Option<bool> {
    if question_japanese == Some(false) {
        return None;
    }
    answer.and_then(|a| a.japanese).map(|ja| !ja)
}
