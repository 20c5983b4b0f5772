//! The command line (clap derive); doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{EndpointSettings, Layers, Settings, UsageError, parse_weights};
use crate::defaults;
use crate::report::Format;

/// shinpan (審判): evaluate chat LLMs on Japanese benchmarks with an LLM as the judge.
#[derive(Debug, Parser)]
#[command(name = "shinpan", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate missing answers, judge them, and write the report.
    Run(RunArgs),
    /// What a run would send and cost, before anything is sent: requests and tokens per
    /// model and stage, money at the config's prices, and the time the limits imply.
    Estimate(EstimateArgs),
    /// Head-to-head: A against B (B is the baseline), both orders, result from A's side.
    Compare(CompareArgs),
    /// Summarise judgment files: a run directory or FastChat / ja-vicuna-qa judgment files.
    Report(ReportArgs),
    /// One board across benchmarks: each model's figures from many runs side by side (judged
    /// benchmarks on 0-1 by their scales, pairwise win rates, llm-jp-eval task scores and
    /// AVG), with each cell's interval and source run, and an average.
    Board(BoardArgs),
    /// Agreement between judges (and human votes) on the same answers.
    Agreement(AgreementArgs),
    /// The history of a recurring run: each model's figure run by run, with its interval and
    /// change.
    History(HistoryArgs),
    /// Export a run's judged items for human review (answers, verdicts, explanations, and
    /// empty label and comment fields); read the labels back with `agreement --labels`.
    Export(ExportArgs),
    /// Serve an offline OpenAI-compatible simulator on 127.0.0.1.
    Simulate(SimulateArgs),
    /// Run the whole pipeline offline against a built-in simulator on the sample questions.
    Demo(DemoArgs),
    /// Join the run directories of a sharded run (`run --shard I/N`) into one, the same as
    /// an unsharded run's: records, manifest, reports and page.
    Merge(MergeRunArgs),
    /// Inspect or prune the response cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The official benchmark sets: list them, fetch them (pinned, checked) for --bench.
    #[command(subcommand)]
    Data(DataCommand),
    /// Candidate requests as a batch file for an offline runner (vLLM's `run_batch`), and
    /// its results back into the response cache.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Write a commented example config to start from.
    Init(InitArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "shinpan.toml")]
    pub path: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Where the cache is, its size, and how many responses it holds per model.
    Info(CacheArgs),
    /// Delete cached responses: those unused for a while, of one model, or all.
    Prune(PruneArgs),
    /// Add the responses of other cache files (shards', machines') to this one.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Cache files to read responses from.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,
    /// The cache file to add them to (created if missing) [default: as for `run`].
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// The known sets: source, pinned revision, licence as the source states it, and each
    /// file's sha256, with what the data directory holds of them.
    List(DataListArgs),
    /// Download sets into the data directory, each file checked against its sha256; a set
    /// is written only when every file of it is right.
    Fetch(DataFetchArgs),
}

