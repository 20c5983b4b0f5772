//! The run's report: read back from the judgment file, written as Markdown and JSON, printed.

use std::collections::HashSet;
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
    let answers = index;
    let (models, position_bias, length_bias, sampling) = if opts.mode.is_graded() {
        let rows: Vec<SingleGrade> = read_jsonl_if_exists::<SingleGrade>(jpath)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| names.contains(r.model.as_str()) && r.judge.model() == judge)
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
