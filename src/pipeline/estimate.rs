//! `shinpan estimate`: what a run would send, before anything is sent. The same setup,
//! resume and scheduler as a run decide which answers and judgments are still to make (so
//! an estimate of a half-done run counts only the rest), and the same code builds each
//! request: candidate conversations turn by turn, judge prompts rendered from the templates.
//! Answers not generated yet stand in as text of `--output-tokens` tokens.
//!
//! Prompt tokens are counted as OpenAI-style tokenizers roughly count Japanese (and as the
//! simulator bills): a third of each message's UTF-8 bytes, plus four per message. Completion
//! tokens are given twice: as assumed (`--output-tokens` per reply, at most the cap) and at
//! most (the output caps, which providers charge against token limits up front).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::resume;
use super::schedule::Scheduler;
use super::setup::{Purpose, prepare_for};
use crate::client::{EndpointConfig, Message, Price, Stage};
use crate::config::{ModelOptions, RunOptions};
use crate::error::UsageError;
use crate::records::{AnswerRecord, Choice};
use crate::types::Mode;

/// What one model would spend in one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EstimateRow {
    /// The model's display name.
    pub model: String,
    /// The stage.
    pub stage: Option<Stage>,
    /// Requests (first attempts; re-asks and retries not counted).
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens, assumed.
    pub completion_tokens: u64,
    /// Completion tokens at most (the output caps).
    pub completion_cap: u64,
    /// Cost with the assumed completions (`null`: no price for the model).
    pub cost: Option<f64>,
    /// Cost at most, with every reply at its cap.
    pub cost_cap: Option<f64>,
}

/// The time one endpoint's limits imply for what goes to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WallRow {
    /// Its base URLs (several when a model shares its load).
    pub endpoint: String,
    /// Requests sent there.
    pub requests: u64,
    /// Tokens charged there against a token limit (prompts plus caps).
    pub tokens: u64,
    /// Requests per minute configured (summed over a pool; `null`: not configured).
    pub rpm: Option<u64>,
    /// Tokens per minute configured.
    pub tpm: Option<u64>,
    /// Minutes the configured limits imply (`null`: no limit configured; the provider's are
    /// learned only when the run starts).
    pub minutes: Option<f64>,
}

/// An estimate of one mode of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The mode.
    pub mode: Mode,
    /// The judge (a panel's judges, joined by `, `).
    pub judge: String,
    /// Tokens assumed per reply not made yet.
    pub output_tokens: u32,
    /// By model and stage.
    pub rows: Vec<EstimateRow>,
    /// By endpoint.
    pub wall: Vec<WallRow>,
    /// The games of a sampled mode (pairwise-n, pairwise-adaptive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub games: Option<crate::records::GamePlan>,
    /// What the figures leave out (pairwise-adaptive's later rounds; batches' timing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Prompt tokens of a conversation (see the module doc).
pub fn prompt_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| m.content.len() as u64 / 3 + 4)
        .sum()
}

