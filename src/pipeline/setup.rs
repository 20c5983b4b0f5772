//! Stage 1, setup: everything that can refuse the run is checked before anything is sent or
//! written (questions, references, prompt templates, the cache file, API keys), then the
//! output directory is locked. Once the files already there have been read ([`super::resume`]),
//! [`start`] records in the manifest that the run has begun.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::client::{Cache, CacheMode, Client, Halt};
use crate::config::{ModelOptions, RunOptions};
use crate::error::UsageError;
use crate::generate::Candidate;
use crate::judge::{Judge, Prompts};
use crate::records::{
    Evaluation, Expected, Manifest, Question, RunDir, RunState, attach_references, load_questions,
};
use crate::scorer::Scorer;

/// What a run works with.
pub(super) struct Setup {
    /// When the run started.
    pub(super) started: Instant,
    /// The run directory.
    pub(super) dir: RunDir,
    /// Questions, with references attached.
    pub(super) questions: Arc<Vec<Question>>,
    /// The candidate models.
    pub(super) candidates: Vec<Candidate>,
    /// What grades the items: the judge, or each judge of a panel, in the order given.
    pub(super) scorers: Vec<Scorer>,
    /// One client per distinct endpoint.
    pub(super) clients: Vec<Client>,
    /// The response cache.
    pub(super) cache: Option<Arc<Cache>>,
    /// The run's stop switch, shared by every client.
    pub(super) halt: Arc<Halt>,
    /// The question set (see [`crate::records::Evaluation::set`]).
    pub(super) set: String,
    /// The scale the run grades on (graded modes).
    pub(super) scale: Option<crate::types::Scale>,
    /// The output directory's lock, held until the run ends (none for an estimate).
    pub(super) _lock: Option<File>,
}

/// What a setup is for.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Purpose {
    /// A run: API keys are read and the output directory is taken.
    Run,
    /// An estimate: nothing is sent or written, so no key is read and nothing is taken.
    Estimate,
}

/// Checks the inputs, opens the cache and the clients, and takes the output directory.
pub(super) fn prepare(opts: &RunOptions, progress: bool) -> anyhow::Result<Setup> {
    prepare_for(opts, progress, Purpose::Run)
}

/// [`prepare`], for a run or an estimate.
pub(super) fn prepare_for(
    opts: &RunOptions,
    progress: bool,
    purpose: Purpose,
) -> anyhow::Result<Setup> {
    let started = Instant::now();
    let (questions, qset) = inputs(opts)?;
    let questions = Arc::new(questions);
    let prompts =
        Arc::new(Prompts::load(opts.prompts.as_deref()).map_err(|e| UsageError(e.to_string()))?);
    let cache = match purpose {
        Purpose::Run => open_cache(opts)?,
        Purpose::Estimate => None,
    };
    let halt = Arc::new(Halt::default());
    let clients = clients(opts, &cache, &halt, purpose)?;
    let client_of = |m: &ModelOptions| clients[&endpoint_key(m)].clone();
    let candidates = opts
        .models
        .iter()
        .map(|m| Candidate {
            name: m.name.clone(),
            api_model: m.api_model.clone(),
            client: client_of(m),
            system_prompt: m.system_prompt.clone(),
            temperature: m.temperature,
            max_tokens: m.max_tokens,
            keep_reasoning: opts.keep_reasoning,
            max_turn_bytes: opts.max_turn_bytes,
        })
        .collect();
    let set = match &opts.prompt_set {
        Some((name, path)) => {
            let (set, note) = prompt_set(opts, name, path, &questions)?;
            if let (true, Some(n)) = (progress, note) {
                eprintln!("shinpan: note: {n}");
            }
            Some(Arc::new(set))
        }
        None => None,
    };
    // Every judge of a panel asks the same prompts, each through its own endpoint (limits,
    // cache identity).
    let scorers: Vec<Scorer> = opts
        .judges
        .iter()
        .map(|m| {
            Scorer::Judge(Judge {
                set: set.clone(),
                client: client_of(m),
                name: m.name.clone(),
                api_model: m.api_model.clone(),
                prompts: prompts.clone(),
                max_tokens: opts.judge_max_tokens,
                temperature: m.temperature.unwrap_or(0.0),
                reasks: opts.reasks,
                aspects: opts.aspects.clone(),
                rubric_scale: opts.rubric_scale,
            })
        })
        .chain(opts.tasks.as_ref().map(|_| Scorer::Rules))
        .collect();
    if progress {
        for n in &opts.notes {
            eprintln!("shinpan: note: {n}");
        }
        let unreferenced = questions
            .iter()
            .filter(|q| q.needs_reference() && q.judged_reference().is_none())
            .count();
        if unreferenced > 0 {
            eprintln!(
                "shinpan: warning: {unreferenced} math/reasoning/coding question(s) have no reference answer and are judged without one (--references)"
            );
        }
    }
    let dir = RunDir::new(&opts.out);
    check_shard(&dir, opts)?;
    check_set(&dir, &qset, &questions)?;
    let scale = grading_scale(opts, &questions, set.as_deref())?;
    let lock = match purpose {
        Purpose::Run => {
            let lock = lock_out_dir(&dir)?;
            // A run killed while it wrote a report or a judgment file left its temporary file.
            crate::store::remove_stale_temps(dir.root(), &["judgments", "journal"]);
            Some(lock)
        }
        Purpose::Estimate => None,
    };
    Ok(Setup {
        started,
        dir,
        questions,
        candidates,
        scorers,
        clients: clients.into_values().collect(),
        cache,
        halt,
        set: qset,
        scale,
        _lock: lock,
    })
}

