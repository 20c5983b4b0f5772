//! `shinpan estimate`.

use crate::cli::EstimateArgs;
use crate::pipeline::{Estimate, estimate as estimate_run};
use crate::report::Format;
use crate::report::markup::{Table, money, table};

pub fn estimate(a: EstimateArgs) -> anyhow::Result<()> {
    let layers = a.run.layers()?;
    let mut all = Vec::new();
    for m in super::sequence::modes(&layers)? {
        let mut l = layers.clone();
        if m.is_some() {
            l.flags.mode = m;
        }
        all.push(estimate_run(&l.resolve()?, a.output_tokens)?);
    }
    let format = a.run.common.format;
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for note in all.iter().filter_map(|e| e.note.as_deref()) {
        eprintln!("shinpan: note: {note}");
    }
    let tables: Vec<Table> = all.iter().flat_map(tables).collect();
    let text = if format == Format::Md {
        crate::report::markdown::document("shinpan estimate", &tables)
    } else {
        crate::report::table::render(&tables)
    };
    print!("{text}");
    Ok(())
}

fn tables(e: &Estimate) -> Vec<Table> {
    let mode = e.games.map_or(e.mode.as_str(), |g| g.mode_name());
    let title = if e.judge.is_empty() {
        // A task run: scored by rule, nothing judged.
        format!("estimate: {mode} (scored by rule, no judge)")
    } else {
        format!("estimate: {mode} (judge: {})", e.judge)
    };
    let mut rows: Vec<Vec<String>> = e
        .rows
        .iter()
        .map(|r| {
            vec![
                r.model.clone(),
                r.stage.map(|s| s.as_str()).unwrap_or("").to_string(),
                r.requests.to_string(),
                r.prompt_tokens.to_string(),
                r.completion_tokens.to_string(),
                r.completion_cap.to_string(),
                money(r.cost),
                money(r.cost_cap),
            ]
        })
        .collect();
    let sum = |f: fn(&crate::pipeline::EstimateRow) -> u64| e.rows.iter().map(f).sum::<u64>();
    let sum_cost = |f: fn(&crate::pipeline::EstimateRow) -> Option<f64>| {
        e.rows.iter().filter_map(f).reduce(|a, b| a + b)
    };
    rows.push(vec![
        "total".into(),
        String::new(),
        sum(|r| r.requests).to_string(),
        sum(|r| r.prompt_tokens).to_string(),
        sum(|r| r.completion_tokens).to_string(),
        sum(|r| r.completion_cap).to_string(),
        money(sum_cost(|r| r.cost)),
        money(sum_cost(|r| r.cost_cap)),
    ]);
    let spend = table(
        title.clone(),
        vec![
            "model",
            "stage",
            "requests",
            "prompt tokens",
            "completion tokens",
            "completion cap",
            "cost",
            "cost at caps",
        ],
        rows,
        &format!(
            "Requests still to make (answers and judgments already in the output directory, \
             re-asks and retries not counted). Prompt tokens: a third of each message's \
             UTF-8 bytes plus four per message, with answers not generated yet standing in at \
             {} tokens; completion tokens assume {} per reply; cost is at the config's prices.",
            e.output_tokens, e.output_tokens
        ),
    );
    let wall = table(
        format!("{title}: time the limits imply"),
        vec!["endpoint", "requests", "tokens", "rpm", "tpm", "minutes"],
        e.wall
            .iter()
            .map(|w| {
                let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
                vec![
                    w.endpoint.clone(),
                    w.requests.to_string(),
                    w.tokens.to_string(),
                    opt(w.rpm),
                    opt(w.tpm),
                    w.minutes
                        .map_or_else(|| "-".to_string(), |m| format!("{m:.1}")),
                ]
            })
            .collect(),
        "Requests over --rpm and tokens (prompts plus output caps) over --tpm, whichever is \
         longer. Without a configured limit (-), the provider's are learned from its headers \
         when the run starts.",
    );
    vec![spend, wall]
}
