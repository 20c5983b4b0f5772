//! The response cache as a client uses it: what answers a model (its [`Identity`], asked of
//! the endpoints once per run), the key a reply is filed under, lookups, and the claims that
//! let runs sharing one cache file wait for each other's requests in flight.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{
    Cache, CacheError, CacheMode, ChatRequest, ChatResponse, Claim, Client, ClientError, Served,
    cache_key, claim_owner, served, served_key,
};

/// What answers a model on a client's endpoints, as the response cache files it: each
/// endpoint's URL and the weights it said it serves (empty: nothing but the name; `?`:
/// unknown, it did not answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The text the cache key is made from (`url=…;weights=…`, endpoints joined by ` + `).
    pub text: String,
    /// Whether replies stored before identities were kept may be served: every endpoint
    /// states no weights (the name alone was, and is, the identity).
    pub legacy: bool,
}

impl Identity {
    pub(super) fn of<'a>(parts: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Identity {
        let mut parts: Vec<(&str, Option<&str>)> = parts.collect();
        parts.sort();
        let legacy = parts.iter().all(|(_, w)| *w == Some(""));
        let text = parts
            .iter()
            .map(|(u, w)| format!("url={u};weights={}", w.unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(" + ");
        Identity { text, legacy }
    }
}

/// How long a claim on a request in flight lasts unless its process renews it.
pub(super) const CLAIM_TTL: Duration = Duration::from_secs(30);

/// Renews this process's claims on `cache` while the cache is open (one task per cache).
pub(super) fn heartbeat(cache: &Arc<Cache>) {
    if !cache.start_heartbeat() {
        return;
    }
    let weak = Arc::downgrade(cache);
    tokio::spawn(async move {
        let owner = claim_owner();
        loop {
            tokio::time::sleep(CLAIM_TTL / 3).await;
            let Some(cache) = weak.upgrade() else { return };
            let o = owner.clone();
            let _ = tokio::task::spawn_blocking(move || cache.renew_claims(&o, CLAIM_TTL)).await;
        }
    });
}

impl Client {
    /// What this client's endpoints serve as `api_model`, as the response cache knows them
    /// (see [`served`]): set by [`Client::identify`]; before it, each endpoint's URL with
    /// nothing told (the identity of a hosted API).
    pub fn identity(&self, api_model: &str) -> Identity {
        let known = self.inner.served.lock().unwrap_or_else(|p| p.into_inner());
        known.get(api_model).cloned().unwrap_or_else(|| {
            Identity::of(
                self.inner
                    .endpoints
                    .iter()
                    .map(|e| (e.config.base_url.as_str(), Some(""))),
            )
        })
    }

    /// Asks each endpoint what it serves as each of `api_models` (`GET /v1/models`), before
    /// anything is sent, and files replies under those identities from now on. An endpoint
    /// that does not answer takes the identity it last had if that was a name alone (a
    /// hosted API stays cacheable), else an unknown one that no stored reply matches.
    /// Returns, per model, what each endpoint said.
    pub async fn identify(&self, api_models: &[String]) -> Vec<(String, Vec<(String, Served)>)> {
        // What each endpoint said, for every model (one probe an endpoint).
        let mut said: Vec<(String, Vec<Served>)> = Vec::new();
        for e in &self.inner.endpoints {
            let url = e.config.base_url.clone();
            let served = served::probe(&e.http, &url, e.api_key.as_deref(), api_models).await;
            said.push((url, served));
        }
        let mut out = Vec::new();
        for (i, m) in api_models.iter().enumerate() {
            let mut parts: Vec<(String, Option<String>)> = Vec::new();
            for (url, served) in &said {
                let weights = match served[i].weights() {
                    Some(w) => {
                        let (u, model, w2) = (url.clone(), m.clone(), w.to_string());
                        self.with_cache_file(move |c| c.saw_served(&u, &model, &w2))
                            .await;
                        Some(w.to_string())
                    }
                    None => {
                        let (u, model) = (url.clone(), m.clone());
                        // Only a name alone is trusted without the server's word.
                        self.with_cache_file(move |c| c.last_served(&u, &model))
                            .await
                            .flatten()
                            .filter(|w| w.is_empty())
                    }
                };
                parts.push((url.clone(), weights));
            }
            let id = Identity::of(parts.iter().map(|(u, w)| (u.as_str(), w.as_deref())));
            self.inner
                .served
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(m.clone(), id);
            let told = said
                .iter()
                .map(|(u, s)| (u.clone(), s[i].clone()))
                .collect();
            out.push((m.clone(), told));
        }
        out
    }

    /// The key `req` is filed under in the response cache: the request and what this
    /// client's endpoints serve (the `custom_id` of batch lines too).
    pub fn key_of(&self, req: &ChatRequest) -> String {
        served_key(&self.identity(&req.model).text, &cache_key(req))
    }

