//! llm-jp-eval's figures from task samples scored by rule: per model, each `TASK_METRIC`
//! score (a per-sample metric's mean, or a correlation over the task's samples), each
//! category's mean of its scores, and AVG, the mean of the categories, as llm-jp-eval and
//! its leaderboard count them ([`crate::tasks::CATEGORIES`]). Intervals resample each task's
//! samples (percentile bootstrap), every figure from the same draw.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::bootstrap::{BootstrapOptions, interval, rng_for};
use crate::records::SingleGrade;
use crate::scorer::metrics::Metric;

/// One model's task figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskModel {
    /// The model.
    pub model: String,
    /// Every `TASK_METRIC` score, by task then metric as the task file lists them.
    pub scores: Vec<TaskScore>,
    /// Every category with at least one score, in llm-jp-eval's order.
    pub categories: Vec<CategoryScore>,
    /// The mean of the averaged categories (`None`: none of them has a score).
    pub avg: Option<f64>,
    /// The few-shots every task was prompted with (`None`: tasks differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub few_shots: Option<u32>,
    /// Its interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_ci: Option<[f64; 2]>,
}

/// One `TASK_METRIC` score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// `jsquad_char_f1`, as llm-jp-eval names it.
    pub name: String,
    /// The task.
    pub task: String,
    /// The metric.
    pub metric: String,
    /// Its value, 0-1 (correlations −1 to 1); `None` when it cannot be computed.
    pub value: Option<f64>,
    /// Its interval over the task's samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// Samples scored.
    pub samples: usize,
    /// Few-shots in the task's prompts.
    #[serde(default)]
    pub few_shots: u32,
    /// The category it counts in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Why there is no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// One category: the mean of its scores that have a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    /// `NLI`, `QA`, …
    pub name: String,
    /// The mean.
    pub value: f64,
    /// Its interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// The scores it averages.
    pub scores: Vec<String>,
    /// Whether AVG counts it (STS: not).
    pub averaged: bool,
}

/// What one task's samples give every figure: per-sample values, or numbers to correlate.
struct TaskData {
    task: String,
    few_shots: u32,
    metrics: Vec<(String, Kind)>,
}

enum Kind {
    /// Per-sample values; the score is their mean.
    Mean(Vec<f64>),
    /// (gold, prediction) numbers; the score is their correlation (0 where undefined).
    Correlation(Metric, Vec<f64>, Vec<f64>),
    /// Cannot be computed, and why.
    Missing(String, usize),
}

impl Kind {
    fn samples(&self) -> usize {
        match self {
            Kind::Mean(v) => v.len(),
            Kind::Correlation(_, g, _) => g.len(),
            Kind::Missing(_, n) => *n,
        }
    }

    /// The score over the samples at `idx` (all of them when `None`).
    fn value(&self, idx: Option<&[usize]>) -> Option<f64> {
        match self {
            Kind::Mean(v) => {
                let (sum, n) = match idx {
                    None => (v.iter().sum::<f64>(), v.len()),
                    Some(ix) => (ix.iter().map(|&i| v[i]).sum::<f64>(), ix.len()),
                };
                (n > 0).then(|| sum / n as f64)
            }
            Kind::Correlation(m, g, p) => {
                let (g, p): (Vec<f64>, Vec<f64>) = match idx {
                    None => (g.clone(), p.clone()),
                    Some(ix) => ix.iter().map(|&i| (g[i], p[i])).unzip(),
                };
                if g.is_empty() {
                    return None;
                }
                let r = if *m == Metric::Pearson {
                    super::length::pearson(&g, &p)
                } else {
                    super::agreement::spearman(&g, &p)
                };
                Some(r.filter(|r| r.is_finite()).unwrap_or(0.0))
            }
            Kind::Missing(..) => None,
        }
    }
}

