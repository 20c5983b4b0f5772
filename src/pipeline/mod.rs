//! One run, in four named stages:
//!
//! 1. [`setup`]: check every input, open the cache and clients, lock the output directory;
//! 2. [`resume`]: read what the directory already holds;
//! 3. [`drive`]: generate missing answers and judge what is not judged, streamed (judging an
//!    item starts as soon as its answers exist), until done or Ctrl-C;
//! 4. [`finish`]: compact the journal into the current judgment file, build and write the
//!    report, close the manifest entry.
//!
//! Errors travel up typed ([`crate::error`]); the caller decides the exit code.

mod batchfile;
mod drive;
mod estimate;
mod finish;
mod merge;
mod output;
mod progress;
mod resume;
mod schedule;
mod setup;
mod state;
mod stop;
mod summary;

pub use batchfile::{Exported, Imported, export_requests, import_results};
pub use estimate::{Estimate, EstimateRow, WallRow, estimate, prompt_tokens};
pub use finish::RunOutput;
pub use merge::{Merged, merge};
pub use output::{print_reports, write_page, write_reports};
pub use progress::Verbosity;
pub use setup::load_inputs;
pub use stop::{GRACE, Signal, Stop};
pub use summary::RunSummary;

use crate::config::RunOptions;

/// Runs one evaluation: generate what is missing, judge, write judgments and the report.
/// `progress` shows notes and progress on stderr ([`Verbosity::Normal`]); without, nothing.
pub async fn run(opts: &RunOptions, progress: bool) -> anyhow::Result<RunOutput> {
    let verbosity = if progress {
        Verbosity::Normal
    } else {
        Verbosity::Quiet
    };
    run_with(opts, verbosity).await
}

/// [`run`], saying as much as `verbosity` asks.
pub async fn run_with(opts: &RunOptions, verbosity: Verbosity) -> anyhow::Result<RunOutput> {
    let setup = setup::prepare(opts, verbosity != Verbosity::Quiet)?;
    setup::identify(&setup, verbosity != Verbosity::Quiet).await;
    let state = resume::load(opts, &setup)?;
    setup::start(&setup, opts)?;
    let driven = drive::drive(opts, &setup, state, verbosity).await?;
    finish::finish(opts, setup, driven)
}
