//! The `shinpan` binary: parse the command line, run it, and map how it ended to an exit
//! code (see [`shinpan::error`]): 0 success, 1 failure (failed items included), 2 bad input,
//! 130 interrupted.

use clap::Parser;

fn main() {
    let cli = shinpan::cli::Cli::parse();
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
        .and_then(|rt| rt.block_on(shinpan::cmd::dispatch(cli)));
    if let Err(e) = result {
        let code = shinpan::error::exit_code(&e);
        if code == 130 {
            eprintln!("shinpan: {e:#}");
        } else {
            eprintln!("Error: {e:#}");
        }
        std::process::exit(code);
    }
}
