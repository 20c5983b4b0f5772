//! `shinpan demo`: the whole pipeline, offline, on the bundled sample questions.

use std::collections::HashMap;
use std::time::Duration;

use crate::cli::DemoArgs;
use crate::config::RunOptions;
use crate::pipeline::{self, print_reports};
use crate::simulate::{SimConfig, start};
use crate::types::Mode;

/// The sample questions, compiled in so the demo runs from any directory.
const SAMPLE: &str = include_str!("../../questions/sample_ja.jsonl");

pub async fn demo(a: DemoArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let quality: HashMap<String, f64> = [
        ("demo-large", 0.85),
        ("demo-medium", 0.55),
        ("demo-small", 0.25),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let sim = start(
        0,
        SimConfig {
            latency: Duration::from_millis(20),
            fail_rate: 0.03,
            garble_rate: 0.05,
            position_bias: 0.1,
            quality,
            seed: 7,
            ..SimConfig::default()
        },
    )
    .await?;
    std::fs::create_dir_all(&a.out)?;
    let questions = a.out.join("questions.jsonl");
    std::fs::write(&questions, SAMPLE)?;
    let models = ["demo-large", "demo-medium", "demo-small"];
    let mut reports = Vec::new();
    for (mode, baseline) in [
        (Mode::Single, None),
        (Mode::Rubric, None),
        (Mode::PairwiseBaseline, Some("demo-medium")),
    ] {
        let mut b = RunOptions::builder()
            .models(models)
            .judge("demo-judge")
            .mode(mode)
            .questions(&questions)
            .out(&a.out)
            // The demo keeps its simulated responses out of the user's own cache.
            .cache(a.out.join("cache.sqlite"))
            .base_url(&sim.base_url())
            .no_api_key()
            .concurrency(16)
            .rpm(6000);
        if let Some(base) = baseline {
            b = b.baseline(base);
        }
        let opts = b.build()?;
        let out = pipeline::run(&opts, false).await?;
        eprintln!("shinpan demo [{}]: {}", mode.as_str(), out.summary.line());
        reports.extend(out.reports);
    }
    sim.stop().await;
    print_reports(&reports, a.format)?;
    eprintln!(
        "shinpan demo: done in {:.1}s; answers, judgments and reports are in {}",
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}
