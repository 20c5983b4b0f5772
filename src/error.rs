//! The errors that decide how the binary exits. Commands return them (wrapped in
//! `anyhow::Error`) and `main` alone maps them to exit codes; no command calls
//! `process::exit`.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: an item failed (more than `--allow-failures` tolerates), or another error |
//! | 2 | bad input: a flag, the config file, an input file; the message names it |
//! | 3 | regression: a nightly run's watched figure fell beyond `--fail-on-regression` and outside the noise |
//! | 130 | interrupted (Ctrl-C): everything finished is kept |
//! | 143 | interrupted (SIGTERM): as Ctrl-C |

/// A problem with the user's input: the message names the flag, file or line to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Builds a [`UsageError`] result.
pub fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// The run was stopped by a signal (Ctrl-C, SIGTERM) after keeping everything finished.
#[derive(Debug, thiserror::Error)]
#[error("interrupted ({}): everything finished is kept; run the same command again to resume", .0.name())]
pub struct Interrupted(pub crate::pipeline::Signal);

/// An output of the run could not be written (a full disk, say): the run stopped sending,
/// kept the replies in flight in the response cache, and is marked interrupted.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0}; the run stopped (nothing new was sent, replies in flight were kept in the response cache) and is marked interrupted: free the space, then run the same command again"
)]
pub struct OutputFailed(pub String);

/// A run finished, but more items failed than allowed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{failed} item(s) failed (allowed: {allowed}); the report is marked partial; re-run the same command to retry only those"
)]
pub struct ItemsFailed {
    /// Items (answers and judgments) that failed.
    pub failed: usize,
    /// What `--allow-failures` tolerates, as given.
    pub allowed: String,
}

/// A recurring run finished, and a watched model's figure fell by more than the threshold and
/// outside the noise of the two runs' intervals.
#[derive(Debug, thiserror::Error)]
#[error("regression against the previous comparable run: {}", .0.join("; "))]
pub struct Regressed(pub Vec<String>);

/// The exit code for an error a command returned.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<UsageError>().is_some() {
        2
    } else if let Some(Interrupted(signal)) = e.downcast_ref::<Interrupted>() {
        signal.exit_code()
    } else if e.downcast_ref::<Regressed>().is_some() {
        3
    } else {
        1
    }
}
