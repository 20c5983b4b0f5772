//! The response cache: every successful completion, stored under a hash of the request's full
//! content before anything that depends on it is written, so that a re-run, a resumed run or
//! another run asking the same thing pays nothing.
//!
//! SQLite in WAL mode (rusqlite, bundled) rather than a JSONL log with an index: a committed
//! row survives `kill -9` without any repair step (WAL replays or ignores a torn frame on
//! open), two processes can share one file (readers never block, writers queue on a lock
//! with a timeout instead of interleaving bytes, AlpacaEval's failure mode), lookups are an
//! index probe without loading the file into memory, and pruning is a `DELETE` plus
//! `VACUUM` instead of rewriting a log while others append to it.
//!
//! A reply is filed under the request and what answered it. The request's digest covers the
//! model name, messages (the rendered judge prompt, so a changed template is a different
//! request), temperature, output cap and the sample index of a repeated judgment; what
//! answered is the endpoint's identity ([`super::served`]): its URL and, where the server
//! tells, the weights it serves under that name. The key is a digest of both
//! ([`served_key`]). Rows from before the identity was kept (schema 1) are served only to
//! endpoints that state no weights (hosted APIs), where the name was and is the identity.
//! Errors are never stored.
//!
//! Processes sharing one cache file see each other's requests in flight: before sending, a
//! run *claims* the key (a row with its owner and an expiry it renews while it runs); another
//! run wanting the same key waits for that reply instead of paying for it again. A claim left
//! by a killed process expires (at once when its process is gone from this machine).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ChatRequest, ChatResponse};
use crate::types::Usage;
use crate::util::unix_now;

mod claims;
pub use claims::{Claim, claim_owner};

/// Schema version kept in SQLite's `user_version`: 2 adds the endpoint's identity to every
/// row, the endpoints' last identities and the claims of requests in flight.
const SCHEMA: i64 = 2;

/// The tables of schema 2 (after `responses` exists or is made).
const TABLES_V2: &str = "
    CREATE TABLE IF NOT EXISTS responses (
        key TEXT PRIMARY KEY,
        request TEXT NOT NULL,
        served TEXT NOT NULL,
        model TEXT NOT NULL,
        content TEXT NOT NULL,
        finish_reason TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        created INTEGER NOT NULL,
        used INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS responses_request ON responses(request);
    CREATE TABLE IF NOT EXISTS endpoints (
        url TEXT NOT NULL,
        model TEXT NOT NULL,
        weights TEXT NOT NULL,
        seen INTEGER NOT NULL,
        PRIMARY KEY (url, model)
    );
    CREATE TABLE IF NOT EXISTS claims (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires INTEGER NOT NULL
    );";

/// The key a reply is filed under: a digest of what answered it (`served`) and the request's
/// digest ([`cache_key`]). It is also the `custom_id` of batch lines.
pub fn served_key(served: &str, request: &str) -> String {
    let mut h = Sha256::new();
    h.update(served.as_bytes());
    h.update(b"\n");
    h.update(request.as_bytes());
    hex(&h.finalize())
}

/// How a run uses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Serve stored responses; store new ones.
    #[default]
    Use,
    /// Ask the API again and overwrite what is stored (`--refresh`).
    Refresh,
    /// Neither read nor write (`--no-cache`).
    Off,
    /// Serve stored responses; store nothing (`--cache-read-only`: a cache shared by machines).
    ReadOnly,
}

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
#[error("response cache {}: {message}", path.display())]
pub struct CacheError {
    /// The cache file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl CacheError {
    /// Whether the disk the cache is on is full (SQLite's `SQLITE_FULL`): a reply that cannot
    /// be stored here is likely to find no room in the run's files either.
    pub fn is_full(&self) -> bool {
        self.message.contains("database or disk is full")
            || self.message.contains("No space left on device")
    }
}

/// The cache key of a request: a SHA-256 over its canonical JSON form.
pub fn cache_key(req: &ChatRequest) -> String {
    #[derive(Serialize)]
    struct Keyed<'a> {
        v: u32,
        #[serde(flatten)]
        req: &'a ChatRequest,
    }
    let bytes = serde_json::to_vec(&Keyed { v: 1, req }).expect("plain data serializes");
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

