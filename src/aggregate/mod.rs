//! Aggregation: judgment records in, per-model summaries out. The rules are FastChat's
//! `show_result.py`: single mode drops rows without a score and averages the rest; pairwise
//! mode drops games where either order failed, and counts a game as a tie when either order
//! says tie or the two orders disagree.

pub mod agreement;
pub mod answers;
pub mod bootstrap;
pub mod bt;
pub mod coverage;
pub mod family;
pub mod headtohead;
pub mod length;
mod load;
mod pairwise;
pub mod panel;
mod position;
pub mod ratings;
pub mod samples;
mod single;
pub mod style;
pub mod sum;
pub mod tasks;

pub use crate::records::{PairGame, SingleGrade};
pub use crate::types::Mode;
pub use bootstrap::BootstrapOptions;
pub use coverage::{Expectation, ModelCoverage};
pub use load::{Loaded, build_reports, load_judgments, load_judgments_as, load_runs};
pub use pairwise::{GameOutcome, PairSummary, PairwiseResult, combine, summarize_pairs};
pub use position::{InconsistentGame, PositionBias};
pub use single::{AspectScore, CategoryScore, SingleResult, SingleSummary, summarize_single};

use serde::Serialize;

/// How figures are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsOptions {
    /// Bootstrap rounds and seed for every interval.
    pub bootstrap: BootstrapOptions,
    /// Count pairwise games with an error in either order as ties (ja-vicuna-qa's rule)
    /// instead of leaving them out (FastChat's rule).
    pub errors_as_ties: bool,
    /// At most this many inconsistent games are listed (0: all); the count is always given.
    pub max_listed: usize,
    /// Score answers to Japanese questions that are not in Japanese as failures: the lowest
    /// grade (1) in single mode, a loss in pairwise mode (unless both answers fail).
    pub non_japanese_as_failure: bool,
}

/// How verdicts follow answer length.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct LengthBias {
    /// Rows (single) or games (pairwise) with known answer lengths.
    pub n: usize,
    /// Pearson correlation of the score with the answer's length (single), or of the
    /// outcome for model_1 (1, ½, 0) with model_1's length minus model_2's (pairwise).
    pub correlation: Option<f64>,
}

impl Default for StatsOptions {
    fn default() -> Self {
        Self {
            bootstrap: BootstrapOptions::default(),
            errors_as_ties: false,
            max_listed: crate::defaults::MAX_LISTED,
            non_japanese_as_failure: false,
        }
    }
}

/// One model's line in a report.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ModelSummary {
    /// Single-mode figures.
    Single(SingleSummary),
    /// Pairwise figures.
    Pair(PairSummary),
}

/// The result of one judged evaluation, ready for an exporter.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run directory it comes from, when a report shows several runs side by side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The evaluation mode.
    pub mode: Mode,
    /// The judge model.
    pub judge: String,
    /// The official set and version the judged questions came from (`--bench`): reports of
    /// different versions are kept apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// The scale of the grades (single, rubric): grades on two scales are reported apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::types::Scale>,
    /// The baseline model (pairwise-baseline only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// One entry per model, best first.
    pub models: Vec<ModelSummary>,
    /// Position-bias figures (pairwise reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position_bias: Option<PositionBias>,
    /// Length-bias figures, when answer lengths are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_bias: Option<LengthBias>,
    /// How much repeated judgments (`--judge-samples`) disagreed, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<samples::Sampling>,
    /// Style control (pairwise, answers known): how many games and each style feature's
    /// coefficient; the models' `style_bt_rating` are the ratings it controls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style_control: Option<style::StyleControl>,
    /// Models of the judge's own family (self-preference risk), the judge itself included
    /// when it is also a candidate; empty when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub same_family_as_judge: Vec<String>,
    /// The judge is also a candidate: it grades (or plays) its own answers.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub self_judging: bool,
    /// Whether some expected judgment is failed or missing (or the run was interrupted): the
    /// figures describe only what was judged.
    pub partial: bool,
    /// Why the report is partial, in a few words each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial_reasons: Vec<String>,
    /// Per model: judgments expected, judged, failed and missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<ModelCoverage>,
    /// The rubric's aspects in the configured order (rubric reports of a run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aspects: Vec<String>,
    /// What the run spent, by model and stage, over every invocation (reports of a run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spend: Vec<crate::records::spend::SpendRow>,
    /// A panel's own figures (the pooled report of a panel of judges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panel: Option<panel::Panel>,
    /// llm-jp-eval's figures per model, when the items are task samples scored by rule
    /// (`--tasks`): each task's scores, each category, AVG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<tasks::TaskModel>>,
    /// The question set the run recorded (a file's name and digest), for the board's
    /// columns; not in the JSON (`bench` names an official set there).
    #[serde(skip)]
    pub question_set: Option<String>,
}

