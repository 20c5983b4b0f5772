//! Review export: one record per judged item of a run, with everything a person needs to
//! check the judge — every turn of the question, the reference, each model's whole answer,
//! the verdicts and the judge's full explanation (both orders of a game) — and empty fields
//! for a human label and comment. The labelled file comes back through `shinpan agreement
//! --labels`, which compares the labels with the judge's verdicts.

mod labels;
mod write;

pub use labels::{CarriedOver, Labels, carry_over, read_labels};
pub use write::{ReviewFormat, render};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::aggregate::{GameOutcome, combine};
use crate::error::UsageError;
use crate::records::{
    AnswerRecord, Current, Kind, PairJudgment, Question, RunDir, SingleJudgment, kind_of,
    load_questions,
};
use crate::store::read_jsonl;
use crate::types::{QuestionId, Winner};

/// Which items to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Only {
    /// Every judged item.
    #[default]
    All,
    /// Games whose two orders disagree, and items whose repeated judgments differ.
    Inconsistent,
    /// Items without a verdict.
    Errors,
}

/// One judged item for review.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewRecord {
    /// `single`, `rubric` or `pairwise`.
    pub mode: String,
    /// The judge.
    pub judge: String,
    /// The question, as its file writes the id.
    pub question_id: QuestionId,
    /// Its category.
    pub category: String,
    /// The turn judged (1-based).
    pub turn: u32,
    /// Every turn of the question.
    pub questions: Vec<String>,
    /// The reference answer's turns, when the judge was shown one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Vec<String>>,
    /// The model graded (single, rubric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Its answer, every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Vec<String>>,
    /// The grade (`null` without a verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The scale of the grade and of its label (grades only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::types::Scale>,
    /// Grades per aspect (rubric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspects: Option<BTreeMap<String, f64>>,
    /// The judge's reply (re-asked replies appended, marked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgment: Option<String>,
    /// The first model of a game: answer A in game 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_1: Option<String>,
    /// The second model: answer A in game 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_2: Option<String>,
    /// model_1's answer, every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_1: Option<Vec<String>>,
    /// model_2's answer, every turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_2: Option<Vec<String>>,
    /// Verdict of game 1 (model_1 shown first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g1_winner: Option<Winner>,
    /// Verdict of game 2 (model_2 shown first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g2_winner: Option<Winner>,
    /// The judge's reply in game 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g1_judgment: Option<String>,
    /// The judge's reply in game 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g2_judgment: Option<String>,
    /// The game's result by FastChat's rule (`model_1`, `model_2`, `tie`, `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Winner>,
    /// Whether the two orders agree (games), or the repeated judgments do (grades).
    pub consistent: bool,
    /// How far apart the judges who judged this item are (a panel, or several judges' runs
    /// in one directory): the highest minus the lowest grade, or of the game's outcome for
    /// model_1 (1 a win, ½ a tie, 0 a loss). Absent when fewer than two judges gave a
    /// verdict, or they all agree. Disputed items are listed first, most disputed first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judges_spread: Option<f64>,
    /// Why there is no verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A task sample scored by rule (`--tasks`): its input, prediction, gold, reply and
    /// per-sample metrics. Task samples are listed worst-scored first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::tasks::TaskGrade>,
    /// The human label: a grade on `scale` (single, rubric), or `model_1`, `model_2`, `tie`
    /// or a model's name (pairwise). Empty until a reviewer fills it in.
    #[serde(default)]
    pub label: Option<serde_json::Value>,
    /// The reviewer's comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// The run directory it comes from, on a page of several runs (never exported).
    #[serde(skip)]
    pub run: Option<String>,
}

