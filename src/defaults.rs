//! Every default value, defined once: the options layer, the client, the statistics and the
//! help text all read them from here.

/// Base URL of the default endpoint when neither a flag, the config file nor
/// `OPENAI_BASE_URL` names one.
pub const BASE_URL: &str = "https://api.openai.com/v1";
/// The environment variable holding the default endpoint's API key.
pub const API_KEY_ENV: &str = "OPENAI_API_KEY";
/// Requests in flight at once, per endpoint, where auto starts (and its least under a rate
/// limit).
pub const CONCURRENCY: u32 = 8;
/// The most requests in flight auto goes to, per endpoint.
pub const MAX_CONCURRENCY: u32 = 1024;
/// Seconds one attempt may take.
pub const TIMEOUT_SECS: u64 = 120;
/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 6;
/// The largest reply body read from an endpoint, in bytes (4 MiB: a few hundred times a long
/// answer); a larger one fails its request rather than being held and sent on to the judge.
pub const MAX_REPLY_BYTES: usize = 4 << 20;
/// The largest question turn sent, in bytes (1 MiB); a question with a longer turn fails its
/// answers with the reason.
pub const MAX_TURN_BYTES: usize = 1 << 20;
/// Output cap per candidate answer turn.
pub const MAX_TOKENS: u32 = 1024;
/// Output cap per judge reply.
pub const JUDGE_MAX_TOKENS: u32 = 2048;
/// Times an unreadable verdict is asked for again.
pub const REASKS: u32 = 2;
/// Judgments per item.
pub const JUDGE_SAMPLES: u32 = 1;
/// Bootstrap rounds for intervals.
pub const BOOTSTRAP: usize = 1000;
/// Seed of the bootstrap.
pub const SEED: u64 = 0;
/// Most inconsistent games (and unstable items) listed in a report.
pub const MAX_LISTED: usize = 1000;
/// Items allowed to fail before `run` exits 1.
pub const ALLOW_FAILURES: &str = "0";
/// Port of `shinpan simulate`.
pub const SIMULATE_PORT: u16 = 8089;
/// The default rubric: the aspects of FastChat's grading prompt plus naturalness of the
/// Japanese, equally weighted.
pub const ASPECTS: &[&str] = &[
    "有用性",
    "関連性",
    "正確性",
    "深さ",
    "創造性",
    "詳細さ",
    "日本語の自然さ",
];

/// A help line with its default: `"{what} [default: {value}]"`.
pub fn help(what: &str, value: impl std::fmt::Display) -> String {
    format!("{what} [default: {value}]")
}

/// How sure `pairwise-adaptive` must be of each neighbour's order to stop.
pub const CONFIDENCE: f64 = 0.95;

/// Seconds before a batch is first polled.
pub const BATCH_POLL_SECS: f64 = 10.0;
