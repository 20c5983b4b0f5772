//! An endpoint's slots (requests it may have in flight), which grow and shrink: a semaphore
//! whose permits beyond the number wanted are forgotten as they come back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// Slots of one endpoint.
pub(super) struct Slots {
    sem: Semaphore,
    /// Slots wanted now.
    cap: AtomicUsize,
    /// Permits held by requests that are to be forgotten when they come back (the slots
    /// shrank while they were out).
    debt: AtomicUsize,
    /// Serialises changes of `cap`.
    resize: Mutex<()>,
}

impl Slots {
    pub fn new(n: usize) -> Self {
        Self {
            sem: Semaphore::new(n),
            cap: AtomicUsize::new(n),
            debt: AtomicUsize::new(0),
            resize: Mutex::new(()),
        }
    }

    /// Slots wanted now.
    pub fn cap(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }

    /// A free slot, if there is one.
    pub fn try_take(&self) -> Option<SemaphorePermit<'_>> {
        self.sem.try_acquire().ok()
    }

    /// Gives a slot back (forgotten if the slots shrank meanwhile).
    pub fn give_back(&self, permit: SemaphorePermit<'_>) {
        if self
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok()
        {
            permit.forget();
        } else {
            drop(permit);
        }
    }

    /// Makes it `n` slots (at least one); `freed` is told when slots are added.
    pub fn set(&self, n: usize, freed: &Notify) {
        let n = n.max(1);
        let _g = self.resize.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.cap.swap(n, Ordering::Relaxed);
        if n > old {
            let mut add = n - old;
            // Permits still out and owed first: they simply stay.
            while add > 0 {
                match self
                    .debt
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
                {
                    Ok(_) => add -= 1,
                    Err(_) => break,
                }
            }
            if add > 0 {
                self.sem.add_permits(add);
                freed.notify_waiters();
            }
        } else if n < old {
            let cut = old - n;
            let forgotten = self.sem.forget_permits(cut);
            self.debt.fetch_add(cut - forgotten, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_shrink_as_permits_come_back_and_grow_again() {
        let freed = Notify::new();
        let s = Slots::new(4);
        let held: Vec<_> = (0..3).map(|_| s.try_take().unwrap()).collect();
        s.set(1, &freed);
        // One was free and is forgotten at once; two of the three out are owed.
        assert!(s.try_take().is_none());
        let mut held = held.into_iter();
        s.give_back(held.next().unwrap());
        s.give_back(held.next().unwrap());
        assert!(s.try_take().is_none(), "the first two back were owed");
        s.give_back(held.next().unwrap());
        let one = s.try_take().expect("one slot");
        assert!(s.try_take().is_none());
        s.set(3, &freed);
        let two: Vec<_> = (0..2).map(|_| s.try_take().unwrap()).collect();
        assert!(s.try_take().is_none());
        assert_eq!(s.cap(), 3);
        // Shrinking with everything out, then growing before any comes back: the debt is
        // cancelled rather than permits added.
        s.set(1, &freed);
        s.set(2, &freed);
        s.give_back(one);
        for p in two {
            s.give_back(p);
        }
        let a = s.try_take().unwrap();
        let b = s.try_take().unwrap();
        assert!(s.try_take().is_none(), "two slots, no more");
        drop((a, b));
    }
}