    /// A stored reply for `key` (or, where the identity allows, one stored before identities
    /// were kept).
    pub(super) async fn lookup(
        &self,
        key: &str,
        request: &str,
        legacy: bool,
    ) -> Option<ChatResponse> {
        let (k, r) = (key.to_string(), request.to_string());
        self.with_cache_file(move |c| match c.get(&k)? {
            Some(hit) => Ok(Some(hit)),
            None if legacy => c.get_legacy(&r),
            None => Ok(None),
        })
        .await
        .flatten()
    }

    /// Claims `key` for this process. `Ok(Some(reply))` when another process held it and its
    /// reply arrived meanwhile (in `--refresh`, only a reply stored after this wait began);
    /// `Ok(None)` to send the request. A claim whose holder died expires (at once when it
    /// ran on this machine), and then this process takes it.
    pub(super) async fn claim(&self, key: &str) -> Result<Option<ChatResponse>, ClientError> {
        let Some(cache) = self.inner.cache.clone() else {
            return Ok(None);
        };
        heartbeat(&cache);
        let owner = claim_owner();
        // In --refresh, only a reply stored after this point is fresh: one stored later than
        // what the key holds now.
        let since = match self.inner.cache_mode {
            CacheMode::Refresh => {
                let k = key.to_string();
                self.with_cache_file(move |c| c.created(&k))
                    .await
                    .flatten()
                    .unwrap_or(i64::MIN)
            }
            _ => i64::MIN,
        };
        let mut pause = Duration::from_millis(20);
        let refresh = self.inner.cache_mode == CacheMode::Refresh;
        loop {
            let (k, o) = (key.to_string(), owner.clone());
            let claimed = self
                .with_cache_file(move |c| {
                    Ok(match c.claim(&k, &o, CLAIM_TTL)? {
                        // Another process may have stored the reply and let its claim go
                        // between this process's lookup and its claim: looked up again.
                        Claim::Mine => {
                            let hit = if refresh {
                                c.get_since(&k, since)?
                            } else {
                                c.get(&k)?
                            };
                            if hit.is_some() {
                                c.release(&k, &o)?;
                            }
                            Ok(hit)
                        }
                        Claim::Theirs => Err(()),
                    })
                })
                .await;
            match claimed {
                // No cache to share (it failed): this process asks.
                None | Some(Ok(None)) => return Ok(None),
                Some(Ok(Some(hit))) => {
                    self.inner.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(hit));
                }
                Some(Err(())) => {}
            }
            self.inner
                .stats
                .waiting_claim
                .fetch_add(1, Ordering::Relaxed);
            // Another process asks: its reply lands under the same key.
            let waited = loop {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = self.inner.halt.halted() => break Err(ClientError::Stopped),
                }
                pause = (pause * 2).min(Duration::from_millis(500));
                let (k, o) = (key.to_string(), owner.clone());
                let seen = self
                    .with_cache_file(move |c| {
                        let hit = if refresh {
                            c.get_since(&k, since)?
                        } else {
                            c.get(&k)?
                        };
                        Ok(match hit {
                            Some(h) => Some(Ok(h)),
                            None if !c.claimed_by_other(&k, &o)? => Some(Err(())),
                            None => None,
                        })
                    })
                    .await;
                match seen {
                    Some(Some(Ok(hit))) => break Ok(Some(hit)),
                    // The claim went without a reply (the other failed, or died): claim again.
                    Some(Some(Err(()))) | None => break Ok(None),
                    Some(None) => {}
                }
            };
            self.inner
                .stats
                .waiting_claim
                .fetch_sub(1, Ordering::Relaxed);
            match waited? {
                Some(hit) => {
                    self.inner.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(hit));
                }
                None => continue,
            }
        }
    }

    /// Drops the cached response to `req`: a reply that was delivered but is unusable (a
    /// judge reply without a readable verdict) must be asked for again by a later run, not
    /// served from the cache forever.
    pub async fn forget(&self, req: &ChatRequest) {
        let id = self.identity(&req.model);
        let request = cache_key(req);
        let key = served_key(&id.text, &request);
        self.with_cache_file(move |c| {
            c.remove(&key)?;
            if id.legacy
                && let Some(_) = c.get_legacy(&request)?
            {
                c.remove(&request)?;
            }
            Ok(())
        })
        .await;
    }

    /// Runs a blocking cache operation off the async threads. `None` when there is no cache
    /// or the operation failed: a failing cache must not stop a run that can still reach the
    /// API, so the first failure is reported and the run goes on without it.
    pub(super) async fn with_cache_file<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Cache) -> Result<T, CacheError> + Send + 'static,
    ) -> Option<T> {
        let cache = self.inner.cache.clone()?;
        let err = match tokio::task::spawn_blocking(move || op(&cache)).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) if e.is_full() => {
                // Replies that cannot be stored are paid for and kept nowhere: nothing more
                // is sent. (The reply in hand still goes to the run's files if they can
                // take it.)
                // The drive says it, and stops: no warning of its own here.
                self.inner
                    .halt
                    .halt(format!("No space left on device: {e}"));
                return None;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        if self
            .inner
            .stats
            .cache_errors
            .fetch_add(1, Ordering::Relaxed)
            == 0
        {
            eprintln!("shinpan: warning: {err}; going on without the cache for this request");
        }
        None
    }
}
