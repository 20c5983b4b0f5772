//! The `nejumi3` preset: Nejumi Leaderboard 3's aggregation, as its code defines it
//! (wandb/llm-leaderboard, branch v3-maint at 174c888, `scripts/evaluator/aggregate.py`).
//! Each jaster task counts as the mean of its 0-shot and 2-shot scores (its first metric;
//! MAWPS and MGSM by `exact_match_figure`), each MT-bench category as its mean grade / 10;
//! a GLP category is the mean of its inputs, GLP the mean of its ten categories, ALT the mean
//! of its six, TOTAL (GLP + ALT) / 2. Where Nejumi's code meets a missing input it fails or
//! gives NaN; here the category is shown missing, with the inputs it lacks, and GLP, ALT and
//! TOTAL only when every category under them is filled (the mean of the filled ones is given
//! beside, named as partial).

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

/// One model's inputs: jaster task → few-shots → score; MT-bench category → mean (1-10).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// Task scores by task and few-shot count.
    pub jaster: BTreeMap<String, BTreeMap<u32, f64>>,
    /// MT-bench category means, 1-10.
    pub mtbench: BTreeMap<String, f64>,
}

/// One category of the preset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetCategory {
    /// `GLP_表現`, …
    pub name: String,
    /// Its value, when every input is there.
    pub value: Option<f64>,
    /// The inputs it lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// One model's preset figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresetRow {
    /// The model.
    pub model: String,
    /// TOTAL = (GLP + ALT) / 2, when both are complete.
    pub total: Option<f64>,
    /// GLP, when all ten categories are filled.
    pub glp: Option<f64>,
    /// ALT, when all six are filled.
    pub alt: Option<f64>,
    /// The mean of the GLP categories that are filled, and how many are.
    pub glp_partial: Option<f64>,
    /// GLP categories filled, of ten.
    pub glp_filled: usize,
    /// Every category, GLP then ALT.
    pub categories: Vec<PresetCategory>,
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Nejumi 3's figures from one model's inputs.
pub fn nejumi3(model: &str, inputs: &Inputs) -> PresetRow {
    let jaster = |t: &str, shots: u32| inputs.jaster.get(t).and_then(|m| m.get(&shots)).copied();
    let mut categories = Vec::new();
    for (name, ins) in GLP {
        let mut values = Vec::new();
        let mut missing = Vec::new();
        for i in *ins {
            match *i {
                J(t) => match (jaster(t, 0), jaster(t, 2)) {
                    (Some(a), Some(b)) => values.push((a + b) / 2.0),
                    (a, b) => {
                        for (v, n) in [(a, 0), (b, 2)] {
                            if v.is_none() {
                                missing.push(format!("{t} {n}-shot"));
                            }
                        }
                    }
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
        });
    }
    for name in ALT {
        let (value, missing) = match *name {
            // Nejumi takes the few-shot result only.
            "倫理・道徳" => match jaster("commonsensemoralja", 2) {
                Some(v) => (Some(v), Vec::new()),
                None => (None, vec!["commonsensemoralja 2-shot".to_string()]),
            },
            other => (None, vec![format!("{other}: not run by shinpan")]),
        };
        categories.push(PresetCategory {
            name: format!("ALT_{name}"),
            value,
            missing,
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
    PresetRow {
        model: model.to_string(),
        total: glp.zip(alt).map(|(g, a)| (g + a) / 2.0),
        glp,
        alt,
        glp_partial: mean(&glp_values),
        glp_filled: glp_values.len(),
        categories,
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

/// Every model's inputs from the runs' reports: task runs' scores by few-shot count (the
/// task's first metric; MAWPS, MGSM by `exact_match_figure` when scored), and the MT-bench
/// category means of a graded 1-10 run whose categories are MT-bench's.
pub fn inputs(runs: &[(String, Vec<Report>)]) -> BTreeMap<String, Inputs> {
    let mut out: BTreeMap<String, Inputs> = BTreeMap::new();
    for (_, reports) in runs {
        let pooled = reports.iter().any(|r| r.panel.is_some());
        for r in reports.iter().filter(|r| !pooled || r.panel.is_some()) {
            if let Some(tasks) = &r.tasks {
                for m in tasks {
                    let entry = out.entry(m.model.clone()).or_default();
                    let mut seen: Vec<&str> = Vec::new();
                    for s in &m.scores {
                        let Some(v) = s.value else { continue };
                        let figure = matches!(s.task.as_str(), "mawps" | "mgsm");
                        let first = !seen.contains(&s.task.as_str());
                        if first || (figure && s.metric == "exact_match_figure") {
                            entry
                                .jaster
                                .entry(s.task.clone())
                                .or_default()
                                .insert(s.few_shots, v);
                        }
                        seen.push(&s.task);
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
            a.jaster
                .insert(t.into(), BTreeMap::from([(0, 0.4), (2, 0.6)]));
        }
        // … but JNLI 0.1 and 0.3 (0.2).
        a.jaster
            .insert("jnli".into(), BTreeMap::from([(0, 0.1), (2, 0.3)]));
        for c in MT_CATEGORIES {
            a.mtbench.insert(c.to_string(), 7.0);
        }
        a.mtbench.insert("math".into(), 4.0);
        let r = nejumi3("a", &a);
        let v = |n: &str| r.categories.iter().find(|c| c.name == n).unwrap().value;
        let close = |x: Option<f64>, want: f64| {
            assert!((x.unwrap() - want).abs() < 1e-12, "{x:?} != {want}")
        };
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
}
