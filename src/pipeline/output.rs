//! The run's report: read back from the judgment file, written as Markdown and JSON, printed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;

use crate::aggregate::answers::AnswerIndex;
use crate::aggregate::{ModelSummary, Report, summarize_pairs, summarize_single};
use crate::aggregate::{PairGame, SingleGrade};
use crate::bench::{AnswerRecord, Question};
use crate::config::RunOptions;
use crate::report::{Format, JsonExporter, MarkdownExporter};
use crate::store::{read_jsonl_if_exists, write_atomic};

/// The report of a run's models and judge, read back from its judgment file (so it counts
/// judgments reused from earlier runs too).
pub(super) fn run_report(
    opts: &RunOptions,
    jpath: &std::path::Path,
    questions: &[Question],
    answers: &[Vec<Option<Arc<AnswerRecord>>>],
) -> anyhow::Result<Report> {
    let names: HashSet<&str> = opts.models.iter().map(|m| m.name.as_str()).collect();
    let judge = opts.judge.name.as_str();
    // Answer lengths and languages for the length and language figures, from what the run
    // already holds.
    let mut index = AnswerIndex::default();
    questions.iter().for_each(|q| index.add_question(q));
    answers
        .iter()
        .flatten()
        .flatten()
        .for_each(|a| index.add_answer(a));
    let answers_now = Current::new(questions, answers);
    let answers = index;
    let (models, position_bias, length_bias, sampling) = if opts.mode.is_graded() {
        let rows: Vec<SingleGrade> = read_jsonl_if_exists::<SingleGrade>(jpath)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| names.contains(r.model.as_str()) && r.judge.model() == judge)
            .filter(|r| answers_now.matches(&r.question_id.0, &[&r.model], r.turn, r.input_digest))
            .collect();
        let refs: Vec<&SingleGrade> = rows.iter().collect();
        let r = summarize_single(&refs, &opts.stats, &answers);
        let models = r.models.into_iter().map(ModelSummary::Single).collect();
        (models, None, r.length, r.sampling)
    } else {
        let rows: Vec<PairGame> = read_jsonl_if_exists::<PairGame>(jpath)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| {
                names.contains(r.model_1.as_str())
                    && names.contains(r.model_2.as_str())
                    && r.judge.model() == judge
                    && answers_now.matches(
                        &r.question_id.0,
                        &[&r.model_1, &r.model_2],
                        r.turn,
                        r.input_digest,
                    )
            })
            .collect();
        let refs: Vec<&PairGame> = rows.iter().collect();
        let result = summarize_pairs(&refs, opts.baseline.as_deref(), &opts.stats, &answers);
        let models = result.models.into_iter().map(ModelSummary::Pair).collect();
        (
            models,
            Some(result.position),
            result.length,
            result.sampling,
        )
    };
    Ok(Report {
        mode: opts.mode,
        judge: judge.to_string(),
        baseline: opts.baseline.clone(),
        models,
        position_bias,
        length_bias,
        sampling,
        same_family_as_judge: Vec::new(),
    }
    .flag_self_preference())
}

/// The questions and answers a run holds now, to leave out judgments made on other inputs
/// (an answer replaced, but its judgments not all made again before the run stopped).
struct Current<'a> {
    questions: HashMap<&'a str, &'a Question>,
    answers: HashMap<(&'a str, &'a str), &'a AnswerRecord>,
}

impl<'a> Current<'a> {
    fn new(questions: &'a [Question], answers: &'a [Vec<Option<Arc<AnswerRecord>>>]) -> Self {
        Self {
            questions: questions
                .iter()
                .map(|q| (q.question_id.0.as_str(), q))
                .collect(),
            answers: answers
                .iter()
                .flatten()
                .flatten()
                .map(|a| ((a.model_id.as_str(), a.question_id.0.as_str()), &**a))
                .collect(),
        }
    }

    /// Whether a judgment with `digest` was made on the inputs held now (a judgment without
    /// a digest, or whose inputs are not all held, cannot be checked and counts).
    fn matches(&self, qid: &str, models: &[&String], turn: u32, digest: Option<u64>) -> bool {
        let Some(d) = digest else { return true };
        let Some(q) = self.questions.get(qid) else {
            return true;
        };
        let Some(shown) = models
            .iter()
            .map(|m| self.answers.get(&(m.as_str(), qid)).copied())
            .collect::<Option<Vec<&AnswerRecord>>>()
        else {
            return true;
        };
        crate::judge::input_digest(q, &shown, turn as usize) == d
    }
}

/// Writes `report-<mode>.md` and `report-<mode>.json` into the run directory.
pub fn write_reports(out: &std::path::Path, reports: &[Report]) -> anyhow::Result<()> {
    use crate::report::Exporter;
    for r in reports {
        let stem = format!("report-{}", r.mode.as_str());
        for (ext, bytes) in [
            ("md", MarkdownExporter.serialize(std::slice::from_ref(r))?),
            ("json", JsonExporter.serialize(std::slice::from_ref(r))?),
        ] {
            let p = out.join(format!("{stem}.{ext}"));
            write_atomic(&p, &bytes).with_context(|| p.display().to_string())?;
        }
    }
    Ok(())
}

/// Prints reports in a format to stdout.
pub fn print_reports(reports: &[Report], format: Format) -> anyhow::Result<()> {
    use std::io::Write;
    let bytes = format.exporter().serialize(reports)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{Choice, QuestionId};

    fn answer(model: &str, turns: &[&str]) -> Option<Arc<AnswerRecord>> {
        Some(Arc::new(AnswerRecord {
            question_id: QuestionId("1".into()),
            answer_id: String::new(),
            model_id: model.into(),
            choices: vec![Choice {
                index: 0,
                turns: turns.iter().map(|t| t.to_string()).collect(),
            }],
            tstamp: 0.0,
            usage: None,
            finish_reasons: Vec::new(),
        }))
    }

    #[test]
    fn judgments_of_replaced_answers_are_left_out_of_the_run_report() {
        let q = vec![Question {
            question_id: QuestionId("1".into()),
            category: "writing".into(),
            turns: vec!["一".into(), "二".into()],
            reference: None,
        }];
        let old = answer("m", &["a", "b"]);
        let digest = |a: &AnswerRecord, turn| Some(crate::judge::input_digest(&q[0], &[a], turn));
        let (t1, t2) = (
            digest(old.as_deref().unwrap(), 1),
            digest(old.as_deref().unwrap(), 2),
        );
        let now = vec![vec![answer("m", &["a", "b2"])]];
        let current = Current::new(&q, &now);
        let m = "m".to_string();
        assert!(
            current.matches("1", &[&m], 1, t1),
            "turn 1 showed nothing that changed"
        );
        assert!(
            !current.matches("1", &[&m], 2, t2),
            "turn 2 showed the old answer"
        );
        assert!(
            current.matches("1", &[&m], 2, None),
            "no digest: cannot tell, counts"
        );
        let other = "other".to_string();
        assert!(
            current.matches("1", &[&other], 2, t2),
            "answer not held: counts"
        );
    }
}