#[derive(Debug, Args)]
pub struct DataListArgs {
    /// The data directory [default: as for --bench].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DataFetchArgs {
    /// Sets to fetch (`all`: every set).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// The data directory [default: as for --bench].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Fetch each file from BASE followed by the path of its pinned URL (a mirror inside a
    /// network without internet access).
    #[arg(long, value_name = "BASE")]
    pub mirror: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Write the candidate requests the run would send now (per question, the first turn
    /// the cache holds no reply to) as an OpenAI batch input file.
    Export(Box<BatchExportArgs>),
    /// Store the completions of batch results files (OpenAI's format, as vLLM's `run_batch`
    /// writes them) in the response cache, where `shinpan run` finds them.
    Import(BatchImportArgs),
}

#[derive(Debug, Args)]
pub struct BatchExportArgs {
    /// Everything `run` takes; nothing is sent.
    #[command(flatten)]
    pub run: RunArgs,
    /// The request file to write.
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct BatchImportArgs {
    /// Results files (JSONL).
    #[arg(required = true, value_name = "RESULTS")]
    pub files: Vec<PathBuf>,
    /// The cache to store them in [default: as for `run`].
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeRunArgs {
    /// The shards' run directories (every shard of the split, in any order).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged run directory (must not exist yet, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the reports printed at the end.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print the reports only (no summary line).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub stats: StatsArgs,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The cache file [default: as for `run`].
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The cache file [default: as for `run`].
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Delete responses not used for this long: `30d`, `12h`, `90m`, `45s`.
    #[arg(long, value_name = "AGE")]
    pub unused_for: Option<String>,
    /// Delete responses of this API model name.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Delete everything.
    #[arg(long, conflicts_with_all = ["unused_for", "model"])]
    pub all: bool,
}

/// How reports aggregate; shared by `run`, `compare` and `report`.
#[derive(Debug, Clone, Default, Args)]
pub struct StatsArgs {
    /// Bootstrap rounds for confidence intervals (0: none).
    #[arg(long, value_name = "N", help = defaults::help(
        "Bootstrap rounds for confidence intervals (0: none)", defaults::BOOTSTRAP))]
    pub bootstrap: Option<usize>,
    /// Seed for the bootstrap: the same seed and data give the same intervals.
    #[arg(long, value_name = "S", help = defaults::help(
        "Seed for the bootstrap: the same seed and data give the same intervals", defaults::SEED))]
    pub seed: Option<u64>,
    /// Most inconsistent games listed in a report (0: all); the count is always given.
    #[arg(long, value_name = "N", help = defaults::help(
        "Most inconsistent games listed in a report (0: all); the count is always given",
        defaults::MAX_LISTED))]
    pub max_listed: Option<usize>,
    /// Score answers to Japanese questions that are not in Japanese as failures: grade 1 in
    /// single mode, a lost game in pairwise mode (unless both answers fail).
    #[arg(long)]
    pub non_japanese_as_failure: bool,
}

impl StatsArgs {
    /// The aggregation options these flags ask for (for `report`, which has no config file).
    pub fn options(&self, errors_as_ties: bool) -> crate::aggregate::StatsOptions {
        crate::aggregate::StatsOptions {
            bootstrap: crate::aggregate::BootstrapOptions {
                rounds: self.bootstrap.unwrap_or(defaults::BOOTSTRAP),
                seed: self.seed.unwrap_or(defaults::SEED),
            },
            errors_as_ties,
            max_listed: self.max_listed.unwrap_or(defaults::MAX_LISTED),
            non_japanese_as_failure: self.non_japanese_as_failure,
        }
    }

    fn layer(&self, s: &mut Settings) {
        s.bootstrap = self.bootstrap;
        s.seed = self.seed;
        s.max_listed = self.max_listed;
        s.non_japanese_as_failure = self.non_japanese_as_failure.then_some(true);
    }
}