/// Estimates what `opts` would send, assuming `output_tokens` per reply not made yet.
pub fn estimate(opts: &RunOptions, output_tokens: u32) -> anyhow::Result<Estimate> {
    let setup = prepare_for(opts, false, Purpose::Estimate)?;
    let state = resume::load(opts, &setup)?;
    let mut rows: BTreeMap<(String, Stage), EstimateRow> = BTreeMap::new();
    let mut book = |model: &str, stage: Stage, prompt: u64, cap: u32| {
        let r = rows.entry((model.to_string(), stage)).or_default();
        r.requests += 1;
        r.prompt_tokens += prompt;
        r.completion_tokens += u64::from(output_tokens.min(cap));
        r.completion_cap += u64::from(cap);
    };
    // Judgments are planned from the answers held, as a run plans them.
    // pairwise-adaptive's later rounds depend on verdicts not given yet: its first round is
    // counted (the summary of the estimate says so).
    let sched = Scheduler::new(opts, &setup, state.recorded);
    let items = sched.planned_items(&state.answers);
    let mut answers = state.answers;
    let filler = "あ".repeat(output_tokens as usize);
    for (mi, c) in setup.candidates.iter().enumerate() {
        for (qi, q) in setup.questions.iter().enumerate() {
            if answers[mi][qi].is_some() || !sched.needs_answer(mi, qi) {
                continue;
            }
            // The conversation `generate::answer` holds, the answers not made yet stood in.
            let mut messages: Vec<Message> = crate::generate::opening(c);
            for user in &q.turns {
                messages.push(Message::user(user.clone()));
                book(
                    &c.name,
                    Stage::Answer,
                    prompt_tokens(&messages),
                    crate::generate::answer_cap(c, q),
                );
                messages.push(Message::assistant(filler.clone()));
            }
            answers[mi][qi] = Some(Arc::new(AnswerRecord {
                question_id: q.question_id.clone(),
                answer_id: String::new(),
                model_id: c.name.clone(),
                choices: vec![Choice {
                    index: 0,
                    turns: vec![filler.clone(); q.turns.len()],
                    reasoning: Vec::new(),
                }],
                tstamp: 0.0,
                usage: None,
                finish_reasons: Vec::new(),
                bench: None,
                served: None,
            }));
        }
    }
    for crate::pipeline::state::Planned {
        s, q, m1, m2, turn, ..
    } in items
    {
        let Some(judge) = setup.scorers[s].judge() else {
            continue;
        };
        let shown: Vec<&AnswerRecord> = [Some(m1), m2]
            .into_iter()
            .flatten()
            .map(|m| {
                answers[m][q]
                    .as_deref()
                    .expect("every answer is held or stood in for")
            })
            .collect();
        let prompts = judge
            .first_prompts(&setup.questions[q], &shown, turn, opts.mode == Mode::Rubric)
            .map_err(|e| UsageError(e.to_string()))?;
        for p in prompts {
            book(
                &judge.name,
                Stage::Judge,
                prompt_tokens(&p),
                judge.max_tokens,
            );
        }
    }
    let models: Vec<&ModelOptions> = opts.models.iter().chain(&opts.judges).collect();
    let options = |name: &str| models.iter().find(|m| m.name == name).copied();
    let price = |name: &str| options(name).and_then(|m| m.price);
    let rows: Vec<EstimateRow> = rows
        .into_iter()
        .map(|((model, stage), r)| {
            let p: Option<Price> = price(&model);
            // Requests sent through the Batch API cost its share of the price.
            let batched = options(&model).is_some_and(|m| m.endpoints[0].batch.is_some());
            let share = p.and_then(|p| p.batch).filter(|_| batched).unwrap_or(1.0);
            EstimateRow {
                cost: p.map(|p| share * p.cost(r.prompt_tokens, r.completion_tokens)),
                cost_cap: p.map(|p| share * p.cost(r.prompt_tokens, r.completion_cap)),
                model,
                stage: Some(stage),
                ..r
            }
        })
        .collect();
    let wall = wall(&rows, |name| {
        options(name).map(|m| m.endpoints.as_slice()).unwrap_or(&[])
    });
    let batched: Vec<&str> = models
        .iter()
        .filter(|m| m.endpoints[0].batch.is_some())
        .map(|m| m.name.as_str())
        .collect();
    let batch_note = (!batched.is_empty()).then(|| {
        format!(
            "{} go through the Batch API: its costs are at the price's batch share, and its time is the provider's batch window (up to 24 h), not the per-minute limits",
            batched.join(", ")
        )
    });
    let plan_note = match opts.plan {
        Some(crate::records::GamePlan::Adaptive { budget, .. }) => Some(format!(
            "pairwise-adaptive: the first round only ({} games); later rounds depend on its verdicts{}",
            sched.planned_games(),
            if budget < u64::MAX {
                format!(", up to --games {budget} games in all")
            } else {
                ", up to every game (give --games N to cap them)".to_string()
            }
        )),
        _ => None,
    };
    let notes: Vec<String> = [plan_note, batch_note].into_iter().flatten().collect();
    Ok(Estimate {
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        games: opts.plan,
        mode: opts.mode,
        judge: opts
            .judges
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        output_tokens,
        rows,
        wall,
    })
}

/// What each endpoint (or pool) gets, and the minutes its configured limits imply.
fn wall<'a>(
    rows: &[EstimateRow],
    endpoints: impl Fn(&str) -> &'a [EndpointConfig],
) -> Vec<WallRow> {
    let mut by: BTreeMap<String, (u64, u64, &'a [EndpointConfig])> = BTreeMap::new();
    for r in rows {
        let eps = endpoints(&r.model);
        let key = eps
            .iter()
            .map(|e| e.base_url.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        let e = by.entry(key).or_insert((0, 0, eps));
        e.0 += r.requests;
        e.1 += r.prompt_tokens + r.completion_cap;
    }
    by.into_iter()
        .map(|(endpoint, (requests, tokens, eps))| {
            let sum = |f: fn(&EndpointConfig) -> Option<u64>| -> Option<u64> {
                eps.iter().map(f).sum::<Option<u64>>()
            };
            let rpm = sum(|e| e.rpm.map(|v| u64::from(v.get())));
            let tpm = sum(|e| e.tpm.map(|v| u64::from(v.get())));
            let by_rpm = rpm.map(|r| requests as f64 / r as f64);
            let by_tpm = tpm.map(|t| tokens as f64 / t as f64);
            let minutes = match (by_rpm, by_tpm) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            WallRow {
                endpoint,
                requests,
                tokens,
                rpm,
                tpm,
                minutes,
            }
        })
        .collect()
}
