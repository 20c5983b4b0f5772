//! The parts of judgment records that aggregation reads. Prompts and judge replies are
//! skipped while parsing, so a report over a million judgments holds only what it counts.

use serde::{Deserialize, Deserializer};

use super::text::{TextStats, stats_of_text};
use crate::bench::QuestionId;
use crate::judge::Winner;

/// The judge model of a record: FastChat's `judge: [model, prompt]` or ja-vicuna-qa's
/// `judge_model: "model"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JudgeName(pub String);

impl JudgeName {
    /// The judge model's name.
    pub fn model(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for JudgeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = crate::judge::JudgeId::deserialize(d)?;
        Ok(JudgeName(id.model().to_string()))
    }
}

fn default_turn() -> u32 {
    1
}

/// One single-mode grade.
#[derive(Debug, Clone, Deserialize)]
pub struct SingleGrade {
    /// The question.
    pub question_id: QuestionId,
    /// The model graded.
    pub model: String,
    /// The judge.
    #[serde(default, alias = "judge_model")]
    pub judge: JudgeName,
    /// The rating; `null` or `-1` when there is none.
    #[serde(default)]
    pub score: Option<f64>,
    /// The turn (1-based).
    #[serde(default = "default_turn")]
    pub turn: u32,
    /// The question's category, when recorded.
    #[serde(default)]
    pub category: Option<String>,
    /// Why there is no score.
    #[serde(default)]
    pub error: Option<String>,
    /// Index of a repeated judgment (`--judge-samples`).
    #[serde(default)]
    pub sample: Option<u32>,
    /// Grades per rubric aspect (rubric mode).
    #[serde(default)]
    pub aspects: Option<std::collections::BTreeMap<String, f64>>,
    /// Digest of the judged inputs (shinpan's records only).
    #[serde(default, deserialize_with = "digest64")]
    pub input_digest: Option<u64>,
}

impl SingleGrade {
    /// The usable score, or `None` for an error row (null, -1, or an error recorded).
    pub fn valid_score(&self) -> Option<f64> {
        match self.score {
            Some(s) if self.error.is_none() && s != -1.0 => Some(s),
            _ => None,
        }
    }
}