/// Reads a run directory's current judgments into review records. `questions` replaces the
/// run's own copy of its question file (`questions.jsonl`), for runs made before it kept one.
/// A directory without any judgment is an error (nothing to review).
pub fn collect(
    run: &Path,
    questions: Option<&Path>,
    only: Only,
) -> Result<Vec<ReviewRecord>, UsageError> {
    let mut out = items(run, questions)?;
    if out.is_empty() {
        return Err(UsageError(format!(
            "{}: no judgments to export (expected a run directory with judgments/)",
            run.display()
        )));
    }
    out.retain(|r| match only {
        Only::All => true,
        Only::Inconsistent => !r.consistent && r.error.is_none(),
        Only::Errors => r.error.is_some(),
    });
    Ok(out)
}

/// Whether a run directory holds a judgment file.
fn has_judgments(run: &Path) -> bool {
    jsonl_files(&run.join("judgments")).is_ok_and(|f| !f.is_empty())
}

/// Every judged item of a run directory, as [`collect`] reads them; a run that judged
/// nothing yet (every answer failed) has none.
pub fn items(run: &Path, questions: Option<&Path>) -> Result<Vec<ReviewRecord>, UsageError> {
    if !has_judgments(run) {
        return Ok(Vec::new());
    }
    let dir = RunDir::new(run);
    let bad = |p: &Path, e: &dyn std::fmt::Display| UsageError(format!("{}: {e}", p.display()));
    let qpath = questions
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.questions());
    let qs: HashMap<QuestionId, Question> = load_questions(&qpath)
        .map_err(|e| {
            UsageError(format!(
                "{e} (a run keeps its questions in questions.jsonl; for an older run give --questions FILE)"
            ))
        })?
        .into_iter()
        .map(|q| (q.question_id.clone(), q))
        .collect();
    let mut answers: HashMap<(String, QuestionId), Vec<String>> = HashMap::new();
    for f in jsonl_files(&run.join("answers")).map_err(|e| bad(run, &e))? {
        for (_, a) in read_jsonl::<AnswerRecord>(&f).map_err(|e| bad(&f, &e))? {
            let turns = a.turns().to_vec();
            answers.insert((a.model_id, a.question_id), turns);
        }
    }
    let ctx = Context { qs, answers };
    let mut out = Vec::new();
    for f in jsonl_files(&run.join("judgments")).map_err(|e| bad(run, &e))? {
        match kind_of(&f).map_err(|e| bad(&f, &e))? {
            // The judge's prompts (most of a judgment file's bytes) are not shown: they are
            // dropped as each record is read.
            Some(Kind::Single) => {
                let rows: Vec<SingleJudgment> = read(&f, |r: &mut SingleJudgment| {
                    r.user_prompt = String::new();
                })?;
                let refs: Vec<&SingleJudgment> = rows.iter().collect();
                out.extend(
                    Current::grades(&refs)
                        .rows()
                        .into_iter()
                        .map(|r| ctx.graded(r)),
                );
            }
            Some(Kind::Pair) => {
                let rows: Vec<PairJudgment> = read(&f, |r: &mut PairJudgment| {
                    r.g1_user_prompt = String::new();
                    r.g2_user_prompt = String::new();
                })?;
                let refs: Vec<&PairJudgment> = rows.iter().collect();
                out.extend(
                    Current::games(&refs)
                        .rows()
                        .into_iter()
                        .map(|r| ctx.game(r)),
                );
            }
            None => {}
            Some(k) => {
                return Err(bad(&f, &format!("holds {}, not judgments", k.describe())));
            }
        }
    }
    mark_disputes(&mut out);
    // What a reviewer should look at first: items the judges disagree on (most first), then
    // inconsistent ones, then by question and turn.
    out.sort_by(|a, b| {
        b.dispute()
            .total_cmp(&a.dispute())
            .then_with(|| a.consistent.cmp(&b.consistent))
            .then_with(|| match (&a.task, &b.task) {
                // Task samples: the worst-scored first.
                (Some(_), Some(_)) => a
                    .score
                    .unwrap_or(f64::MIN)
                    .total_cmp(&b.score.unwrap_or(f64::MIN)),
                _ => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.mode.cmp(&b.mode))
            .then_with(|| a.question_id.cmp(&b.question_id))
            .then_with(|| a.turn.cmp(&b.turn))
            .then_with(|| a.model.cmp(&b.model))
            .then_with(|| a.model_1.cmp(&b.model_1))
            .then_with(|| a.model_2.cmp(&b.model_2))
    });
    Ok(out)
}

