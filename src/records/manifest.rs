//! `run.json`: what each evaluation in a run directory expects (its models, questions and
//! turns) and how its last run ended, so a report read back from the directory knows what is
//! missing, not only what is there.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::types::{Mode, QuestionId};

/// How the last run of an evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started and not finished (still running, or killed).
    Running,
    /// Finished: every item was tried.
    Finished,
    /// Stopped by Ctrl-C; finished work kept.
    Interrupted,
}

/// One question's id and turn count.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Expected {
    /// The question.
    pub id: QuestionId,
    /// Its turns.
    pub turns: u32,
}

/// One evaluation (a judge and mode) of a run directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    /// Its judgment file, relative to the run directory.
    pub judgments: String,
    /// The mode.
    pub mode: Mode,
    /// The judge.
    pub judge: String,
    /// Every judge of the panel this judge was one of (itself included), in the order given;
    /// empty for a run with one judge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel: Vec<String>,
    /// How the panel is pooled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<crate::types::Pool>,
    /// The candidate models of the last run.
    pub models: Vec<String>,
    /// The baseline (pairwise-baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Judgments per item (`--judge-samples`).
    pub samples: u32,
    /// The rubric's aspects, in the configured order (rubric mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aspects: Vec<String>,
    /// The questions and their turns.
    pub questions: Vec<Expected>,
    /// How the last run ended.
    pub state: RunState,
    /// What every invocation of the run spent, by model and stage (answers are booked to
    /// each evaluation that generated them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spend: Vec<crate::records::spend::SpendRow>,
    /// The slice of the questions the run took (`--shard`); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::types::Shard>,
    /// The official set the questions came from (`--bench`): `NAME@VARIANT VERSION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// The question set, whole (before `--shard`): the `--bench` label, or the question
    /// file's name and digest (`sample_ja.jsonl sha256:0123456789ab`). A directory holds one
    /// set: its items are known by question id alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// The scale the run grades on (graded modes): 1-5 for questions with their own
    /// criteria, else 1-10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::types::Scale>,
    /// Which games a sampled pairwise mode played (`pairwise-n`, `pairwise-adaptive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub games: Option<super::GamePlan>,
    /// Why the last run stopped before it was done (`interrupted (SIGTERM)`, or the output
    /// it could not write), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The whole manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// One entry per judgment file.
    pub evaluations: Vec<Evaluation>,
}

impl Manifest {
    /// Reads a manifest; a missing file is an empty one.
    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    /// Replaces (or adds) the entry of one judgment file and writes the manifest atomically;
    /// the entry's `spend` is added to what the old entry held (spend accumulates over
    /// invocations).
    pub fn update(path: &Path, entry: Evaluation) -> anyhow::Result<()> {
        Manifest::updated(path, entry)?.write(path)
    }

    /// The manifest at `path` with the entry of one judgment file replaced (or added), as
    /// [`Manifest::update`] would write it.
    pub fn updated(path: &Path, entry: Evaluation) -> anyhow::Result<Manifest> {
        Ok(Manifest::read(path)?.with(entry))
    }

    /// This manifest with the entry of one judgment file replaced (or added), its `spend`
    /// added to the old entry's.
    pub fn with(mut self, mut entry: Evaluation) -> Manifest {
        if let Some(old) = self.entry(&entry.judgments) {
            let mut spend = old.spend.clone();
            crate::records::spend::add_rows(&mut spend, &entry.spend);
            entry.spend = spend;
        }
        self.evaluations.retain(|e| e.judgments != entry.judgments);
        self.evaluations.push(entry);
        self.evaluations
            .sort_by(|a, b| a.judgments.cmp(&b.judgments));
        self
    }

    /// Writes the manifest atomically.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        crate::store::write_atomic(path, &bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The entry of a judgment file (a path relative to the run directory).
    pub fn entry(&self, judgments: &str) -> Option<&Evaluation> {
        self.evaluations.iter().find(|e| e.judgments == judgments)
    }
}
