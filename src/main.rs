//! The `shinpan` binary: parse the command line, run it, report errors.
//! Exit codes: 0 success, 1 failure, 2 bad input (flags, config, question files), 130
//! interrupted.

use clap::Parser;

fn main() {
    let cli = shinpan::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(shinpan::cmd::dispatch(cli)) {
        eprintln!("Error: {e:#}");
        let usage = e.downcast_ref::<shinpan::config::UsageError>().is_some();
        std::process::exit(if usage { 2 } else { 1 });
    }
}