impl Report {
    /// The report of one judge's grades.
    pub fn single(mode: Mode, judge: &str, r: SingleResult, exp: Option<&Expectation>) -> Self {
        let models = r.models.into_iter().map(ModelSummary::Single).collect();
        Report {
            scale: Some(r.scale),
            length_bias: r.length,
            sampling: r.sampling,
            aspects: exp
                .filter(|_| mode == Mode::Rubric)
                .map(|e| e.aspects.clone())
                .unwrap_or_default(),
            ..Report::new(mode, judge, None, models, r.coverage, exp)
        }
    }

    /// The report of one judge's games (pairwise-baseline when there is a baseline).
    pub fn pairwise(
        judge: &str,
        baseline: Option<String>,
        r: PairwiseResult,
        exp: Option<&Expectation>,
    ) -> Self {
        let mode = if baseline.is_some() {
            Mode::PairwiseBaseline
        } else {
            Mode::PairwiseAll
        };
        let models = r.models.into_iter().map(ModelSummary::Pair).collect();
        Report {
            position_bias: Some(r.position),
            length_bias: r.length,
            sampling: r.sampling,
            style_control: r.style,
            ..Report::new(mode, judge, baseline, models, r.coverage, exp)
        }
    }

    /// The parts every report has; `partial` and the self-preference flags follow from them.
    fn new(
        mode: Mode,
        judge: &str,
        baseline: Option<String>,
        models: Vec<ModelSummary>,
        coverage: Vec<ModelCoverage>,
        exp: Option<&Expectation>,
    ) -> Self {
        let partial_reasons = coverage::partial_reasons(&coverage, exp);
        Report {
            mode,
            judge: judge.to_string(),
            run: None,
            scale: None,
            bench: exp.and_then(|e| e.bench.clone()),
            baseline,
            models,
            position_bias: None,
            length_bias: None,
            sampling: None,
            style_control: None,
            same_family_as_judge: Vec::new(),
            self_judging: false,
            partial: !partial_reasons.is_empty(),
            partial_reasons,
            coverage,
            aspects: Vec::new(),
            spend: exp.map(|e| e.spend.clone()).unwrap_or_default(),
            panel: None,
            tasks: None,
            question_set: exp.and_then(|e| e.set.clone()),
        }
        .flag_self_preference()
    }

    /// Fills `same_family_as_judge` from the model and judge names.
    fn flag_self_preference(mut self) -> Self {
        let judge = family::family(&self.judge);
        self.same_family_as_judge = self
            .models
            .iter()
            .map(|m| match m {
                ModelSummary::Single(s) => s.model.as_str(),
                ModelSummary::Pair(p) => p.model.as_str(),
            })
            .chain(self.baseline.as_deref())
            .filter(|m| *m == self.judge || (judge.is_some() && family::family(m) == judge))
            .map(str::to_string)
            .collect();
        self.self_judging = self.same_family_as_judge.contains(&self.judge);
        self
    }
}

/// Mean of a slice, `None` when empty; the same in any order ([`sum::exact_sum`]).
pub(crate) fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        None
    } else {
        Some(sum::exact_sum(xs.iter().copied()) / xs.len() as f64)
    }
}

/// Divides, `None` when the denominator is zero.
pub(crate) fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}
