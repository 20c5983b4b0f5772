//! Stopping a run without losing what it paid for. Once a run is halted (Ctrl-C, SIGTERM, or
//! an output it cannot write), no new request is sent: a request waiting for a slot, the
//! pace, a retry's backoff, another process's reply or a batch ends at once with
//! [`super::ClientError::Stopped`], while attempts already sent go on to their reply, which is
//! stored in the response cache like any other.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A run's stop switch, shared by all its clients.
#[derive(Debug, Default)]
pub struct Halt {
    halted: AtomicBool,
    /// Why, as the first to halt said it.
    reason: Mutex<Option<String>>,
    woken: Notify,
}

impl Halt {
    /// Halts the run (the first reason given is kept); true if it was running until now.
    pub fn halt(&self, reason: impl Into<String>) -> bool {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        let first = !self.halted.swap(true, Ordering::SeqCst);
        self.woken.notify_waiters();
        first
    }

    /// Whether the run is halted.
    pub fn is_halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }

    /// Why it was halted.
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until the run is halted.
    pub async fn halted(&self) {
        loop {
            let woken = self.woken.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.is_halted() {
                return;
            }
            woken.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_and_the_first_reason_is_kept() {
        let h = std::sync::Arc::new(Halt::default());
        let w = {
            let h = h.clone();
            tokio::spawn(async move { h.halted().await })
        };
        tokio::task::yield_now().await;
        assert!(h.halt("SIGTERM"));
        assert!(!h.halt("later"));
        w.await.unwrap();
        assert_eq!(h.reason().as_deref(), Some("SIGTERM"));
        h.halted().await;
    }
}