enum Opening {
    Busy(CacheError),
    Failed(CacheError),
}

/// A cache file, shared by every client of a run.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Opened read-only: nothing is written, not even the time a response was last used.
    read_only: bool,
    /// Requests served from the cache.
    pub hits: AtomicU64,
    /// Whether this process renews its claims on the file already.
    heartbeat: std::sync::atomic::AtomicBool,
}

/// Size and contents of a cache, for `shinpan cache info`.
#[derive(Debug, Clone, Serialize)]
pub struct CacheInfo {
    /// The file.
    pub path: PathBuf,
    /// Bytes on disk (database plus its write-ahead log).
    pub bytes: u64,
    /// Stored responses.
    pub entries: u64,
    /// Stored responses per API model name.
    pub models: Vec<(String, u64)>,
    /// Unix time of the oldest and newest stored response.
    pub oldest: Option<u64>,
    pub newest: Option<u64>,
}

/// What `shinpan cache prune` may delete.
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    /// Entries not used for this long.
    pub unused_for: Option<Duration>,
    /// Entries of this API model name.
    pub model: Option<String>,
    /// Everything.
    pub all: bool,
}

impl Cache {
    /// Opens (creating if needed) the cache at `path`. Two processes opening a new cache at
    /// once race to switch it to WAL and create the table; SQLite answers the loser "busy"
    /// without waiting on some of these steps, so the whole opening is retried for a while.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut pause = Duration::from_millis(5);
        loop {
            match Self::try_open(path) {
                Err(Opening::Busy(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(Opening::Busy(e) | Opening::Failed(e)) => return Err(e),
                Ok(c) => return Ok(c),
            }
        }
    }

    fn try_open(path: &Path) -> Result<Self, Opening> {
        let err = |e: rusqlite::Error| {
            let busy = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            let e = CacheError {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            if busy {
                Opening::Busy(e)
            } else {
                Opening::Failed(e)
            }
        };
        let fail = |message: String| {
            Opening::Failed(CacheError {
                path: path.to_path_buf(),
                message,
            })
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(err)?;
        // Another process may hold the write lock for a moment; wait rather than fail.
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(fail(format!(
                "cannot use write-ahead logging (journal mode {mode})"
            )));
        }
        // NORMAL in WAL mode: a committed row survives the process being killed; only a power
        // cut can lose the last few commits, never corrupt the file.
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        match version {
            0 => {
                let tables: i64 = conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .map_err(err)?;
                if tables > 0 {
                    return Err(fail(
                        "is an SQLite database, but not a shinpan cache".into(),
                    ));
                }
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {TABLES_V2} PRAGMA user_version = {SCHEMA}; COMMIT;"
                ))
                .map_err(err)?;
            }
            1 => {
                // Rows of schema 1 were filed by the request alone: they keep their key (the
                // request's digest) and an empty identity, which only endpoints that state
                // no weights accept (see `get_legacy`).
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     ALTER TABLE responses RENAME TO responses_v1;
                     {TABLES_V2}
                     INSERT OR IGNORE INTO responses
                       SELECT key, key, '', model, content, finish_reason, prompt_tokens,
                              completion_tokens, created, used FROM responses_v1;
                     DROP TABLE responses_v1;
                     PRAGMA user_version = {SCHEMA};
                     COMMIT;"
                ))
                .map_err(err)?;
            }
            SCHEMA => {}
            v => {
                return Err(fail(format!(
                    "has schema version {v}; this shinpan reads version {SCHEMA} (use another --cache file)"
                )));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            read_only: false,
            hits: AtomicU64::new(0),
            heartbeat: Default::default(),
        })
    }

    /// Opens an existing cache only to read it (a file shared by machines, perhaps on a
    /// read-only mount): it must exist and be a shinpan cache of this schema.
    pub fn open_read_only(path: &Path) -> Result<Self, CacheError> {
        let fail = |message: String| CacheError {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(fail(
                "no such cache file (a read-only cache must exist)".into(),
            ));
        }
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let version = |conn: &Connection| -> rusqlite::Result<i64> {
            conn.busy_timeout(Duration::from_secs(60))?;
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        };
        let opened = Connection::open_with_flags(path, flags)
            .and_then(|c| version(&c).map(|v| (c, v)))
            .or_else(|first| {
                // A write-ahead-logged file on a read-only mount: its shared-memory index cannot
                // be made there, so the file is read as immutable (the team's snapshot).
                let uri = format!("file:{}?immutable=1", path.display());
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                    .and_then(|c| version(&c).map(|v| (c, v)))
                    .map_err(|_| first)
            });
        let (conn, version) = opened.map_err(|e| fail(e.to_string()))?;
        if version == 1 {
            return Err(fail(
                "is a cache of an earlier shinpan (schema 1): open it once without --cache-read-only (any run, or `shinpan cache info`) to upgrade it, then share it".into(),
            ));
        }
        if version != SCHEMA {
            return Err(fail(format!(
                "is not a shinpan cache of schema version {SCHEMA} (user_version {version})"
            )));
        }
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            read_only: true,
            hits: AtomicU64::new(0),
            heartbeat: Default::default(),
        })
    }

    /// When the response stored under `key` was stored (Unix seconds), if one is.
    pub fn created(&self, key: &str) -> Result<Option<i64>, CacheError> {
        self.conn()
            .prepare_cached("SELECT created FROM responses WHERE key = ?1")
            .and_then(|mut st| st.query_row(params![key], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// The stored response for `key` if it was stored later than `since` (Unix seconds).
    pub fn get_since(&self, key: &str, since: i64) -> Result<Option<ChatResponse>, CacheError> {
        match self.created(key)? {
            Some(c) if c > since => self.get(key),
            _ => Ok(None),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> CacheError {
        CacheError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored response for `key`, if any (blocking; call from a blocking context).
    pub fn get(&self, key: &str) -> Result<Option<ChatResponse>, CacheError> {
        let conn = self.conn();
        let row = conn
            .prepare_cached(
                "SELECT content, finish_reason, prompt_tokens, completion_tokens, used
                 FROM responses WHERE key = ?1",
            )
            .and_then(|mut st| {
                st.query_row(params![key], |r| {
                    Ok((
                        ChatResponse {
                            content: r.get(0)?,
                            finish_reason: r.get(1)?,
                            usage: Usage {
                                prompt_tokens: r.get::<_, i64>(2)? as u64,
                                completion_tokens: r.get::<_, i64>(3)? as u64,
                                ..Usage::default()
                            },
                            ..Default::default()
                        },
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        let Some((resp, used)) = row else {
            return Ok(None);
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        // Pruning goes by days unused: refreshing the time once an hour keeps a hit a read.
        let now = unix_now() as i64;
        if now - used > 3600 && !self.read_only {
            conn.prepare_cached("UPDATE responses SET used = ?2 WHERE key = ?1")
                .and_then(|mut st| st.execute(params![key, now]))
                .map_err(|e| self.err(e))?;
        }
        Ok(Some(resp))
    }

    /// A row of schema 1 for the request `request` (filed before endpoints had identities),
    /// if there is one: for an endpoint that states no weights, where it is still the reply.
    pub fn get_legacy(&self, request: &str) -> Result<Option<ChatResponse>, CacheError> {
        let key: Option<String> = self
            .conn()
            .prepare_cached("SELECT key FROM responses WHERE request = ?1 AND served = ''")
            .and_then(|mut st| st.query_row(params![request], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        match key {
            Some(k) => self.get(&k),
            None => Ok(None),
        }
    }

    /// Stores a response under `key` (blocking), replacing what was there; `request` and
    /// `served` are what the key was made of (see [`served_key`]), kept for audits.
    pub fn put(
        &self,
        key: &str,
        (request, served): (&str, &str),
        model: &str,
        resp: &ChatResponse,
    ) -> Result<(), CacheError> {
        let now = unix_now() as i64;
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT OR REPLACE INTO responses
             (key, request, served, model, content, finish_reason, prompt_tokens,
              completion_tokens, created, used)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )
        .and_then(|mut st| {
            st.execute(params![
                key,
                request,
                served,
                model,
                resp.content,
                resp.finish_reason,
                resp.usage.prompt_tokens as i64,
                resp.usage.completion_tokens as i64,
                now
            ])
        })
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Deletes the response stored under `key` (blocking).
    pub fn remove(&self, key: &str) -> Result<(), CacheError> {
        self.conn()
            .execute("DELETE FROM responses WHERE key = ?1", params![key])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The request digest of every stored response (tests and tools that audit a run).
    pub fn keys(&self) -> Result<Vec<String>, CacheError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT request FROM responses WHERE request != ''")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The weights `url` last said it serves as `model` (empty: it stated none), if it ever
    /// answered.
    pub fn last_served(&self, url: &str, model: &str) -> Result<Option<String>, CacheError> {
        self.conn()
            .prepare_cached("SELECT weights FROM endpoints WHERE url = ?1 AND model = ?2")
            .and_then(|mut st| st.query_row(params![url, model], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Records what `url` serves as `model` now.
    pub fn saw_served(&self, url: &str, model: &str, weights: &str) -> Result<(), CacheError> {
        if self.read_only {
            return Ok(());
        }
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO endpoints (url, model, weights, seen) VALUES (?1, ?2, ?3, ?4)",
                params![url, model, weights, unix_now() as i64],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Size and contents.
    pub fn info(&self) -> Result<CacheInfo, CacheError> {
        let conn = self.conn();
        let (entries, oldest, newest): (i64, Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT count(*), min(created), max(created) FROM responses",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        let mut st = conn
            .prepare("SELECT model, count(*) FROM responses GROUP BY model ORDER BY 2 DESC, 1")
            .map_err(|e| self.err(e))?;
        let models = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(CacheInfo {
            path: self.path.clone(),
            bytes: self.bytes_on_disk(),
            entries: entries as u64,
            models,
            oldest: oldest.map(|t| t as u64),
            newest: newest.map(|t| t as u64),
        })
    }

    fn bytes_on_disk(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut p = self.path.clone().into_os_string();
                p.push(suffix);
                std::fs::metadata(p).ok().map(|m| m.len())
            })
            .sum()
    }

    /// Adds every response of the cache at `source` that this one lacks (one it holds under
    /// the same key stays: the same request got the same reply); returns how many were
    /// added. How shards' caches, or a team's, become one.
    pub fn merge_from(&self, source: &Path) -> Result<u64, CacheError> {
        let fail = |message: String| CacheError {
            path: source.to_path_buf(),
            message,
        };
        if !source.is_file() {
            return Err(fail("no such cache file".into()));
        }
        // Opening checks that it is a shinpan cache of this schema.
        drop(Cache::open(source)?);
        let conn = self.conn();
        let src = source
            .to_str()
            .ok_or_else(|| fail("path is not UTF-8".into()))?;
        conn.execute("ATTACH DATABASE ?1 AS src", params![src])
            .map_err(|e| self.err(e))?;
        let added = conn.execute(
            "INSERT OR IGNORE INTO responses
             (key, request, served, model, content, finish_reason, prompt_tokens,
              completion_tokens, created, used)
             SELECT key, request, served, model, content, finish_reason, prompt_tokens,
              completion_tokens, created, used
             FROM src.responses",
            [],
        );
        let detached = conn.execute("DETACH DATABASE src", []);
        let added = added.map_err(|e| self.err(e))?;
        detached.map_err(|e| self.err(e))?;
        Ok(added as u64)
    }

    /// Deletes what `filter` selects and compacts the file; returns the entries deleted.
    pub fn prune(&self, filter: &PruneFilter) -> Result<u64, CacheError> {
        let conn = self.conn();
        let deleted = if filter.all {
            conn.execute("DELETE FROM responses", [])
        } else {
            let cutoff = filter
                .unused_for
                .map(|d| unix_now() as i64 - d.as_secs() as i64);
            conn.execute(
                "DELETE FROM responses
                 WHERE (?1 IS NULL OR used < ?1) AND (?2 IS NULL OR model = ?2)
                   AND (?1 IS NOT NULL OR ?2 IS NOT NULL)",
                params![cutoff, filter.model],
            )
        }
        .map_err(|e| self.err(e))?;
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))?;
        Ok(deleted as u64)
    }
}

/// The cache file used when none is named: `$SHINPAN_CACHE` is read by the CLI; this is
/// `$XDG_CACHE_HOME/shinpan/responses.sqlite`, else `~/.cache/shinpan/responses.sqlite`.
pub fn default_cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("shinpan").join("responses.sqlite"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Message;

    fn req(sample: Option<u32>) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            messages: vec![Message::user("日本の首都は？")],
            temperature: 0.7,
            max_tokens: 100,
            sample,
            json_schema: None,
            account: None,
        }
    }

    #[test]
    fn key_covers_every_part_of_the_request() {
        let base = cache_key(&req(None));
        assert_eq!(base, cache_key(&req(None)), "deterministic");
        let mut r = req(None);
        r.temperature = 0.0;
        assert_ne!(cache_key(&r), base);
        let mut r = req(None);
        r.max_tokens = 101;
        assert_ne!(cache_key(&r), base);
        let mut r = req(None);
        r.model = "n".into();
        assert_ne!(cache_key(&r), base);
        let mut r = req(None);
        r.messages[0].content.push('。');
        assert_ne!(cache_key(&r), base);
        let mut r = req(None);
        r.messages.insert(0, Message::system(""));
        assert_ne!(cache_key(&r), base);
        assert_ne!(
            cache_key(&req(Some(0))),
            base,
            "a repeated judgment is its own request"
        );
        assert_ne!(cache_key(&req(Some(0))), cache_key(&req(Some(1))));
    }

    #[test]
    fn a_schema_1_cache_is_upgraded_and_its_rows_serve_only_hosted_identities() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT NOT NULL,
                   content TEXT NOT NULL, finish_reason TEXT NOT NULL,
                   prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                   created INTEGER NOT NULL, used INTEGER NOT NULL);
                 INSERT INTO responses VALUES ('r1', 'm', '古い回答', 'stop', 1, 2, 0, 0);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let c = Cache::open(&path).unwrap();
        assert_eq!(c.get_legacy("r1").unwrap().unwrap().content, "古い回答");
        assert!(
            c.get(&served_key("url=x;weights=", "r1"))
                .unwrap()
                .is_none()
        );
        assert_eq!(c.keys().unwrap(), ["r1"]);
        drop(c);
        // Opened again: already upgraded.
        assert_eq!(Cache::open(&path).unwrap().info().unwrap().entries, 1);
    }

    #[test]
    fn store_read_prune_and_refuse_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cache.sqlite");
        let c = Cache::open(&path).unwrap();
        let resp = ChatResponse {
            content: "東京です。".into(),
            finish_reason: "stop".into(),
            usage: Usage {
                prompt_tokens: 5,
                completion_tokens: 3,
                ..Usage::default()
            },
            attempts: 1,
            ..Default::default()
        };
        let k = cache_key(&req(None));
        assert!(c.get(&k).unwrap().is_none());
        c.put(&k, (&k, ""), "m", &resp).unwrap();
        let got = c.get(&k).unwrap().unwrap();
        assert_eq!(
            (got.content.as_str(), got.usage.total(), got.attempts),
            ("東京です。", 8, 0)
        );
        drop(c);
        let c = Cache::open(&path).unwrap();
        let info = c.info().unwrap();
        assert_eq!(
            (info.entries, info.models.clone()),
            (1, vec![("m".into(), 1)])
        );
        assert_eq!(
            c.prune(&PruneFilter {
                model: Some("other".into()),
                ..Default::default()
            })
            .unwrap(),
            0
        );
        assert_eq!(
            c.prune(&PruneFilter::default()).unwrap(),
            0,
            "no filter, nothing"
        );
        assert_eq!(
            c.prune(&PruneFilter {
                model: Some("m".into()),
                ..Default::default()
            })
            .unwrap(),
            1
        );

        let foreign = dir.path().join("other.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let e = Cache::open(&foreign).unwrap_err().to_string();
        assert!(
            e.contains("other.sqlite") && e.contains("not a shinpan cache"),
            "{e}"
        );
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, "not a database at all, just some text here ...").unwrap();
        let e = Cache::open(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.sqlite"), "{e}");
    }
}
