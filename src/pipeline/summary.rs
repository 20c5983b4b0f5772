//! The closing summary of a run.

use std::time::Duration;

/// What a run did, for the closing summary.
#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    /// Answers reused from the answer files.
    pub answers_reused: usize,
    /// Answers made now (at least one turn asked of the API).
    pub answers_generated: usize,
    /// Answers whose every turn came from the response cache (made by an earlier run, or by
    /// another process on the same cache, for the same served model).
    pub answers_cached: usize,
    /// Answers that could not be generated (with reasons).
    pub answer_errors: Vec<String>,
    /// Judgments skipped because the judgment file already had them.
    pub judgments_reused: usize,
    /// Judgments made again because an answer (or question) they showed has changed.
    pub judgments_stale: usize,
    /// Judgments made now.
    pub judgments_made: usize,
    /// Judgments made now that have no verdict.
    pub judgment_errors: usize,
    /// Judgments not made because an answer they need is missing.
    pub judgments_blocked: usize,
    /// HTTP attempts, 429 answers and tokens, over all endpoints.
    pub attempts: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Tokens billed.
    pub tokens: u64,
    /// Requests served from the response cache (no API call, no tokens billed).
    pub cache_hits: u64,
    /// Replies whose body had bytes that are not UTF-8 (replaced by U+FFFD).
    pub invalid_utf8: u64,
    /// Replies that said nothing of their tokens (booked at an estimate).
    pub usage_estimated: u64,
    /// Why things failed: a reason (the model, question and turn left out) and how often.
    pub failures: std::collections::BTreeMap<String, usize>,
    /// Answers generated now that stopped at the output cap (`finish_reason: length`).
    pub truncated: usize,
    /// Why the run stopped before it was done (a signal, an output it could not write).
    pub stopped: Option<super::Stop>,
    /// Answers still missing at the end (their judgments could not be made).
    pub answers_missing: usize,
    /// Judgments expected at the end that have no verdict (failed or never made).
    pub judgments_failed: usize,
    /// Everything the run was to produce: answers plus judgments expected.
    pub items: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// What this invocation spent, by model and stage (cache hits free, and counted).
    pub spend: Vec<crate::records::spend::SpendRow>,
    /// What a sampled mode played and why it stopped (`pairwise-adaptive`).
    pub games: Option<String>,
    /// Each endpoint's requests in flight and why (`--concurrency`).
    pub concurrency: Vec<crate::client::Concurrency>,
}

impl RunSummary {
    /// One line saying what happened and, if anything failed, how to retry it.
    pub fn line(&self) -> String {
        let mut s = format!(
            "answers: {} made now, {} from the response cache, {} reused from the run directory, {} failed · judgments: {} made ({} without verdict, {} replacing stale), {} reused, {} blocked · {} API attempts, {} rate-limited, {} tokens, {} from cache · {:.1}s",
            self.answers_generated,
            self.answers_cached,
            self.answers_reused,
            self.answer_errors.len(),
            self.judgments_made,
            self.judgment_errors,
            self.judgments_stale,
            self.judgments_reused,
            self.judgments_blocked,
            self.attempts,
            self.rate_limited,
            self.tokens,
            self.cache_hits,
            self.elapsed.as_secs_f64()
        );
        if let Some(g) = &self.games {
            s.push_str(&format!(" · {g}"));
        }
        if let Some(c) = crate::records::spend::total_cost(&self.spend) {
            s.push_str(&format!(" · cost {c:.4} at the config's prices"));
        }
        if self.invalid_utf8 > 0 {
            s.push_str(&format!(
                " · {} repl(ies) had bytes that are not UTF-8 (replaced by U+FFFD)",
                self.invalid_utf8
            ));
        }
        if self.usage_estimated > 0 {
            s.push_str(&format!(
                " · {} repl(ies) gave no token usage (their tokens, and the cost, are estimated)",
                self.usage_estimated
            ));
        }
        if self.truncated > 0 {
            s.push_str(&format!(
                " · {} answer(s) cut at the output cap (finish_reason length; --max-tokens)",
                self.truncated
            ));
        }
        if let Some(stop) = &self.stopped {
            s.push_str(&format!(
                " · {}: re-run the same command to resume (finished work is kept, paid-for responses come from the cache)",
                stop.reason()
            ));
        } else if self.failed_items() > 0 {
            s.push_str(&format!(
                " · {} item(s) failed ({} answer(s) missing, {} judgment(s) without a verdict or not made): the report is partial; re-run the same command to retry only those",
                self.failed_items(),
                self.answers_missing,
                self.judgments_failed
            ));
        }
        s
    }

    /// Whether the run stopped before it was done.
    pub fn interrupted(&self) -> bool {
        self.stopped.is_some()
    }

    /// Items without a result at the end: answers missing and judgments without a verdict.
    pub fn failed_items(&self) -> usize {
        self.answers_missing + self.judgments_failed
    }

    /// Counts a failure under its reason.
    pub fn failed(&mut self, stage: &str, reason: &str) {
        let mut r: String = reason.chars().take(160).collect();
        if r.len() < reason.len() {
            r.push('…');
        }
        *self.failures.entry(format!("{stage}: {r}")).or_default() += 1;
    }

    /// One line per distinct failure reason, most frequent first.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut v: Vec<(&String, &usize)> = self.failures.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(r, n)| format!("{n} × {r}")).collect()
    }
}