impl ReviewRecord {
    /// How disputed the item is on 0–1: [`Self::judges_spread`] over the scale's span for
    /// grades (0 when undisputed).
    pub fn dispute(&self) -> f64 {
        let spread = self.judges_spread.unwrap_or(0.0);
        match self.scale {
            Some(scale) if self.mode != "pairwise" && scale.span() > 0.0 => spread / scale.span(),
            _ => spread,
        }
    }

    /// The item this record judges, whoever judged it.
    fn item_key(&self) -> ItemOf {
        (
            self.mode.clone(),
            self.question_id.clone(),
            self.turn,
            [&self.model, &self.model_1, &self.model_2].map(Clone::clone),
            self.scale,
        )
    }

    /// The verdict as a number, to compare judges by: the grade, or the game's outcome for
    /// model_1.
    fn verdict_value(&self) -> Option<f64> {
        if self.error.is_some() {
            return None;
        }
        match self.result {
            Some(Winner::Model1) => Some(1.0),
            Some(Winner::Model2) => Some(0.0),
            Some(Winner::Tie) => Some(0.5),
            Some(Winner::Error) => None,
            None => self.score,
        }
    }
}

type ItemOf = (
    String,
    QuestionId,
    u32,
    [Option<String>; 3],
    Option<crate::types::Scale>,
);

/// Sets [`ReviewRecord::judges_spread`] on every record of an item two or more judges
/// disagree on.
fn mark_disputes(records: &mut [ReviewRecord]) {
    let mut values: HashMap<ItemOf, Vec<(String, f64)>> = HashMap::new();
    for r in records.iter() {
        if let Some(v) = r.verdict_value() {
            values
                .entry(r.item_key())
                .or_default()
                .push((r.judge.clone(), v));
        }
    }
    for r in records.iter_mut() {
        let Some(vs) = values.get(&r.item_key()) else {
            continue;
        };
        let judges: std::collections::BTreeSet<&str> = vs.iter().map(|v| v.0.as_str()).collect();
        let hi = vs.iter().map(|v| v.1).fold(f64::MIN, f64::max);
        let lo = vs.iter().map(|v| v.1).fold(f64::MAX, f64::min);
        if judges.len() >= 2 && hi > lo {
            r.judges_spread = Some(hi - lo);
        }
    }
}

fn read<T: serde::de::DeserializeOwned>(
    f: &Path,
    trim: impl Fn(&mut T),
) -> Result<Vec<T>, UsageError> {
    let mut out = Vec::new();
    crate::store::each_jsonl(f, |_, mut r: T| {
        trim(&mut r);
        out.push(r);
    })
    .map_err(|e| UsageError(format!("{}: {e}", f.display())))?;
    Ok(out)
}

fn jsonl_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut v: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    v.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    v.sort();
    Ok(v)
}

/// The questions and answers records are shown with.
struct Context {
    qs: HashMap<QuestionId, Question>,
    answers: HashMap<(String, QuestionId), Vec<String>>,
}

impl Context {
    /// A record with the question's fields filled in.
    fn base(&self, mode: &str, judge: &str, qid: &QuestionId, turn: u32) -> ReviewRecord {
        let q = self.qs.get(qid);
        ReviewRecord {
            mode: mode.into(),
            judge: judge.into(),
            question_id: qid.clone(),
            category: q.map(|q| q.category.clone()).unwrap_or_default(),
            turn,
            questions: q.map(|q| q.turns.clone()).unwrap_or_default(),
            reference: q.and_then(|q| q.judged_reference()).map(<[String]>::to_vec),
            model: None,
            answer: None,
            score: None,
            scale: None,
            aspects: None,
            judgment: None,
            model_1: None,
            model_2: None,
            answer_1: None,
            answer_2: None,
            g1_winner: None,
            g2_winner: None,
            g1_judgment: None,
            g2_judgment: None,
            result: None,
            consistent: true,
            judges_spread: None,
            error: None,
            task: None,
            label: None,
            comment: None,
            run: None,
        }
    }

