//! shinpan's integration tests: one test binary (each file in tests/ would link separately).
//! They run the real binary and real HTTP against in-process servers on port 0: a scripted
//! fake for fault injection, and shinpan's own simulator.

mod cli;
mod client;
mod crash;
mod fake;
mod llama;
mod pipeline;
mod resume;
mod robustness;
mod upstream;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shinpan binary with a clean environment: no OpenAI variables, and a response cache of
/// its own under target/tmp, so no two commands share cached responses unless a test names
/// one cache with `--cache` (the flag wins over `SHINPAN_CACHE`).
pub fn shinpan_bin() -> Command {
    static N: AtomicUsize = AtomicUsize::new(0);
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("caches")
        .join(format!(
            "{}-{}.sqlite",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
    let mut c = Command::new(env!("CARGO_BIN_EXE_shinpan"));
    c.env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("SHINPAN_CACHE", cache);
    c
}
