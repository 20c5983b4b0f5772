//! shinpan (審判, "judge") evaluates chat LLMs on Japanese benchmarks with an LLM as the
//! judge: candidate models answer benchmark questions through any OpenAI-compatible API, a
//! judge model grades each answer (1-10) or compares two answers in both orders, and the
//! judgments are aggregated into reports.
//!
//! # Layout
//! - [`cli`]: the command line; [`cmd`]: one file per subcommand.
//! - [`config`]: TOML config and flags merged into validated [`config::RunOptions`].
//! - [`bench`]: question, reference and answer files (FastChat formats).
//! - [`client`]: the OpenAI-compatible client: pacing, concurrency, timeouts, retries, and
//!   the response cache (SQLite, WAL) that makes a re-run or a resumed run cost nothing.
//! - [`generate`]: candidate answers, turn by turn.
//! - [`judge`]: prompts (tera templates in `prompts/`), verdict parsing, both-order games.
//! - [`pipeline`]: the streamed run: generate → judge → report.
//! - [`store`]: append-only JSONL writers (one per file) and readers.
//! - [`aggregate`]: scores, win rates and position consistency from judgment records.
//! - [`report`]: exporters (terminal table, Markdown, JSON) behind one trait.
//! - [`simulate`]: an offline OpenAI-compatible simulator for tests, demos and dry runs.

pub mod aggregate;
pub mod bench;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod generate;
pub mod judge;
pub mod pipeline;
pub mod report;
pub mod simulate;
pub mod store;
pub mod util;