/// Options shared by `run` and `compare`.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// The judge model.
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,
    /// A panel of judges: every judge grades every item, and the report shows each judge's
    /// figures and the panel's.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "A,B,…",
        conflicts_with = "judge"
    )]
    pub judges: Option<Vec<String>>,
    /// How the panel's judges are pooled: mean, median (grades) or majority (verdicts of
    /// each order; the most common grade) [default: mean for grades, majority for games].
    #[arg(long, value_name = "RULE")]
    pub pool: Option<String>,
    /// Question file (FastChat `question.jsonl` format).
    #[arg(long, value_name = "FILE")]
    pub questions: Option<PathBuf>,
    /// An official set fetched with `shinpan data fetch` (NAME or NAME@VARIANT): its
    /// questions, and its reference answers unless --references is given.
    #[arg(long, value_name = "NAME", conflicts_with = "questions")]
    pub bench: Option<String>,
    /// llm-jp-eval task files, or directories of them (`evaluation/test/`): their samples
    /// are answered and scored by rule (exact match, char_f1, set F1, correlations), with no
    /// judge.
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with_all = ["questions", "bench"])]
    pub tasks: Option<Vec<PathBuf>>,
    /// Few-shots per task prompt, from the task's train/ file [default: 4, llm-jp-eval's].
    #[arg(long, value_name = "N")]
    pub few_shots: Option<u32>,
    /// Samples per task, the first ones; -1 for all [default: 100, llm-jp-eval's].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_samples: Option<i64>,
    /// Judge prompts: `shinpan` (the built-in Japanese prompts), a fetched set's name
    /// (ja-vicuna-qa, japanese-mt-bench, rakuda, mt-bench: its judge_prompts.jsonl as
    /// published, records named as upstream names them), or a judge_prompts.jsonl file
    /// [default: the --bench set's, else shinpan].
    #[arg(long, value_name = "NAME|FILE")]
    pub prompt_set: Option<String>,
    /// Where `shinpan data fetch` put the sets [default: $SHINPAN_DATA_DIR, else
    /// $XDG_DATA_HOME/shinpan/data, else ~/.local/share/shinpan/data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Reference answers (FastChat answer format), for math, reasoning and coding.
    #[arg(long, value_name = "FILE")]
    pub references: Option<PathBuf>,
    /// Output directory [default: results/<set>/<judge>: the --bench set or the question
    /// file's name; compare: results/<set>/compare-A-vs-B].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Directory of prompt templates overriding the built-in ones by name (`single.tera`, …).
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    /// Maximum tokens per candidate answer turn.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        help = defaults::help("Maximum tokens per candidate answer turn", defaults::MAX_TOKENS))]
    pub max_tokens: Option<u32>,
    /// Maximum tokens per judge reply.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        help = defaults::help("Maximum tokens per judge reply", defaults::JUDGE_MAX_TOKENS))]
    pub judge_max_tokens: Option<u32>,
    /// The largest reply body read from an endpoint, in bytes; a larger reply fails its
    /// request (and is never sent on to the judge).
    #[arg(long, value_name = "BYTES", help = defaults::help(
        "The largest reply body read from an endpoint, in bytes; a larger one fails its request",
        defaults::MAX_REPLY_BYTES))]
    pub max_reply_bytes: Option<usize>,
    /// The largest question turn sent, in bytes; a question with a longer turn fails its
    /// answers, with the reason.
    #[arg(long, value_name = "BYTES", help = defaults::help(
        "The largest question turn sent, in bytes; a question with a longer turn fails its answers",
        defaults::MAX_TURN_BYTES))]
    pub max_turn_bytes: Option<usize>,
    /// Candidate temperature for every category (default: FastChat's per-category table).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f32>,
    /// System prompt for candidate models.
    #[arg(long, value_name = "TEXT")]
    pub system_prompt: Option<String>,
    /// Show the judge a reasoning model's thinking (`<think>…</think>` or
    /// `reasoning_content`) with its answer; by default the final answer alone is judged (the
    /// thinking is kept in the answer record either way).
    #[arg(long)]
    pub keep_reasoning: bool,
    /// Times an unreadable verdict is asked for again.
    #[arg(long, value_name = "N", help = defaults::help(
        "Times an unreadable verdict is asked for again", defaults::REASKS))]
    pub reasks: Option<u32>,
    /// Judge every item K times; reports use the median grade (single) or the majority verdict
    /// of each order (pairwise) and show how much the samples disagree.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..),
        help = defaults::help("Judge every item K times; reports use the median grade (single) or the majority verdict of each order (pairwise) and show how much the samples disagree", defaults::JUDGE_SAMPLES))]
    pub judge_samples: Option<u32>,
    /// Format of the report printed at the end.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Response cache: every API response is kept here, so a re-run, a resumed run or another
    /// run asking the same request pays nothing [default: $SHINPAN_CACHE, else
    /// $XDG_CACHE_HOME/shinpan/responses.sqlite, else ~/.cache/shinpan/responses.sqlite].
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    /// Neither read nor write the response cache.
    #[arg(long, conflicts_with_all = ["refresh", "cache_read_only"])]
    pub no_cache: bool,
    /// Serve responses from the cache but never write to it: a cache shared by several
    /// machines (on a network file system) is read by every shard and changed by none.
    #[arg(long, conflicts_with = "refresh")]
    pub cache_read_only: bool,
    /// Ask the API again for every request and replace the cached responses.
    #[arg(long)]
    pub refresh: bool,
    /// Failed items (answers and judgments) tolerated before the run exits 1: a number (3)
    /// or a share of all items (5%).
    #[arg(long, value_name = "N|P%", help = defaults::help(
        "Failed items (answers and judgments) tolerated before the run exits 1: a number (3) or a share of all items (5%)",
        defaults::ALLOW_FAILURES))]
    pub allow_failures: Option<String>,
    /// Show nothing while running: no progress, notes or summary (errors and the report
    /// only).
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also show a line per answer and judgment as it completes.
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub stats: StatsArgs,
    #[command(flatten)]
    pub endpoint: EndpointSettings,
}

impl CommonArgs {
    /// How much the run says while it works.
    pub fn verbosity(&self) -> crate::pipeline::Verbosity {
        use crate::pipeline::Verbosity;
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }

    /// These flags as a settings layer.
    pub fn layer(&self) -> Result<Settings, UsageError> {
        let mut s = Settings {
            judge: self.judge.clone(),
            judges: self.judges.clone(),
            pool: self.pool.clone(),
            questions: self.questions.clone(),
            bench: self.bench.clone(),
            tasks: self.tasks.clone(),
            few_shots: self.few_shots,
            max_samples: self.max_samples,
            data_dir: self.data_dir.clone(),
            prompt_set: self.prompt_set.clone(),
            references: self.references.clone(),
            out: self.out.clone(),
            prompts: self.prompts.clone(),
            cache: self.cache.clone(),
            max_tokens: self.max_tokens,
            judge_max_tokens: self.judge_max_tokens,
            max_reply_bytes: self.max_reply_bytes,
            max_turn_bytes: self.max_turn_bytes,
            temperature: self.temperature,
            system_prompt: self.system_prompt.clone(),
            keep_reasoning: self.keep_reasoning.then_some(true),
            reasks: self.reasks,
            judge_samples: self.judge_samples,
            allow_failures: self.allow_failures.clone(),
            endpoint: self.endpoint.clone(),
            no_cache: self.no_cache,
            refresh: self.refresh,
            cache_read_only: self.cache_read_only,
            ..Settings::default()
        };
        self.stats.layer(&mut s);
        Ok(s)
    }
}

/// The rubric's options (`run` only: `compare` is pairwise).
#[derive(Debug, Clone, Default, Args)]
pub struct RubricArgs {
    /// Rubric aspects for `--mode rubric`, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B,…", help = defaults::help(
        "Rubric aspects for --mode rubric, comma-separated", defaults::ASPECTS.join(",")))]
    pub aspects: Option<Vec<String>>,
    /// Weights of aspects in the overall rubric score, e.g. `正確性=2` (others weigh 1).
    #[arg(long, value_delimiter = ',', value_name = "ASPECT=W")]
    pub aspect_weights: Vec<String>,
    /// The scale every rubric aspect is graded on, e.g. `1-5`.
    #[arg(long, value_name = "MIN-MAX", help = defaults::help(
        "The scale every rubric aspect is graded on, e.g. 1-5", "1-10"))]
    pub rubric_scale: Option<String>,
}

