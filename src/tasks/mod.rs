//! llm-jp-eval's tasks ("jaster"), scored by rule beside the judged benchmarks: its
//! evaluation files read ([`file`]), each sample's prompt built as llm-jp-eval v1.4.1 builds
//! it ([`prompt`]), and each reply normalised and scored as it scores ([`normalize`],
//! [`crate::scorer::metrics`]). A task sample enters a run as a one-turn [`Question`] whose
//! turn is the prompt and whose reference is the gold; the [`crate::scorer::Scorer::Rules`]
//! scorer grades it without a judge.

pub mod file;
pub mod normalize;
pub mod pattern;
pub mod prompt;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::records::{AnswerRecord, Question, SingleJudgment};
use crate::scorer::metrics::{Metric, parse_float};
use crate::types::{JudgeId, QuestionId, Scale};
pub use file::{Sample, TaskError, TaskFile};

/// llm-jp-eval v1.4.1's defaults (llm-jp/scripts `llm-jp-eval-v1.4.1/resources/config_base.yaml`
/// at 0a70387): 4 few-shots, 100 samples per task.
pub const DEFAULT_FEW_SHOTS: u32 = 4;
/// See [`DEFAULT_FEW_SHOTS`].
pub const DEFAULT_MAX_SAMPLES: usize = 100;

/// The scorer's name: its judgment file is `judgments/rules_single.jsonl`.
pub const SCORER: &str = "rules";

/// What a task sample carries into a run (the question's `task`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    /// The task (`jcommonsenseqa`).
    pub name: String,
    /// Its metrics, by llm-jp-eval's names.
    pub metrics: Vec<String>,
    /// The sample's input (the prompt ends with it).
    pub input: String,
    /// The answer's token cap (`output_length`).
    pub output_length: u32,
    /// Few-shots in its prompt.
    #[serde(default)]
    pub few_shots: u32,
    /// The v2 pattern that finds the answer in a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_extract_pattern: Option<String>,
}

/// What `--tasks` asks.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOptions {
    /// Task files, or directories of them (`evaluation/test/`).
    pub paths: Vec<PathBuf>,
    /// Few-shots per prompt (`--few-shots`; `None`: a v2 task's own `num_few_shots`, else 4).
    pub few_shots: Option<u32>,
    /// Samples per task, the first ones (`--max-samples`; `None`: all).
    pub max_samples: Option<usize>,
}

/// The samples of every task as questions: id `TASK/INDEX` (from 0, as llm-jp-eval numbers
/// them), category the task, one turn (the prompt), the gold as the reference.
pub fn questions(opts: &TaskOptions) -> Result<Vec<Question>, TaskError> {
    let tasks = file::read_all(&opts.paths)?;
    let mut out = Vec::new();
    for t in &tasks {
        let n = opts
            .few_shots
            .or(t.num_few_shots)
            .unwrap_or(DEFAULT_FEW_SHOTS) as usize;
        let shots = t.shots(n)?;
        let take = opts.max_samples.unwrap_or(usize::MAX).min(t.samples.len());
        for (i, s) in t.samples[..take].iter().enumerate() {
            out.push(Question {
                question_id: QuestionId::text(format!("{}/{i}", t.name)),
                category: t.name.clone(),
                turns: vec![prompt::build(
                    &t.instruction,
                    &shots,
                    &s.input,
                    t.custom_prompt_template.as_deref(),
                )],
                reference: Some(vec![s.output.clone()]),
                criteria: None,
                bench: None,
                task: Some(TaskRef {
                    name: t.name.clone(),
                    metrics: t.metrics.clone(),
                    input: s.input.clone(),
                    output_length: t.output_length,
                    few_shots: n as u32,
                    answer_extract_pattern: t.answer_extract_pattern.clone(),
                }),
            });
        }
    }
    Ok(out)
}

/// A task sample's record beside its grade (the judgment's `task`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskGrade {
    /// The task.
    pub task: String,
    /// The sample's input.
    pub input: String,
    /// The reply as the metrics saw it (formatted, first paragraph, NFKC).
    pub prediction: String,
    /// The gold as the metrics saw it (NFKC).
    pub gold: String,
    /// The reply as the model gave it.
    pub reply: String,
    /// The task's metrics, by llm-jp-eval's names.
    pub metrics: Vec<String>,
    /// Few-shots in the prompt.
    #[serde(default)]
    pub few_shots: u32,
    /// The per-sample metrics' values (a correlation has none: it is the task's).
    pub scores: BTreeMap<String, f64>,
    /// The prediction read as a number, as a correlation reads it (tasks with one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// A v2 task's answer pattern, compiled once per run (checked when its file was read).
