//! The simulator's capacity, as a self-hosted server has one (vLLM's sequence slots,
//! llama.cpp's `-np`): at most `slots` requests served at once, each taking the latency (plus
//! `batch_latency` per other request served beside it, as a batch slows each of its
//! sequences); more wait their turn in order; beyond `slots + queue` waiting, 503 "server
//! overloaded". The most requests in flight (served and waiting) and served at once are
//! counted for `/stats`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

/// The capacity settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityConfig {
    /// Requests served at once (`None`: any number).
    pub slots: Option<usize>,
    /// Requests that may wait for a slot (`None`: any number); beyond, 503.
    pub queue: Option<usize>,
    /// Latency added per other request served at the same time.
    pub batch_latency: Duration,
}

/// A server's capacity and its counters.
#[derive(Debug)]
pub(super) struct Capacity {
    config: CapacityConfig,
    slots: Option<Semaphore>,
    in_flight: AtomicUsize,
    serving: AtomicUsize,
}

/// What the capacity counts.
#[derive(Debug, Default)]
pub struct CapacityStats {
    /// The most requests in flight at once (served and waiting).
    pub max_in_flight: AtomicU64,
    /// The most served at once.
    pub max_serving: AtomicU64,
    /// Requests refused with 503 for want of room.
    pub overloaded: AtomicU64,
}

/// A request inside the server: counted in flight until dropped.
pub(super) struct InFlight<'a> {
    capacity: &'a Capacity,
    _permit: Option<SemaphorePermit<'a>>,
    serving: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.capacity.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.serving {
            self.capacity.serving.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Capacity {
    pub fn new(config: CapacityConfig) -> Self {
        Self {
            slots: config.slots.map(Semaphore::new),
            config,
            in_flight: AtomicUsize::new(0),
            serving: AtomicUsize::new(0),
        }
    }

    /// Admits a request: `None` when slots and queue are full (answer 503); else it waits
    /// for a slot and comes back with the latency its batch adds.
    pub async fn admit(&self, stats: &CapacityStats) -> Option<(InFlight<'_>, Duration)> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let mut guard = InFlight {
            capacity: self,
            _permit: None,
            serving: false,
        };
        if let (Some(slots), Some(queue)) = (self.config.slots, self.config.queue)
            && now > slots + queue
        {
            stats.overloaded.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        stats.max_in_flight.fetch_max(now as u64, Ordering::Relaxed);
        if let Some(s) = &self.slots {
            guard._permit = Some(s.acquire().await.expect("never closed"));
        }
        let serving = self.serving.fetch_add(1, Ordering::SeqCst) + 1;
        guard.serving = true;
        stats
            .max_serving
            .fetch_max(serving as u64, Ordering::Relaxed);
        let extra = self.config.batch_latency * (serving.saturating_sub(1)) as u32;
        Some((guard, extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_serve_in_turn_and_a_full_queue_is_refused() {
        let c = Capacity::new(CapacityConfig {
            slots: Some(2),
            queue: Some(1),
            batch_latency: Duration::from_millis(10),
        });
        let st = CapacityStats::default();
        let (a, extra_a) = c.admit(&st).await.unwrap();
        let (b, extra_b) = c.admit(&st).await.unwrap();
        assert_eq!(
            (extra_a, extra_b),
            (Duration::ZERO, Duration::from_millis(10))
        );
        // A third waits for a slot; a fourth finds slots and queue full.
        let waiting = tokio::spawn(async move {
            let c: &'static Capacity = Box::leak(Box::new(Capacity::new(CapacityConfig {
                slots: Some(1),
                queue: Some(0),
                batch_latency: Duration::ZERO,
            })));
            let st = CapacityStats::default();
            let first = c.admit(&st).await.unwrap();
            assert!(c.admit(&st).await.is_none(), "no queue: refused");
            assert_eq!(st.overloaded.load(Ordering::Relaxed), 1);
            drop(first);
            assert!(c.admit(&st).await.is_some(), "a slot is free again");
        });
        waiting.await.unwrap();
        let third = c.admit(&st);
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut third)
                .await
                .is_err(),
            "the third waits while two are served"
        );
        drop(a);
        let (_c3, _) = third.await.unwrap();
        assert_eq!(st.max_serving.load(Ordering::Relaxed), 2);
        assert_eq!(st.max_in_flight.load(Ordering::Relaxed), 3);
        drop(b);
    }
}
