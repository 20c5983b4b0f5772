//! `shinpan merge`.

use crate::aggregate::{build_reports, load_judgments};
use crate::cli::MergeRunArgs;
use crate::pipeline::print_reports;

pub fn merge(a: MergeRunArgs) -> anyhow::Result<()> {
    let stats = a.stats.options(false);
    let m = crate::pipeline::merge(&a.dirs, &a.out, &stats)?;
    if !a.quiet {
        for p in &m.skipped {
            eprintln!(
                "shinpan: note: {} is not a run record; not merged",
                p.display()
            );
        }
        let cached = m
            .cached
            .map(|n| format!(", {n} cached responses"))
            .unwrap_or_default();
        eprintln!(
            "shinpan: merged {} shards into {}: {} questions, {} answers, {} judgments{cached}",
            m.shards,
            a.out.display(),
            m.questions,
            m.answers,
            m.judgments
        );
    }
    let loaded = load_judgments(std::slice::from_ref(&a.out))?;
    print_reports(&build_reports(&loaded, None, None, &stats)?, a.format)
}
