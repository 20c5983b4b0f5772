//! Request files for offline batch runners, and their results back: `shinpan batch export`
//! writes the candidate requests a run would send now as an OpenAI batch input file (what
//! vLLM's `run_batch` reads), and `shinpan batch import` stores a results file in the
//! response cache, where the run then finds every answer. Each line's `custom_id` is the
//! request's cache key, so nothing else has to match lines to requests.
//!
//! A conversation's turn 2 shows the model's own turn 1: an export writes, per question, the
//! first turn whose reply the cache does not hold yet. Export, run, import, and repeat until
//! an export has nothing to write; then `shinpan run` judges.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::resume;
use super::schedule::Scheduler;
use super::setup::{Purpose, prepare_for};
use crate::client::{Cache, CacheMode, Message, parse_batch_lines};
use crate::config::RunOptions;
use crate::error::UsageError;
use crate::generate::{opening, turn_request};

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    /// Request lines written.
    pub lines: usize,
    /// Of them, per turn (1-based).
    pub by_turn: BTreeMap<usize, usize>,
    /// The models (as the API knows them) the lines ask.
    pub api_models: BTreeSet<String>,
    /// Turns whose reply the cache already held.
    pub cached: usize,
}

/// Writes the candidate requests `opts` would send now to `file` (atomically).
pub async fn export_requests(opts: &RunOptions, file: &Path) -> anyhow::Result<Exported> {
    let setup = prepare_for(opts, false, Purpose::Estimate)?;
    // The keys are made of what the endpoints serve, as the run will find them.
    super::setup::identify(&setup, false).await;
    let state = resume::load(opts, &setup)?;
    let sched = Scheduler::new(opts, &setup, state.recorded);
    let cache = match (&opts.cache, opts.cache_mode) {
        (Some(p), CacheMode::Use | CacheMode::ReadOnly) if p.is_file() => {
            Some(Cache::open_read_only(p).map_err(|e| UsageError(format!("{e} (--cache FILE)")))?)
        }
        _ => None,
    };
    let mut out = Exported::default();
    let mut bytes = Vec::new();
    let mut written = HashSet::new();
    for (mi, c) in setup.candidates.iter().enumerate() {
        for (qi, q) in setup.questions.iter().enumerate() {
            if state.answers[mi][qi].is_some() || !sched.needs_answer(mi, qi) {
                continue;
            }
            let mut messages: Vec<Message> = opening(c);
            for (t, user) in q.turns.iter().enumerate() {
                messages.push(Message::user(user.clone()));
                let req = turn_request(c, q, &messages);
                let key = c.client.key_of(&req);
                let held = cache.as_ref().and_then(|c| c.get(&key).ok().flatten());
                if let Some(reply) = held {
                    out.cached += 1;
                    // As `answer` goes on: with the reply's answer, not its thinking.
                    let said = crate::reasoning::split(&reply.content).answer.to_string();
                    messages.push(Message::assistant(said));
                    continue;
                }
                if written.insert(key.clone()) {
                    let line = json!({
                        "custom_id": key,
                        "method": "POST",
                        "url": "/v1/chat/completions",
                        "body": req.to_body(),
                    });
                    serde_json::to_writer(&mut bytes, &line)?;
                    bytes.push(b'\n');
                    out.lines += 1;
                    *out.by_turn.entry(t + 1).or_default() += 1;
                    out.api_models.insert(c.api_model.clone());
                }
                break;
            }
        }
    }
    crate::store::write_atomic(file, &bytes).with_context(|| file.display().to_string())?;
    Ok(out)
}

/// What an import stored.
#[derive(Debug, Default)]
pub struct Imported {
    /// Responses added to the cache.
    pub stored: usize,
    /// Lines that carry an error instead of a completion (not stored: a later export asks
    /// again).
    pub failed: usize,
    /// Lines whose `custom_id` is not a shinpan request key (not stored).
    pub foreign: usize,
}

/// Stores the completions of batch results files (OpenAI's output format, which vLLM's
/// `run_batch` writes) in the cache at `cache_path`. Every file is read and checked before
/// anything is stored.
pub fn import_results(files: &[PathBuf], cache_path: &Path) -> anyhow::Result<Imported> {
    let mut lines = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| UsageError(format!("{}: {e}", f.display())))?;
        let parsed =
            parse_batch_lines(&bytes).map_err(|e| UsageError(format!("{}: {e}", f.display())))?;
        lines.extend(parsed);
    }
    let cache = Cache::open(cache_path).map_err(|e| UsageError(format!("{e} (--cache FILE)")))?;
    let mut out = Imported::default();
    for l in lines {
        let ours = l.key.len() == 64 && l.key.bytes().all(|b| b.is_ascii_hexdigit());
        match l.result {
            _ if !ours => out.foreign += 1,
            Ok(resp) => {
                // Filed by its custom_id, which export made of the request and what the
                // endpoint served.
                cache.put(&l.key, ("", "batch import"), &l.model, &resp)?;
                out.stored += 1;
            }
            Err(_) => out.failed += 1,
        }
    }
    Ok(out)
}