fn compiled(pattern: &str) -> Option<pattern::AnswerPattern> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Seen = Mutex<HashMap<String, Option<pattern::AnswerPattern>>>;
    static SEEN: OnceLock<Seen> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .expect("not poisoned");
    seen.entry(pattern.to_string())
        .or_insert_with(|| pattern::AnswerPattern::new(pattern).ok())
        .clone()
}

/// Rule scores lie on 0-1.
pub const SCALE: Scale = Scale { min: 0, max: 1 };

/// Scores one reply to a task sample: every per-sample metric (in the `task` record), the record
/// beside it, and a `score` that is their mean, or for a task scored only by correlation
/// whether the prediction reads as a number (1) or not (0: llm-jp-eval's −2).
pub fn grade(q: &Question, task: &TaskRef, answer: &AnswerRecord) -> SingleJudgment {
    let reply = answer
        .choices
        .first()
        .and_then(|c| c.turns.first())
        .cloned()
        .unwrap_or_default();
    let pattern = task.answer_extract_pattern.as_deref().and_then(compiled);
    let prediction = normalize::prediction(&task.name, &reply, pattern.as_ref());
    let gold = normalize::gold(
        q.reference
            .as_ref()
            .and_then(|r| r.first())
            .map(String::as_str)
            .unwrap_or_default(),
    );
    let metrics: Vec<Metric> = task
        .metrics
        .iter()
        .filter_map(|m| Metric::parse(m).ok())
        .collect();
    let aspects: BTreeMap<String, f64> = metrics
        .iter()
        .filter_map(|m| {
            m.sample(&prediction, &gold)
                .map(|v| (m.name().to_string(), v))
        })
        .collect();
    let correlated = metrics.iter().any(|m| m.over_task());
    let value = correlated.then(|| parse_float(&prediction));
    let score = if aspects.is_empty() {
        f64::from(u8::from(value.is_some_and(|v| v != -2.0)))
    } else {
        aspects.values().sum::<f64>() / aspects.len() as f64
    };
    SingleJudgment {
        question_id: q.question_id.clone(),
        model: answer.model_id.clone(),
        judge: JudgeId(vec![SCORER.to_string(), "llm-jp-eval".to_string()]),
        user_prompt: String::new(),
        judgment: prediction.clone(),
        score: Some(score),
        scale: Some(SCALE),
        turn: 1,
        tstamp: crate::util::unix_now(),
        category: Some(q.category.clone()),
        bench: q.bench.clone(),
        error: None,
        sample: None,
        samples: Default::default(),
        aspects: None,
        reasks: Vec::new(),
        usage: None,
        input_digest: Some(crate::records::input_digest(q, &[answer], 1)),
        task: Some(TaskGrade {
            task: task.name.clone(),
            input: task.input.clone(),
            prediction,
            gold,
            reply,
            metrics: task.metrics.clone(),
            few_shots: task.few_shots,
            scores: aspects,
            value,
        }),
    }
}

/// llm-jp-eval's categories and the `TASK_METRIC` scores each averages, as its v1.4.1
/// leaderboard counts them (llm-jp's Open Japanese LLM Leaderboard `about.py`: the scores
/// marked for the average). STS (JSTS) is reported but, as there, not averaged.
pub const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "NLI",
        &[
            "jamp_exact_match",
            "janli_exact_match",
            "jnli_exact_match",
            "jsem_exact_match",
            "jsick_exact_match",
        ],
    ),
    ("QA", &["jemhopqa_char_f1", "niilc_char_f1", "aio_char_f1"]),
    ("RC", &["jsquad_char_f1"]),
    (
        "MC",
        &[
            "jcommonsenseqa_exact_match",
            "commonsensemoralja_exact_match",
            "kuci_exact_match",
        ],
    ),
    ("EL", &["chabsa_set_f1"]),
    (
        "FA",
        &[
            "wiki_reading_char_f1",
            "wiki_ner_set_f1",
            "wiki_dependency_set_f1",
            "wiki_pas_set_f1",
            "wiki_coreference_set_f1",
        ],
    ),
    ("MR", &["mawps_exact_match", "mgsm_exact_match"]),
    (
        "MT",
        &[
            "alt-e-to-j_comet_wmt22",
            "alt-j-to-e_comet_wmt22",
            "wikicorpus-e-to-j_comet_wmt22",
            "wikicorpus-j-to-e_comet_wmt22",
        ],
    ),
    ("HE", &["mmlu_en_exact_match", "jmmlu_exact_match"]),
    ("CG", &["mbpp_code_exec"]),
    ("SUM", &["xlsum_ja_rouge2"]),
];