/// The task figures of every model with task samples among `rows`, models in the order
/// their best AVG gives (`None` when no row is a task sample).
pub fn summarize(rows: &[&SingleGrade], opts: BootstrapOptions) -> Option<Vec<TaskModel>> {
    // model → task → rows, in file order.
    let mut by: BTreeMap<&str, BTreeMap<&str, Vec<&SingleGrade>>> = BTreeMap::new();
    for r in rows {
        if let Some(t) = &r.task {
            by.entry(r.model.as_str())
                .or_default()
                .entry(t.task.as_str())
                .or_default()
                .push(r);
        }
    }
    if by.is_empty() {
        return None;
    }
    let mut models: Vec<TaskModel> = by
        .into_iter()
        .map(|(model, tasks)| {
            let data: Vec<TaskData> = tasks.into_iter().map(|(t, rs)| task_data(t, &rs)).collect();
            summarize_model(model, &data, opts)
        })
        .collect();
    models.sort_by(|a, b| {
        b.avg
            .unwrap_or(f64::MIN)
            .total_cmp(&a.avg.unwrap_or(f64::MIN))
            .then_with(|| a.model.cmp(&b.model))
    });
    Some(models)
}

fn task_data(task: &str, rows: &[&SingleGrade]) -> TaskData {
    let metrics_named = rows
        .first()
        .and_then(|r| r.task.as_ref())
        .map(|t| t.metrics.clone())
        .unwrap_or_default();
    let metrics = metrics_named
        .into_iter()
        .map(|name| {
            let kind =
                match Metric::parse(&name) {
                    Err(e) => Kind::Missing(e, rows.len()),
                    Ok(m) if m.over_task() => {
                        let mut golds = Vec::with_capacity(rows.len());
                        let mut preds = Vec::with_capacity(rows.len());
                        let mut bad = None;
                        for r in rows {
                            let t = r.task.as_ref().expect("grouped by task");
                            match t.gold.trim().parse::<f64>() {
                                Ok(g) => golds.push(g),
                                Err(_) => {
                                    bad.get_or_insert_with(|| {
                                        format!(
                                            "sample {}: the gold {:?} is not a number",
                                            r.question_id, t.gold
                                        )
                                    });
                                    continue;
                                }
                            }
                            preds.push(t.value.unwrap_or_else(|| {
                                crate::scorer::metrics::parse_float(&t.prediction)
                            }));
                        }
                        match bad {
                            Some(why) => Kind::Missing(why, rows.len()),
                            None => Kind::Correlation(m, golds, preds),
                        }
                    }
                    Ok(m) => {
                        let values: Vec<Option<f64>> = rows
                            .iter()
                            .map(|r| {
                                r.task
                                    .as_ref()
                                    .and_then(|t| t.scores.get(m.name()).copied())
                            })
                            .collect();
                        match values.iter().position(Option::is_none) {
                            Some(i) => Kind::Missing(
                                format!(
                                    "sample {}: no {} value (it could not be computed when scored)",
                                    rows[i].question_id,
                                    m.name()
                                ),
                                rows.len(),
                            ),
                            None => Kind::Mean(values.into_iter().flatten().collect()),
                        }
                    }
                };
            (name, kind)
        })
        .collect();
    TaskData {
        task: task.to_string(),
        few_shots: rows
            .first()
            .and_then(|r| r.task.as_ref())
            .map_or(0, |t| t.few_shots),
        metrics,
    }
}

