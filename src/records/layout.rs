//! Where a run keeps its files, so every stage and `shinpan report` find them the same way.
//!
//! ```text
//! OUT/answers/<model>.jsonl            FastChat answer records
//! OUT/judgments/<judge>_<kind>.jsonl   the current judgments, one per item (FastChat's format;
//!                                      what show_result.py, qa_browser and shinpan report read)
//! OUT/journal/<judge>_<kind>.jsonl     every judgment ever made, in order (append-only: what a
//!                                      run writes as it goes, and resumes from)
//! OUT/questions.jsonl                  the questions, references attached
//! OUT/errors.jsonl                     answers still missing, with the reason
//! OUT/run.json                         what each evaluation in the directory expects
//! OUT/batches/<endpoint>/              batches sent with --batch: N.input.jsonl,
//!                                      N.output.jsonl, N.errors.jsonl, batches.jsonl (ids)
//! OUT/report-<mode>.md / .json         the reports
//! OUT/.shinpan.lock                    held while a run writes here
//! ```

use std::path::{Path, PathBuf};

use crate::types::Mode;
use crate::util::safe_file_name;

/// A run's output directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

/// The directory, under a run directory, of the judgment journals.
pub const JOURNAL_DIR: &str = "journal";
/// The directory, under a run directory, of the batches sent with `--batch`.
pub const BATCHES_DIR: &str = "batches";
/// The manifest of a run directory.
pub const MANIFEST: &str = "run.json";

impl RunDir {
    /// The run directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A model's answer file.
    pub fn answers(&self, model: &str) -> PathBuf {
        self.root
            .join("answers")
            .join(format!("{}.jsonl", safe_file_name(model)))
    }

    /// The file name of a judge's judgments in a mode (`gpt-4_single.jsonl`).
    pub fn judgment_file_name(judge: &str, mode: Mode) -> String {
        format!("{}_{}.jsonl", safe_file_name(judge), mode.file_kind())
    }

    /// The current judgments of a judge in a mode (FastChat's format).
    pub fn judgments(&self, judge: &str, mode: Mode) -> PathBuf {
        self.root
            .join("judgments")
            .join(Self::judgment_file_name(judge, mode))
    }

    /// Every judgment of a judge in a mode, superseded ones and samples included.
    pub fn journal(&self, judge: &str, mode: Mode) -> PathBuf {
        self.root
            .join(JOURNAL_DIR)
            .join(Self::judgment_file_name(judge, mode))
    }

    /// The run's questions, references attached (what the judge was shown).
    pub fn questions(&self) -> PathBuf {
        self.root.join("questions.jsonl")
    }

    /// Answers that could not be generated.
    pub fn errors(&self) -> PathBuf {
        self.root.join("errors.jsonl")
    }

    /// The manifest.
    pub fn manifest(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    /// Where the batches sent to an endpoint (`--batch`) are written down: their input,
    /// output and error files and a journal of their ids.
    pub fn batches(&self, base_url: &str) -> PathBuf {
        let host = base_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        self.root.join(BATCHES_DIR).join(safe_file_name(host))
    }

    /// The lock a run holds while it writes.
    pub fn lock(&self) -> PathBuf {
        self.root.join(".shinpan.lock")
    }

    /// The HTML report of everything the directory holds.
    pub fn page(&self) -> PathBuf {
        self.root.join("report.html")
    }

    /// A report file (`report-single.json`).
    pub fn report(&self, mode: Mode, ext: &str) -> PathBuf {
        self.root.join(format!("report-{}.{ext}", mode.as_str()))
    }
}
