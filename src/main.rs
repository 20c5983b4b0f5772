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
        // A key pasted where a variable name or a config line goes is never printed back.
        let text = format!("{e:#}");
        let text = shinpan::util::redact_secrets(&text);
        if code == 130 || code == 143 {
            eprintln!("shinpan: {text}");
        } else {
            eprintln!("Error: {text}");
        }
        std::process::exit(code);
    }
}
