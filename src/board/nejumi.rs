//! The `nejumi3` and `nejumi4` presets: the Nejumi Leaderboards' aggregations, as their
//! code defines them (wandb/llm-leaderboard: Nejumi 3 on branch v3-maint at 174c888,
//! Nejumi 4 on main at 6e29db4, `scripts/evaluator/aggregate.py` and `jaster.py`).
//!
//! Both count each jaster task as the mean of its 0-shot and 2-shot scores (the translation
//! tasks by COMET, MAWPS and MGSM by `exact_match_figure`; another task by its first metric
//! in Nejumi 3, the mean of its metrics in Nejumi 4), each MT-bench category as its mean
//! grade / 10.
//!
//! - **nejumi3**: a GLP category is the mean of its inputs, GLP the mean of its ten
//!   categories, ALT the mean of its six, TOTAL (GLP + ALT) / 2. Where Nejumi 3's code meets
//!   a missing input it fails or gives NaN; here the category is shown missing, with the
//!   inputs it lacks, and GLP, ALT and TOTAL only when every category under them is filled
//!   (the mean of the filled ones is given beside, named as partial).
//! - **nejumi4**: three levels — twelve categories, their five parents, GLP — each the mean
//!   of the values under it that exist, as Nejumi 4's code skips a missing one (each
//!   category lists what it lacks); TOTAL weighs 推論能力, 知識・質問応答 and
//!   アプリケーション開発 twice. Nejumi 4 gives ALT and TOTAL only with JBBQ, toxicity and
//!   JTruthfulQA runs, which shinpan does not make: they stay missing, and the weighted
//!   total over the filled categories is given beside, named as partial.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::{ModelSummary, Report};

/// An input of a category: a jaster task (0- and 2-shot) or an MT-bench category (/10).
#[derive(Debug, Clone, Copy)]
enum Input {
    Jaster(&'static str),
    MtBench(&'static str),
}
use Input::{Jaster as J, MtBench as M};

/// Nejumi 3's GLP categories and their inputs (`aggregate.py`'s `calculate_combined_means`
/// calls).
const GLP: &[(&str, &[Input])] = &[
    ("表現", &[M("roleplay"), M("writing"), M("humanities")]),
    (
        "翻訳",
        &[
            J("alt-e-to-j"),
            J("alt-j-to-e"),
            J("wikicorpus-e-to-j"),
            J("wikicorpus-j-to-e"),
        ],
    ),
    ("情報検索", &[J("jsquad")]),
    ("推論", &[M("reasoning")]),
    ("数学的推論", &[J("mawps"), J("mgsm"), M("math")]),
    (
        "抽出",
        &[
            J("wiki_ner"),
            J("wiki_coreference"),
            J("chabsa"),
            M("extraction"),
        ],
    ),
    (
        "知識・質問応答",
        &[
            J("jcommonsenseqa"),
            J("jemhopqa"),
            J("jmmlu"),
            J("niilc"),
            J("aio"),
            M("stem"),
        ],
    ),
    ("英語", &[J("mmlu_en")]),
    (
        "意味解析",
        &[J("jnli"), J("janli"), J("jsem"), J("jsick"), J("jamp")],
    ),
    (
        "構文解析",
        &[
            J("jcola-in-domain"),
            J("jcola-out-of-domain"),
            J("jblimp"),
            J("wiki_reading"),
            J("wiki_pas"),
            J("wiki_dependency"),
        ],
    ),
];

/// Nejumi 3's ALT categories. Only 倫理・道徳 (commonsensemoralja, few-shot only) comes from
/// what shinpan runs; the others need LCTG, toxicity, JBBQ, JMMLU robustness and
/// JTruthfulQA, which it does not run.
const ALT: &[&str] = &[
    "制御性",
    "倫理・道徳",
    "毒性",
    "バイアス",
    "堅牢性",
    "真実性",
];

/// A task run's scores: every metric its file lists, in order, with its value.
pub type TaskScores = Vec<(String, Option<f64>)>;

/// One model's inputs: jaster task → few-shots → its scores; MT-bench category → mean (1-10).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// Task scores by task and few-shot count.
    pub jaster: BTreeMap<String, BTreeMap<u32, TaskScores>>,
    /// MT-bench category means, 1-10.
    pub mtbench: BTreeMap<String, f64>,
}

/// One category of the preset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetCategory {
    /// `GLP_表現`, …
    pub name: String,
    /// Its value (nejumi3: when every input is there; nejumi4: the mean of those there, as
    /// Nejumi 4 skips a missing one).
    pub value: Option<f64>,
    /// The inputs it lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Its level in Nejumi 4's hierarchy (2: 応用的言語性能 …, 3: 表現 …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
}

