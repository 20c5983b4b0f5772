//! Stage 2, resume: what the output directory already holds. Complete answers (every turn)
//! are reused; each judgment item's latest record (by the rule in [`crate::records::current`])
//! says whether it needs judging again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::setup::Setup;
use super::state::{Answers, Recorded};
use crate::config::RunOptions;
use crate::error::UsageError;
use crate::records::answers::served_weights;
use crate::records::current::latest;
use crate::records::{AnswerRecord, ItemSample, Judgment, PairGame, SingleGrade};
use crate::store::read_jsonl_if_exists;

/// What a run starts from.
pub(super) struct State {
    /// Answers on disk, complete ones only.
    pub(super) answers: Answers,
    /// The latest record of each judgment item and sample, by scorer.
    pub(super) recorded: Vec<HashMap<ItemSample, Recorded>>,
}

/// Reads the answers and judgments already in the output directory. A file that cannot be
/// read is bad input (exit 2) naming the file and line.
pub(super) fn load(opts: &RunOptions, setup: &Setup) -> anyhow::Result<State> {
    let questions = &setup.questions;
    let qindex: HashMap<&str, usize> = questions
        .iter()
        .enumerate()
        .map(|(i, q)| (q.question_id.as_str(), i))
        .collect();
    let mut answers: Answers = vec![vec![None; questions.len()]; setup.candidates.len()];
    // What each candidate's endpoint serves now.
    let now: Vec<String> = setup
        .candidates
        .iter()
        .map(|c| c.client.identity(&c.api_model).text)
        .collect();
    for (mi, c) in setup.candidates.iter().enumerate() {
        let path = setup.dir.answers(&c.name);
        for (_, mut a) in read::<AnswerRecord>(&path)? {
            // An answer to another version of the set is not this run's answer.
            if let Some(&qi) = qindex.get(a.question_id.as_str())
                && a.turns().len() >= questions[qi].turns.len()
                && a.bench == questions[qi].bench
                && same_weights(a.served.as_deref(), &now[mi])
            {
                a.model_id = c.name.clone();
                // The question file's spelling of the id wins (`1` and `"1"` are one id).
                a.question_id = questions[qi].question_id.clone();
                answers[mi][qi] = Some(Arc::new(a));
            }
        }
    }
    let mut recorded = Vec::new();
    for scorer in &setup.scorers {
        let name = scorer.name();
        let journal = setup.dir.journal(name, opts.mode);
        let source = if journal.exists() {
            journal
        } else {
            setup.dir.judgments(name, opts.mode)
        };
        let bench = opts.bench.as_deref();
        recorded.push(if opts.mode.is_graded() {
            self::recorded::<SingleGrade>(&source, name, bench)?
        } else {
            self::recorded::<PairGame>(&source, name, bench)?
        });
    }
    Ok(State { answers, recorded })
}

/// Whether an answer made by `then` was made by the weights the endpoint serves `now`: it was
/// not, when both are known (stated, not `?`) and differ (a new checkpoint under the same
/// name). Answers from before identities were kept, or while the server could not tell,
/// are taken as the directory holds them.
fn same_weights(then: Option<&str>, now: &str) -> bool {
    let Some(then) = then else { return true };
    let (a, b) = (served_weights(then), served_weights(now));
    a == b || a.iter().chain(&b).any(|w| *w == "?")
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<(usize, T)>> {
    read_jsonl_if_exists::<T>(path)
        .with_context(|| path.display().to_string())
        .map_err(|e| UsageError(format!("{e:#}")).into())
}

/// The latest record of each item and sample of one judge.
fn recorded<T: Judgment + serde::de::DeserializeOwned>(
    path: &Path,
    judge: &str,
    bench: Option<&str>,
) -> anyhow::Result<HashMap<ItemSample, Recorded>> {
    let rows: Vec<T> = read::<T>(path)?.into_iter().map(|(_, r)| r).collect();
    let mine: Vec<&T> = rows.iter().filter(|r| r.key().judge == judge).collect();
    let mut out = HashMap::new();
    for r in latest(&mine) {
        out.insert(
            ItemSample::of(r),
            Recorded {
                valid: r.has_verdict(),
                digest: r.digest(),
                winners: r.game_winners(),
                same_bench: r.bench() == bench,
            },
        );
    }
    Ok(out)
}
