//! Single-mode (and rubric) judgments, FastChat's `<judge>_single.jsonl`: one grade of one
//! model's answer to one turn, on the scale its prompt asked for (`scale`; 1-10 when a record
//! states none, as FastChat's do). [`SingleJudgment`] is the whole record, as written;
//! [`SingleGrade`] reads only what aggregation counts (prompts and replies are skipped while
//! parsing), so a report over a million grades holds only what it needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::current::{Graded, ItemKey, Judgment};
use super::digest::{InputDigest, lenient_digest};
use super::{JudgeName, Name, Samples};
use crate::types::{JudgeId, QuestionId, Scale, Usage};

fn default_turn() -> u32 {
    1
}

/// A usable score: present, not FastChat's `-1` failure mark, and no failure recorded.
fn valid_score(score: Option<f64>, failed: bool) -> Option<f64> {
    match score {
        Some(s) if !failed && s != -1.0 && s.is_finite() => Some(s),
        _ => None,
    }
}

/// A grade of one model's answer to one turn, as written to the judgment files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SingleJudgment {
    /// The question graded, spelt as the question file spells it.
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
    /// The scale the prompt asked for (shinpan extension; absent: 1-10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// The turn graded (1-based).
    #[serde(default = "default_turn", deserialize_with = "super::integral_u32")]
    pub turn: u32,
    /// Unix time of the judgment.
    #[serde(default)]
    pub tstamp: f64,
    /// The question's category (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The official set and version it belongs to (`--bench`: `NAME@VARIANT VERSION`;
    /// shinpan extension), so results of different versions are never mixed silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// Why there is no score (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which of `--judge-samples` repeated judgments this is (journal records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u32>,
    /// The grades of the repeated judgments this record stands for (`null` for a sample
    /// without a verdict); `score` is their median (shinpan extension).
    #[serde(default, skip_serializing_if = "Samples::is_empty")]
    pub samples: Samples<Option<f64>>,
    /// Grades per rubric aspect (rubric mode); `score` is their weighted mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspects: Option<BTreeMap<String, f64>>,
    /// The judge's replies when asked again for a readable verdict (shinpan extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasks: Vec<String>,
    /// Judge tokens spent (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Digest of what was judged (shinpan extension, see [`super::input_digest`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_digest"
    )]
    pub input_digest: Option<InputDigest>,
    /// A task sample's record, when a rule scored it (`--tasks`; shinpan extension): the
    /// input, the prediction and gold as compared, the reply as given, each per-sample
    /// metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::tasks::TaskGrade>,
}

impl SingleJudgment {
    /// The usable score, or `None` for a failure (null, -1, or a failure recorded).
    pub fn valid_score(&self) -> Option<f64> {
        valid_score(self.score, self.error.is_some())
    }
}

/// The parts of a single-mode judgment that aggregation reads.
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
    /// The scale it is on, when recorded (see [`SingleGrade::scale`]).
    #[serde(default, rename = "scale")]
    pub stated_scale: Option<Scale>,
    /// The turn (1-based).
    #[serde(default = "default_turn", deserialize_with = "super::integral_u32")]
    pub turn: u32,
    /// The question's category, when recorded.
    #[serde(default)]
    pub category: Option<Name>,
    /// The official set and version (`--bench`), when recorded.
    #[serde(default)]
    pub bench: Option<Name>,
    /// Whether shinpan recorded why there is no score (the reason is not kept).
    #[serde(default, rename = "error", deserialize_with = "present")]
    pub failed: bool,
    /// Index of a repeated judgment (`--judge-samples`).
    #[serde(default)]
    pub sample: Option<u32>,
    /// Grades of the repeated judgments a collapsed record stands for.
    #[serde(default)]
    pub samples: Samples<Option<f64>>,
    /// Grades per rubric aspect (rubric mode).
    #[serde(default)]
    pub aspects: Option<BTreeMap<String, f64>>,
    /// Digest of the judged inputs (shinpan's records only).
    #[serde(default, deserialize_with = "lenient_digest")]
    pub input_digest: Option<InputDigest>,
    /// A task sample's record (`--tasks`), boxed: most grades have none.
    #[serde(default)]
    pub task: Option<Box<crate::tasks::TaskGrade>>,
}

impl SingleGrade {
    /// The usable score, or `None` for a failure (null, -1, or a failure recorded).
    pub fn valid_score(&self) -> Option<f64> {
        valid_score(self.score, self.failed)
    }

    /// The scale it is on: as recorded, else 1-10 (FastChat's records state none).
    pub fn scale(&self) -> Scale {
        self.stated_scale.unwrap_or_default()
    }
}

impl From<&SingleJudgment> for SingleGrade {
    fn from(j: &SingleJudgment) -> Self {
        SingleGrade {
            question_id: j.question_id.clone(),
            model: j.model.clone(),
            judge: JudgeName(Name::intern(j.judge.model())),
            score: j.score,
            stated_scale: j.scale,
            turn: j.turn,
            category: j.category.as_deref().map(Name::intern),
            bench: j.bench.as_deref().map(Name::intern),
            failed: j.error.is_some(),
            sample: j.sample,
            samples: j.samples.clone(),
            aspects: j.aspects.clone(),
            input_digest: j.input_digest,
            task: j.task.clone().map(Box::new),
        }
    }
}

/// A field whose presence (not null) is all that is kept.
pub(super) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<serde::de::IgnoredAny>::deserialize(d)?.is_some())
}