/// One model's preset figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetRow {
    /// The model.
    pub model: String,
    /// TOTAL (nejumi3: (GLP + ALT) / 2; nejumi4: the weighted mean), when Nejumi gives one.
    pub total: Option<f64>,
    /// GLP, when Nejumi gives it (nejumi3: all ten categories filled; nejumi4: MT-bench and
    /// jaster both run).
    pub glp: Option<f64>,
    /// ALT, when Nejumi gives it.
    pub alt: Option<f64>,
    /// The mean of the GLP categories that are filled (nejumi4: of the level-2 ones).
    pub glp_partial: Option<f64>,
    /// GLP categories filled, …
    pub glp_filled: usize,
    /// … of this many.
    pub glp_of: usize,
    /// nejumi4: Nejumi 4's weighted TOTAL over the categories that are filled (not its
    /// TOTAL, which needs ALT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_partial: Option<f64>,
    /// Every category, GLP then ALT.
    pub categories: Vec<PresetCategory>,
    /// Why GLP, ALT or TOTAL is not given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Which Nejumi a task's score is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V3,
    V4,
}

/// A task's score as Nejumi's jaster evaluator takes it: the translation tasks by
/// `comet_wmt22` and MAWPS and MGSM by `exact_match_figure`, whatever the file lists; any
/// other task by its file's first metric (Nejumi 3, v3-maint `jaster.py`) or the mean of all
/// its metrics (Nejumi 4, main `jaster.py`: one row per metric, averaged by the leaderboard's
/// pivot). `Err` says why it cannot be taken.
fn task_score(v: Version, task: &str, metrics: &[(String, Option<f64>)]) -> Result<f64, String> {
    let forced = match task {
        "alt-e-to-j" | "alt-j-to-e" | "wikicorpus-e-to-j" | "wikicorpus-j-to-e" => {
            Some("comet_wmt22")
        }
        "mawps" | "mgsm" => Some("exact_match_figure"),
        _ => None,
    };
    let get = |name: &str| -> Result<f64, String> {
        match metrics.iter().find(|(m, _)| m == name) {
            Some((_, Some(x))) => Ok(*x),
            Some((_, None)) => Err(format!("{task}: its {name} has no value")),
            None => Err(format!(
                "{task}: Nejumi scores it by {name}, which the task run did not{}",
                if name == "comet_wmt22" {
                    " (COMET is refused)"
                } else {
                    ""
                }
            )),
        }
    };
    match (forced, v) {
        (Some(m), _) => get(m),
        (None, Version::V3) => match metrics.first() {
            Some((m, _)) => get(m),
            None => Err(format!("{task}: no metric")),
        },
        (None, Version::V4) => {
            let xs: Vec<f64> = metrics
                .iter()
                .map(|(m, _)| get(m))
                .collect::<Result<_, _>>()?;
            mean(&xs).ok_or_else(|| format!("{task}: no metric"))
        }
    }
}

