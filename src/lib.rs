//! shinpan (審判, "judge") evaluates chat LLMs on Japanese benchmarks with an LLM as the
//! judge: candidate models answer benchmark questions through any OpenAI-compatible API, a
//! judge model grades each answer (on its prompt's scale) or compares two answers in both orders, and the
//! judgments are aggregated into reports.
//!
//! # Layout
//! - [`cli`]: the command line; [`cmd`]: one file per subcommand.
//! - [`config`]: settings in layers (defaults, config file, environment, flags) resolved
//!   once into validated [`config::RunOptions`]; a builder for library callers.
//! - [`defaults`]: every default, in one place that depends on nothing.
//! - [`data`]: the official benchmark sets, pinned, fetched on demand and checked.
//! - [`types`]: types every stage shares (question ids, usage, modes, winners, judge ids).
//! - [`records`]: every file format, each with its reader and writer, and the one rule of
//!   which judgment records count; what a run spent (`records::spend`).
//! - [`client`]: the OpenAI-compatible client: pacing, concurrency, timeouts, retries (what a
//!   failure is worth), the response cache (SQLite, WAL) that makes a re-run or a resumed run
//!   cost nothing, filed by what each endpoint serves, with claims that let runs sharing one
//!   cache wait for each other's requests, and the stop switch that halts a run's sending.
//! - [`generate`]: candidate answers, turn by turn.
//! - [`reasoning`]: a reasoning model's thinking, kept apart from its answer.
//! - [`judge`]: prompts (tera templates in `prompts/`), verdict parsing, both-order games.
//! - [`scorer`]: what grades an item, as a value a run holds a list of (an LLM judge today;
//!   the one `match` where a rule-based metric joins).
//! - [`pipeline`]: one run in stages: setup (one question set per directory, what the
//!   endpoints serve) → resume → drive (Ctrl-C, SIGTERM and unwritable outputs stop it, the
//!   requests in flight kept) → finish.
//! - [`store`]: append-only JSONL writers (one per file), readers, atomic writes.
//! - [`error`]: the typed errors that decide exit codes.
//! - [`aggregate`]: scores, win rates and position consistency from judgment records; a
//!   panel's pooled figures (`aggregate::panel`).
//! - [`report`]: exporters (terminal table, Markdown, JSON, the HTML page) behind one trait.
//! - [`nightly`]: recurring runs: history lines, and the change against the previous
//!   comparable run that the regression gate acts on.
//! - [`review`]: the review export of judged items, and reading its labels back.
//! - [`simulate`]: an offline OpenAI-compatible simulator for tests, demos and dry runs.
//! - [`util`]: small helpers (time stamps, safe file names, secret redaction).

pub mod aggregate;
pub mod board;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod data;
pub mod defaults;
pub mod error;
pub mod generate;
pub mod judge;
pub mod nightly;
pub mod pipeline;
pub mod reasoning;
pub mod records;
pub mod report;
pub mod review;
pub mod scorer;
pub mod simulate;
pub mod store;
pub mod tasks;
pub mod types;
pub mod util;
