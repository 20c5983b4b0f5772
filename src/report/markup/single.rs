//! The tables of graded reports (single and rubric): scores, aspects, categories.

use super::{Table, ci, num, table};
use crate::aggregate::SingleSummary;

pub(super) fn single_tables(
    title: &str,
    singles: &[&SingleSummary],
    order: &[String],
    out: &mut Vec<Table>,
) {
    let has_turn2 = singles.iter().any(|s| s.turn2.is_some());
    let has_text = singles.iter().any(|s| s.answer_chars.is_some());
    let mut headers = vec!["model", "score", "95% CI", "turn 1"];
    if has_turn2 {
        headers.push("turn 2");
    }
    headers.extend(["n", "errors"]);
    if has_text {
        headers.extend(["chars", "non-ja"]);
    }
    let has_thought = singles.iter().any(|s| s.reasoning_chars.is_some());
    if has_thought {
        headers.push("thinking chars");
    }
    let rows = singles
        .iter()
        .map(|s| {
            let mut row = vec![
                s.model.clone(),
                num(s.score, 2),
                ci(s.score_ci, 2),
                num(s.turn1, 2),
            ];
            if has_turn2 {
                row.push(num(s.turn2, 2));
            }
            row.extend([s.n.to_string(), s.errors.to_string()]);
            if has_text {
                row.extend([num(s.answer_chars, 0), num(s.non_japanese, 3)]);
            }
            if has_thought {
                row.push(num(s.reasoning_chars, 0));
            }
            row
        })
        .collect();
    let scale = singles.first().map(|s| s.scale).unwrap_or_default();
    out.push(table(
        title.to_string(),
        headers,
        rows,
        &format!(
            "Score: mean grade on the {scale} scale over every graded turn; 95% CI: bootstrap \
             interval of that mean; n: graded rows; errors: judgments without a readable \
             verdict, left out of every mean; chars: mean answer length in characters; non-ja: \
             share of answers to Japanese questions that are not in Japanese (by script)."
        ),
    ));
    // The configured order, then any other aspect found, by name.
    let mut found: Vec<&String> = singles.iter().flat_map(|s| s.aspects.keys()).collect();
    found.sort();
    found.dedup();
    let mut aspects: Vec<&String> = order.iter().filter(|a| found.contains(a)).collect();
    aspects.extend(found.into_iter().filter(|a| !order.contains(a)));
    if !aspects.is_empty() {
        out.push(grid(
            format!("{title}: score per aspect"),
            singles,
            &aspects,
            |s, a| s.aspects.get(a).map(|x| (x.score, x.score_ci)),
            "Mean grade per rubric aspect with its 95% bootstrap interval; the score above is \
             the weighted mean of the aspects (--aspect-weights).",
        ));
    }
    let mut cats: Vec<&String> = singles.iter().flat_map(|s| s.categories.keys()).collect();
    cats.sort();
    cats.dedup();
    if !cats.is_empty() {
        out.push(grid(
            format!("{title}: score per category"),
            singles,
            &cats,
            |s, c| s.categories.get(c).map(|x| (x.score, x.score_ci)),
            "Mean grade per question category, with its 95% bootstrap interval; few questions per \
             category make wide intervals.",
        ));
    }
}

/// A model × key table of means with their intervals (aspects, categories).
fn grid(
    title: String,
    singles: &[&SingleSummary],
    keys: &[&String],
    cell: impl Fn(&SingleSummary, &str) -> Option<(Option<f64>, Option<[f64; 2]>)>,
    note: &str,
) -> Table {
    let mut headers: Vec<&str> = vec!["model"];
    headers.extend(keys.iter().map(|k| k.as_str()));
    let rows = singles
        .iter()
        .map(|s| {
            let mut row = vec![s.model.clone()];
            row.extend(keys.iter().map(|k| match cell(s, k) {
                Some((v, c)) => format!("{} {}", num(v, 2), ci(c, 1)),
                None => "-".into(),
            }));
            row
        })
        .collect();
    table(title, headers, rows, note)
}