macro_rules! graded {
    ($t:ty, $failed:expr, $set_failed:expr) => {
        impl Judgment for $t {
            fn key(&self) -> ItemKey<'_> {
                ItemKey {
                    question: self.question_id.as_str(),
                    model_1: &self.model,
                    model_2: "",
                    turn: self.turn,
                    judge: self.judge.model(),
                }
            }
            fn sample(&self) -> Option<u32> {
                self.sample
            }
            fn digest(&self) -> Option<InputDigest> {
                self.input_digest
            }
            fn has_verdict(&self) -> bool {
                self.valid_score().is_some()
            }
            fn recorded_failure(&self) -> bool {
                $failed(self)
            }
            fn bench(&self) -> Option<&str> {
                self.bench.as_deref()
            }
        }

        impl Graded for $t {
            fn score(&self) -> Option<f64> {
                self.valid_score()
            }
            fn aspects(&self) -> Option<&BTreeMap<String, f64>> {
                self.aspects.as_ref()
            }
            fn set_collapsed(
                &mut self,
                score: Option<f64>,
                aspects: Option<BTreeMap<String, f64>>,
                samples: Vec<Option<f64>>,
                failure: Option<String>,
            ) {
                self.sample = None;
                self.score = score;
                self.aspects = aspects;
                self.samples = samples.into();
                $set_failed(self, failure);
            }
        }
    };
}

graded!(
    SingleJudgment,
    |j: &SingleJudgment| j.error.is_some(),
    |j: &mut SingleJudgment, f: Option<String>| j.error = f
);
graded!(
    SingleGrade,
    |g: &SingleGrade| g.failed,
    |g: &mut SingleGrade, f: Option<String>| g.failed = f.is_some()
);

/// One of Shaberi's judgements (shisa-ai/shaberi, `data/judgements/<judge>/<dataset>/<model>.json`,
/// JSON lines with `Question`, `ModelAnswer`, `score` and, per dataset, `Category` or `id`).
/// The judge, the dataset and the model come from the file's path, as Shaberi's
/// `multijudge-viz.py` (at f8cd7a0) reads them.
#[derive(Debug, Deserialize)]
pub struct ShaberiJudgement {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default, rename = "Category")]
    category: Option<String>,
    #[serde(default)]
    score: Option<f64>,
}

/// Where a Shaberi judgement file sits: its judge, dataset and model.
#[derive(Debug, Clone)]
pub struct ShaberiFile {
    /// The judge directory's name without `judge_` (`gpt-4-turbo-preview`).
    pub judge: String,
    /// The dataset as Shaberi names it (`ELYZA-tasks-100`, `Rakuda`, `Tengu-Bench`,
    /// `JA-MT-Bench`), or the directory's name.
    pub dataset: String,
    /// The model, `__` read as `/` (`shisa-ai/shisa-v2`).
    pub model: String,
}

impl ShaberiFile {
    /// The file's judge, dataset and model from `…/<judge>/<dataset>/<model>.json`.
    pub fn of(path: &std::path::Path) -> Self {
        let name = |p: Option<&std::path::Path>| {
            p.and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        };
        let dataset_dir = name(path.parent());
        let judge_dir = name(path.parent().and_then(|p| p.parent()));
        let dataset = match dataset_dir.as_str() {
            "elyza__ELYZA-tasks-100" => "ELYZA-tasks-100",
            "yuzuai__rakuda-questions" => "Rakuda",
            "lightblue__tengu_bench" => "Tengu-Bench",
            "shisa-ai__ja-mt-bench-1shot" | "lightblue__japanes-mt-bench-oneshot" => "JA-MT-Bench",
            other => other,
        }
        .to_string();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        ShaberiFile {
            judge: judge_dir
                .strip_prefix("judge_")
                .unwrap_or(&judge_dir)
                .to_string(),
            dataset,
            model: stem.replace("__", "/"),
        }
    }

    /// The scale the dataset's prompt asks for: ELYZA-tasks-100 1-5, Tengu-Bench 0-10, the
    /// rest 1-10.
    pub fn scale(&self) -> Scale {
        match self.dataset.as_str() {
            "ELYZA-tasks-100" => Scale::FIVE,
            "Tengu-Bench" => Scale { min: 0, max: 10 },
            _ => Scale::TEN,
        }
    }

    /// Question ids Shaberi leaves out of its means: Tengu-Bench 61-65
    /// (`EXCLUDED_QUESTION_IDS_BY_DATASET` in its `evaluation_datasets_config.py`).
    pub fn excluded(&self) -> &'static [u64] {
        match self.dataset.as_str() {
            "Tengu-Bench" => &[61, 62, 63, 64, 65],
            _ => &[],
        }
    }
}

impl ShaberiJudgement {
    /// The grade it records; `row` is its 1-based line, the id of a record without one (as
    /// Shaberi numbers Tengu-Bench's rows). `None` for a question Shaberi leaves out.
    pub fn grade(&self, file: &ShaberiFile, row: usize) -> Option<SingleGrade> {
        let id = match &self.id {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(row as u64),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(row as u64),
            _ => row as u64,
        };
        if file.excluded().contains(&id) {
            return None;
        }
        let score = self.score.filter(|s| s.is_finite());
        Some(SingleGrade {
            question_id: QuestionId::text(id.to_string()),
            model: file.model.clone(),
            judge: JudgeName(Name::intern(&file.judge)),
            score,
            stated_scale: Some(file.scale()),
            turn: 1,
            category: self.category.as_deref().map(Name::intern),
            bench: Some(Name::intern(&format!("Shaberi {}", file.dataset))),
            failed: score.is_none(),
            sample: None,
            samples: Default::default(),
            aspects: None,
            input_digest: None,
            task: None,
        })
    }
}