    fn answer(&self, model: &str, qid: &QuestionId) -> Option<Vec<String>> {
        self.answers.get(&(model.to_string(), qid.clone())).cloned()
    }

    fn graded(&self, r: &SingleJudgment) -> ReviewRecord {
        let mode = if r.aspects.is_some() {
            "rubric"
        } else {
            "single"
        };
        let mut judgment = r.judgment.clone();
        for reask in &r.reasks {
            judgment.push_str("\n\n[再質問への回答]\n");
            judgment.push_str(reask);
        }
        let grades: Vec<f64> = r.samples.iter().flatten().copied().collect();
        if let Some(t) = &r.task {
            // What a reviewer of a rule's score needs: the sample, the gold, what the rule
            // compared, and every metric's value.
            let scores: Vec<String> = t.scores.iter().map(|(m, v)| format!("{m} {v}")).collect();
            judgment = format!(
                "prediction: {}\ngold: {}\n{}",
                t.prediction,
                t.gold,
                if scores.is_empty() {
                    format!("read as {}", t.value.map_or("-".into(), |v| v.to_string()))
                } else {
                    scores.join(" · ")
                }
            );
            let base = self.base("single", r.judge.model(), &r.question_id, r.turn);
            return ReviewRecord {
                questions: vec![t.input.clone()],
                reference: Some(vec![t.gold.clone()]),
                model: Some(r.model.clone()),
                answer: Some(vec![t.reply.clone()]),
                score: r.valid_score(),
                scale: Some(r.scale.unwrap_or_default()),
                judgment: Some(judgment),
                task: Some(t.clone()),
                ..base
            };
        }
        ReviewRecord {
            model: Some(r.model.clone()),
            answer: self.answer(&r.model, &r.question_id),
            score: r.valid_score(),
            scale: Some(r.scale.unwrap_or_default()),
            aspects: r.aspects.clone(),
            judgment: Some(judgment),
            consistent: grades.windows(2).all(|w| w[0] == w[1]) && grades.len() == r.samples.len(),
            error: r
                .valid_score()
                .is_none()
                .then(|| r.error.clone().unwrap_or_else(|| "no score".into())),
            ..self.base(mode, r.judge.model(), &r.question_id, r.turn)
        }
    }

    fn game(&self, r: &PairJudgment) -> ReviewRecord {
        let (outcome, consistent) = combine(r.g1_winner, r.g2_winner);
        let error = [&r.g1_error, &r.g2_error]
            .into_iter()
            .flatten()
            .next()
            .cloned()
            .or_else(|| (outcome == GameOutcome::Error).then(|| "no verdict".to_string()));
        ReviewRecord {
            model_1: Some(r.model_1.clone()),
            model_2: Some(r.model_2.clone()),
            answer_1: self.answer(&r.model_1, &r.question_id),
            answer_2: self.answer(&r.model_2, &r.question_id),
            g1_winner: Some(r.g1_winner),
            g2_winner: Some(r.g2_winner),
            g1_judgment: Some(r.g1_judgment.clone()),
            g2_judgment: Some(r.g2_judgment.clone()),
            result: Some(match outcome {
                GameOutcome::Model1 => Winner::Model1,
                GameOutcome::Model2 => Winner::Model2,
                GameOutcome::Tie => Winner::Tie,
                GameOutcome::Error => Winner::Error,
            }),
            consistent,
            error,
            ..self.base("pairwise", r.judge.model(), &r.question_id, r.turn)
        }
    }
}