/// A jaster input as both presets take it: the mean of its 0-shot and 2-shot scores (Nejumi's
/// `num_few_shots` is 2); else what is missing.
fn jaster_mean(v: Version, inputs: &Inputs, task: &str) -> Result<f64, Vec<String>> {
    let shot = |n: u32| -> Result<f64, String> {
        match inputs.jaster.get(task).and_then(|m| m.get(&n)) {
            Some(metrics) => task_score(v, task, metrics),
            None => Err(format!("{task} {n}-shot")),
        }
    };
    match (shot(0), shot(2)) {
        (Ok(a), Ok(b)) => Ok((a + b) / 2.0),
        (a, b) => {
            let mut why: Vec<String> = [a.err(), b.err()].into_iter().flatten().collect();
            why.dedup();
            Err(why)
        }
    }
}

/// Nejumi 3's figures from one model's inputs.
pub fn nejumi3(model: &str, inputs: &Inputs) -> PresetRow {
    let jaster = |t: &str, shots: u32| {
        inputs
            .jaster
            .get(t)
            .and_then(|m| m.get(&shots))
            .map(|ms| task_score(Version::V3, t, ms))
    };
    let mut categories = Vec::new();
    for (name, ins) in GLP {
        let mut values = Vec::new();
        let mut missing = Vec::new();
        for i in *ins {
            match *i {
                J(t) => match jaster_mean(Version::V3, inputs, t) {
                    Ok(v) => values.push(v),
                    Err(why) => missing.extend(why),
                },
                M(c) => match inputs.mtbench.get(c) {
                    Some(v) => values.push(v / 10.0),
                    None => missing.push(format!("MT-bench {c}")),
                },
            }
        }
        categories.push(PresetCategory {
            name: format!("GLP_{name}"),
            value: if missing.is_empty() {
                mean(&values)
            } else {
                None
            },
            missing,
            level: None,
        });
    }
    for name in ALT {
        let (value, missing) = match *name {
            // Nejumi takes the few-shot result only.
            "倫理・道徳" => match jaster("commonsensemoralja", 2) {
                Some(Ok(v)) => (Some(v), Vec::new()),
                Some(Err(why)) => (None, vec![why]),
                None => (None, vec!["commonsensemoralja 2-shot".to_string()]),
            },
            other => (None, vec![format!("{other}: not run by shinpan")]),
        };
        categories.push(PresetCategory {
            name: format!("ALT_{name}"),
            value,
            missing,
            level: None,
        });
    }
    let glp_values: Vec<f64> = categories[..GLP.len()]
        .iter()
        .filter_map(|c| c.value)
        .collect();
    let alt_values: Vec<f64> = categories[GLP.len()..]
        .iter()
        .filter_map(|c| c.value)
        .collect();
    let glp = (glp_values.len() == GLP.len())
        .then(|| mean(&glp_values))
        .flatten();
    let alt = (alt_values.len() == ALT.len())
        .then(|| mean(&alt_values))
        .flatten();
    let mut notes = Vec::new();
    if glp.is_none() {
        notes.push(format!(
            "GLP needs all {} categories ({} filled)",
            GLP.len(),
            glp_values.len()
        ));
    }
    if alt.is_none() {
        notes.push("ALT needs LCTG, toxicity, JBBQ, JMMLU robustness and JTruthfulQA, which shinpan does not run".to_string());
    }
    PresetRow {
        model: model.to_string(),
        total: glp.zip(alt).map(|(g, a)| (g + a) / 2.0),
        glp,
        alt,
        glp_partial: mean(&glp_values),
        glp_filled: glp_values.len(),
        glp_of: GLP.len(),
        total_partial: None,
        categories,
        notes,
    }
}

