//! The tables of a task run (`--tasks`): llm-jp-eval's categories and AVG per model, then
//! every task score with its interval.

use super::{Table, ci, num, table};
use crate::aggregate::tasks::TaskModel;

/// The category table, then the scores table.
pub(super) fn task_tables(title: &str, models: &[TaskModel], out: &mut Vec<Table>) {
    let mut cats: Vec<&str> = Vec::new();
    for m in models {
        for c in &m.categories {
            if !cats.contains(&c.name.as_str()) {
                cats.push(&c.name);
            }
        }
    }
    // llm-jp-eval's order.
    let order = |c: &str| {
        crate::tasks::CATEGORIES
            .iter()
            .chain(crate::tasks::UNAVERAGED)
            .position(|(n, _)| *n == c)
            .unwrap_or(usize::MAX)
    };
    cats.sort_by_key(|c| order(c));
    let mut headers: Vec<String> = vec!["model".into(), "AVG".into(), "95% CI".into()];
    headers.extend(cats.iter().map(|c| {
        let averaged = crate::tasks::CATEGORIES.iter().any(|(n, _)| n == c);
        if averaged {
            c.to_string()
        } else {
            format!("{c}*")
        }
    }));
    let rows = models
        .iter()
        .map(|m| {
            let mut row = vec![m.model.clone(), num(m.avg, 4), ci(m.avg_ci, 4)];
            row.extend(cats.iter().map(|c| {
                num(
                    m.categories.iter().find(|x| x.name == *c).map(|x| x.value),
                    4,
                )
            }));
            row
        })
        .collect();
    let hs: Vec<&str> = headers.iter().map(String::as_str).collect();
    out.push(table(
        format!("{title}: llm-jp-eval categories"),
        hs,
        rows,
        "Each category is the mean of its task scores that could be computed; AVG the mean of \
         the categories, as llm-jp-eval counts them (a category marked * is reported, not \
         averaged). A category with no score is `-`: missing, never counted as zero. Intervals \
         resample each task's samples.",
    ));
    let rows = models
        .iter()
        .flat_map(|m| {
            m.scores.iter().map(|s| {
                vec![
                    m.model.clone(),
                    s.name.clone(),
                    s.category.clone().unwrap_or_else(|| "-".into()),
                    match &s.missing {
                        Some(why) => format!("- ({why})"),
                        None => num(s.value, 4),
                    },
                    ci(s.ci, 4),
                    s.samples.to_string(),
                ]
            })
        })
        .collect();
    out.push(table(
        format!("{title}: task scores"),
        vec!["model", "score", "category", "value", "95% CI", "samples"],
        rows,
        "Each score is a task's metric as llm-jp-eval computes it: a per-sample metric's mean, \
         or a correlation over the task's samples (0 where it is undefined).",
    ));
}