/// Categories reported but left out of AVG.
pub const UNAVERAGED: &[(&str, &[&str])] = &[("STS", &["jsts_pearson", "jsts_spearman"])];

/// The category a `TASK_METRIC` score belongs to, and whether AVG counts it.
pub fn category_of(cell: &str) -> Option<(&'static str, bool)> {
    CATEGORIES
        .iter()
        .map(|c| (c, true))
        .chain(UNAVERAGED.iter().map(|c| (c, false)))
        .find(|((_, cells), _)| cells.contains(&cell))
        .map(|((name, _), averaged)| (*name, averaged))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE_FEW: &str = "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n### 指示:\n{instruction}{few_shots_text}\n\n### 入力:\n{input}\n\n### 応答:\n";
    const TEMPLATE_ZERO: &str = "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n### 指示:\n{instruction}\n\n### 入力:\n{input}\n\n### 応答:\n";
    const SHOT: &str = "\n\n### 入力:\n{input}\n\n### 応答:\n{output}";

    fn fixture(dir: &std::path::Path) -> PathBuf {
        let samples: Vec<serde_json::Value> = (0..6)
            .map(|i| serde_json::json!({"input": format!("質問：問{i}"), "output": format!("{i}")}))
            .collect();
        let body = serde_json::json!({
            "instruction": "数字で答えてください。",
            "output_length": 3,
            "metrics": ["exact_match"],
            "few_shots": [],
            "samples": samples,
        });
        for split in ["train", "test"] {
            std::fs::create_dir_all(dir.join(split)).unwrap();
            std::fs::write(dir.join(split).join("fixture.json"), body.to_string()).unwrap();
        }
        dir.join("test").join("fixture.json")
    }

    /// The prompts equal, byte for byte, llm-jp-eval v1.4.1's templates (config_base.yaml's
    /// few-shot and zero-shot examples) filled by hand, for 0, 2 and 4 shots.
    #[test]
    fn prompts_are_llm_jp_evals_byte_for_byte_with_0_2_and_4_shots() {
        let dir = tempfile::tempdir().unwrap();
        let test = fixture(dir.path());
        for shots in [0u32, 2, 4] {
            let qs = questions(&TaskOptions {
                paths: vec![test.clone()],
                few_shots: Some(shots),
                max_samples: Some(2),
            })
            .unwrap();
            assert_eq!(qs.len(), 2);
            let few: String = (0..shots)
                .map(|i| {
                    SHOT.replace("{input}", &format!("質問：問{i}"))
                        .replace("{output}", &i.to_string())
                })
                .collect();
            for (i, q) in qs.iter().enumerate() {
                let want = if shots == 0 {
                    TEMPLATE_ZERO.to_string()
                } else {
                    TEMPLATE_FEW.replace("{few_shots_text}", &few)
                }
                .replace("{instruction}", "数字で答えてください。")
                .replace("{input}", &format!("質問：問{i}"));
                assert_eq!(q.turns[0], want, "{shots} shots, sample {i}");
                assert_eq!(q.question_id.as_str(), format!("fixture/{i}"));
                assert_eq!(q.reference.as_deref(), Some(&[i.to_string()][..]));
            }
        }
    }

    #[test]
    fn too_few_shots_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let test = fixture(dir.path());
        let e = questions(&TaskOptions {
            paths: vec![test.clone()],
            few_shots: Some(7),
            max_samples: None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("7 few-shots asked") && e.contains("has 6"),
            "{e}"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"instruction": "x", "metrics": ["exact_match"], "samples": []}"#,
        )
        .unwrap();
        let e = TaskFile::read(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("output_length"), "{e}");
        std::fs::write(
            &bad,
            r#"{"instruction": "x", "output_length": 5, "metrics": ["comet_wmt22"], "samples": [{"input": "a", "output": "b"}]}"#,
        )
        .unwrap();
        let e = TaskFile::read(&bad).unwrap_err().to_string();
        assert!(
            e.contains("task bad") && e.contains("comet_wmt22") && e.contains("refused"),
            "{e}"
        );
    }

    #[test]
    fn every_category_cell_is_one_task_and_metric() {
        assert_eq!(category_of("jnli_exact_match"), Some(("NLI", true)));
        assert_eq!(category_of("jsts_pearson"), Some(("STS", false)));
        assert_eq!(category_of("jnli_char_f1"), None);
    }
}
