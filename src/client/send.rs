//! Sending a request: a slot on the endpoint that can send soonest, the pace, one attempt,
//! and the retries the failure is worth, all of it stopping once the run is halted.

use std::sync::atomic::Ordering;

use tokio::sync::Notify;

use super::endpoint::{self, Endpoint};
use super::error::worth_again;
use super::slots::Slots;
use super::{ChatRequest, ChatResponse, Client, ClientError, keys::redact, stats};

impl Client {
    /// A slot on the endpoint that can send soonest (the earliest next instant under its
    /// pace) among those still answering and with a slot free, waiting for one to free when
    /// none is. A request is bound to an endpoint only once it can go there: one queued
    /// early would be stuck behind a slower endpoint's pace. `Err` with why when no
    /// endpoint is answering.
    pub(super) async fn take_slot(&self) -> Result<(&Endpoint, Slot<'_>), ClientError> {
        let inner = &self.inner;
        let _waiting = stats::Gauge::enter(&inner.stats.waiting_slot);
        loop {
            let freed = inner.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let mut up: Vec<&Endpoint> = inner
                .endpoints
                .iter()
                .filter(|e| e.health.down().is_none())
                .collect();
            if up.is_empty() {
                let why: Vec<&str> = inner
                    .endpoints
                    .iter()
                    .filter_map(|e| e.health.down())
                    .collect();
                return Err(ClientError::Unreachable(why.join("; ")));
            }
            up.sort_by_key(|e| e.pace.peek());
            for e in up {
                if let Some(permit) = e.try_slot() {
                    let slot = Slot {
                        permit: Some(permit),
                        slots: &e.slots,
                        freed: &inner.freed,
                    };
                    return Ok((e, slot));
                }
            }
            if tokio::time::timeout(endpoint::PROBE_WAIT, freed)
                .await
                .is_err()
            {
                inner.endpoints.iter().for_each(Endpoint::probe_overdue);
            }
        }
    }

    pub(super) async fn send(
        &self,
        req: &ChatRequest,
    ) -> Result<(ChatResponse, Option<Slot<'_>>), ClientError> {
        let policy = self.config().retry;
        let body = req.to_body();
        let stats = &self.inner.stats;
        let mut attempt = 0u32;
        // Replies that came back wrong so far (see `Retry::Deterministic`).
        let mut wrong = 0u32;
        let halt = &self.inner.halt;
        loop {
            attempt += 1;
            let taken = tokio::select! {
                t = self.take_slot() => t,
                _ = halt.halted() => Err(ClientError::Stopped),
            };
            let (ep, slot) = match taken {
                Ok(taken) => taken,
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let bytes = req.prompt_bytes();
            let prompt = ep.pace.prompt_tokens(bytes);
            let result = {
                tokio::select! {
                    _ = ep.wait_pace(prompt.saturating_add(req.max_tokens), stats) => {}
                    _ = halt.halted() => {}
                }
                if halt.is_halted() {
                    // Nothing was sent: a halted run sends nothing new.
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(ClientError::Stopped);
                }
                if ep.health.down().is_some() {
                    // It went down while this request waited: another endpoint may take it
                    // (or `take_slot` says why none can). Nothing was sent.
                    attempt -= 1;
                    continue;
                }
                let _sent = stats::Gauge::enter(&stats.in_flight);
                let cost = prompt.saturating_add(req.max_tokens);
                ep.attempt(&body, (prompt, bytes, cost), stats).await
            };
            ep.health.observe(&ep.config.base_url, &result);
            match result {
                Ok(mut resp) => {
                    resp.attempts = attempt;
                    if resp.usage_estimated {
                        stats.usage_estimated.fetch_add(1, Ordering::Relaxed);
                    }
                    stats.succeeded.fetch_add(1, Ordering::Relaxed);
                    stats
                        .tokens
                        .fetch_add(resp.usage.total(), Ordering::Relaxed);
                    // The slot is held until the caller has stored the reply: a request
                    // waiting for it is not sent before a store that fails halts the run.
                    return Ok((resp, Some(slot)));
                }
                Err(e) if attempt < policy.max_attempts && worth_again(&e, &mut wrong) => {
                    drop(slot);
                    tokio::select! {
                        _ = tokio::time::sleep(policy.delay(attempt, e.retry_after())) => {}
                        _ = halt.halted() => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            return Err(ClientError::Stopped);
                        }
                    }
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    let e = redact(&ep.api_key, e);
                    return Err(if attempt > 1 {
                        ClientError::GaveUp {
                            attempts: attempt,
                            last: Box::new(e),
                        }
                    } else {
                        e
                    });
                }
            }
        }
    }
}

/// A slot taken on one endpoint; freeing it tells the requests waiting for one.
pub(super) struct Slot<'a> {
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
    slots: &'a Slots,
    freed: &'a Notify,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // The permit goes back first, so the request woken finds it.
        if let Some(p) = self.permit.take() {
            self.slots.give_back(p);
        }
        self.freed.notify_one();
    }
}
