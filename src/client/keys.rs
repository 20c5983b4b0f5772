//! API keys: read from the environment, checked, and kept out of every message.

use super::{ClientError, EndpointConfig};

/// The API key from the endpoint's environment variable, if it names one.
pub(super) fn api_key(config: &EndpointConfig) -> Result<Option<String>, ClientError> {
    let Some(var) = &config.api_key_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => {
            let key = v.trim();
            // A key with a break inside is a paste gone wrong: as a header it cannot be sent,
            // and every request would fail as if the endpoint were down.
            if key.contains(['\n', '\r']) {
                return Err(ClientError::Config(format!(
                    "environment variable {var} holds an API key with a line break inside it: a key is one line (check how the variable was set)"
                )));
            }
            if let Some(c) = key.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(ClientError::Config(format!(
                    "environment variable {var} holds an API key with {} inside it, which cannot be sent in a header: a key is printable ASCII without spaces",
                    if c.is_whitespace() {
                        "a space".to_string()
                    } else {
                        format!("the character U+{:04X}", c as u32)
                    }
                )));
            }
            Ok(Some(key.to_string()))
        }
        _ if is_loopback(&config.base_url) => Ok(None),
        _ => Err(ClientError::Config(format!(
            "environment variable {var} is not set, and {} needs an API key \
             (--api-key-env VAR names another variable; --api-key-env \"\" sends none)",
            config.base_url
        ))),
    }
}

pub(super) fn redact(key: &Option<String>, e: ClientError) -> ClientError {
    let Some(key) = key else {
        return e;
    };
    let msg = e.to_string();
    if key.len() >= 4 && msg.contains(key.as_str()) {
        ClientError::Config(msg.replace(key.as_str(), "<redacted>"))
    } else {
        e
    }
}

/// Whether a base URL points at this machine.
pub(super) fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    matches!(host, "localhost" | "[::1]") || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://[::1]:8000/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let c = Client::with_key(
            EndpointConfig {
                base_url: "http://127.0.0.1:1/v1".into(),
                ..Default::default()
            },
            Some("sk-secret-123\n".into()),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("sk-secret") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }
}
