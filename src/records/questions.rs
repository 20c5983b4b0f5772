//! Question files (FastChat `question.jsonl`, and the dialects of its Japanese forks) and
//! reference answers (FastChat's answer format, e.g. `reference_answer/gpt-4.jsonl`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::AnswerRecord;
use crate::store::read_jsonl;
use crate::types::QuestionId;

/// One benchmark question (FastChat `question.jsonl` record).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Question {
    /// Unique id within the file.
    pub question_id: QuestionId,
    /// Category; selects the sampling temperature and whether judging uses a reference.
    #[serde(default = "default_category")]
    pub category: String,
    /// The user turns, in order (one for Vicuna QA, two for MT-bench).
    pub turns: Vec<String>,
    /// Reference answers, one per turn, when the question file carries them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Vec<String>>,
    /// This question's own grading criteria (ELYZA-tasks-100's `eval_aspect`): in single
    /// mode its first turn is graded 1-5 by them, the reference shown as an example.
    #[serde(
        default,
        alias = "eval_aspect",
        skip_serializing_if = "Option::is_none"
    )]
    pub criteria: Option<String>,
    /// The official set and version it belongs to (`--bench`: `NAME@VARIANT VERSION`;
    /// shinpan extension), so results of different versions are never mixed silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// The llm-jp-eval task sample this question is (`--tasks`; shinpan extension): its
    /// only turn is the task's prompt, its reference the gold, and it is scored by rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::tasks::TaskRef>,
}

fn default_category() -> String {
    "general".to_string()
}

/// Categories judged against a reference answer (FastChat's `NEED_REF_CATS`).
pub const REFERENCE_CATEGORIES: &[&str] = &["math", "reasoning", "coding", "arena-hard-200"];

impl Question {
    /// Whether this question is judged with a reference answer.
    pub fn needs_reference(&self) -> bool {
        REFERENCE_CATEGORIES.contains(&self.category.as_str())
    }

    /// The reference answers the judge is shown: only for categories judged against one, and
    /// only when the question has them.
    pub fn judged_reference(&self) -> Option<&[String]> {
        if !self.needs_reference() {
            return None;
        }
        self.reference.as_deref().filter(|r| !r.is_empty())
    }
}

/// Errors in benchmark input files; each names the file and, where known, the line.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: crate::store::StoreError,
    },
    #[error("{path}:{line}: question {id} appears twice (first on line {first})")]
    DuplicateId {
        path: PathBuf,
        line: usize,
        first: usize,
        id: QuestionId,
    },
    #[error("{path}:{line}: question {id} has no turns")]
    NoTurns {
        path: PathBuf,
        line: usize,
        id: QuestionId,
    },
    #[error(
        "{path}:{line}: question {id} has {turns} turns; judging supports one- and two-turn questions"
    )]
    TooManyTurns {
        path: PathBuf,
        line: usize,
        id: QuestionId,
        turns: usize,
    },
    #[error("{path}: no questions in the file")]
    Empty { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Csv {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Tasks in ELYZA-tasks-100's CSV form: a header with `input` (the task), and `output` (a
/// reference answer) and `eval_aspect` (its grading criteria) when present. Task N (from 1,
/// in file order) is question N: one turn, its output as the reference, its criteria kept.
pub fn tasks_csv(path: &Path) -> Result<Vec<(usize, Question)>, BenchError> {
    let err = |line: usize, message: String| BenchError::Csv {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let input = col("input").ok_or_else(|| {
        err(
            1,
            "no `input` column (ELYZA-tasks-100's format: input,output,eval_aspect)".into(),
        )
    })?;
    let (output, aspect) = (col("output"), col("eval_aspect"));
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = row
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 2, |p| p.line() as usize);
        let row = row.map_err(|e| err(line, e.to_string()))?;
        let cell = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty())
        };
        out.push((
            line,
            Question {
                question_id: QuestionId::number(i as i64 + 1),
                category: "general".into(),
                turns: vec![cell(Some(input)).unwrap_or_default()],
                reference: cell(output).map(|o| vec![o]),
                criteria: cell(aspect),
                bench: None,
                task: None,
            },
        ));
    }
    Ok(out)
}

