//! What a provider says about its rate limits: the `x-ratelimit-*` headers OpenAI and
//! compatible servers send on every reply (`limit`, `remaining` and `reset`, for requests and
//! for tokens). vLLM and llama.cpp send none; every field is then absent.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// One limit as a reply states it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stated {
    /// The limit per minute (`x-ratelimit-limit-*`).
    pub limit: Option<f64>,
    /// What is left now (`x-ratelimit-remaining-*`).
    pub remaining: Option<f64>,
    /// How long until it is back to full (`x-ratelimit-reset-*`).
    pub reset: Option<Duration>,
}

/// The rate-limit headers of one reply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateHeaders {
    /// Requests.
    pub requests: Stated,
    /// Tokens.
    pub tokens: Stated,
}

impl RateHeaders {
    /// Reads the headers; missing or unreadable ones are `None`.
    pub fn parse(h: &HeaderMap) -> Self {
        let stated = |what: &str| {
            let get = |name: String| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
            let number = |name: String| {
                get(name)
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
            };
            Stated {
                limit: number(format!("x-ratelimit-limit-{what}")).filter(|v| *v > 0.0),
                remaining: number(format!("x-ratelimit-remaining-{what}")),
                reset: get(format!("x-ratelimit-reset-{what}")).and_then(parse_duration),
            }
        };
        Self {
            requests: stated("requests"),
            tokens: stated("tokens"),
        }
    }

    /// Whether the reply stated any limit.
    pub fn any_limit(&self) -> bool {
        self.requests.limit.is_some() || self.tokens.limit.is_some()
    }
}

/// Parses a reset value: Go-style durations as OpenAI sends them (`1s`, `120ms`, `6m0s`,
/// `1h2m3.5s`), or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && !s.is_empty()).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_durations_as_providers_send_them() {
        let ms = |v: u64| Some(Duration::from_millis(v));
        assert_eq!(parse_duration("1s"), ms(1000));
        assert_eq!(parse_duration("120ms"), ms(120));
        assert_eq!(parse_duration("6m0s"), ms(360_000));
        assert_eq!(parse_duration("1h2m3.5s"), ms(3_723_500));
        assert_eq!(parse_duration("0.25"), ms(250));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn headers_are_read_and_absent_ones_are_none() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit-requests", "600".parse().unwrap());
        h.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "100ms".parse().unwrap());
        h.insert("x-ratelimit-limit-tokens", "zero".parse().unwrap());
        let r = RateHeaders::parse(&h);
        assert_eq!(r.requests.limit, Some(600.0));
        assert_eq!(r.requests.remaining, Some(0.0));
        assert_eq!(r.requests.reset, Some(Duration::from_millis(100)));
        assert_eq!(r.tokens, Stated::default());
        assert!(r.any_limit());
        assert!(!RateHeaders::parse(&HeaderMap::new()).any_limit());
    }
}