/// An input of a Nejumi 4 category beyond jaster and MT-bench: a benchmark shinpan does not
/// run (ARC-AGI, HLE, SWE-Bench, JHumanEval, BFCL, M-IFEval, …).
#[derive(Debug, Clone, Copy)]
enum Input4 {
    T(&'static str),
    B(&'static str),
    Other(&'static str),
}

/// A Nejumi 4 level-3 category and its inputs.
type Category4 = (&'static str, &'static [Input4]);

/// Nejumi 4's GLP hierarchy (main `aggregate.py`, `calculate_glp_scores`): the level-2
/// categories, each with its level-3 categories and their inputs.
const GLP4: &[(&str, &[Category4])] = {
    use Input4::{B, Other, T};
    &[
        (
            "応用的言語性能",
            &[
                ("表現", &[B("roleplay"), B("writing"), B("humanities")]),
                ("翻訳", &[T("alt-e-to-j"), T("alt-j-to-e")]),
                ("情報検索", &[T("jsquad")]),
            ],
        ),
        (
            "推論能力",
            &[
                ("抽象的推論", &[Other("ARC-AGI")]),
                ("論理的推論", &[B("reasoning")]),
                ("数学的推論", &[T("mawps"), T("mgsm"), B("math")]),
            ],
        ),
        (
            "知識・質問応答",
            &[
                (
                    "一般的知識",
                    &[
                        T("jcommonsenseqa"),
                        T("jemhopqa"),
                        T("niilc"),
                        T("aio"),
                        B("stem"),
                    ],
                ),
                ("専門的知識", &[T("jmmlu"), T("mmlu_prox_ja"), Other("HLE")]),
            ],
        ),
        (
            "基礎的言語性能",
            &[
                (
                    "意味解析",
                    &[T("jnli"), T("janli"), T("jsem"), T("jsick"), T("jamp")],
                ),
                (
                    "構文解析",
                    &[T("jcola-in-domain"), T("jcola-out-of-domain"), T("jblimp")],
                ),
            ],
        ),
        (
            "アプリケーション開発",
            &[
                (
                    "コーディング",
                    &[Other("SWE-Bench"), Other("JHumanEval"), B("coding")],
                ),
                ("関数呼び出し", &[Other("BFCL")]),
            ],
        ),
    ]
};

/// Nejumi 4's ALT categories (`calculate_alt_scores`) and what each needs beyond what
/// shinpan runs (倫理・道徳 is commonsensemoralja's few-shot score).
const ALT4: &[(&str, &str)] = &[
    ("制御性", "jaster control and M-IFEval"),
    ("倫理・道徳", ""),
    ("毒性", "the toxicity benchmark"),
    ("バイアス", "JBBQ"),
    ("真実性", "JTruthfulQA and HalluLens"),
    ("堅牢性", "JMMLU robustness"),
];

/// Nejumi 4's level-2 categories that TOTAL weighs twice (the rest, and ALT's six, once).
const WEIGHT_TWO: &[&str] = &["推論能力", "知識・質問応答", "アプリケーション開発"];

/// Nejumi 4's weighted TOTAL over the categories that have a value (`evaluate`: weight 2
/// for 推論能力, 知識・質問応答 and アプリケーション開発, 1 for 応用的言語性能, 基礎的言語性能 and
/// ALT's six; a missing one is left out of both sums).
pub fn nejumi4_total(categories: &[(&str, Option<f64>)]) -> Option<f64> {
    let (mut sum, mut weight) = (0.0, 0.0);
    for (name, v) in categories {
        if let Some(v) = v {
            let w = if WEIGHT_TWO.contains(name) { 2.0 } else { 1.0 };
            sum += w * v;
            weight += w;
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

/// Nejumi 4's figures from one model's inputs, as its code computes them: a level-3 category
/// is the mean of the inputs it has (a jaster task counts only with both its 0- and 2-shot
/// scores), a level-2 one the mean of its level-3 ones that have a value, GLP the mean of the
/// level-2 ones — given only when both MT-bench and jaster were run, as Nejumi 4 computes GLP
/// only then. ALT needs JBBQ, toxicity and JTruthfulQA runs (Nejumi 4 computes it only with
/// all three), which shinpan does not make, so ALT and TOTAL are not given; 倫理・道徳 is.
pub fn nejumi4(model: &str, inputs: &Inputs) -> PresetRow {
    let mut level2 = Vec::new();
    let mut level3 = Vec::new();
    for (name2, subs) in GLP4 {
        let mut values2 = Vec::new();
        let mut missing2 = Vec::new();
        for (name3, ins) in *subs {
            let mut values = Vec::new();
            let mut missing = Vec::new();
            for i in *ins {
                match *i {
                    Input4::T(t) => match jaster_mean(Version::V4, inputs, t) {
                        Ok(v) => values.push(v),
                        Err(why) => missing.extend(why),
                    },
                    Input4::B(c) => match inputs.mtbench.get(c) {
                        Some(v) => values.push(v / 10.0),
                        None => missing.push(format!("MT-bench {c}")),
                    },
                    Input4::Other(b) => missing.push(format!("{b}: not run by shinpan")),
                }
            }
            let value = mean(&values);
            match value {
                Some(v) => values2.push(v),
                None => missing2.push(format!("{name3}: no input")),
            }
            level3.push(PresetCategory {
                name: format!("GLP_{name3}"),
                value,
                missing,
                level: Some(3),
            });
        }
        level2.push(PresetCategory {
            name: format!("GLP_{name2}"),
            value: mean(&values2),
            missing: missing2,
            level: Some(2),
        });
    }
    let mut alt = Vec::new();
    for (name, needs) in ALT4 {
        let (value, missing) = if needs.is_empty() {
            match inputs
                .jaster
                .get("commonsensemoralja")
                .and_then(|m| m.get(&2))
            {
                Some(ms) => match task_score(Version::V4, "commonsensemoralja", ms) {
                    Ok(v) => (Some(v), Vec::new()),
                    Err(why) => (None, vec![why]),
                },
                None => (None, vec!["commonsensemoralja 2-shot".to_string()]),
            }
        } else {
            (None, vec![format!("{needs}: not run by shinpan")])
        };
        alt.push(PresetCategory {
            name: format!("ALT_{name}"),
            value,
            missing,
            level: Some(2),
        });
    }
    let filled: Vec<f64> = level2.iter().filter_map(|c| c.value).collect();
    let both_run = !inputs.mtbench.is_empty() && !inputs.jaster.is_empty();
    let glp = if both_run { mean(&filled) } else { None };
    let mut notes = Vec::new();
    if !both_run {
        notes.push(
            "GLP needs both an MT-bench run and jaster task runs (Nejumi 4 computes it only then)"
                .to_string(),
        );
    }
    notes.push(
        "ALT and TOTAL need JBBQ, toxicity and JTruthfulQA runs (Nejumi 4 computes ALT only with all three), which shinpan does not make".to_string(),
    );
    let weighed: Vec<(&str, Option<f64>)> = level2
        .iter()
        .chain(&alt)
        .map(|c| (c.name.split_once('_').map_or("", |(_, n)| n), c.value))
        .collect();
    let total_partial = nejumi4_total(&weighed);
    let mut categories = level2;
    categories.extend(level3);
    categories.extend(alt);
    PresetRow {
        model: model.to_string(),
        total: None,
        glp,
        alt: None,
        glp_partial: mean(&filled),
        glp_filled: filled.len(),
        glp_of: GLP4.len(),
        total_partial,
        categories,
        notes,
    }
}

/// MT-bench's categories, by which a graded run is recognised as MT-bench.
const MT_CATEGORIES: &[&str] = &[
    "writing",
    "roleplay",
    "reasoning",
    "math",
    "coding",
    "extraction",
    "stem",
    "humanities",
];

/// Every model's inputs from the runs' reports: task runs' scores by few-shot count (every
/// metric, in the task file's order), and the MT-bench category means of a graded 1-10 run
/// whose categories are MT-bench's.
pub fn inputs(runs: &[(String, Vec<Report>)]) -> BTreeMap<String, Inputs> {
    let mut out: BTreeMap<String, Inputs> = BTreeMap::new();
    for (_, reports) in runs {
        let pooled = reports.iter().any(|r| r.panel.is_some());
        for r in reports.iter().filter(|r| !pooled || r.panel.is_some()) {
            if let Some(tasks) = &r.tasks {
                for m in tasks {
                    let entry = out.entry(m.model.clone()).or_default();
                    for s in &m.scores {
                        entry
                            .jaster
                            .entry(s.task.clone())
                            .or_default()
                            .entry(s.few_shots)
                            .or_default()
                            .push((s.metric.clone(), s.value));
                    }
                }
                continue;
            }
            for m in &r.models {
                let ModelSummary::Single(s) = m else { continue };
                if s.scale != crate::types::Scale::TEN
                    || !s
                        .categories
                        .keys()
                        .any(|c| MT_CATEGORIES.contains(&c.as_str()))
                {
                    continue;
                }
                let entry = out.entry(s.model.clone()).or_default();
                for (c, score) in &s.categories {
                    if let Some(v) = score.score {
                        entry.mtbench.insert(c.clone(), v);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task's 0- and 2-shot scores under the metric Nejumi takes for it.
    fn shots(task: &str, zero: f64, two: f64) -> BTreeMap<u32, Vec<(String, Option<f64>)>> {
        let metric = match task {
            t if t.starts_with("alt-") || t.starts_with("wikicorpus-") => "comet_wmt22",
            "mawps" | "mgsm" => "exact_match_figure",
            _ => "exact_match",
        };
        BTreeMap::from([
            (0, vec![(metric.to_string(), Some(zero))]),
            (2, vec![(metric.to_string(), Some(two))]),
        ])
    }

    fn close(x: Option<f64>, want: f64) {
        assert!((x.unwrap() - want).abs() < 1e-12, "{x:?} != {want}")
    }

    /// A table of known inputs: every GLP input filled for model a, one missing for b.
    #[test]
    fn nejumi3_on_known_inputs() {
        let mut a = Inputs::default();
        let tasks = [
            "alt-e-to-j",
            "alt-j-to-e",
            "wikicorpus-e-to-j",
            "wikicorpus-j-to-e",
            "jsquad",
            "mawps",
            "mgsm",
            "wiki_ner",
            "wiki_coreference",
            "chabsa",
            "jcommonsenseqa",
            "jemhopqa",
            "jmmlu",
            "niilc",
            "aio",
            "mmlu_en",
            "jnli",
            "janli",
            "jsem",
            "jsick",
            "jamp",
            "jcola-in-domain",
            "jcola-out-of-domain",
            "jblimp",
            "wiki_reading",
            "wiki_pas",
            "wiki_dependency",
            "commonsensemoralja",
        ];
        for t in tasks {
            // 0-shot 0.4, 2-shot 0.6: each task counts 0.5 …
            a.jaster.insert(t.into(), shots(t, 0.4, 0.6));
        }
        // … but JNLI 0.1 and 0.3 (0.2).
        a.jaster.insert("jnli".into(), shots("jnli", 0.1, 0.3));
        for c in MT_CATEGORIES {
            a.mtbench.insert(c.to_string(), 7.0);
        }
        a.mtbench.insert("math".into(), 4.0);
        let r = nejumi3("a", &a);
        let v = |n: &str| r.categories.iter().find(|c| c.name == n).unwrap().value;
        close(v("GLP_表現"), 0.7);
        close(v("GLP_翻訳"), 0.5);
        close(v("GLP_推論"), 0.7);
        // (0.5 + 0.5 + 4/10) / 3
        close(v("GLP_数学的推論"), 1.4 / 3.0);
        // (0.5·3 + 0.7) / 4
        close(v("GLP_抽出"), 2.2 / 4.0);
        // (0.5·5 + 0.7) / 6
        close(v("GLP_知識・質問応答"), 3.2 / 6.0);
        // (0.2 + 0.5·4) / 5
        close(v("GLP_意味解析"), 2.2 / 5.0);
        close(v("GLP_構文解析"), 0.5);
        // 倫理・道徳: the 2-shot score alone.
        close(v("ALT_倫理・道徳"), 0.6);
        let glp =
            (0.7 + 0.5 + 0.5 + 0.7 + 1.4 / 3.0 + 2.2 / 4.0 + 3.2 / 6.0 + 0.5 + 2.2 / 5.0 + 0.5)
                / 10.0;
        close(r.glp, glp);
        assert_eq!(r.glp_filled, 10);
        // ALT needs what shinpan does not run: missing, so TOTAL is too.
        assert_eq!((r.alt, r.total), (None, None));
        assert!(
            r.categories
                .iter()
                .any(|c| c.name == "ALT_毒性" && c.value.is_none())
        );

        let mut b = a.clone();
        b.jaster.get_mut("mgsm").unwrap().remove(&2);
        let r = nejumi3("b", &b);
        let c = r
            .categories
            .iter()
            .find(|c| c.name == "GLP_数学的推論")
            .unwrap();
        assert_eq!(
            (c.value, c.missing.clone()),
            (None, vec!["mgsm 2-shot".to_string()])
        );
        assert_eq!((r.glp, r.glp_filled), (None, 9));
        close(r.glp_partial, (glp * 10.0 - 1.4 / 3.0) / 9.0);
    }

    /// Nejumi 3 takes a task's first metric, and a translation task by COMET only: a run that
    /// scored alt-e-to-j by BLEU leaves 翻訳 missing, saying why.
    #[test]
    fn nejumi3_takes_the_metric_nejumi_takes() {
        let mut a = Inputs::default();
        let two = |m: &str, x: f64, n: &str, y: f64| {
            BTreeMap::from([
                (0, vec![(m.to_string(), Some(x)), (n.to_string(), Some(y))]),
                (2, vec![(m.to_string(), Some(x)), (n.to_string(), Some(y))]),
            ])
        };
        a.jaster
            .insert("jsquad".into(), two("char_f1", 0.8, "char_level_f1", 0.2));
        a.jaster
            .insert("alt-e-to-j".into(), two("bleu_ja", 0.3, "comet_wmt22", 0.0));
        a.jaster.get_mut("alt-e-to-j").unwrap().get_mut(&0).unwrap()[1].1 = None;
        a.jaster
            .insert("mawps".into(), two("exact_match", 0.9, "char_f1", 0.1));
        let r = nejumi3("a", &a);
        let c = |n: &str| r.categories.iter().find(|c| c.name == n).unwrap().clone();
        close(c("GLP_情報検索").value, 0.8);
        assert_eq!(c("GLP_翻訳").value, None);
        assert!(
            c("GLP_翻訳").missing[0].contains("comet_wmt22 has no value"),
            "{:?}",
            c("GLP_翻訳").missing
        );
        assert!(
            c("GLP_数学的推論")
                .missing
                .iter()
                .any(|m| m.contains("mawps: Nejumi scores it by exact_match_figure")),
            "{:?}",
            c("GLP_数学的推論").missing
        );
        // Nejumi 4 averages a task's metrics: JSQuAD (0.8 + 0.2) / 2.
        let r = nejumi4("a", &a);
        let c = |n: &str| r.categories.iter().find(|c| c.name == n).unwrap().clone();
        close(c("GLP_情報検索").value, 0.5);
    }

    /// A table of known inputs for Nejumi 4: its three levels, each the mean of the values
    /// under it that exist, TOTAL's weights, GLP only with both MT-bench and jaster.
    #[test]
    fn nejumi4_on_known_inputs() {
        let mut a = Inputs::default();
        for t in [
            "alt-e-to-j",
            "alt-j-to-e",
            "jsquad",
            "mawps",
            "mgsm",
            "jcommonsenseqa",
            "jemhopqa",
            "niilc",
            "aio",
            "jmmlu",
            "mmlu_prox_ja",
            "jnli",
            "janli",
            "jsem",
            "jsick",
            "jamp",
            "jcola-in-domain",
            "jcola-out-of-domain",
            "jblimp",
            "commonsensemoralja",
        ] {
            a.jaster.insert(t.into(), shots(t, 0.4, 0.6));
        }
        // The translation tasks have no COMET (refused): 翻訳 is missing.
        a.jaster.remove("alt-e-to-j");
        a.jaster.remove("alt-j-to-e");
        a.jaster.insert("jnli".into(), shots("jnli", 0.1, 0.3));
        a.jaster.insert("jsquad".into(), shots("jsquad", 0.7, 0.9));
        for c in MT_CATEGORIES {
            a.mtbench.insert(c.to_string(), 7.0);
        }
        a.mtbench.insert("math".into(), 4.0);
        a.mtbench.insert("coding".into(), 3.0);
        let r = nejumi4("a", &a);
        let v = |n: &str| r.categories.iter().find(|c| c.name == n).unwrap().value;
        // Level 3.
        close(v("GLP_表現"), 0.7);
        assert_eq!(v("GLP_翻訳"), None);
        close(v("GLP_情報検索"), 0.8);
        assert_eq!(v("GLP_抽象的推論"), None);
        close(v("GLP_論理的推論"), 0.7);
        close(v("GLP_数学的推論"), 1.4 / 3.0);
        close(v("GLP_一般的知識"), 2.7 / 5.0);
        close(v("GLP_専門的知識"), 0.5);
        close(v("GLP_意味解析"), 2.2 / 5.0);
        close(v("GLP_構文解析"), 0.5);
        // コーディング: MT-bench coding alone (SWE-Bench, JHumanEval not run), and it says so.
        close(v("GLP_コーディング"), 0.3);
        let coding = r
            .categories
            .iter()
            .find(|c| c.name == "GLP_コーディング")
            .unwrap();
        assert_eq!(coding.missing.len(), 2, "{:?}", coding.missing);
        assert_eq!(v("GLP_関数呼び出し"), None);
        // Level 2: the mean of the level-3 values there.
        close(v("GLP_応用的言語性能"), (0.7 + 0.8) / 2.0);
        close(v("GLP_推論能力"), (0.7 + 1.4 / 3.0) / 2.0);
        close(v("GLP_知識・質問応答"), (2.7 / 5.0 + 0.5) / 2.0);
        close(v("GLP_基礎的言語性能"), (2.2 / 5.0 + 0.5) / 2.0);
        close(v("GLP_アプリケーション開発"), 0.3);
        let l2 = [
            (0.7 + 0.8) / 2.0,
            (0.7 + 1.4 / 3.0) / 2.0,
            (2.7 / 5.0 + 0.5) / 2.0,
            (2.2 / 5.0 + 0.5) / 2.0,
            0.3,
        ];
        close(r.glp, l2.iter().sum::<f64>() / 5.0);
        assert_eq!((r.glp_filled, r.glp_of), (5, 5));
        close(v("ALT_倫理・道徳"), 0.6);
        assert_eq!((r.alt, r.total), (None, None));
        // TOTAL's weighting over what is filled: 2 for 推論能力, 知識・質問応答 and
        // アプリケーション開発, 1 for the others and 倫理・道徳.
        let weighted = (l2[0] + l2[3] + 0.6 + 2.0 * (l2[1] + l2[2] + l2[4])) / 9.0;
        close(r.total_partial, weighted);
        // Without MT-bench, Nejumi 4 computes no GLP.
        let mut b = a.clone();
        b.mtbench.clear();
        let r = nejumi4("b", &b);
        assert_eq!(r.glp, None);
        assert!(r.notes[0].contains("MT-bench"), "{:?}", r.notes);
        close(
            r.categories
                .iter()
                .find(|c| c.name == "GLP_情報検索")
                .unwrap()
                .value,
            0.8,
        );
    }
}
