//! What a run shows while it works. On a terminal: a bar per stage (answers, judgments) with
//! done/total, rate, time left, failures, requests in flight against the cap, the limit that
//! holds the run back (rpm, tpm, concurrency, or the server itself) and tokens so far.
//! Otherwise (a CI log, a pipe): the same figures as a plain line every few seconds.
//! `--quiet` shows nothing; `--verbose` adds a line per answer and judgment.

use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::summary::RunSummary;
use crate::client::{Client, Holdup};

/// How much a run says while it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Nothing but errors (and the report).
    Quiet,
    /// Progress, notes and the closing summary.
    #[default]
    Normal,
    /// Also a line per answer and judgment.
    Verbose,
}

/// How often a plain progress line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(2);

enum Display {
    Off,
    Lines {
        last: Instant,
    },
    Bars {
        _all: MultiProgress,
        answers: ProgressBar,
        judgments: ProgressBar,
        status: ProgressBar,
        last: Instant,
    },
}

/// The progress display of one run.
pub(super) struct Progress {
    display: Display,
    verbose: bool,
    started: Instant,
    clients: Vec<Client>,
    answers_total: usize,
    judgments_total: usize,
}

impl Progress {
    /// Starts showing progress of `answers` answers and about `judgments` judgments.
    pub(super) fn new(
        verbosity: Verbosity,
        answers: usize,
        judgments: usize,
        clients: Vec<Client>,
    ) -> Self {
        let display = match verbosity {
            Verbosity::Quiet => Display::Off,
            _ if std::io::stderr().is_terminal() => {
                let all = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{prefix:>9} [{bar:25}] {pos}/{len} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> ");
                let bar = |name: &str, len: usize| {
                    let b = all.add(ProgressBar::new(len as u64));
                    b.set_style(style.clone());
                    b.set_prefix(name.to_string());
                    b
                };
                let status = all.add(ProgressBar::new(0));
                status.set_style(
                    ProgressStyle::with_template("{prefix:>9} {msg}").expect("a valid template"),
                );
                Display::Bars {
                    answers: bar("answers", answers),
                    judgments: bar("judgments", judgments),
                    status,
                    _all: all,
                    last: Instant::now(),
                }
            }
            _ => Display::Lines {
                last: Instant::now(),
            },
        };
        Progress {
            display,
            verbose: verbosity == Verbosity::Verbose,
            started: Instant::now(),
            clients,
            answers_total: answers,
            judgments_total: judgments,
        }
    }

    /// A line about one item (`--verbose` only).
    pub(super) fn item(&self, line: impl FnOnce() -> String) {
        if !self.verbose {
            return;
        }
        let line = format!("shinpan: {}", line());
        match &self.display {
            Display::Bars { answers, .. } => answers.println(line),
            _ => eprintln!("{line}"),
        }
    }

    /// A line the user must see, above the bars.
    pub(super) fn note(&self, line: &str) {
        let line = format!("shinpan: {line}");
        match &self.display {
            Display::Bars { answers, .. } => answers.println(line),
            _ => eprintln!("{line}"),
        }
    }

    /// Shows the figures now (throttled: bars a few times a second, lines every few seconds).
    /// Counts `n` more judgments planned (a later round of `pairwise-adaptive`).
    pub(super) fn add_judgments(&mut self, n: usize) {
        self.judgments_total += n;
    }

    pub(super) fn update(&mut self, s: &RunSummary) {
        let answers_done = s.answers_generated + s.answers_cached + s.answer_errors.len();
        let judgments_done = s.judgments_made;
        let status = self.status(s);
        match &mut self.display {
            Display::Off => {}
            Display::Lines { last } => {
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!(
                        "shinpan: answers {answers_done}/{} · judgments {judgments_done}/{} · {status}",
                        self.answers_total, self.judgments_total
                    );
                }
            }
            Display::Bars {
                answers,
                judgments,
                last,
                ..
            } => {
                if last.elapsed() >= Duration::from_millis(100) {
                    *last = Instant::now();
                    answers.set_position(answers_done as u64);
                    answers.set_message(format!("{} failed", s.answer_errors.len()));
                    judgments.set_length(self.judgments_total.max(judgments_done) as u64);
                    judgments.set_position(judgments_done as u64);
                    judgments
                        .set_message(format!("{} without verdict · {status}", s.judgment_errors));
                }
            }
        }
    }

    /// Failures, requests in flight against the cap, what holds the run back, tokens, time
    /// left.
    fn status(&self, s: &RunSummary) -> String {
        let (mut in_flight, mut cap, mut tokens) = (0, 0, 0);
        let mut holdups = Vec::new();
        // Why the endpoints whose slots are full have the slots they have.
        let mut why: Vec<String> = Vec::new();
        let mut server_bound = true;
        for c in &self.clients {
            let st = c.stats();
            in_flight += st.in_flight.load(Relaxed);
            cap += c.slots() as u64;
            tokens += st.tokens.load(Relaxed);
            let h = st.holdup();
            if h == Holdup::Concurrency {
                for k in c.concurrency() {
                    server_bound &= k.server_bound;
                    if !why.contains(&k.why) {
                        why.push(k.why);
                    }
                }
            }
            holdups.push(h);
        }
        let mut holdup = [Holdup::Rpm, Holdup::Tpm, Holdup::Concurrency]
            .into_iter()
            .find(|h| holdups.contains(h))
            .unwrap_or(Holdup::Server);
        let mut detail = String::new();
        if holdup == Holdup::Concurrency {
            if server_bound && !why.is_empty() {
                // Auto found what the server can take: it is the bound, not a number of ours.
                holdup = Holdup::Server;
            }
            detail = format!(" ({})", why.join("; "));
        }
        let done =
            s.answers_generated + s.answers_cached + s.answer_errors.len() + s.judgments_made;
        let total = self.answers_total + self.judgments_total;
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = if done > 0 && total > done {
            format!("ETA {:.0}s", (total - done) as f64 / rate)
        } else {
            "ETA -".into()
        };
        format!(
            "{} failed · {rate:.1}/s · {eta} · in flight {in_flight}/{cap} · held back by {}{detail} · {tokens} tokens",
            s.answer_errors.len() + s.judgment_errors,
            holdup.as_str()
        )
    }

    /// Clears the bars.
    pub(super) fn finish(&self) {
        if let Display::Bars {
            answers,
            judgments,
            status,
            ..
        } = &self.display
        {
            for b in [answers, judgments, status] {
                b.finish_and_clear();
            }
        }
    }
}
