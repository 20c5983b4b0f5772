//! llm-jp-eval's evaluation files, as its preprocessing writes them: one JSON object per task
//! (`evaluation/{train,dev,test}/<task>.json`) with the task's instruction, output cap,
//! metrics and samples. v1 files (llm-jp-eval 1.x) may carry their own `few_shots`; 1.1 and
//! later take few-shots from the first samples of the same task's `train/` file, and v2 adds
//! `label_list`, `answer_extract_pattern`, `num_few_shots`, `answer_pattern_id`, `language`
//! and `custom_prompt_template`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scorer::metrics::Metric;

/// One input and its gold output.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Sample {
    /// What the model is given after the instruction.
    pub input: String,
    /// The gold answer.
    pub output: String,
}

/// The file as written: v1 and v2 fields (others are ignored, so a later version's additions
/// do not make a file unreadable).
#[derive(Debug, Deserialize)]
struct Raw {
    instruction: String,
    output_length: u32,
    metrics: Vec<String>,
    #[serde(default)]
    few_shots: Vec<Sample>,
    samples: Vec<Sample>,
    #[serde(default)]
    label_list: Vec<String>,
    #[serde(default)]
    answer_extract_pattern: Option<String>,
    #[serde(default)]
    num_few_shots: Option<u32>,
    #[serde(default)]
    answer_pattern_id: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    custom_prompt_template: Option<String>,
}

/// One task file, read and checked.
#[derive(Debug, Clone)]
pub struct TaskFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The task's name: the file's stem (`jcommonsenseqa`).
    pub name: String,
    /// The instruction shown before the few-shots.
    pub instruction: String,
    /// The token cap of an answer.
    pub output_length: u32,
    /// The metrics, by llm-jp-eval's names, each one shinpan computes.
    pub metrics: Vec<String>,
    /// Few-shots carried in the file itself (v1.0).
    pub few_shots: Vec<Sample>,
    /// The samples, in file order.
    pub samples: Vec<Sample>,
    /// The labels a classification task answers with (v2).
    pub label_list: Vec<String>,
    /// A regular expression whose groups are the answer in a reply (v2: the file's own, else
    /// the one its `answer_pattern_id` names).
    pub answer_extract_pattern: Option<String>,
    /// The task's own few-shot count (v2).
    pub num_few_shots: Option<u32>,
    /// The prompt template the task asks for (v2; `{instruction}`, `{few_shots_text}`,
    /// `{input}`).
    pub custom_prompt_template: Option<String>,
}

/// A task file that cannot be used, named with its file and field.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TaskError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

fn err(path: &Path, message: impl Into<String>) -> TaskError {
    TaskError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl TaskFile {
    /// Reads one task file: every required field present, every metric one shinpan computes
    /// faithfully, at least one sample.
    pub fn read(path: &Path) -> Result<TaskFile, TaskError> {
        let text = std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))?;
        let raw: Raw = serde_json::from_str(&text).map_err(|e| {
            err(
                path,
                format!("not an llm-jp-eval task file ({e}); it needs instruction, output_length, metrics and samples"),
            )
        })?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| err(path, "the file name is not UTF-8"))?
            .to_string();
        if raw.metrics.is_empty() {
            return Err(err(path, format!("task {name}: `metrics` is empty")));
        }
        // A metric shinpan refuses is a marked cell; an unknown one, or no metric it computes,
        // is an error.
        let mut parsed = Vec::new();
        let mut refused = Vec::new();
        for m in &raw.metrics {
            match Metric::parse(m) {
                Ok(x) => parsed.push(x),
                Err(e) if Metric::refused(m) => refused.push(e),
                Err(e) => return Err(err(path, format!("task {name}: `metrics`: {e}"))),
            }
        }
        if parsed.is_empty() {
            return Err(err(
                path,
                format!(
                    "task {name}: `metrics`: none can be computed: {}",
                    refused.join("; ")
                ),
            ));
        }
        if raw.samples.is_empty() {
            return Err(err(path, format!("task {name}: `samples` is empty")));
        }
        if let Some(m) = parsed.iter().find(|m| m.needs_gold())
            && let Some(i) = raw
                .samples
                .iter()
                .position(|s| crate::tasks::normalize::py_strip(&s.output).is_empty())
        {
            return Err(err(
                path,
                format!(
                    "task {name}: sample {i}: `output` is empty, and {} needs a reference",
                    m.name()
                ),
            ));
        }
        for m in &parsed {
            m.ready()
                .map_err(|e| err(path, format!("task {name}: `metrics`: {e}")))?;
        }
        if raw.output_length == 0 {
            return Err(err(path, format!("task {name}: `output_length` is 0")));
        }
        // The task's own pattern, else the one its answer_pattern_id names (v2).
        let pattern = match (&raw.answer_extract_pattern, &raw.answer_pattern_id) {
            (Some(p), _) => {
                super::pattern::AnswerPattern::new(p).map_err(|e| {
                    err(
                        path,
                        format!("task {name}: `answer_extract_pattern` is not a regular expression shinpan reads: {e}"),
                    )
                })?;
                Some(p.clone())
            }
            (None, Some(id)) => Some(
                super::pattern::by_id(id)
                    .map_err(|e| err(path, format!("task {name}: `answer_pattern_id`: {e}")))?
                    .to_string(),
            ),
            (None, None) => None,
        };
        if let Some(t) = &raw.custom_prompt_template
            && !t.contains("{input}")
        {
            return Err(err(
                path,
                format!("task {name}: `custom_prompt_template` has no {{input}}"),
            ));
        }
        let _ = &raw.language;
        Ok(TaskFile {
            path: path.to_path_buf(),
            name,
            instruction: raw.instruction,
            output_length: raw.output_length,
            metrics: raw.metrics,
            few_shots: raw.few_shots,
            samples: raw.samples,
            label_list: raw.label_list,
            answer_extract_pattern: pattern,
            num_few_shots: raw.num_few_shots,
            custom_prompt_template: raw.custom_prompt_template,
        })
    }

    /// The first `n` few-shots, as llm-jp-eval draws them: the first samples of
    /// `../train/<task>.json` beside this file (1.1 and later, v2), else the file's own
    /// `few_shots` (1.0). Too few is an error naming both.
    pub fn shots(&self, n: usize) -> Result<Vec<Sample>, TaskError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let train = self
            .path
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("train").join(format!("{}.json", self.name)));
        let (pool, from) = match train.filter(|t| t.is_file() && *t != self.path) {
            Some(t) => (TaskFile::read(&t)?.samples, t.display().to_string()),
            None => (
                self.few_shots.clone(),
                format!("its own few_shots (no train/{}.json beside it)", self.name),
            ),
        };
        if pool.len() < n {
            return Err(err(
                &self.path,
                format!(
                    "task {}: {n} few-shots asked (--few-shots), and {from} has {}",
                    self.name,
                    pool.len()
                ),
            ));
        }
        Ok(pool[..n].to_vec())
    }
}

/// The task files `paths` name: files as given, directories' `*.json` files in name order. A
/// task named twice is refused (its samples would mix).
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<TaskFile>, TaskError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| err(p, e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json") && f.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(err(p, "no task files (*.json) in the directory"));
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut tasks: Vec<TaskFile> = Vec::new();
    for f in files {
        let t = TaskFile::read(&f)?;
        if let Some(first) = tasks.iter().find(|o| o.name == t.name) {
            return Err(err(
                &f,
                format!(
                    "task {} is also {}: give each task once",
                    t.name,
                    first.path.display()
                ),
            ));
        }
        tasks.push(t);
    }
    Ok(tasks)
}
