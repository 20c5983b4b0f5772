//! `shinpan agreement`: how far judges (and human votes) agree on the same answers.

use crate::error::UsageError;
use serde::Serialize;

use crate::aggregate::agreement::{
    Agreement, HumanVote, human_votes, judge_votes, pairwise_agreement, single_agreement,
};
use crate::aggregate::load_judgments;
use crate::cli::AgreementArgs;
use crate::records::{Current, PairGame, SingleGrade};
use crate::report::Format;
use crate::report::markup::{Table, num, table};
use crate::store::read_jsonl;

#[derive(Serialize)]
struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    single: Option<Agreement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pairwise: Option<Agreement>,
}

pub fn agreement(a: AgreementArgs) -> anyhow::Result<()> {
    let loaded = load_judgments(&a.paths)?;
    // The records that count, by the rule every report applies (latest, samples collapsed,
    // retried failures superseded).
    let singles: Vec<&SingleGrade> = loaded.single.iter().collect();
    let singles: Vec<SingleGrade> = Current::grades(&singles)
        .rows()
        .into_iter()
        .cloned()
        .collect();
    let games: Vec<&PairGame> = loaded.pair.iter().collect();
    let games: Vec<PairGame> = Current::games(&games).rows().into_iter().cloned().collect();
    let mut singles = singles;
    let mut human = Vec::new();
    for f in &a.labels {
        let labels = crate::review::read_labels(f)?;
        singles.extend(labels.grades);
        human.extend(labels.votes);
    }
    let single = single_agreement(&singles);
    let mut votes = judge_votes(&games);
    for (who, v) in human_votes(&human) {
        votes.entry(who).or_default().extend(v);
    }
    for f in &a.human {
        let rows = read_votes(f)?;
        if rows.is_empty() {
            return Err(
                UsageError(format!("{} (--human): no votes in the file", f.display())).into(),
            );
        }
        for (who, v) in human_votes(&rows) {
            votes.entry(who).or_default().extend(v);
        }
    }
    let pairwise = pairwise_agreement(&votes);
    let out = Output {
        single: (!single.pairs.is_empty()).then_some(single),
        pairwise: (!pairwise.pairs.is_empty()).then_some(pairwise),
    };
    if out.single.is_none() && out.pairwise.is_none() {
        return Err(UsageError(format!(
            "agreement needs judgments from at least two judges of one mode (or --human votes); found {} single and {} pairwise judge(s)",
            loaded
                .single
                .iter()
                .map(|r| r.judge.model())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            votes.len()
        ))
        .into());
    }
    let tables: Vec<Table> = [&out.single, &out.pairwise]
        .into_iter()
        .flatten()
        .flat_map(|a| {
            [
                Some(agreement_table(a)),
                by_turn_table(a),
                Some(by_model_table(a)),
            ]
            .into_iter()
            .flatten()
        })
        .collect();
    let text = match a.format {
        Format::Json => serde_json::to_string_pretty(&out)? + "\n",
        Format::Md => crate::report::markdown::document("shinpan agreement", &tables),
        Format::Table => crate::report::table::render(&tables),
    };
    print!("{text}");
    Ok(())
}