/// Reads a FastChat question file, rejecting duplicate ids and questions without turns; a
/// `.csv` file is read as ELYZA-tasks-100's tasks (see [`tasks_csv`]).
pub fn load_questions(path: &Path) -> Result<Vec<Question>, BenchError> {
    let rows: Vec<(usize, Question)> = if path.extension().is_some_and(|e| e == "csv") {
        tasks_csv(path)?
    } else {
        read_jsonl(path).map_err(|source| BenchError::Read {
            path: path.to_path_buf(),
            source,
        })?
    };
    let mut seen: HashMap<QuestionId, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (line, q) in rows {
        if let Some(&first) = seen.get(&q.question_id) {
            return Err(BenchError::DuplicateId {
                path: path.to_path_buf(),
                line,
                first,
                id: q.question_id,
            });
        }
        if q.turns.is_empty() || q.turns.iter().all(|t| t.trim().is_empty()) {
            return Err(BenchError::NoTurns {
                path: path.to_path_buf(),
                line,
                id: q.question_id,
            });
        }
        if q.turns.len() > 2 {
            return Err(BenchError::TooManyTurns {
                path: path.to_path_buf(),
                line,
                turns: q.turns.len(),
                id: q.question_id,
            });
        }
        seen.insert(q.question_id.clone(), line);
        out.push(q);
    }
    if out.is_empty() {
        return Err(BenchError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// Reads reference answers (FastChat answer format, e.g. `reference_answer/gpt-4.jsonl`) and
/// attaches them to the questions they answer. A reference already inside the question file
/// wins over one from a separate file. Returns how many questions received a reference.
pub fn attach_references(questions: &mut [Question], path: &Path) -> Result<usize, BenchError> {
    let rows: Vec<(usize, AnswerRecord)> = read_jsonl(path).map_err(|source| BenchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let by_id: HashMap<QuestionId, Vec<String>> = rows
        .into_iter()
        .filter_map(|(_, a)| {
            let turns = a.choices.into_iter().next()?.turns;
            Some((a.question_id, turns))
        })
        .collect();
    let mut attached = 0;
    for q in questions.iter_mut() {
        if q.reference.is_none()
            && let Some(turns) = by_id.get(&q.question_id)
        {
            q.reference = Some(turns.clone());
            attached += 1;
        }
    }
    Ok(attached)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_int_and_string_ids_alike() {
        let f = file(
            "{\"question_id\": 81, \"category\": \"writing\", \"turns\": [\"a\", \"b\"]}\n\
             {\"question_id\": \"82\", \"category\": \"math\", \"turns\": [\"c\"], \"reference\": [\"4\"]}\n",
        );
        let qs = load_questions(f.path()).unwrap();
        assert_eq!(qs[0].question_id, QuestionId::number(81));
        assert_eq!(qs[1].question_id, QuestionId::number(82));
        assert!(qs[1].needs_reference() && !qs[0].needs_reference());
        assert_eq!(serde_json::to_string(&qs[0].question_id).unwrap(), "81");
        assert_eq!(serde_json::to_string(&qs[1].question_id).unwrap(), "\"82\"");
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        let f = file(
            "{\"question_id\": 1, \"turns\": [\"a\"]}\n\n{\"question_id\": \"1\", \"turns\": [\"b\"]}\n",
        );
        let err = load_questions(f.path()).unwrap_err().to_string();
        assert!(
            err.contains(":3: question 1 appears twice (first on line 1)"),
            "{err}"
        );
    }

    #[test]
    fn references_attach_by_id() {
        let mut qs = vec![Question {
            question_id: QuestionId::number(7),
            category: "math".into(),
            turns: vec!["1+1?".into()],
            reference: None,
            criteria: None,
            bench: None,
            task: None,
        }];
        let f = file(
            "{\"question_id\": 7, \"answer_id\": \"x\", \"model_id\": \"gpt-4\", \"choices\": [{\"index\": 0, \"turns\": [\"2\"]}], \"tstamp\": 1.0}\n",
        );
        assert_eq!(attach_references(&mut qs, f.path()).unwrap(), 1);
        assert_eq!(qs[0].reference.as_deref(), Some(&["2".to_string()][..]));
    }
}
