//! Official benchmark sets on demand: `shinpan data list` and `shinpan data fetch`. Each set's
//! files are downloaded over HTTPS from URLs pinned to an upstream revision (or from a mirror
//! that serves the same paths, `--mirror BASE`), checked against their pinned sha256, and
//! written into the data directory (`DATA/<set>/<version>/`) only once every file of the set
//! is there and right: a failed fetch writes nothing. `--bench NAME` then finds them there.

pub mod jglue;
pub mod registry;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use registry::{BenchSet, Role, SETS, SetFile, find, url_path};

/// Why a set could not be fetched or used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DataError(pub String);

/// The data directory: `$SHINPAN_DATA_DIR`, else `$XDG_DATA_HOME/shinpan/data`, else
/// `~/.local/share/shinpan/data`.
pub fn default_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("SHINPAN_DATA_DIR") {
        return d;
    }
    let base = env("XDG_DATA_HOME").unwrap_or_else(|| {
        env("HOME")
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".local/share")
    });
    base.join("shinpan").join("data")
}

/// Where a set's files go.
pub fn set_dir(data_dir: &Path, set: &BenchSet) -> PathBuf {
    data_dir.join(set.name).join(set.version)
}

/// The checksums recorded at the first fetch of a set that has no pinned ones.
const RECORDED: &str = "SHA256SUMS";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the data directory holds of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    /// Not there.
    Missing,
    /// There, and its checksum is the pinned (or recorded) one.
    Verified,
    /// There, with another checksum.
    Changed(String),
}

/// The checksum a file must have: pinned, or recorded at the set's first fetch.
fn expected(dir: &Path, f: &SetFile) -> Option<String> {
    if let Some(s) = f.sha256 {
        return Some(s.to_string());
    }
    let sums = std::fs::read_to_string(dir.join(RECORDED)).ok()?;
    sums.lines().find_map(|l| {
        let (sum, name) = l.split_once("  ")?;
        (name == f.name).then(|| sum.to_string())
    })
}

/// The state of every file of `set` in `data_dir`.
pub fn status(data_dir: &Path, set: &BenchSet) -> Vec<(&'static SetFile, FileState)> {
    let dir = set_dir(data_dir, set);
    set.files
        .iter()
        .map(|f| {
            let state = match std::fs::read(dir.join(f.name)) {
                Err(_) => FileState::Missing,
                Ok(bytes) => {
                    let got = sha256_hex(&bytes);
                    match expected(&dir, f) {
                        Some(want) if want != got => FileState::Changed(got),
                        _ => FileState::Verified,
                    }
                }
            };
            (f, state)
        })
        .collect()
}