/// One draw's figures: the scores in order, each category (name, averaged, mean), AVG.
type Figures = (
    Vec<Option<f64>>,
    Vec<(&'static str, bool, Option<f64>)>,
    Option<f64>,
);

/// Every figure of one draw: scores (task by task, metric by metric), categories, AVG.
fn figures(data: &[TaskData], draw: Option<&[Vec<usize>]>) -> Figures {
    let mut scores = Vec::new();
    let mut cells: BTreeMap<String, f64> = BTreeMap::new();
    for (t, d) in data.iter().enumerate() {
        for (metric, kind) in &d.metrics {
            let v = kind.value(draw.map(|dr| dr[t].as_slice()));
            if let Some(v) = v {
                cells.insert(format!("{}_{metric}", d.task), v);
            }
            scores.push(v);
        }
    }
    let cats: Vec<(&'static str, bool, Option<f64>)> = crate::tasks::CATEGORIES
        .iter()
        .map(|c| (c, true))
        .chain(crate::tasks::UNAVERAGED.iter().map(|c| (c, false)))
        .map(|((name, names), averaged)| {
            let vs: Vec<f64> = names
                .iter()
                .filter_map(|n| cells.get(*n).copied())
                .collect();
            let mean = (!vs.is_empty()).then(|| vs.iter().sum::<f64>() / vs.len() as f64);
            (*name, averaged, mean)
        })
        .collect();
    let averaged: Vec<f64> = cats
        .iter()
        .filter(|(_, a, _)| *a)
        .filter_map(|(_, _, v)| *v)
        .collect();
    let avg = (!averaged.is_empty()).then(|| averaged.iter().sum::<f64>() / averaged.len() as f64);
    (scores, cats, avg)
}

fn summarize_model(model: &str, data: &[TaskData], opts: BootstrapOptions) -> TaskModel {
    let (point, cats, avg) = figures(data, None);
    let mut rng = rng_for(opts.seed, &format!("tasks:{model}"));
    let mut score_draws: Vec<Vec<f64>> = vec![Vec::new(); point.len()];
    let mut cat_draws: Vec<Vec<f64>> = vec![Vec::new(); cats.len()];
    let mut avg_draws = Vec::new();
    for _ in 0..opts.rounds {
        let draw: Vec<Vec<usize>> = data
            .iter()
            .map(|d| {
                let n = d.metrics.first().map_or(0, |(_, k)| k.samples());
                (0..n).map(|_| rng.random_range(0..n)).collect()
            })
            .collect();
        let (s, c, a) = figures(data, Some(&draw));
        for (i, v) in s.into_iter().enumerate() {
            if let Some(v) = v {
                score_draws[i].push(v);
            }
        }
        for (i, (_, _, v)) in c.into_iter().enumerate() {
            if let Some(v) = v {
                cat_draws[i].push(v);
            }
        }
        if let Some(a) = a {
            avg_draws.push(a);
        }
    }
    let mut scores = Vec::new();
    let mut draws = score_draws.into_iter();
    let mut values = point.into_iter();
    for d in data {
        for (metric, kind) in &d.metrics {
            let name = format!("{}_{metric}", d.task);
            let value = values.next().expect("one per score");
            let ds = draws.next().expect("one per score");
            scores.push(TaskScore {
                category: crate::tasks::category_of(&name).map(|(c, _)| c.to_string()),
                name,
                task: d.task.clone(),
                metric: metric.clone(),
                value,
                ci: value.and_then(|_| interval(ds)),
                samples: kind.samples(),
                few_shots: d.few_shots,
                missing: match kind {
                    Kind::Missing(why, _) => Some(why.clone()),
                    _ => None,
                },
            });
        }
    }
    let categories = cats
        .into_iter()
        .zip(cat_draws)
        .filter_map(|((name, averaged, v), ds)| {
            let value = v?;
            let members = crate::tasks::CATEGORIES
                .iter()
                .chain(crate::tasks::UNAVERAGED)
                .find(|(n, _)| *n == name)
                .map(|(_, m)| *m)
                .unwrap_or_default();
            Some(CategoryScore {
                name: name.to_string(),
                value,
                ci: interval(ds),
                scores: scores
                    .iter()
                    .filter(|s| s.value.is_some() && members.contains(&s.name.as_str()))
                    .map(|s| s.name.clone())
                    .collect(),
                averaged,
            })
        })
        .collect();
    let shots = data.first().map(|d| d.few_shots);
    TaskModel {
        model: model.to_string(),
        few_shots: shots.filter(|s| data.iter().all(|d| d.few_shots == *s)),
        scores,
        categories,
        avg,
        avg_ci: avg.and_then(|_| interval(avg_draws)),
    }
}
