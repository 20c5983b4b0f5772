//! The browsable items of one report: per question, its turns and reference, each model's
//! whole answer once, then every grade or game with the judge's explanations (both orders of
//! a game side by side). Games whose orders disagree are highlighted and open. Filters by
//! model, category and verdict are a form the page's script reveals; without the script
//! every item is shown.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::text::{esc, markdown};
use crate::review::ReviewRecord;
use crate::types::{QuestionId, Winner};

/// The items section of report `id`, appended to `out`.
pub fn section(id: &str, items: &[&ReviewRecord], out: &mut String) {
    let mut by_q: BTreeMap<&QuestionId, Vec<&ReviewRecord>> = BTreeMap::new();
    for r in items {
        by_q.entry(&r.question_id).or_default().push(r);
    }
    let inconsistent = items
        .iter()
        .filter(|r| !r.consistent && r.error.is_none())
        .count();
    let errors = items.iter().filter(|r| r.error.is_some()).count();
    let _ = write!(
        out,
        r#"<section class="items" id="{id}-items"><h3>Items</h3><p class="muted">{} judged items over {} questions; {inconsistent} {} highlighted; {errors} without a verdict.</p>"#,
        items.len(),
        by_q.len(),
        if items.iter().any(|r| r.mode == "pairwise") {
            "games whose verdict changed with the order of the answers"
        } else {
            "items whose repeated judgments disagree"
        }
    );
    let several_judges = items.iter().any(|r| r.judge != items[0].judge);
    let disputed = items.iter().filter(|r| r.judges_spread.is_some()).count();
    if disputed > 0 {
        let _ = write!(
            out,
            r#"<p class="muted">{disputed} verdicts on items the judges disagree on: those questions come first, the most disputed first, each verdict with its judge.</p>"#
        );
    }
    out.push_str(&filters(id, items));
    let mut questions: Vec<(&QuestionId, Vec<&ReviewRecord>)> = by_q.into_iter().collect();
    // The most disputed questions first (a stable sort: otherwise in question order).
    let most = |rs: &[&ReviewRecord]| rs.iter().map(|r| r.dispute()).fold(0.0, f64::max);
    questions.sort_by(|a, b| most(&b.1).total_cmp(&most(&a.1)));
    for (qid, mut rs) in questions {
        rs.sort_by(|a, b| {
            a.turn
                .cmp(&b.turn)
                .then_with(|| b.dispute().total_cmp(&a.dispute()))
                .then_with(|| a.consistent.cmp(&b.consistent))
                .then_with(|| a.model.cmp(&b.model))
                .then_with(|| a.model_1.cmp(&b.model_1))
                .then_with(|| a.model_2.cmp(&b.model_2))
                .then_with(|| a.judge.cmp(&b.judge))
        });
        question(qid, &rs, several_judges, out);
    }
    out.push_str("</section>");
}

/// The verdict tokens an item is filtered by.
fn verdicts(r: &ReviewRecord) -> Vec<String> {
    let mut v = Vec::new();
    if r.error.is_some() {
        v.push("error".to_string());
    } else if r.mode == "pairwise" {
        match (r.result, &r.model_1, &r.model_2) {
            (Some(Winner::Model1), Some(m), _) | (Some(Winner::Model2), _, Some(m)) => {
                v.push(format!("win:{m}"))
            }
            _ => v.push("tie".into()),
        }
    } else if let Some(s) = r.score {
        v.push(format!("score:{}", s.round() as i64));
    }
    if !r.consistent && r.error.is_none() {
        v.push("inconsistent".into());
    }
    if r.judges_spread.is_some() {
        v.push("disputed".into());
    }
    v
}

