//! `shinpan init` and `shinpan completions`: a commented example config to start from, and
//! shell completions.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, InitArgs};
use crate::error::UsageError;

/// The example config, every key explained.
pub const EXAMPLE: &str = include_str!("../config/example.toml");

pub fn init(a: InitArgs) -> anyhow::Result<()> {
    if a.path.exists() && !a.force {
        return Err(UsageError(format!(
            "{}: already exists; give another path, or --force to replace it",
            a.path.display()
        ))
        .into());
    }
    write(&a.path)?;
    eprintln!(
        "shinpan: wrote {}; edit the models, judge and endpoints, then: shinpan run {}",
        a.path.display(),
        a.path.display()
    );
    Ok(())
}

fn write(path: &Path) -> anyhow::Result<()> {
    crate::store::write_atomic(path, EXAMPLE.as_bytes()).with_context(|| path.display().to_string())
}

pub fn completions(a: CompletionsArgs) -> anyhow::Result<()> {
    clap_complete::generate(
        a.shell,
        &mut Cli::command(),
        "shinpan",
        &mut std::io::stdout(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Layers, Settings};

    #[test]
    fn the_example_config_is_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shinpan.toml");
        write(&p).unwrap();
        let file = Settings::load(&p).unwrap();
        let o = Layers {
            file: Some((p, file)),
            flags: Settings::default(),
        }
        .resolve()
        .unwrap();
        assert_eq!(
            o.models[0].endpoints[0].base_url,
            "http://127.0.0.1:8000/v1"
        );
        assert!(o.models[0].endpoints[0].structured_verdicts);
        assert_eq!(o.baseline.as_deref(), Some("gpt-4o-mini"));
    }
}
