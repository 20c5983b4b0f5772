//! `shinpan run` and `shinpan compare`.

use super::sequence::{exit_for, exit_for_all, modes, run_modes, summarize};
use crate::aggregate::answers::AnswerIndex;
use crate::aggregate::headtohead::head_to_head;
use crate::cli::{CompareArgs, RunArgs};
use crate::config::{Layers, Settings};
use crate::error::usage;
use crate::pipeline::{self, print_reports};
use crate::records::{PairGame, RunDir};
use crate::store::read_jsonl_into;
use crate::types::Mode;

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let layers = a.layers()?;
    let modes = modes(&layers)?;
    if let Some(n) = layers.file.as_ref().and_then(|(_, s)| s.nightly.clone()) {
        return super::nightly::nightly(&a, layers, &modes, n).await;
    }
    if a.name.is_some() || a.fail_on_regression.is_some() {
        return Ok(usage(
            "--name and --fail-on-regression are for a recurring run: give a config file with a [nightly] table",
        )?);
    }
    let verbosity = a.common.verbosity();
    let runs = run_modes(&layers, &modes, None, verbosity).await?;
    let reports: Vec<_> = runs.iter().flat_map(|(_, o)| o.reports.clone()).collect();
    print_reports(&reports, a.common.format)?;
    exit_for_all(&runs)
}

pub async fn compare(a: CompareArgs) -> anyhow::Result<()> {
    if a.a == a.b {
        return Ok(usage(format!("compare: A and B are both {:?}", a.a))?);
    }
    let file = match &a.config {
        Some(p) => Some((p.clone(), Settings::load(p)?)),
        None => None,
    };
    let mut flags = a.common.layer()?;
    flags.models = Some(vec![a.a.clone(), a.b.clone()]);
    flags.mode = Some(Mode::PairwiseBaseline.as_str().into());
    flags.baseline = Some(a.b.clone());
    let mut layers = Layers { file, flags };
    if layers.flags.out.is_none() {
        // Beside the set's other runs, named by the two models.
        layers.flags.out = Some(layers.set_dir().join(format!(
            "compare-{}-vs-{}",
            crate::util::safe_file_name(&a.a),
            crate::util::safe_file_name(&a.b)
        )));
    }
    let opts = layers.resolve()?;
    let verbosity = a.common.verbosity();
    let out = pipeline::run_with(&opts, verbosity).await?;
    summarize(&opts, &out, verbosity);
    // The head-to-head from the run's current judgments (a panel's pooled by majority).
    let mut by_judge = Vec::new();
    for judge in &opts.judges {
        let path = RunDir::new(&opts.out).judgments(&judge.name, opts.mode);
        let mut games = Vec::new();
        read_jsonl_into::<PairGame>(&path, &mut games)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        by_judge.push(games);
    }
    let games = match by_judge.len() {
        1 => by_judge.pop().expect("one judge"),
        _ => {
            let names: Vec<String> = opts.judges.iter().map(|j| j.name.clone()).collect();
            crate::aggregate::panel::pool_games(&names, &by_judge)
        }
    };
    let rows: Vec<&PairGame> = games.iter().collect();
    let h = head_to_head(
        &rows,
        &a.a,
        &a.b,
        &AnswerIndex::default(),
        opts.stats.bootstrap,
        a.show,
    );
    let bytes = crate::report::headtohead::render(&h, a.common.format)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?;
    exit_for(&opts, &out)
}
