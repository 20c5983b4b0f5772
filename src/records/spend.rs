//! What a run spent, by model and stage: requests paid for, requests served from the response
//! cache (free, but counted, so a rerun shows what it saved), and the prompt and completion
//! tokens the provider billed. Money is these tokens at the prices in the config (see
//! [`Price`]). The client books them (its `Ledger`); records, reports and the nightly history
//! read them from here, without the HTTP client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::Usage;

/// The stage a request serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A candidate answering.
    Answer,
    /// The judge judging.
    Judge,
}

impl Stage {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Answer => "answer",
            Stage::Judge => "judge",
        }
    }
}

/// Whom a request is booked to: a model (by its display name) in a stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    /// The model's display name.
    pub model: String,
    /// The stage.
    pub stage: Stage,
}

/// Prices of one model, in dollars (or any one currency) per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens.
    pub output: f64,
    /// Per million prompt tokens served from the provider's prompt cache (OpenAI bills them
    /// at a fraction of `input`); absent: the full input price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// The share of these prices that tokens sent through the Batch API cost (OpenAI: 0.5);
    /// absent: the full price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<f64>,
}

impl Price {
    /// What `prompt` and `completion` tokens cost.
    pub fn cost(&self, prompt: u64, completion: u64) -> f64 {
        (prompt as f64 * self.input + completion as f64 * self.output) / 1e6
    }

    /// What a spend row's tokens cost: cached prompt tokens at `cached_input`, those sent in
    /// batches at the batch share.
    pub fn cost_of(&self, s: &Spend) -> f64 {
        let share = self.batch.unwrap_or(1.0);
        let (bp, bc) = (s.batch_prompt_tokens, s.batch_completion_tokens);
        // Cached tokens are counted outside batches only (a batch's are at its share).
        let cached = s.cached_prompt_tokens.min(s.prompt_tokens - bp);
        let discount = self
            .cached_input
            .map_or(0.0, |c| cached as f64 * (self.input - c) / 1e6);
        self.cost(s.prompt_tokens - bp, s.completion_tokens - bc) - discount
            + share * self.cost(bp, bc)
    }
}

/// What one model spent in one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Requests answered by the API (paid).
    pub requests: u64,
    /// Requests served from the response cache (free).
    pub cache_hits: u64,
    /// Prompt tokens billed.
    pub prompt_tokens: u64,
    /// Completion tokens billed.
    pub completion_tokens: u64,
    /// Of the prompt tokens outside batches, those served from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_prompt_tokens: u64,
    /// Of the prompt tokens, those sent through the Batch API.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub batch_prompt_tokens: u64,
    /// Of the completion tokens, those sent through the Batch API.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub batch_completion_tokens: u64,
    /// Of the requests, those whose reply said nothing of the tokens used: their tokens are
    /// estimated from the text (as the pace estimates prompts), so the cost is an estimate.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage_estimated: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Spend {
    /// Adds one reply: `None` for one served from the cache.
    pub fn add(&mut self, usage: Option<Usage>) {
        match usage {
            None => self.cache_hits += 1,
            Some(u) => {
                self.requests += 1;
                self.prompt_tokens += u.prompt_tokens;
                self.completion_tokens += u.completion_tokens;
                self.cached_prompt_tokens += u.cached_prompt_tokens;
            }
        }
    }

    /// Adds another row's figures.
    pub fn merge(&mut self, o: &Spend) {
        self.requests += o.requests;
        self.cache_hits += o.cache_hits;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.cached_prompt_tokens += o.cached_prompt_tokens;
        self.batch_prompt_tokens += o.batch_prompt_tokens;
        self.batch_completion_tokens += o.batch_completion_tokens;
        self.usage_estimated += o.usage_estimated;
    }
}

/// One line of a spend table: a model in a stage, with its cost when the model has a price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The model's display name.
    pub model: String,
    /// The stage.
    pub stage: Stage,
    /// What it spent.
    #[serde(flatten)]
    pub spend: Spend,
    /// What the billed tokens cost (`null`: no price for the model in the config).
    pub cost: Option<f64>,
    /// The price the cost was reckoned at (absent: no price, or several over the
    /// invocations summed here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
}

/// The books of several clients merged, priced by `price` (a model's price, if it has one).
pub fn spend_rows(
    books: impl IntoIterator<Item = BTreeMap<Account, Spend>>,
    price: impl Fn(&str) -> Option<Price>,
) -> Vec<SpendRow> {
    let mut all: BTreeMap<Account, Spend> = BTreeMap::new();
    for book in books {
        for (a, s) in book {
            all.entry(a).or_default().merge(&s);
        }
    }
    all.into_iter()
        .map(|(a, spend)| SpendRow {
            cost: price(&a.model).map(|p| p.cost_of(&spend)),
            price: price(&a.model),
            model: a.model,
            stage: a.stage,
            spend,
        })
        .collect()
}

/// Adds `more` to `rows` (a resumed run's spend to what earlier invocations spent, or a
/// shard's to the others'). At one price the cost is reckoned again from the summed tokens,
/// so it does not depend on how the work was split or in what order the rows are added.
pub fn add_rows(rows: &mut Vec<SpendRow>, more: &[SpendRow]) {
    for m in more {
        match rows
            .iter_mut()
            .find(|r| r.model == m.model && r.stage == m.stage)
        {
            Some(r) => {
                r.spend.merge(&m.spend);
                (r.cost, r.price) = match (r.price, m.price) {
                    (Some(a), Some(b)) if a == b => (Some(a.cost_of(&r.spend)), Some(a)),
                    _ => match (r.cost, m.cost) {
                        (None, None) => (None, None),
                        (a, b) => (Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)), None),
                    },
                };
            }
            None => rows.push(m.clone()),
        }
    }
    rows.sort_by(|a, b| (&a.model, a.stage).cmp(&(&b.model, b.stage)));
}

/// The total cost of `rows` (`None` when no row has a price).
pub fn total_cost<'a>(rows: impl IntoIterator<Item = &'a SpendRow>) -> Option<f64> {
    rows.into_iter().filter_map(|r| r.cost).reduce(|a, b| a + b)
}
