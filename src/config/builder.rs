//! A builder of [`RunOptions`] for library callers: it fills a flags layer and resolves it
//! with the same rules as the command line, so the demo, tests and benches never build fake
//! command lines.

use std::path::{Path, PathBuf};

use super::{Layers, RunOptions, Settings};
use crate::error::UsageError;
use crate::types::Mode;

/// Builds [`RunOptions`]; see [`RunOptions::builder`].
#[derive(Debug, Clone, Default)]
pub struct RunOptionsBuilder {
    file: Option<(PathBuf, Settings)>,
    flags: Settings,
}

impl RunOptionsBuilder {
    /// Reads a config file as the file layer.
    pub fn config_file(mut self, path: &Path) -> Result<Self, UsageError> {
        self.file = Some((path.to_path_buf(), Settings::load(path)?));
        Ok(self)
    }

    /// Changes the flags layer directly, for settings without a method here.
    pub fn with(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.flags);
        self
    }

    /// Candidate models.
    pub fn models<S: AsRef<str>>(self, names: impl IntoIterator<Item = S>) -> Self {
        let names = names.into_iter().map(|s| s.as_ref().to_string()).collect();
        self.with(|s| s.models = Some(names))
    }

    /// The judge model.
    pub fn judge(self, name: &str) -> Self {
        self.with(|s| s.judge = Some(name.into()))
    }

    /// The mode.
    pub fn mode(self, mode: Mode) -> Self {
        self.with(|s| s.mode = Some(mode.as_str().into()))
    }

    /// The baseline (pairwise-baseline).
    pub fn baseline(self, name: &str) -> Self {
        self.with(|s| s.baseline = Some(name.into()))
    }

    /// The question file.
    pub fn questions(self, path: impl Into<PathBuf>) -> Self {
        let p = path.into();
        self.with(|s| s.questions = Some(p))
    }

    /// The output directory.
    pub fn out(self, dir: impl Into<PathBuf>) -> Self {
        let p = dir.into();
        self.with(|s| s.out = Some(p))
    }

    /// The response cache file.
    pub fn cache(self, path: impl Into<PathBuf>) -> Self {
        let p = path.into();
        self.with(|s| s.cache = Some(p))
    }

    /// The default endpoint's base URL.
    pub fn base_url(self, url: &str) -> Self {
        self.with(|s| s.endpoint.base_url = Some(url.into()))
    }

    /// Sends no API key (a local server).
    pub fn no_api_key(self) -> Self {
        self.with(|s| s.endpoint.api_key_env = Some(String::new()))
    }

    /// Attempts per request.
    pub fn max_attempts(self, n: u32) -> Self {
        self.with(|s| s.endpoint.max_attempts = Some(n))
    }

    /// Requests in flight at once.
    pub fn concurrency(self, n: u32) -> Self {
        self.with(|s| s.endpoint.concurrency = Some(super::settings::Concurrency::Fixed(n)))
    }

    /// Requests per minute.
    pub fn rpm(self, n: u32) -> Self {
        self.with(|s| s.endpoint.rpm = Some(n))
    }

    /// Judgments per item.
    pub fn judge_samples(self, k: u32) -> Self {
        self.with(|s| s.judge_samples = Some(k))
    }

    /// Validates the layers into options.
    pub fn build(self) -> Result<RunOptions, UsageError> {
        Layers {
            file: self.file,
            flags: self.flags,
        }
        .resolve()
    }
}
