//! Failures that have no record of their own: answers that could not be generated go to
//! `errors.jsonl` with their reason (judgment failures are in the judgment files).

use std::path::PathBuf;

use anyhow::Context;

use crate::generate::GenerateError;
use crate::store::JsonlWriter;

/// A failure with its reason, in `errors.jsonl` (judgment failures are in the judgment
/// files, with their reasons, where reports count them).
#[derive(serde::Serialize)]
pub(super) struct ErrorRecord {
    stage: &'static str,
    model: String,
    question_id: String,
    turn: usize,
    error: String,
    tstamp: f64,
}

impl ErrorRecord {
    pub(super) fn answer(e: &GenerateError) -> Self {
        Self {
            stage: "answer",
            model: e.model.clone(),
            question_id: e.question_id.clone(),
            turn: e.turn,
            error: e.source.to_string(),
            tstamp: crate::util::unix_now(),
        }
    }
}

/// A writer opened on first use, so a run without failures leaves no empty file.
pub(super) struct LazyWriter {
    path: PathBuf,
    writer: Option<JsonlWriter>,
}

impl LazyWriter {
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, writer: None }
    }

    pub(super) fn send<T: serde::Serialize>(&mut self, v: &T) -> anyhow::Result<()> {
        if self.writer.is_none() {
            let w =
                JsonlWriter::open(&self.path).with_context(|| self.path.display().to_string())?;
            self.writer = Some(w);
        }
        Ok(self.writer.as_ref().expect("just opened").send(v)?)
    }

    pub(super) fn finish(self) -> anyhow::Result<()> {
        match self.writer {
            Some(w) => w.finish().map(|_| ()).map_err(Into::into),
            None => Ok(()),
        }
    }
}
