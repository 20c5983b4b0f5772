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
        let rows: Vec<HumanVote> = read_jsonl(f)
            .map_err(|e| UsageError(format!("{} (--human): {e}", f.display())))?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
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
        .flat_map(|a| [agreement_table(a), by_model_table(a)])
        .collect();
    let text = match a.format {
        Format::Json => serde_json::to_string_pretty(&out)? + "\n",
        Format::Md => crate::report::markdown::document("shinpan agreement", &tables),
        Format::Table => crate::report::table::render(&tables),
    };
    print!("{text}");
    Ok(())
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
