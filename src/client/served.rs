//! What an endpoint serves under a model name, as far as the server tells: the identity the
//! response cache files a reply under, so a new checkpoint served under an old name
//! (`vllm serve ckpt-N --served-model-name my-model`) is never answered with last week's
//! replies, and a server that is down is never stood in for by the cache.
//!
//! Asked once per run, before anything is sent, with `GET /v1/models`:
//! - vLLM lists each model with `root` (the weights' path or repository);
//! - llama.cpp lists the model it loaded, with `meta` (parameters, size, vocabulary);
//! - Ollama lists names only; its `GET /api/tags` gives each model's `digest`;
//! - OpenAI and other hosted APIs list names without weights: there the name is the identity
//!   (their models are versioned by name), so their replies stay cacheable across runs;
//! - a server without `/v1/models` (404, 401, …) tells nothing: known by URL and name.
//!
//! A server that does not answer at all is *unreachable*: its identity is what it was the
//! last time it told (kept in the cache file) when that was a name alone, and otherwise
//! unknown, which no stored reply matches.

use std::time::Duration;

use serde_json::Value;

/// What a server said it serves under one model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// The weights, as the server identifies them (`vllm root=/ckpt/7`).
    Weights(String),
    /// Nothing beyond the name (a hosted API, or a server without `/v1/models`).
    Name,
    /// The server did not answer.
    Unreachable(String),
}

impl Served {
    /// The weights part of an identity: empty for a name alone.
    pub fn weights(&self) -> Option<&str> {
        match self {
            Served::Weights(w) => Some(w),
            Served::Name => Some(""),
            Served::Unreachable(_) => None,
        }
    }
}

/// How long the probe waits for each of its requests.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the server at `base_url` what it serves as each of `models` (one `GET /models`, and
/// one `GET /api/tags` when that list names no weights), in their order.
pub(super) async fn probe(
    http: &reqwest::Client,
    base_url: &str,
    key: Option<&str>,
    models: &[String],
) -> Vec<Served> {
    let base = base_url.trim_end_matches('/');
    let get = |url: String| {
        let mut rb = http.get(url).timeout(PROBE_TIMEOUT);
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        rb.send()
    };
    let all = |s: Served| models.iter().map(|_| s.clone()).collect();
    // A passing failure is asked again before the server is taken as unreachable.
    let mut last = String::new();
    let mut listed = None;
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        match get(format!("{base}/models")).await {
            Ok(r) if r.status().is_success() => {
                listed = Some(r.json::<Value>().await.unwrap_or(Value::Null));
                break;
            }
            Ok(r) if r.status().is_server_error() => last = format!("HTTP {}", r.status()),
            // No `/v1/models` here, or not for this key: nothing told.
            Ok(_) => return all(Served::Name),
            Err(e) => last = super::describe(&e),
        }
    }
    let Some(list) = listed else {
        return all(Served::Unreachable(last));
    };
    let mut out: Vec<Option<String>> = models.iter().map(|m| weights(&list, m)).collect();
    // Ollama names its models without weights there; its own API has their digests.
    if out.iter().any(Option::is_none)
        && let Some(origin) = base.strip_suffix("/v1")
        && let Ok(r) = get(format!("{origin}/api/tags")).await
        && r.status().is_success()
        && let Ok(tags) = r.json::<Value>().await
    {
        for (w, m) in out.iter_mut().zip(models) {
            if w.is_none() {
                *w = ollama_digest(&tags, m).map(|d| format!("ollama digest={d}"));
            }
        }
    }
    out.into_iter()
        .map(|w| w.map_or(Served::Name, Served::Weights))
        .collect()
}

/// The weights a `/v1/models` list names for `model`, if it names any.
fn weights(list: &Value, model: &str) -> Option<String> {
    let data = list.get("data")?.as_array()?;
    let entry = data
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(model))
        // llama.cpp serves the one model it loaded, whatever name a request gives.
        .or_else(|| {
            (data.len() == 1 && data[0].get("owned_by").and_then(Value::as_str) == Some("llamacpp"))
                .then(|| &data[0])
        })?;
    if let Some(root) = entry.get("root").and_then(Value::as_str) {
        // vLLM: `root` is the path or repository of the weights behind the served name.
        let parent = entry.get("parent").and_then(Value::as_str);
        return Some(match parent {
            Some(p) => format!("vllm root={root} parent={p}"),
            None => format!("vllm root={root}"),
        });
    }
    if let Some(meta) = entry.get("meta").filter(|m| m.is_object()) {
        // llama.cpp: the file it loaded, and what it read of it.
        let id = entry.get("id").and_then(Value::as_str).unwrap_or_default();
        let field = |k: &str| meta.get(k).map(|v| v.to_string()).unwrap_or_default();
        return Some(format!(
            "llama.cpp {id} size={} params={} vocab={}",
            field("size"),
            field("n_params"),
            field("n_vocab")
        ));
    }
    None
}

/// The digest Ollama's `/api/tags` gives `model` (`name` or `name:latest`).
fn ollama_digest(tags: &Value, model: &str) -> Option<String> {
    let latest = format!("{model}:latest");
    tags.get("models")?.as_array()?.iter().find_map(|m| {
        let name = m.get("name").or_else(|| m.get("model"))?.as_str()?;
        (name == model || name == latest)
            .then(|| m.get("digest")?.as_str().map(str::to_string))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_server_names_its_weights_its_own_way() {
        let vllm = json!({"object": "list", "data": [
            {"id": "my-model", "object": "model", "created": 1733, "owned_by": "vllm",
             "root": "/models/ckpt-7", "parent": null, "max_model_len": 4096}]});
        assert_eq!(
            weights(&vllm, "my-model").unwrap(),
            "vllm root=/models/ckpt-7"
        );
        assert_eq!(weights(&vllm, "other"), None);
        let llama = json!({"object": "list", "data": [
            {"id": "/m/smollm2.gguf", "object": "model", "owned_by": "llamacpp",
             "meta": {"vocab_type": 2, "n_vocab": 49152, "n_params": 134515008, "size": 98}}]});
        let w = weights(&llama, "judge").unwrap();
        assert!(
            w.starts_with("llama.cpp /m/smollm2.gguf size=98 params=134515008"),
            "{w}"
        );
        let openai = json!({"object": "list", "data": [
            {"id": "gpt-4o", "object": "model", "created": 1715, "owned_by": "system"}]});
        assert_eq!(weights(&openai, "gpt-4o"), None);
        let ollama = json!({"models": [{"name": "llama3:latest", "digest": "365c0bd3"}]});
        assert_eq!(
            ollama_digest(&ollama, "llama3").as_deref(),
            Some("365c0bd3")
        );
        assert_eq!(
            ollama_digest(&ollama, "llama3:latest").as_deref(),
            Some("365c0bd3")
        );
    }
}
