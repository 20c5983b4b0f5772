//! Why a request failed, and whether another attempt is worth it.

use std::time::Duration;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("response has no choices")]
    NoChoices,
    /// A reply with nothing to read: `content: null`, or only a tool call.
    #[error("no content ({0})")]
    NoContent(String),
    /// A reply over the size cap (`--max-reply-bytes`): not read further, not stored.
    #[error("the reply is over {0} bytes (--max-reply-bytes)")]
    TooLarge(usize),
    /// A 200 whose body is an error object: the provider's own message.
    #[error("the provider answered with an error: {message}")]
    Provider {
        message: String,
        /// Whether its type says the fault is passing (overloaded, a server error).
        passing: bool,
    },
    /// Not sent: the run is stopping (Ctrl-C, SIGTERM, or an output that cannot be written).
    #[error("not sent: the run is stopping")]
    Stopped,
    #[error("the provider refused or filtered the reply ({0})")]
    Refused(String),
    #[error("{0}")]
    Config(String),
    /// The endpoint stopped answering earlier in the run (see `health`).
    #[error("{0}")]
    Unreachable(String),
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<ClientError>,
    },
}

/// Whether a failed request is worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A passing fault (the network, 429, 5xx, a timeout): retried up to `--max-attempts`.
    Transient,
    /// A reply that came back wrong (not JSON, no choices, no content, too large, an error
    /// object): the same request is likely to fail the same way, and every try is billed,
    /// so it is tried once more at most.
    Deterministic,
    /// Asking again cannot help (a 4xx, a refusal, bad settings, a run that is stopping).
    Never,
}

/// How many times a request that failed deterministically is sent in all.
pub const DETERMINISTIC_TRIES: u32 = 2;

impl ClientError {
    /// Whether another attempt might succeed, and how many it is worth.
    pub fn retry(&self) -> Retry {
        match self {
            ClientError::Status { status, .. } => {
                if matches!(status, 408 | 409 | 425 | 429) || *status >= 500 {
                    Retry::Transient
                } else {
                    Retry::Never
                }
            }
            ClientError::Timeout(_) | ClientError::Connect(_) => Retry::Transient,
            ClientError::Provider { passing: true, .. } => Retry::Transient,
            ClientError::Malformed(_)
            | ClientError::NoChoices
            | ClientError::NoContent(_)
            | ClientError::TooLarge(_)
            | ClientError::Provider { .. } => Retry::Deterministic,
            ClientError::Refused(_)
            | ClientError::Config(_)
            | ClientError::Unreachable(_)
            | ClientError::Stopped
            | ClientError::GaveUp { .. } => Retry::Never,
        }
    }

    /// Whether another attempt might succeed at all.
    pub fn is_retryable(&self) -> bool {
        self.retry() != Retry::Never
    }

    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether a failed attempt is sent again: passing faults are, up to the attempt limit; a reply
/// that came back wrong is, until it has come back wrong [`DETERMINISTIC_TRIES`] times.
pub(super) fn worth_again(e: &ClientError, wrong: &mut u32) -> bool {
    match e.retry() {
        Retry::Transient => true,
        Retry::Deterministic => {
            *wrong += 1;
            *wrong < DETERMINISTIC_TRIES
        }
        Retry::Never => false,
    }
}

/// A transport error in a few words: what failed, then the root cause ("connect:
/// Connection refused (os error 111)"), without reqwest's nesting, which repeats the URL and
/// would hide the cause when failures are grouped and shortened.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "reading the reply"
    } else if e.is_request() {
        "sending the request"
    } else {
        "HTTP"
    };
    let mut root: &dyn std::error::Error = e;
    while let Some(inner) = root.source() {
        root = inner;
    }
    let root = root.to_string();
    if root == e.to_string() {
        format!("{what}: {}", crate::util::error_chain(e))
    } else {
        format!("{what}: {root}")
    }
}
