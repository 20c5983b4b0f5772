//! Reading a labelled review export back (JSONL or CSV, as exported): each filled `label`
//! becomes a human grade (single, rubric) or a human vote (pairwise), which `shinpan
//! agreement` compares with the judge's verdicts. A label that cannot be read is an error
//! naming the file and line; an empty one is an item not reviewed.

use std::collections::BTreeMap;
use std::path::Path;

use super::ReviewRecord;
use crate::aggregate::agreement::HumanVote;
use crate::error::UsageError;
use crate::records::{JudgeName, SingleGrade};
use crate::store::read_jsonl;
use crate::types::{QuestionId, Scale};

/// The labels of a reviewed export.
#[derive(Debug, Default)]
pub struct Labels {
    /// Human grades, judge `human`.
    pub grades: Vec<SingleGrade>,
    /// Human votes, judge `human`.
    pub votes: Vec<HumanVote>,
}

/// What one labelled row says.
struct Row {
    line: usize,
    mode: String,
    judge: String,
    question_id: QuestionId,
    turn: u32,
    model: Option<String>,
    model_1: Option<String>,
    model_2: Option<String>,
    label: Option<serde_json::Value>,
    comment: Option<String>,
    /// The grade's scale, as exported (absent: 1-10).
    scale: Option<Scale>,
}

impl Row {
    /// Whether a reviewer filled anything in.
    fn reviewed(&self) -> bool {
        let label = match &self.label {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        label
            || self
                .comment
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty())
    }

    /// The item it is about, as [`item_key`] names a record's.
    fn key(&self) -> ItemKey {
        (
            self.mode.clone(),
            self.judge.clone(),
            self.question_id.to_string(),
            self.turn,
            self.model.clone(),
            self.model_1.clone(),
            self.model_2.clone(),
        )
    }
}

/// What names a reviewed item: mode, judge, question, turn, and the model or the pair.
type ItemKey = (
    String,
    String,
    String,
    u32,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn item_key(r: &ReviewRecord) -> ItemKey {
    (
        r.mode.clone(),
        r.judge.clone(),
        r.question_id.to_string(),
        r.turn,
        r.model.clone(),
        r.model_1.clone(),
        r.model_2.clone(),
    )
}

/// What a new export keeps of an earlier one at the same path.
#[derive(Debug, Default)]
pub struct CarriedOver {
    /// Items whose label or comment was carried into the new export.
    pub kept: usize,
}

/// Carries the labels and comments of the review file at `path` (an earlier export that
/// reviewers filled in) into `records`, the export about to replace it, so that nothing a
/// person wrote is lost. A file that holds a label or comment for an item the new export
/// lacks (another run, or `--only` leaving it out) is refused: nothing is written.
pub fn carry_over(path: &Path, records: &mut [ReviewRecord]) -> Result<CarriedOver, UsageError> {
    let rows = rows(path).map_err(|e| {
        UsageError(format!(
            "{}: exists and cannot be read as a review export, so it is not replaced (--out; {e})",
            path.display()
        ))
    })?;
    let filled: Vec<&Row> = rows.iter().filter(|r| r.reviewed()).collect();
    let mut index: BTreeMap<ItemKey, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        index.insert(item_key(r), i);
    }
    let lost: Vec<&&Row> = filled
        .iter()
        .filter(|r| !index.contains_key(&r.key()))
        .collect();
    if let Some(first) = lost.first() {
        return Err(UsageError(format!(
            "{}:{}: {} labelled or commented item(s) of this file are not in the new export (the first: question {} turn {}); it is not replaced: give another --out, or export what it holds",
            path.display(),
            first.line,
            lost.len(),
            first.question_id,
            first.turn
        )));
    }
    let mut out = CarriedOver::default();
    for r in filled {
        let rec = &mut records[index[&r.key()]];
        rec.label = r.label.clone();
        rec.comment = r.comment.clone();
        out.kept += 1;
    }
    Ok(out)
}

