//! Faults the simulator injects, and when.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::{SimConfig, error, unit};

/// A fault injected into a share of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 429 without `Retry-After`.
    RateLimit,
    /// HTTP 500.
    Server,
    /// HTTP 503 with `Retry-After: 1`.
    Unavailable,
    /// Headers sent, then the connection is cut mid-body.
    Reset,
    /// No reply until the client gives up (see [`SimConfig::hang`]).
    Hang,
    /// 200 with a truncated JSON body.
    Malformed,
    /// 200 with `"choices": []`.
    EmptyChoices,
    /// A normal reply with a `finish_reason` no spec names.
    UnknownFinish,
    /// The reply cut in half, `finish_reason: length`.
    Length,
    /// No content, `finish_reason: content_filter`.
    ContentFilter,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 10] = [
        Fault::RateLimit,
        Fault::Server,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Hang,
        Fault::Malformed,
        Fault::EmptyChoices,
        Fault::UnknownFinish,
        Fault::Length,
        Fault::ContentFilter,
    ];

    /// The name used by `--fault NAME=RATE`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::RateLimit => "429",
            Fault::Server => "500",
            Fault::Unavailable => "503",
            Fault::Reset => "reset",
            Fault::Hang => "hang",
            Fault::Malformed => "malformed",
            Fault::EmptyChoices => "empty",
            Fault::UnknownFinish => "unknown-finish",
            Fault::Length => "length",
            Fault::ContentFilter => "filter",
        }
    }

    /// The fault with this name.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The fault drawn for one attempt, if any.
pub(super) fn pick_fault(config: &SimConfig, draw: u64) -> Option<Fault> {
    if config.faults.is_empty() {
        return None;
    }
    let u = unit(&[&config.seed.to_le_bytes(), &draw.to_le_bytes(), b"fault"]);
    let mut acc = 0.0;
    for &(f, rate) in &config.faults {
        acc += rate;
        if u < acc {
            return Some(f);
        }
    }
    None
}

/// The faults that answer before the request is read.
pub(super) async fn early_fault(config: &SimConfig, f: Fault) -> Option<Response> {
    match f {
        Fault::RateLimit => Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit reached (simulated, no Retry-After)",
        )),
        Fault::Server => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected failure (simulated)",
        )),
        Fault::Unavailable => {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "overloaded (simulated)");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(1u64));
            Some(r)
        }
        Fault::Reset => {
            // The status line and headers go out, then the body fails: hyper cuts the
            // connection, as a proxy dropping a long request does.
            let body = futures::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other(
                    "connection reset (simulated)",
                ))
            });
            Some(
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from_stream(body))
                    .expect("static response"),
            )
        }
        Fault::Hang => {
            tokio::time::sleep(config.hang.unwrap_or(Duration::from_secs(3600))).await;
            Some(error(StatusCode::GATEWAY_TIMEOUT, "hung (simulated)"))
        }
        _ => None,
    }
}
