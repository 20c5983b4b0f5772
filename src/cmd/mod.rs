//! One file per subcommand; each turns parsed arguments into library calls.

mod agreement;
mod batch;
mod board;
mod cache;
mod data;
mod demo;
mod estimate;
mod export;
mod history;
mod init;
mod merge;
mod nightly;
mod report;
mod run;
mod sequence;
mod simulate;

use crate::cli::{Cli, Command};

/// Runs a parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(a) => run::run(a).await,
        Command::Estimate(a) => estimate::estimate(a),
        Command::Compare(a) => run::compare(a).await,
        Command::Report(a) => report::report(a),
        Command::Board(a) => board::board(a),
        Command::Agreement(a) => agreement::agreement(a),
        Command::Export(a) => export::export(a),
        Command::History(a) => history::history(a),
        Command::Simulate(a) => simulate::simulate(a).await,
        Command::Demo(a) => demo::demo(a).await,
        Command::Merge(a) => merge::merge(a),
        Command::Cache(c) => cache::cache(c),
        Command::Batch(c) => batch::batch(c).await,
        Command::Data(c) => data::data(c).await,
        Command::Init(a) => init::init(a),
        Command::Completions(a) => init::completions(a),
    }
}
