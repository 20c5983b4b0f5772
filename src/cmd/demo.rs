//! `shinpan demo`: the whole pipeline, offline, on the bundled sample questions.

use std::collections::HashMap;
use std::time::Duration;

use crate::aggregate::Mode;
use crate::cli::{CommonArgs, DemoArgs, EndpointArgs};
use crate::config::resolve;
use crate::pipeline::{self, print_reports, write_reports};
use crate::simulate::{SimConfig, start};

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
    let common = CommonArgs {
        judge: Some("demo-judge".into()),
        questions: Some(questions),
        out: Some(a.out.clone()),
        // The demo keeps its simulated responses out of the user's own cache.
        cache: Some(a.out.join("cache.sqlite")),
        format: a.format,
        endpoint: EndpointArgs {
            base_url: Some(sim.base_url()),
            api_key_env: Some(String::new()),
            concurrency: Some(16),
            rpm: Some(6000),
            ..EndpointArgs::default()
        },
        ..CommonArgs::default()
    };
    let models = vec![
        "demo-large".to_string(),
        "demo-medium".to_string(),
        "demo-small".to_string(),
    ];
    let mut reports = Vec::new();
    for (mode, baseline) in [
        (Mode::Single, None),
        (Mode::Rubric, None),
        (Mode::PairwiseBaseline, Some("demo-medium".to_string())),
    ] {
        let opts = resolve(
            None,
            Some(models.clone()),
            Some(mode.as_str().into()),
            baseline,
            &common,
        )?;
        let out = pipeline::run(&opts, false).await?;
        eprintln!("shinpan demo [{}]: {}", mode.as_str(), out.summary.line());
        reports.push(out.report);
    }
    write_reports(&a.out, &reports)?;
    sim.stop().await;
    print_reports(&reports, a.format)?;
    eprintln!(
        "shinpan demo: done in {:.1}s; answers, judgments and reports are in {}",
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}