#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// Everything `run` takes; nothing is sent and nothing written.
    #[command(flatten)]
    pub run: RunArgs,
    /// Completion tokens assumed per reply not made yet (answers and verdicts), at most the
    /// output cap; caps are shown too.
    #[arg(long, value_name = "N", default_value_t = 400)]
    pub output_tokens: u32,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML config file; flags override it.
    pub config: Option<PathBuf>,
    /// Candidate models, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub models: Option<Vec<String>>,
    /// single (1-10 grades), rubric (1-10 grades per aspect), pairwise-baseline (each model
    /// vs --baseline), pairwise-all (every pair), pairwise-n (--games N games drawn from all
    /// pairs, seeded by --seed) or pairwise-adaptive (games where the ranking is least
    /// settled, until it holds at --confidence).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Games for pairwise-n; at most this many for pairwise-adaptive. A game is a question
    /// and a pair of models, every turn judged in both orders.
    #[arg(long, value_name = "N")]
    pub games: Option<u64>,
    /// pairwise-adaptive stops when the order of each pair of neighbours in the ranking is at
    /// least this probable (Bradley-Terry, from every game so far) [default: 0.95].
    #[arg(long, value_name = "C")]
    pub confidence: Option<f64>,
    /// The baseline model for pairwise-baseline (must be one of --models).
    #[arg(long, value_name = "MODEL")]
    pub baseline: Option<String>,
    /// A recurring run's name: its directory under OUT [default: today's date, UTC]. Needs a
    /// config with a [nightly] table.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Exit 3 when a watched model's score (points) or adjusted win rate falls by more than
    /// THRESHOLD since the previous comparable run and outside the noise of the two runs'
    /// intervals; `0.3`, or `score=0.3,win_rate=0.05`. Needs a config with a [nightly] table.
    #[arg(long, value_name = "THRESHOLD")]
    pub fail_on_regression: Option<String>,
    /// Run one slice of the questions (positions I, I+N, I+2N, … of the question file, from
    /// 0) into its own --out, for machines that share the work; `N` alone takes I from
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job
    /// array). `shinpan merge` joins the shards' directories.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub rubric: RubricArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl RunArgs {
    /// The config file (if any) and the flags, as layers.
    pub fn layers(&self) -> Result<Layers, UsageError> {
        let file = match &self.config {
            Some(p) => Some((p.clone(), Settings::load(p)?)),
            None => None,
        };
        let mut flags = self.common.layer()?;
        flags.models = self.models.clone();
        flags.mode = self.mode.clone();
        flags.baseline = self.baseline.clone();
        flags.aspects = self.rubric.aspects.clone();
        flags.aspect_weights = parse_weights(&self.rubric.aspect_weights)?;
        flags.rubric_scale = self.rubric.rubric_scale.clone();
        flags.shard = self.shard.clone();
        flags.games = self.games;
        flags.confidence = self.confidence;
        Ok(Layers { file, flags })
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The model being evaluated.
    pub a: String,
    /// The baseline it is compared with.
    pub b: String,
    /// TOML config file (endpoints and model settings, as for `run`; its models, mode and
    /// baseline are replaced by A and B); flags override it.
    pub config: Option<PathBuf>,
    /// Most games listed under each heading of the head-to-head.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub show: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories, judgment files, or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format (html: one self-contained page, with the judged items of run
    /// directories to browse).
    #[arg(long, value_enum, default_value_t = crate::report::ReportFormat::Table)]
    pub format: crate::report::ReportFormat,
    /// Report pairwise games against this model only, from the other models' side.
    #[arg(long, value_name = "MODEL")]
    pub baseline: Option<String>,
    /// Only reports of this mode: single, pairwise-baseline or pairwise-all (pairwise-all
    /// counts every game for both players, as FastChat's `--mode pairwise-all`) [default:
    /// every mode found, a model in every game taken as the baseline].
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Count games with an error in either order as ties (ja-vicuna-qa's rule) instead of
    /// leaving them out (FastChat's rule).
    #[arg(long)]
    pub errors_as_ties: bool,
    #[command(flatten)]
    pub stats: StatsArgs,
}

/// Output formats of `board`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BoardFormat {
    /// Aligned terminal table.
    Table,
    /// GitHub-flavoured Markdown.
    Md,
    /// JSON: columns (name, kind, normalisation, sources) and rows (cells with intervals and
    /// source runs, average, missing count).
    Json,
    /// CSV: one row per model, each column's value and interval.
    Csv,
    /// One self-contained page: the tables and a radar per model.
    Html,
}

#[derive(Debug, Args)]
pub struct BoardArgs {
    /// Run directories (each a benchmark run, a task run, …), or one board file (`*.toml`:
    /// `runs`, an optional `preset`, and `[[category]]` tables of `name`, `cells`, `weight`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = BoardFormat::Table)]
    pub format: BoardFormat,
    /// A known board's aggregation beside the cells: nejumi3 (Nejumi Leaderboard 3's GLP
    /// categories, GLP, ALT and TOTAL) or nejumi4 (Nejumi 4's three-level GLP and weighted
    /// TOTAL).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// The board over nightly runs: each path (or the board file's `runs`) is a recurring
    /// run's directory (`OUT/<night>/`); each night's runs across them make one board, and
    /// each model's figures are followed night by night.
    #[arg(long)]
    pub history: bool,
    #[command(flatten)]
    pub stats: StatsArgs,
}

