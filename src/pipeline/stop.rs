//! Why a run stopped before it was done, and the signals that stop it. Ctrl-C (SIGINT) and
//! SIGTERM (what Kubernetes, Slurm and CI send on cancel) are handled alike: no new request
//! is sent, the requests in flight are given a grace period to bring their replies (stored
//! in the response cache like any other), and the run ends interrupted; a second signal ends
//! it at once. An output that cannot be written (a full disk) stops it the same way.

use std::time::Duration;

/// How long requests in flight may take to finish once a run is stopping: long enough for
/// a typical reply, short enough for Kubernetes' default 30 s grace before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(20);

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// How it is named in messages, reports and `run.json`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The exit code of a run it stopped (128 + the signal's number, as shells report it).
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Why a run stopped before it was done.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// A signal.
    Signal(Signal),
    /// An output could not be written: the error, naming the condition and the file.
    Output(String),
}

impl Stop {
    /// Why, in a few words, for reports and `run.json` (`interrupted (SIGTERM)`).
    pub fn reason(&self) -> String {
        match self {
            Stop::Signal(s) => format!("interrupted ({})", s.name()),
            Stop::Output(e) => format!("stopped: an output could not be written ({e})"),
        }
    }
}

/// The signals a run listens for.
pub(super) struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening (from here on, SIGINT and SIGTERM no longer kill the process).
    pub(super) fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal.
    pub(super) async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => Signal::Interrupt,
                _ = self.term.recv() => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}