/// Asks every endpoint what it serves under each model's name (see
/// [`crate::client::Client::identify`]), before resume reads the answers made before (an
/// answer made by other weights under the same name is made again) and before anything is
/// sent; says what it learned when `progress`.
pub(super) async fn identify(setup: &Setup, progress: bool) {
    // Each client is asked once, for every model it serves.
    let mut asked: Vec<(&Client, Vec<String>)> = Vec::new();
    let wanted = setup
        .candidates
        .iter()
        .map(|c| (&c.client, &c.api_model))
        .chain(
            setup
                .scorers
                .iter()
                .filter_map(Scorer::judge)
                .map(|j| (&j.client, &j.api_model)),
        );
    for (client, model) in wanted {
        match asked.iter_mut().find(|(c, _)| c.same(client)) {
            Some((_, models)) if models.contains(model) => {}
            Some((_, models)) => models.push(model.clone()),
            None => asked.push((client, vec![model.clone()])),
        }
    }
    let mut unreachable: Vec<(String, String, Vec<String>)> = Vec::new();
    for (client, models) in asked {
        for (model, said) in client.identify(&models).await {
            for (url, served) in said {
                match served {
                    crate::client::Served::Weights(w) if progress => {
                        eprintln!("shinpan: note: {url} serves {model} as {w}")
                    }
                    crate::client::Served::Unreachable(why) => {
                        match unreachable.iter_mut().find(|(u, _, _)| *u == url) {
                            Some((_, _, ms)) => ms.push(model.clone()),
                            None => unreachable.push((url, why, vec![model.clone()])),
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for (url, why, models) in unreachable.iter().filter(|_| progress) {
        eprintln!(
            "shinpan: warning: {url} did not answer GET /models ({why}): what it serves as {} cannot be checked, so replies cached from it are used only if it was a hosted API (a name alone) when it last answered",
            models.join(", ")
        );
    }
}

/// Marks the run as started: judgments from before the journal existed join it, the
/// questions are kept beside the answers, and the manifest records what this run expects.
pub(super) fn start(setup: &Setup, opts: &RunOptions) -> anyhow::Result<()> {
    adopt_old_judgments(&setup.dir, opts)?;
    // The questions as judged, references attached: what a review export shows.
    let mut bytes = Vec::new();
    for q in setup.questions.iter() {
        serde_json::to_writer(&mut bytes, q)?;
        bytes.push(b'\n');
    }
    let qpath = setup.dir.questions();
    crate::store::write_atomic(&qpath, &bytes).with_context(|| qpath.display().to_string())?;
    for s in 0..setup.scorers.len() {
        Manifest::update(
            &setup.dir.manifest(),
            evaluation(opts, setup, s, RunState::Running),
        )?;
    }
    Ok(())
}

/// A scorer's judgment file as `run.json` names it (relative to the run directory).
pub(super) fn judgments_entry(scorer: &str, mode: crate::types::Mode) -> String {
    format!("judgments/{}", RunDir::judgment_file_name(scorer, mode))
}

/// The manifest entry of scorer `s` of this run (each judge of a panel has its own, naming
/// the panel).
pub(super) fn evaluation(
    opts: &RunOptions,
    setup: &Setup,
    s: usize,
    state: RunState,
) -> Evaluation {
    let questions = &setup.questions;
    let name = setup.scorers[s].name();
    Evaluation {
        set: Some(setup.set.clone()),
        scale: setup.scale,
        spend: Vec::new(),
        judgments: judgments_entry(name, opts.mode),
        mode: opts.mode,
        judge: name.to_string(),
        panel: if setup.scorers.len() > 1 {
            setup.scorers.iter().map(|s| s.name().to_string()).collect()
        } else {
            Vec::new()
        },
        pool: opts.pool,
        models: opts.models.iter().map(|m| m.name.clone()).collect(),
        baseline: opts.baseline.clone(),
        samples: opts.judge_samples,
        aspects: if opts.mode == crate::types::Mode::Rubric {
            opts.aspects.iter().map(|(a, _)| a.clone()).collect()
        } else {
            Vec::new()
        },
        questions: questions
            .iter()
            .map(|q| Expected {
                id: q.question_id.clone(),
                turns: q.turns.len() as u32,
            })
            .collect(),
        state,
        shard: opts.shard,
        games: opts.plan,
        bench: opts.bench.clone(),
        stopped: None,
    }
}

/// Loads questions (and references) named by the options.
pub fn load_inputs(opts: &RunOptions) -> anyhow::Result<Vec<Question>> {
    Ok(inputs(opts)?.0)
}

/// The run's questions (its shard, references attached) and its question set.
fn inputs(opts: &RunOptions) -> anyhow::Result<(Vec<Question>, String)> {
    let mut qs = match &opts.tasks {
        Some(t) => crate::tasks::questions(t).map_err(|e| UsageError(e.to_string()))?,
        None => load_questions(&opts.questions).map_err(|e| UsageError(e.to_string()))?,
    };
    let set = question_set(opts, &qs);
    if let Some(shard) = opts.shard {
        let mut position = 0..;
        qs.retain(|_| shard.takes(position.next().expect("unbounded")));
        if qs.is_empty() {
            return Err(UsageError(format!(
                "--shard {shard}: {} has fewer questions than shards; this shard has none",
                opts.questions.display()
            ))
            .into());
        }
    }
    if let Some(r) = &opts.references {
        attach_references(&mut qs, r).map_err(|e| UsageError(e.to_string()))?;
    }
    for q in &mut qs {
        q.bench = opts.bench.clone();
    }
    Ok((qs, set))
}

/// One client per distinct endpoint, so models sharing an endpoint share its limits; all of
/// them share the response cache.
fn clients(
    opts: &RunOptions,
    cache: &Option<Arc<Cache>>,
    halt: &Arc<Halt>,
    purpose: Purpose,
) -> Result<HashMap<String, Client>, UsageError> {
    let mut out: HashMap<String, Client> = HashMap::new();
    let mut queues: HashMap<String, crate::client::BatchQueue> = HashMap::new();
    for m in opts.models.iter().chain(&opts.judges) {
        if let std::collections::hash_map::Entry::Vacant(e) = out.entry(endpoint_key(m)) {
            let mut c = match purpose {
                Purpose::Run => Client::pool(m.endpoints.clone()),
                Purpose::Estimate => Client::unkeyed(m.endpoints.clone()),
            }
            .map_err(|e| UsageError(format!("model {}: {e}", m.name)))?
            .with_cache(cache.clone(), opts.cache_mode)
            .with_halt(halt.clone());
            if let (Purpose::Run, Some(poll)) = (purpose, m.endpoints[0].batch) {
                // One queue per URL: its batches and their record are shared by every
                // client that sends there.
                let url = &m.endpoints[0].base_url;
                if !queues.contains_key(url) {
                    let q = c
                        .batch_queue(crate::client::BatchOptions {
                            dir: crate::records::RunDir::new(&opts.out).batches(url),
                            poll,
                            gather: poll.min(std::time::Duration::from_secs(1)),
                        })
                        .map_err(|e| UsageError(format!("model {}: {e}", m.name)))?;
                    queues.insert(url.clone(), q);
                }
                c = c.with_batch(&queues[url]);
            }
            e.insert(c);
        }
    }
    Ok(out)
}

fn endpoint_key(m: &ModelOptions) -> String {
    format!("{:?}", m.endpoints)
}

/// Loads an upstream prompt set and checks that it has a prompt for every judgment the run
/// will make (a set without multi-turn prompts cannot judge turn 2), before anything is sent.
fn prompt_set(
    opts: &RunOptions,
    name: &str,
    path: &Path,
    questions: &[Question],
) -> Result<(crate::judge::PromptSet, Option<String>), UsageError> {
    use crate::judge::PromptKind;
    let set = crate::judge::PromptSet::load(name, path)
        .map_err(|e| UsageError(format!("--prompt-set {name}: {e}")))?;
    if opts.mode == crate::types::Mode::Rubric {
        return Err(UsageError(format!(
            "--prompt-set {name}: upstream sets have no rubric prompt; use --mode single, or the built-in prompts"
        )));
    }
    let pairwise = !opts.mode.is_graded();
    let mut missing: Vec<&str> = Vec::new();
    for q in questions {
        for turn in 1..=q.turns.len() {
            let kind = PromptKind::select(pairwise, q.judged_reference().is_some(), turn);
            if set.prompt(kind).is_none() && !missing.contains(&kind.name()) {
                missing.push(kind.name());
            }
        }
    }
    let note = (!missing.is_empty()).then(|| {
        let have: Vec<&str> = set.names().into_iter().map(|(_, n)| n).collect();
        format!(
            "prompt set {name} ({}) has no prompt for {} judgments; those are made with shinpan's built-in prompt of that name, and their records say so",
            have.join(", "),
            missing.join(", ")
        )
    });
    Ok((set, note))
}

/// A directory holds one slice of the questions: a run of another shard (or of all of them)
/// into it would mix slices that `shinpan merge` could no longer put together.
fn check_shard(dir: &RunDir, opts: &RunOptions) -> anyhow::Result<()> {
    let manifest = Manifest::read(&dir.manifest())?;
    let Some(other) = manifest.evaluations.iter().find(|e| e.shard != opts.shard) else {
        return Ok(());
    };
    let name = |s: Option<crate::types::Shard>| match s {
        Some(s) => format!("shard {s}"),
        None => "all the questions".to_string(),
    };
    Err(UsageError(format!(
        "{}: holds {} ({}), and this run is {}; give each shard its own --out",
        dir.root().display(),
        name(other.shard),
        other.judgments,
        name(opts.shard)
    ))
    .into())
}

/// The question set of a run: the `--bench` label, or the question file's name and a digest
/// of its questions as read (every id, category, turn, reference and criterion, in order; not
/// the file's spacing), taken before `--shard` slices them.
fn question_set(opts: &RunOptions, all: &[Question]) -> String {
    if let Some(b) = &opts.bench {
        return b.clone();
    }
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for q in all {
        h.update(serde_json::to_vec(q).expect("plain data serializes"));
        h.update(b"\n");
    }
    let hex: String = h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = opts
        .questions
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name} sha256:{hex}")
}

/// The scale a graded run grades on: 1-5 when its questions bring their own criteria
/// (ELYZA-tasks-100), else 1-10. A run's grades share one scale, so a question file that
/// mixes the two (or a question with criteria and a second turn, which has none) is refused.
fn grading_scale(
    opts: &RunOptions,
    questions: &[Question],
    set: Option<&crate::judge::PromptSet>,
) -> Result<Option<crate::types::Scale>, UsageError> {
    use crate::types::Scale;
    if !opts.mode.is_graded() {
        return Ok(None);
    }
    if opts.tasks.is_some() {
        return Ok(Some(crate::tasks::SCALE));
    }
    if opts.mode == crate::types::Mode::Rubric {
        return Ok(Some(opts.rubric_scale));
    }
    let asked = set.map_or(Scale::TEN, |s| s.scale());
    if questions.iter().all(|q| q.criteria.is_none()) {
        return Ok(Some(asked));
    }
    if asked != Scale::TEN {
        return Err(UsageError(format!(
            "--prompt-set grades {asked} and {} has questions with their own criteria (graded 1-5): a run grades on one scale",
            opts.questions.display()
        )));
    }
    let file = opts.questions.display();
    if let Some(q) = questions.iter().find(|q| q.criteria.is_none()) {
        return Err(UsageError(format!(
            "{file}: question {} has no grading criteria, and others have theirs (graded 1-5): a run grades on one scale, so give them separate question files",
            q.question_id
        )));
    }
    if let Some(q) = questions.iter().find(|q| q.turns.len() > 1) {
        return Err(UsageError(format!(
            "{file}: question {} has grading criteria (graded 1-5) and a second turn, which its criteria do not cover",
            q.question_id
        )));
    }
    Ok(Some(Scale::FIVE))
}

/// A directory holds one question set: two sets numbering their questions alike
/// (ja-vicuna-qa and Japanese MT-bench both 1-80) would replace each other's answers and
/// judgments and be reported as one. A run of another set is refused before anything is
/// sent. An evaluation written before sets were recorded is compared by its questions.
fn check_set(dir: &RunDir, set: &str, questions: &[Question]) -> anyhow::Result<()> {
    let manifest = Manifest::read(&dir.manifest())?;
    let ours: Vec<(String, u32)> = questions
        .iter()
        .map(|q| (q.question_id.to_string(), q.turns.len() as u32))
        .collect();
    for e in &manifest.evaluations {
        let differs = match &e.set {
            Some(s) => s != set,
            // The shard check has made sure this is the same slice; its questions tell.
            None => {
                let theirs: Vec<(String, u32)> = e
                    .questions
                    .iter()
                    .map(|q| (q.id.to_string(), q.turns))
                    .collect();
                theirs != ours
            }
        };
        if differs {
            let theirs = e
                .set
                .clone()
                .unwrap_or_else(|| format!("{} other questions", e.questions.len()));
            return Err(UsageError(format!(
                "{}: holds {} on the questions of {theirs}, and this run's questions are {set}; a directory holds one question set (give another --out; the default names the set)",
                dir.root().display(),
                e.judgments,
            ))
            .into());
        }
    }
    Ok(())
}

/// Opens the run's response cache (a bad file is a usage error, before anything is written).
fn open_cache(opts: &RunOptions) -> Result<Option<Arc<Cache>>, UsageError> {
    match (&opts.cache, opts.cache_mode) {
        (Some(path), CacheMode::Use | CacheMode::Refresh) => Cache::open(path)
            .map(|c| Some(Arc::new(c)))
            .map_err(|e| UsageError(format!("{e} (--cache FILE, or --no-cache)"))),
        (Some(path), CacheMode::ReadOnly) => Cache::open_read_only(path)
            .map(|c| Some(Arc::new(c)))
            .map_err(|e| UsageError(format!("{e} (--cache FILE with --cache-read-only)"))),
        _ => Ok(None),
    }
}

/// Takes the run directory for this process: two runs appending to the same files would
/// interleave their records, so a second one is refused (exit 2) while the first holds the
/// lock. The kernel drops the lock when the process ends, however it ends.
fn lock_out_dir(dir: &RunDir) -> anyhow::Result<File> {
    use std::io::Write;
    let out = dir.root();
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let path = dir.lock();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| path.display().to_string())?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0)?;
            writeln!(f, "{}", std::process::id())?;
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            Err(UsageError(format!(
                "{}: another shinpan run (pid {}) is writing to this directory; wait for it or give another --out",
                out.display(),
                pid.trim()
            ))
            .into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::from(e).context(path.display().to_string()))
        }
    }
}

/// A run directory written before judgments had a journal (or a FastChat judgment file
/// placed there by hand) holds its records only in `judgments/`: they become the journal's
/// first records, so nothing judged before is lost or judged again.
fn adopt_old_judgments(dir: &RunDir, opts: &RunOptions) -> anyhow::Result<()> {
    for judge in &opts.judges {
        let journal = dir.journal(&judge.name, opts.mode);
        let view = dir.judgments(&judge.name, opts.mode);
        if journal.exists() || !view.exists() {
            continue;
        }
        copy_atomic(&view, &journal).with_context(|| journal.display().to_string())?;
    }
    Ok(())
}

fn copy_atomic(from: &Path, to: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(from)?;
    crate::store::write_atomic(to, &bytes)
}