/// Reads labels from a JSONL export, or a CSV one (by the `.csv` extension).
pub fn read_labels(path: &Path) -> Result<Labels, UsageError> {
    let bad = |e: &dyn std::fmt::Display| UsageError(format!("{} (--labels): {e}", path.display()));
    let rows = rows(path).map_err(|e| bad(&e))?;
    let mut out = Labels::default();
    for r in rows {
        let label = match &r.label {
            None | Some(serde_json::Value::Null) => continue,
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => continue,
            Some(serde_json::Value::String(s)) => s.trim().to_string(),
            Some(v) => v.to_string(),
        };
        let at = |what: String| {
            UsageError(format!(
                "{}:{}: label {label:?} of question {} turn {}: {what} (--labels)",
                path.display(),
                r.line,
                r.question_id,
                r.turn
            ))
        };
        if r.mode == "pairwise" {
            let (Some(m1), Some(m2)) = (&r.model_1, &r.model_2) else {
                return Err(at("a pairwise item without model_1 and model_2".into()));
            };
            let winner = match label.as_str() {
                "model_1" => "model_a",
                "model_2" => "model_b",
                "tie" => "tie",
                l if l == m1 => "model_a",
                l if l == m2 => "model_b",
                _ => return Err(at(format!("expected model_1, model_2, tie, {m1} or {m2}"))),
            };
            out.votes.push(HumanVote {
                question_id: r.question_id,
                model_a: m1.clone(),
                model_b: m2.clone(),
                winner: winner.into(),
                judge: serde_json::Value::String("human".into()),
                turn: r.turn,
            });
        } else {
            let Some(model) = r.model else {
                return Err(at("a graded item without a model".into()));
            };
            let scale = r.scale.unwrap_or_default();
            let grade: f64 = label
                .parse()
                .ok()
                .filter(|g: &f64| scale.contains(*g))
                .ok_or_else(|| {
                    at(format!(
                        "expected a grade from {} to {}",
                        scale.min, scale.max
                    ))
                })?;
            out.grades.push(SingleGrade {
                question_id: r.question_id,
                model,
                judge: JudgeName("human".into()),
                score: Some(grade),
                stated_scale: Some(scale),
                turn: r.turn,
                category: None,
                bench: None,
                failed: false,
                sample: None,
                samples: Default::default(),
                // Rubric labels are compared with the rubric's overall grade.
                aspects: (r.mode == "rubric").then(BTreeMap::new),
                input_digest: None,
                task: None,
            });
        }
    }
    Ok(out)
}

/// The rows of a review export, JSONL or CSV (by the `.csv` extension).
fn rows(path: &Path) -> Result<Vec<Row>, String> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        return csv_rows(path);
    }
    Ok(read_jsonl::<ReviewRecord>(path)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(line, r)| Row {
            line,
            mode: r.mode,
            judge: r.judge,
            question_id: r.question_id,
            turn: r.turn,
            model: r.model,
            model_1: r.model_1,
            model_2: r.model_2,
            label: r.label,
            comment: r.comment,
            scale: r.scale,
        })
        .collect())
}

fn csv_rows(path: &Path) -> Result<Vec<Row>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let needed = ["mode", "question_id", "turn", "label"];
    for n in needed {
        if col(n).is_none() {
            return Err(format!(
                "line 1: no {n:?} column (export with --format csv)"
            ));
        }
    }
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("line {line}: {e}"))?;
        let get = |name: &str| {
            col(name)
                .and_then(|c| rec.get(c))
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        out.push(Row {
            line,
            mode: get("mode").unwrap_or_default(),
            judge: get("judge").unwrap_or_default(),
            question_id: QuestionId::text(get("question_id").unwrap_or_default()),
            turn: get("turn")
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("line {line}: turn is not a number"))?,
            model: get("model"),
            model_1: get("model_1"),
            model_2: get("model_2"),
            label: get("label").map(serde_json::Value::String),
            comment: get("comment"),
            scale: get("scale").and_then(|s| {
                let (a, b) = s.split_once('-')?;
                Some(Scale {
                    min: a.trim().parse().ok()?,
                    max: b.trim().parse().ok()?,
                })
            }),
        });
    }
    Ok(out)
}
