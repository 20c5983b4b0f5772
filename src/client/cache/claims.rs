//! Claims on requests in flight, in the cache file that processes share: a row per request
//! being asked, with its owner (host, process, nonce) and an expiry the owner renews, so
//! another process waits for the reply instead of paying for it again.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::{Cache, CacheError};
use crate::util::unix_now;

/// Who holds a claim on a request in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This process: it sends the request.
    Mine,
    /// Another process, until `expires` (Unix milliseconds) unless it renews it.
    Theirs,
}

impl Cache {
    /// Marks the claims' heartbeat started; true for the caller that should start it.
    pub fn start_heartbeat(&self) -> bool {
        !self.read_only && !self.heartbeat.swap(true, Ordering::SeqCst)
    }

    /// Claims `key` for `owner` until `ttl` from now, unless another owner holds a claim
    /// that has not expired and whose process is not known to be gone. A read-only cache
    /// claims nothing (and every key is taken as this process's).
    pub fn claim(&self, key: &str, owner: &str, ttl: Duration) -> Result<Claim, CacheError> {
        if self.read_only {
            return Ok(Claim::Mine);
        }
        let now = now_ms();
        let conn = self.conn();
        let held: Option<(String, i64)> = conn
            .prepare_cached("SELECT owner, expires FROM claims WHERE key = ?1")
            .and_then(|mut st| {
                st.query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        if let Some((other, expires)) = &held
            && other != owner
            && *expires > now
            && !owner_gone(other)
        {
            return Ok(Claim::Theirs);
        }
        // Taken only if the row is still what was read: two processes racing for a free or
        // expired key cannot both win.
        let changed = match &held {
            None => conn
                .prepare_cached("INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?1, ?2, ?3)")
                .and_then(|mut st| st.execute(params![key, owner, now + ttl.as_millis() as i64])),
            Some((other, expires)) => conn
                .prepare_cached(
                    "UPDATE claims SET owner = ?2, expires = ?3 WHERE key = ?1 AND owner = ?4 AND expires = ?5",
                )
                .and_then(|mut st| {
                    st.execute(params![key, owner, now + ttl.as_millis() as i64, other, expires])
                }),
        }
        .map_err(|e| self.err(e))?;
        Ok(if changed == 1 {
            Claim::Mine
        } else {
            Claim::Theirs
        })
    }

    /// Drops `owner`'s claim on `key` (its reply is stored, or it failed).
    pub fn release(&self, key: &str, owner: &str) -> Result<(), CacheError> {
        if self.read_only {
            return Ok(());
        }
        self.conn()
            .prepare_cached("DELETE FROM claims WHERE key = ?1 AND owner = ?2")
            .and_then(|mut st| st.execute(params![key, owner]))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Renews every claim of `owner` for `ttl` from now (a live run's heartbeat).
    pub fn renew_claims(&self, owner: &str, ttl: Duration) -> Result<(), CacheError> {
        if self.read_only {
            return Ok(());
        }
        self.conn()
            .prepare_cached("UPDATE claims SET expires = ?2 WHERE owner = ?1")
            .and_then(|mut st| st.execute(params![owner, now_ms() + ttl.as_millis() as i64]))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Whether `key` is claimed now by an owner other than `owner` (one that is alive).
    pub fn claimed_by_other(&self, key: &str, owner: &str) -> Result<bool, CacheError> {
        let held: Option<(String, i64)> = self
            .conn()
            .prepare_cached("SELECT owner, expires FROM claims WHERE key = ?1")
            .and_then(|mut st| {
                st.query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(held.is_some_and(|(o, e)| o != owner && e > now_ms() && !owner_gone(&o)))
    }
}

fn now_ms() -> i64 {
    (unix_now() * 1000.0) as i64
}

/// This process as a claim's owner: host, process id and a nonce (a reused pid is not us).
pub fn claim_owner() -> String {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER
        .get_or_init(|| {
            let nonce: u64 = rand::random();
            format!("{}:{}:{nonce:016x}", host_name(), std::process::id())
        })
        .clone()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a claim's owner is a process of this machine that no longer runs (its claim is
/// void at once, not only when it expires). Elsewhere, only expiry tells.
fn owner_gone(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    cfg!(target_os = "linux")
        && host == host_name()
        && pid
            .parse::<u32>()
            .is_ok_and(|p| !Path::new("/proc").join(p.to_string()).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_per_key_and_a_dead_owner_holds_none() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::open(&dir.path().join("c.sqlite")).unwrap();
        let ttl = Duration::from_secs(30);
        let me = claim_owner();
        assert_eq!(c.claim("k", &me, ttl).unwrap(), Claim::Mine);
        assert_eq!(c.claim("k", &me, ttl).unwrap(), Claim::Mine, "mine again");
        let other = format!("{}:1:00", host_name());
        assert_eq!(c.claim("k", &other, ttl).unwrap(), Claim::Theirs);
        assert!(c.claimed_by_other("k", &other).unwrap());
        c.release("k", &me).unwrap();
        assert_eq!(c.claim("k", &other, ttl).unwrap(), Claim::Mine);
        // A process of this machine that is gone holds nothing; one elsewhere until expiry.
        let gone = format!("{}:4194399:00", host_name());
        assert_eq!(c.claim("g", &gone, ttl).unwrap(), Claim::Mine);
        assert_eq!(c.claim("g", &me, ttl).unwrap(), Claim::Mine);
        let far = "elsewhere:12:00";
        assert_eq!(
            c.claim("f", far, Duration::from_millis(0)).unwrap(),
            Claim::Mine
        );
        assert_eq!(c.claim("f", &me, ttl).unwrap(), Claim::Mine, "expired");
        assert_eq!(c.claim("h", far, ttl).unwrap(), Claim::Mine);
        assert_eq!(c.claim("h", &me, ttl).unwrap(), Claim::Theirs);
    }
}