/// What a fetch did.
#[derive(Debug)]
pub struct Fetched {
    /// The set.
    pub set: &'static BenchSet,
    /// Files downloaded, with their sizes.
    pub downloaded: Vec<(&'static str, u64)>,
    /// Files already there and verified.
    pub kept: usize,
    /// Task files written by converting the set (task sets).
    pub converted: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Where the set is.
    pub dir: PathBuf,
}

/// Downloads what `data_dir` lacks of `set` (from `mirror` instead of the pinned host when
/// given), checks every file, and writes them only when all are right.
pub async fn fetch(
    data_dir: &Path,
    set: &'static BenchSet,
    mirror: Option<&str>,
) -> Result<Fetched, DataError> {
    let started = Instant::now();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = set_dir(data_dir, set);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| DataError(e.to_string()))?;
    let mut fetched: Vec<(&'static SetFile, Vec<u8>)> = Vec::new();
    let mut kept = 0;
    for (f, state) in status(data_dir, set) {
        if state == FileState::Verified {
            kept += 1;
            continue;
        }
        let url = match mirror {
            Some(base) => format!("{}{}", base.trim_end_matches('/'), url_path(f.url)),
            None => f.url.to_string(),
        };
        let what = format!("{}: {} from {url}", set.name, f.name);
        let resp = http.get(&url).send().await.map_err(|e| {
            let why = crate::client::describe(&e);
            DataError(format!(
                "{what}: cannot download ({why}); no network? give --mirror BASE (a server with the same paths); nothing written"
            ))
        })?;
        if !resp.status().is_success() {
            return Err(DataError(format!(
                "{what}: HTTP {} (not there); nothing written",
                resp.status().as_u16()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| DataError(format!("{what}: download broke off ({e}); nothing written")))?
            .to_vec();
        let got = sha256_hex(&bytes);
        if let Some(want) = expected(&dir, f)
            && want != got
        {
            return Err(DataError(format!(
                "{what}: sha256 {got}, but the pinned file's is {want} ({} bytes received{}): not the pinned file; nothing written",
                bytes.len(),
                f.bytes
                    .map(|b| format!(", {b} expected"))
                    .unwrap_or_default()
            )));
        }
        fetched.push((f, bytes));
    }
    // Every file is right: now they are written, each atomically.
    let io = |p: &Path, e: std::io::Error| DataError(format!("{}: {e}", p.display()));
    let mut downloaded = Vec::new();
    let mut recorded = Vec::new();
    for (f, bytes) in &fetched {
        let path = dir.join(f.name);
        crate::store::write_atomic(&path, bytes).map_err(|e| io(&path, e))?;
        downloaded.push((f.name, bytes.len() as u64));
        if f.sha256.is_none() {
            recorded.push(format!("{}  {}\n", sha256_hex(bytes), f.name));
        }
    }
    if !recorded.is_empty() {
        let path = dir.join(RECORDED);
        crate::store::write_atomic(&path, recorded.concat().as_bytes())
            .map_err(|e| io(&path, e))?;
    }
    // A task set is converted once its files are right (again when they changed).
    let converted =
        if set.is_task_set() && (!downloaded.is_empty() || !dir.join("evaluation").is_dir()) {
            jglue::convert(&dir)?.len()
        } else {
            0
        };
    Ok(Fetched {
        set,
        downloaded,
        converted,
        kept,
        elapsed: started.elapsed(),
        dir,
    })
}

/// A task set named by `--tasks NAME` (`jglue`): the directory of its converted test files,
/// once fetched and unchanged; `None` when `name` is no task set.
pub fn task_dir(name: &str, data_dir: &Path) -> Option<Result<PathBuf, DataError>> {
    let set = find(name).filter(|s| s.is_task_set())?;
    let dir = set_dir(data_dir, set);
    for (f, state) in status(data_dir, set) {
        if state != FileState::Verified {
            return Some(Err(DataError(format!(
                "--tasks {name}: {} is {} in {}; run `shinpan data fetch {name}` first (or give --data-dir)",
                f.name,
                if state == FileState::Missing {
                    "missing"
                } else {
                    "changed"
                },
                dir.display()
            ))));
        }
    }
    Some(Ok(dir.join("evaluation").join("test")))
}

/// A `--bench NAME[@VARIANT]` resolved to its files in the data directory.
#[derive(Debug, Clone)]
pub struct Bench {
    /// The set.
    pub set: &'static BenchSet,
    /// The variant.
    pub variant: &'static str,
    /// Its question file.
    pub questions: PathBuf,
    /// Its reference answers, if the set has some.
    pub references: Option<PathBuf>,
    /// Its judge prompts, if the set has some.
    pub prompts: Option<PathBuf>,
}

impl Bench {
    /// The name and version recorded with results: `japanese-mt-bench@80 e37eb28`.
    pub fn label(&self) -> String {
        format!("{}@{} {}", self.set.name, self.variant, self.set.version)
    }
}

/// Resolves `--bench NAME[@VARIANT]` in `data_dir`: the set must be known and fetched, and
/// its files unchanged.
pub fn resolve(spec: &str, data_dir: &Path) -> Result<Bench, DataError> {
    let (name, variant) = spec.split_once('@').unwrap_or((spec, ""));
    let names: Vec<&str> = SETS.iter().map(|s| s.name).collect();
    let set = find(name).ok_or_else(|| {
        DataError(format!(
            "--bench {spec}: unknown set; known: {} (shinpan data list)",
            names.join(", ")
        ))
    })?;
    if set.is_task_set() {
        return Err(DataError(format!(
            "--bench {spec}: {name} is llm-jp-eval tasks scored by rule, not questions to judge: give --tasks {name}"
        )));
    }
    let (variant, file) = if variant.is_empty() {
        set.variants[0]
    } else {
        *set.variants
            .iter()
            .find(|(v, _)| *v == variant)
            .ok_or_else(|| {
                let vs: Vec<&str> = set.variants.iter().map(|(v, _)| *v).collect();
                DataError(format!(
                    "--bench {spec}: {name} has no variant {variant:?}; it has {}",
                    vs.join(", ")
                ))
            })?
    };
    let dir = set_dir(data_dir, set);
    for (f, state) in status(data_dir, set) {
        match state {
            FileState::Verified => {}
            FileState::Missing => {
                return Err(DataError(format!(
                    "--bench {spec}: {} is not in {}; run `shinpan data fetch {name}` first (or give --data-dir)",
                    f.name,
                    dir.display()
                )));
            }
            FileState::Changed(got) => {
                return Err(DataError(format!(
                    "--bench {spec}: {} has changed (sha256 {got}); run `shinpan data fetch {name}` again",
                    dir.join(f.name).display()
                )));
            }
        }
    }
    Ok(Bench {
        set,
        variant,
        questions: dir.join(file),
        references: set.references.map(|r| dir.join(r)),
        prompts: set.prompts.map(|p| dir.join(p)),
    })
}
