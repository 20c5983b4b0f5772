//! `shinpan batch export` and `shinpan batch import`.

use crate::cli::BatchCommand;
use crate::error::UsageError;

pub async fn batch(c: BatchCommand) -> anyhow::Result<()> {
    match c {
        BatchCommand::Export(a) => {
            let layers = a.run.layers()?;
            let modes = super::sequence::modes(&layers)?;
            let mut l = layers.clone();
            if let Some(m) = modes.into_iter().next().flatten() {
                l.flags.mode = Some(m);
            }
            let opts = l.resolve()?;
            let e = crate::pipeline::export_requests(&opts, &a.file).await?;
            let turns: Vec<String> = e
                .by_turn
                .iter()
                .map(|(t, n)| format!("turn {t}: {n}"))
                .collect();
            if e.lines == 0 {
                eprintln!(
                    "shinpan: nothing to export: every answer is in {} or its reply in the cache ({} turns); run `shinpan run` now",
                    opts.out.display(),
                    e.cached
                );
            } else {
                let models: Vec<&str> = e.api_models.iter().map(String::as_str).collect();
                eprintln!(
                    "shinpan: wrote {} request(s) to {} ({}; {} turn(s) already in the cache) for {}. Run them (vLLM: python -m vllm.entrypoints.openai.run_batch -i {} -o results.jsonl --model MODEL), then `shinpan batch import results.jsonl`, and export again until nothing is left",
                    e.lines,
                    a.file.display(),
                    turns.join(", "),
                    e.cached,
                    models.join(", "),
                    a.file.display()
                );
            }
            Ok(())
        }
        BatchCommand::Import(a) => {
            let cache = crate::config::cache_path(a.cache.as_deref(), None).ok_or_else(|| {
                UsageError("no cache file: give --cache FILE or set SHINPAN_CACHE".into())
            })?;
            let i = crate::pipeline::import_results(&a.files, &cache)?;
            eprintln!(
                "shinpan: stored {} response(s) in {}{}{}",
                i.stored,
                cache.display(),
                if i.failed > 0 {
                    format!(
                        "; {} line(s) carry an error and were not stored (a later export asks for them again)",
                        i.failed
                    )
                } else {
                    String::new()
                },
                if i.foreign > 0 {
                    format!(
                        "; {} line(s) are not shinpan requests (custom_id is not a request key) and were skipped",
                        i.foreign
                    )
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}