/// Indexes of rows made stale by a later row of the same item and sample: shinpan records
/// carry a digest of what was judged, and when an item is judged again (its answer changed,
/// or a failure was retried) the last record is the one that counts. Rows without a digest
/// (upstream files, where a repeated key is a second full run) are never stale. Exact keys
/// are kept only for items that occur more than once, found by a first pass over key hashes,
/// so memory stays near 16 bytes a record.
fn stale<'a, T, K: std::hash::Hash + Eq>(
    rows: &[&'a T],
    key: impl Fn(&'a T) -> K,
    digest: impl Fn(&T) -> Option<u64>,
) -> std::collections::HashSet<usize> {
    use std::collections::{HashMap, HashSet};
    use std::hash::{BuildHasher, RandomState};
    let hasher = RandomState::new();
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for &r in rows.iter().filter(|r| digest(r).is_some()) {
        *seen.entry(hasher.hash_one(key(r))).or_default() += 1;
    }
    seen.retain(|_, n| *n > 1);
    let mut out = HashSet::new();
    if seen.is_empty() {
        return out;
    }
    let mut last: HashMap<K, usize> = HashMap::new();
    for (i, &r) in rows.iter().enumerate() {
        if digest(r).is_some()
            && seen.contains_key(&hasher.hash_one(key(r)))
            && let Some(prev) = last.insert(key(r), i)
        {
            out.insert(prev);
        }
    }
    out
}

/// The rows that are not [`stale`].
pub fn without_stale<'a, T, K: std::hash::Hash + Eq>(
    rows: &[&'a T],
    key: impl Fn(&'a T) -> K,
    digest: impl Fn(&T) -> Option<u64>,
) -> Vec<&'a T> {
    let stale = stale(rows, key, digest);
    rows.iter()
        .enumerate()
        .filter(|(i, _)| !stale.contains(i))
        .map(|(_, r)| *r)
        .collect()
}

/// Indexes of error rows that a later row of the same item superseded: a failure shinpan
/// recorded (with its reason) and a later run retried successfully. Only rows that carry
/// shinpan's error reason qualify, so upstream files (where a duplicate key is a second full
/// run) are counted exactly as their own scripts count them. Memory is proportional to the
/// number of such error rows, not to the file.
pub fn superseded<'a, T, K: std::hash::Hash + Eq>(
    rows: &[&'a T],
    key: impl Fn(&'a T) -> K,
    retried_error: impl Fn(&'a T) -> bool,
    valid: impl Fn(&'a T) -> bool,
) -> std::collections::HashSet<usize> {
    let mut errors: std::collections::HashMap<K, Vec<usize>> = std::collections::HashMap::new();
    for (i, &r) in rows.iter().enumerate() {
        if retried_error(r) {
            errors.entry(key(r)).or_default().push(i);
        }
    }
    let mut out = std::collections::HashSet::new();
    if errors.is_empty() {
        return out;
    }
    for (i, &r) in rows.iter().enumerate() {
        if valid(r)
            && let Some(idx) = errors.get(&key(r))
        {
            out.extend(idx.iter().copied().filter(|&e| e < i));
        }
    }
    out
}

/// One pairwise game, both orders.
#[derive(Debug, Clone, Deserialize)]
pub struct PairGame {
    /// The question.
    pub question_id: QuestionId,
    /// Shown first in game 1.
    pub model_1: String,
    /// Shown first in game 2.
    pub model_2: String,
    /// Winner with model_1 shown first.
    pub g1_winner: Winner,
    /// Winner with model_2 shown first.
    pub g2_winner: Winner,
    /// The judge.
    #[serde(default, alias = "judge_model")]
    pub judge: JudgeName,
    /// The turn (1-based).
    #[serde(default = "default_turn")]
    pub turn: u32,
    /// The question's category, when recorded.
    #[serde(default)]
    pub category: Option<String>,
    /// Length and language of model_1's answer, when the record embeds it (ja-vicuna-qa).
    #[serde(default, deserialize_with = "stats_of_text")]
    pub answer_1: Option<TextStats>,
    /// Length and language of model_2's answer, when embedded.
    #[serde(default, deserialize_with = "stats_of_text")]
    pub answer_2: Option<TextStats>,
    /// Language of the question, when embedded.
    #[serde(default, deserialize_with = "stats_of_text")]
    pub question: Option<TextStats>,
    /// Index of a repeated judgment (`--judge-samples`).
    #[serde(default)]
    pub sample: Option<u32>,
    /// Present when shinpan recorded why game 1 has no verdict (the text is not kept).
    #[serde(default)]
    pub g1_error: Option<serde::de::IgnoredAny>,
    /// Present when shinpan recorded why game 2 has no verdict.
    #[serde(default)]
    pub g2_error: Option<serde::de::IgnoredAny>,
    /// Digest of the judged inputs (shinpan's records only).
    #[serde(default, deserialize_with = "digest64")]
    pub input_digest: Option<u64>,
}

/// Reads shinpan's 16-hex-digit input digest as a number (8 bytes a record instead of a
/// string); anything else reads as absent.
fn digest64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref()
        .and_then(|v| v.as_str())
        .and_then(|s| u64::from_str_radix(s, 16).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_digested_record_of_an_item_counts_and_undigested_repeats_all_count() {
        // (item, digest, label)
        let rows = [
            ("q1", None, "upstream run 1"),
            ("q1", None, "upstream run 2"),
            ("q2", Some(1), "stale"),
            ("q3", Some(7), "only"),
            ("q2", Some(2), "current"),
        ];
        let refs: Vec<&(&str, Option<u64>, &str)> = rows.iter().collect();
        let kept: Vec<&str> = without_stale(&refs, |r| r.0, |r| r.1)
            .into_iter()
            .map(|r| r.2)
            .collect();
        assert_eq!(
            kept,
            ["upstream run 1", "upstream run 2", "only", "current"]
        );
    }
}