fn models_of(r: &ReviewRecord) -> Vec<&str> {
    [&r.model, &r.model_1, &r.model_2]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

fn json_attr<T: serde::Serialize>(v: &T) -> String {
    esc(&serde_json::to_string(v).unwrap_or_default())
}

fn filters(id: &str, items: &[&ReviewRecord]) -> String {
    let models: BTreeSet<&str> = items.iter().flat_map(|r| models_of(r)).collect();
    let cats: BTreeSet<&str> = items.iter().map(|r| r.category.as_str()).collect();
    let tokens: BTreeSet<String> = items.iter().flat_map(|r| verdicts(r)).collect();
    let pairwise = items.iter().any(|r| r.mode == "pairwise");
    let label = |t: &str| -> String {
        match t {
            "error" => "no verdict".into(),
            "tie" => "tie".into(),
            "inconsistent" if pairwise => "changed with the order".into(),
            "inconsistent" => "samples disagree".into(),
            "disputed" => "judges disagree".into(),
            t => match (t.strip_prefix("win:"), t.strip_prefix("score:")) {
                (Some(m), _) => format!("{m} won"),
                (_, Some(s)) => format!("score {s}"),
                _ => t.into(),
            },
        }
    };
    // Scores in numeric order.
    let mut ordered: Vec<String> = tokens
        .iter()
        .filter(|t| !t.starts_with("score:"))
        .cloned()
        .collect();
    let mut scores: Vec<String> = tokens
        .iter()
        .filter(|t| t.starts_with("score:"))
        .cloned()
        .collect();
    scores.sort_by_key(|t| t[6..].parse::<i64>().unwrap_or(0));
    ordered.extend(scores);
    let select = |name: &str, opts: Vec<(String, String)>| -> String {
        let mut s = format!(r#"<label>{name} <select name="{name}"><option value="">all</option>"#);
        for (v, l) in opts {
            let _ = write!(s, r#"<option value="{}">{}</option>"#, esc(&v), esc(&l));
        }
        s + "</select></label>"
    };
    format!(
        r#"<form class="filters" data-section="{id}-items" hidden>{}{}{}<output name="count"></output></form>"#,
        select(
            "model",
            models
                .iter()
                .map(|m| (m.to_string(), m.to_string()))
                .collect()
        ),
        select(
            "category",
            cats.iter()
                .map(|c| (c.to_string(), c.to_string()))
                .collect()
        ),
        select(
            "verdict",
            ordered.iter().map(|t| (t.clone(), label(t))).collect()
        ),
    )
}

fn question(qid: &QuestionId, rs: &[&ReviewRecord], several_judges: bool, out: &mut String) {
    let first = rs[0];
    let _ = write!(
        out,
        r#"<article class="q" data-category="{}"><h4>Q{} <span class="cat">{}</span></h4><ol class="turns">"#,
        esc(&first.category),
        esc(&qid.to_string()),
        esc(&first.category)
    );
    for t in &first.questions {
        let _ = write!(out, r#"<li class="md">{}</li>"#, markdown(t));
    }
    out.push_str("</ol>");
    if let Some(reference) = &first.reference {
        out.push_str(r#"<details class="reference"><summary>reference answer</summary>"#);
        turns(reference, out);
        out.push_str("</details>");
    }
    // Each model's answer once.
    let mut answers: BTreeMap<&str, &Vec<String>> = BTreeMap::new();
    for r in rs {
        for (m, a) in [
            (&r.model, &r.answer),
            (&r.model_1, &r.answer_1),
            (&r.model_2, &r.answer_2),
        ] {
            if let (Some(m), Some(a)) = (m, a) {
                answers.entry(m.as_str()).or_insert(a);
            }
        }
    }
    out.push_str(r#"<div class="answers">"#);
    for (m, a) in answers {
        let chars: usize = a.iter().map(|t| t.chars().count()).sum();
        let _ = write!(
            out,
            r#"<details class="answer" data-model="{}"><summary><b>{}</b> <span class="muted">{chars} chars</span></summary>"#,
            esc(m),
            esc(m)
        );
        turns(a, out);
        out.push_str("</details>");
    }
    out.push_str("</div>");
    for r in rs {
        item(r, several_judges, out);
    }
    out.push_str("</article>");
}

fn turns(ts: &[String], out: &mut String) {
    for (i, t) in ts.iter().enumerate() {
        let _ = write!(
            out,
            r#"<div class="turn"><span class="tn">turn {}</span><div class="md">{}</div></div>"#,
            i + 1,
            markdown(t)
        );
    }
}

fn winner_name(w: Option<Winner>, r: &ReviewRecord) -> String {
    match w {
        Some(Winner::Model1) => r.model_1.clone().unwrap_or_default(),
        Some(Winner::Model2) => r.model_2.clone().unwrap_or_default(),
        Some(Winner::Tie) => "tie".into(),
        Some(Winner::Error) | None => "no verdict".into(),
    }
}

fn item(r: &ReviewRecord, several_judges: bool, out: &mut String) {
    let flagged = !r.consistent && r.error.is_none();
    let class = match (flagged, r.error.is_some(), r.judges_spread.is_some()) {
        (true, _, _) => "item inconsistent",
        (_, true, _) => "item error",
        (_, _, true) => "item disputed",
        _ => "item",
    };
    let _ = write!(
        out,
        r#"<div class="{class}" data-models="{}" data-verdict="{}">"#,
        json_attr(&models_of(r)),
        json_attr(&verdicts(r))
    );
    if several_judges || r.judges_spread.is_some() {
        let _ = write!(out, r#"<p class="judge">judge <b>{}</b>"#, esc(&r.judge));
        if let Some(s) = r.judges_spread {
            let _ = write!(
                out,
                r#" <span class="badge">judges disagree by {}</span>"#,
                esc(&format!("{s}"))
            );
        }
        out.push_str("</p>");
    }
    if r.mode == "pairwise" {
        game(r, flagged, out);
    } else {
        grade(r, flagged, out);
    }
    if let Some(e) = &r.error {
        let _ = write!(out, r#"<p class="err">{}</p>"#, esc(e));
    }
    out.push_str("</div>");
}

fn game(r: &ReviewRecord, flagged: bool, out: &mut String) {
    let (m1, m2) = (
        r.model_1.clone().unwrap_or_default(),
        r.model_2.clone().unwrap_or_default(),
    );
    let result = winner_name(r.result, r);
    let _ = write!(
        out,
        r#"<p class="verdict">turn {} · <b>{}</b> vs <b>{}</b> → <span class="result">{}</span>{}</p><div class="orders">"#,
        r.turn,
        esc(&m1),
        esc(&m2),
        esc(&result),
        if flagged {
            r#" <span class="badge">changed with the order</span>"#
        } else {
            ""
        }
    );
    for (first, w, text) in [
        (&m1, r.g1_winner, &r.g1_judgment),
        (&m2, r.g2_winner, &r.g2_judgment),
    ] {
        let _ = write!(
            out,
            r#"<details class="order"{}><summary>{} shown first: <b>{}</b></summary><div class="md">{}</div></details>"#,
            if flagged { " open" } else { "" },
            esc(first),
            esc(&winner_name(w, r)),
            markdown(text.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</div>");
}

fn grade(r: &ReviewRecord, flagged: bool, out: &mut String) {
    let score = r
        .score
        .map(|s| format!("{s}"))
        .unwrap_or_else(|| "no verdict".into());
    let aspects = r
        .aspects
        .as_ref()
        .map(|a| {
            a.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"<details class="order"{}><summary>turn {} · <b>{}</b> → <span class="result">{}</span> <span class="muted">{}</span>{}</summary><div class="md">{}</div></details>"#,
        if flagged { " open" } else { "" },
        r.turn,
        esc(r.model.as_deref().unwrap_or("")),
        esc(&score),
        esc(&aspects),
        if flagged {
            r#" <span class="badge">samples disagree</span>"#
        } else {
            ""
        },
        markdown(r.judgment.as_deref().unwrap_or(""))
    );
}

/// Per-category adjusted win rates from a report's games: against the baseline (its
/// opponents' side), or over all games of each model.
pub fn category_win_rates(
    items: &[&ReviewRecord],
    baseline: Option<&str>,
) -> BTreeMap<String, BTreeMap<String, (f64, usize)>> {
    let mut acc: BTreeMap<String, BTreeMap<String, (f64, usize)>> = BTreeMap::new();
    for r in items.iter().filter(|r| r.error.is_none()) {
        let (Some(m1), Some(m2)) = (&r.model_1, &r.model_2) else {
            continue;
        };
        let s1 = match r.result {
            Some(Winner::Model1) => 1.0,
            Some(Winner::Model2) => 0.0,
            Some(Winner::Tie) => 0.5,
            _ => continue,
        };
        for (m, s, other) in [(m1, s1, m2), (m2, 1.0 - s1, m1)] {
            if baseline.is_some_and(|b| b == m || b != other) {
                continue;
            }
            let e = acc
                .entry(r.category.clone())
                .or_default()
                .entry(m.clone())
                .or_default();
            e.0 += s;
            e.1 += 1;
        }
    }
    acc
}

/// Grades per model on each point of `scale` (a grade between two points on the nearer).
pub fn score_histograms(
    items: &[&ReviewRecord],
    scale: crate::types::Scale,
) -> BTreeMap<String, Vec<usize>> {
    let points = scale.points().count();
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for r in items {
        if let (Some(m), Some(s)) = (&r.model, r.score) {
            let i = (s.round() as i64).clamp(i64::from(scale.min), i64::from(scale.max))
                - i64::from(scale.min);
            out.entry(m.clone()).or_insert_with(|| vec![0; points])[i as usize] += 1;
        }
    }
    out
}
