//! The tables of a panel's pooled report: each judge's figures, agreement between every pair
//! of judges, and the items they disagree on most.

use super::{Align, Table, money, num};
use crate::aggregate::panel::Panel;

/// Appends the panel's tables under `title`.
pub(super) fn panel_tables(title: &str, p: &Panel, out: &mut Vec<Table>) {
    out.push(judges_table(title, p));
    out.push(agreement_table(title, p));
    if !p.disagreements.is_empty() {
        out.push(disputed_table(title, p));
    }
}

/// Each judge's own figures.
fn judges_table(title: &str, p: &Panel) -> Table {
    Table {
        title: format!("{title}: judges"),
        headers: [
            "judge",
            "judged",
            "failed",
            "failure rate",
            "self-preference",
            "consistency",
            "first-position wins",
            "requests",
            "cost",
        ]
        .map(String::from)
        .to_vec(),
        align: [vec![Align::Left], vec![Align::Right; 8]].concat(),
        rows: p
            .by_judge
            .iter()
            .map(|j| {
                vec![
                    j.judge.clone(),
                    j.judged.to_string(),
                    j.failed.to_string(),
                    num(j.failure_rate, 3),
                    match (&j.self_preference, j.own_family.is_empty()) {
                        (Some(x), _) => format!("{x:+.3} ({})", j.own_family.join(", ")),
                        (None, false) => format!("- ({})", j.own_family.join(", ")),
                        (None, true) => "-".into(),
                    },
                    num(j.consistency, 3),
                    num(j.first_position_win_rate, 3),
                    j.requests.to_string(),
                    money(j.cost),
                ]
            })
            .collect(),
        alert: None,
        note: format!(
            "The panel's figures pool its {} judges by {} (grades per item; a game's verdicts by majority in each order, then the swap rule); its intervals resample judges and items. failure rate: items without a readable verdict; self-preference: the judge's figure of its own family's models (listed) minus the other judges' mean; consistency and first-position wins: position bias (pairwise).",
            p.judges.len(),
            p.pool
        ),
    }
}

/// Agreement between every pair of judges.
fn agreement_table(title: &str, p: &Panel) -> Table {
    Table {
        title: format!("{title}: agreement between judges"),
        headers: [
            "judge A",
            "judge B",
            "n",
            "agreement",
            "without ties",
            "kappa",
            "pearson",
            "spearman",
        ]
        .map(String::from)
        .to_vec(),
        align: [vec![Align::Left; 2], vec![Align::Right; 6]].concat(),
        rows: p
            .agreement
            .iter()
            .map(|a| {
                vec![
                    a.judge_a.clone(),
                    a.judge_b.clone(),
                    a.n.to_string(),
                    num(a.agreement, 3),
                    num(a.agreement_without_ties, 3),
                    num(a.cohen_kappa, 3),
                    num(a.score_pearson, 3),
                    num(a.score_spearman, 3),
                ]
            })
            .collect(),
        alert: None,
        note: "On the items both judged: agreement of verdicts (games: per order), with Cohen's kappa; grades: their Pearson and Spearman correlations.".into(),
    }
}

/// The items the judges disagree on most.
fn disputed_table(title: &str, p: &Panel) -> Table {
    Table {
        title: format!(
            "{title}: most disputed items ({} of {})",
            p.disagreements.len(),
            p.disagreeing_items
        ),
        headers: [
            vec!["question".to_string(), "turn".into(), "model".into(), "spread".into()],
            p.judges.clone(),
        ]
        .concat(),
        align: [
            vec![Align::Left, Align::Right, Align::Left, Align::Right],
            vec![Align::Left; p.judges.len()],
        ]
        .concat(),
        rows: p
            .disagreements
            .iter()
            .map(|d| {
                let model = match &d.model_2 {
                    Some(m2) => format!("{} vs {m2}", d.model_1),
                    None => d.model_1.clone(),
                };
                [
                    vec![
                        d.question_id.clone(),
                        d.turn.to_string(),
                        model,
                        num(Some(d.spread), 2),
                    ],
                    d.verdicts.iter().map(|(_, v)| v.clone()).collect(),
                ]
                .concat()
            })
            .collect(),
        alert: None,
        note: "Where the judges are furthest apart (highest minus lowest grade; for a game, of its outcome for the first model): the items to review first.".into(),
    }
}