#[derive(Debug, Args)]
pub struct AgreementArgs {
    /// Judgment files or directories holding judgments of two or more judges.
    #[arg(required_unless_present_any = ["human", "labels"])]
    pub paths: Vec<PathBuf>,
    /// Votes in FastChat's `compute_agreement` format (`question_id`, `model_a`, `model_b`,
    /// `winner`, `judge`, `turn`), a JSON array or JSON lines; voters named `expert…` are the
    /// group `human`, `author…` the group `author`, a `[model, prompt]` judge its model.
    #[arg(long, value_name = "FILE")]
    pub human: Vec<PathBuf>,
    /// A labelled review export (`shinpan export`, JSONL or CSV): each filled label is a
    /// vote or grade of the judge `human`.
    #[arg(long, value_name = "FILE")]
    pub labels: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A recurring run's config file (its history is OUT/history.jsonl, or its [nightly]
    /// history), or the directory holding history.jsonl.
    pub path: PathBuf,
    /// Only this model.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Output format (html: one self-contained page with a sparkline per model).
    #[arg(long, value_enum, default_value_t = crate::report::ReportFormat::Table)]
    pub format: crate::report::ReportFormat,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Write to this file [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Export format.
    #[arg(long, value_enum, default_value_t = crate::review::ReviewFormat::Jsonl)]
    pub format: crate::review::ReviewFormat,
    /// Which items: every judged item, the inconsistent ones, or those without a verdict.
    #[arg(long, value_enum, default_value_t = crate::review::Only::All)]
    pub only: crate::review::Only,
    /// The run's question file, for runs that did not keep a copy (`questions.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub questions: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = defaults::SIMULATE_PORT)]
    pub port: u16,
    /// Delay before each reply, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Each reply's latency drawn up to this share above or below it (0.5: ±50 %), the same
    /// for the same seed and request order.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    pub latency_jitter: f64,
    /// Requests per minute before answering 429 with Retry-After.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt plus max_tokens) before answering 429 with Retry-After.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub tpm: Option<u32>,
    /// Window over which both limits are enforced, in milliseconds: a burst may spend the
    /// window's share of the minute's quota, no more.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub window_ms: u64,
    /// Count the limits as a sliding log, at most the window's share in any window (as
    /// gateways that allow "N in any second" do), rather than a bucket refilled evenly.
    #[arg(long)]
    pub sliding_window: bool,
    /// Send no x-ratelimit-* headers (as vLLM and llama.cpp), only 429s.
    #[arg(long)]
    pub no_rate_headers: bool,
    /// A self-hosted server's capacity: at most N requests served at once, each taking the
    /// latency; more wait their turn.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub slots: Option<u64>,
    /// Requests that may wait for a slot; beyond slots + queue, 503 "server overloaded"
    /// (needs --slots; default: no bound).
    #[arg(long, value_name = "N", requires = "slots")]
    pub queue: Option<u64>,
    /// Milliseconds added to each request's latency per other request served beside it (a
    /// batch slows each of its sequences).
    #[arg(long, default_value_t = 0)]
    pub batch_latency_ms: u64,
    /// Milliseconds a batch (`/v1/batches`) stays in progress before its lines are answered.
    #[arg(long, default_value_t = 0)]
    pub batch_delay_ms: u64,
    /// Share of requests failed with HTTP 500 (0-1).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Share of judge replies without a readable verdict (0-1).
    #[arg(long, default_value_t = 0.0)]
    pub garble_rate: f64,
    /// Share of pairwise verdicts that favour the first answer regardless (0-1).
    #[arg(long, default_value_t = 0.0)]
    pub position_bias: f64,
    /// Model qualities, e.g. `big=0.9,small=0.3` (others are derived from the name).
    #[arg(long, value_delimiter = ',', value_name = "MODEL=Q")]
    pub quality: Vec<String>,
    /// Weights to say a model is served from, as vLLM's `GET /v1/models` says (`root`), e.g.
    /// `my-model=/ckpt/7`; models not named are listed without (as a hosted API lists them).
    #[arg(long, value_delimiter = ',', value_name = "MODEL=ROOT")]
    pub serves: Vec<String>,
    /// How named judge models play, e.g. `harsh=-2,lenient=2,biased=0:0.6`: points added
    /// to every grade (read on 1-10), and optionally the share of pairwise verdicts that
    /// pick the first answer (else `--position-bias`).
    #[arg(long, value_delimiter = ',', value_name = "JUDGE=OFFSET[:BIAS]")]
    pub judge_style: Vec<String>,
    /// Seed for everything the simulator draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Inject a fault into a share of requests, e.g. `--fault reset=0.05`; repeatable. Faults:
    /// 429 (no Retry-After), 500, 503, reset, hang, malformed, empty (no choices),
    /// unknown-finish, length, filter (content filter).
    #[arg(long, value_name = "FAULT=RATE")]
    pub fault: Vec<String>,
    /// Seconds a hung request waits before replying.
    #[arg(long, default_value_t = 3600)]
    pub hang_secs: u64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "results/demo")]
    pub out: PathBuf,
    /// Format of the reports printed at the end.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// A share in [0, 1] (`--latency-jitter`).
fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share between 0 and 1")),
    }
}