/// Votes in FastChat's `compute_agreement` format: a JSON array (one line or pretty-printed,
/// as its own files are) or JSON lines.
fn read_votes(f: &std::path::Path) -> Result<Vec<HumanVote>, UsageError> {
    let bad = |e: &dyn std::fmt::Display| UsageError(format!("{} (--human): {e}", f.display()));
    let head = std::fs::read(f).map_err(|e| bad(&e))?;
    let text = String::from_utf8_lossy(&head);
    let array = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('[');
    if array {
        crate::records::read_array(f).map_err(|e| bad(&e))
    } else {
        Ok(read_jsonl(f)
            .map_err(|e| bad(&e))?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }
}

/// Agreement per turn with the counts behind it (pairwise), as `compute_agreement.py`
/// prints them.
fn by_turn_table(a: &Agreement) -> Option<Table> {
    let rows: Vec<Vec<String>> = a
        .pairs
        .iter()
        .flat_map(|p| {
            let pooled = p.counts.map(|c| {
                vec![
                    p.judge_a.clone(),
                    p.judge_b.clone(),
                    "all".to_string(),
                    counted(p.agreement, c.agreed, c.total),
                    counted(
                        p.agreement_without_ties,
                        c.agreed_without_ties,
                        c.total_without_ties,
                    ),
                ]
            });
            p.by_turn
                .iter()
                .map(|t| {
                    vec![
                        p.judge_a.clone(),
                        p.judge_b.clone(),
                        t.turn.to_string(),
                        counted(t.agreement, t.counts.agreed, t.counts.total),
                        counted(
                            t.agreement_without_ties,
                            t.counts.agreed_without_ties,
                            t.counts.total_without_ties,
                        ),
                    ]
                })
                .chain(pooled)
                .collect::<Vec<_>>()
        })
        .collect();
    (!rows.is_empty()).then(|| {
        table(
            format!("{} agreement by turn", a.mode),
            vec!["judge A", "judge B", "turn", "with ties", "without ties"],
            rows,
            "Agreement of vote pairs per turn and over all turns, with the counts (agreed / \
             compared) as FastChat's compute_agreement.py prints them. A judge paired with \
             itself is its voters with each other (every pair of votes on one item): the MT-bench \
             paper's human-human agreement. Voters named expert_* are the group human, \
             author_* the group author.",
        )
    })
}

fn counted(rate: Option<f64>, agreed: usize, total: usize) -> String {
    format!("{} ({agreed}/{total})", num(rate, 3))
}

fn by_model_table(a: &Agreement) -> Table {
    use crate::aggregate::family::family;
    let judges: Vec<&String> = a
        .by_model
        .values()
        .flat_map(|m| m.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut headers = vec!["model"];
    headers.extend(judges.iter().map(|j| j.as_str()));
    let digits = if a.mode == "single" { 2 } else { 3 };
    let rows = a
        .by_model
        .iter()
        .map(|(model, figures)| {
            let mut row = vec![model.clone()];
            for j in &judges {
                let judge_model = j.trim_end_matches(" [rubric]");
                let own = family(model).is_some() && family(model) == family(judge_model);
                let cell = num(figures.get(*j).copied(), digits);
                row.push(if own { format!("{cell}*") } else { cell });
            }
            row
        })
        .collect();
    let what = if a.mode == "single" {
        "mean grade"
    } else {
        "adjusted win rate over all its games"
    };
    table(
        format!("{} figures by judge", a.mode),
        headers,
        rows,
        &format!(
            "Each model's {what} from each judge; * marks a judge of the model's own family, \
             where self-preference would show as a higher figure than other judges give."
        ),
    )
}

fn agreement_table(a: &Agreement) -> Table {
    let single = a.mode == "single";
    let mut headers = vec!["judge A", "judge B", "items"];
    if single {
        headers.extend(["score r", "score ρ"]);
    } else {
        headers.extend(["agreement", "w/o ties", "kappa"]);
    }
    headers.extend(["models", "rank ρ", "rank τ"]);
    let rows = a
        .pairs
        .iter()
        .map(|p| {
            let mut row = vec![p.judge_a.clone(), p.judge_b.clone(), p.n.to_string()];
            if single {
                row.extend([num(p.score_pearson, 3), num(p.score_spearman, 3)]);
            } else {
                row.extend([
                    num(p.agreement, 3),
                    num(p.agreement_without_ties, 3),
                    num(p.cohen_kappa, 3),
                ]);
            }
            row.extend([
                p.models.to_string(),
                num(p.ranking_spearman, 3),
                num(p.ranking_kendall, 3),
            ]);
            row
        })
        .collect();
    let note = if single {
        "Items: (question, turn, model) graded by both judges. Score r / ρ: Pearson and Spearman \
         correlation of their grades. Rank ρ / τ: Spearman and Kendall's tau-b of the model \
         rankings by mean grade (1 = the same order)."
    } else {
        "Items: (question, turn, model pair) judged by both. Agreement: share of vote pairs with \
         the same verdict (ties included; every pair of votes counts where several were cast); \
         w/o ties: the same over vote pairs where neither says tie; kappa: Cohen's kappa, \
         agreement beyond chance. Rank ρ / τ: Spearman and Kendall's tau-b of the model \
         rankings by adjusted win rate."
    };
    table(format!("{} agreement", a.mode), headers, rows, note)
}
