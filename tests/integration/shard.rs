//! A run spread over machines: `run --shard I/N` slices the questions, `shinpan merge` joins
//! the shards' directories, and the result is an unsharded run's (records, manifest, reports
//! and page, byte for byte), through the real binary against the simulator.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use shinpan::simulate::SimConfig;

use crate::support::{SAMPLE, Sim, jsonl, run_bin, shinpan_bin, write};

/// A config for three models judged pairwise against `b` and graded, priced, on `url`.
fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    write(
        dir,
        "shinpan.toml",
        &format!(
            "models = [\"a\", \"b\", \"c\"]\njudge = \"j\"\nbaseline = \"b\"\nquestions = \"{SAMPLE}\"\n\
             [endpoint]\nbase_url = \"{url}\"\napi_key_env = \"\"\n\
             [model.j]\nprice = {{ input = 2.5, output = 10.0 }}\n\
             [model.a]\nprice = {{ input = 0.15, output = 0.6 }}\n"
        ),
    )
}

/// `shinpan run CONFIG --out DIR` in `mode`, with `more` flags and `env`; asserts success.
fn run(cfg: &Path, out: &Path, mode: &str, more: &[&str], env: &[(&str, &str)]) {
    let mut c = shinpan_bin();
    c.args(["run", cfg.to_str().unwrap(), "--mode", mode, "-q", "--out"])
        .arg(out)
        .args(more);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every record of a run's files of `sub`, less time stamps and answer ids, as sorted lines.
fn records(dir: &Path, sub: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join(sub)).unwrap() {
        let path = e.unwrap().path();
        let mut lines: Vec<String> = jsonl(&path)
            .into_iter()
            .map(|mut v: Value| {
                let o = v.as_object_mut().unwrap();
                o.remove("tstamp");
                o.remove("answer_id");
                v.to_string()
            })
            .collect();
        lines.sort();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        out.insert(name, lines);
    }
    out
}

fn report(dir: &Path, format: &str) -> Vec<u8> {
    let o = run_bin(&["report", dir.to_str().unwrap(), "--format", format]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[test]
fn shards_merged_equal_the_unsharded_run() {
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = config(dir, &sim.url);
    let whole = dir.join("whole");
    let shard = |i: usize| dir.join(format!("shard-{i}"));
    // Two evaluations in each directory: pairwise against the baseline, then grades.
    for mode in ["pairwise-baseline", "single"] {
        run(&cfg, &whole, mode, &[], &[]);
        // Shard 0 from the flag, 1 as a Kubernetes Indexed Job, 2 as a Slurm array from 1.
        run(&cfg, &shard(0), mode, &["--shard", "0/3"], &[]);
        run(
            &cfg,
            &shard(1),
            mode,
            &["--shard", "3"],
            &[("JOB_COMPLETION_INDEX", "1")],
        );
        run(
            &cfg,
            &shard(2),
            mode,
            &["--shard", "3"],
            &[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1")],
        );
    }
    // Each shard took its slice: 16 questions as 6, 5 and 5.
    for (i, n) in [(0, 6), (1, 5), (2, 5)] {
        assert_eq!(
            jsonl(&shard(i).join("answers/a.jsonl")).len(),
            n,
            "shard {i}"
        );
    }
    let merged = dir.join("merged");
    // A merge killed before its rename left its temporary directory (its process is gone:
    // no pid is that large); this merge removes it.
    let killed = dir.join(".merged.merging-4194399");
    std::fs::create_dir_all(killed.join("answers")).unwrap();
    std::fs::write(killed.join("answers/x.jsonl"), "{}\n").unwrap();
    let o = run_bin(&[
        "merge",
        shard(2).to_str().unwrap(),
        shard(0).to_str().unwrap(),
        shard(1).to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!killed.exists(), "a killed merge's directory is removed");
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("merged 3 shards") && said.contains("16 questions, 48 answers"),
        "{said}"
    );
    // The same records.
    for sub in ["answers", "judgments", "journal"] {
        assert_eq!(records(&merged, sub), records(&whole, sub), "{sub}");
    }
    // The questions in file order, and the manifest (spend summed, costs reckoned from the
    // summed tokens) the same bytes.
    for f in ["questions.jsonl", "run.json"] {
        let (a, b) = (
            std::fs::read_to_string(whole.join(f)).unwrap(),
            std::fs::read_to_string(merged.join(f)).unwrap(),
        );
        assert_eq!(a, b, "{f}");
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(merged.join("run.json")).unwrap()).unwrap();
    let judge_cost = manifest["evaluations"][0]["spend"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "j")
        .unwrap()["cost"]
        .as_f64()
        .unwrap();
    assert!(judge_cost > 0.0);
    // The same report bytes: the files the run wrote, and `shinpan report` in every format.
    for f in [
        "report-pairwise-baseline.json",
        "report-pairwise-baseline.md",
        "report-single.json",
        "report-single.md",
        "report.html",
    ] {
        assert!(
            std::fs::read(whole.join(f)).unwrap() == std::fs::read(merged.join(f)).unwrap(),
            "{f} differs"
        );
    }
    for format in ["json", "md", "table", "html"] {
        assert!(
            report(&merged, format) == report(&whole, format),
            "{format}"
        );
    }
    // The merge printed the merged run's report.
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed.as_array().unwrap().len(), 2);
}

#[test]
fn a_merge_refuses_what_it_cannot_join_and_writes_nothing() {
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = config(dir, &sim.url);
    let shard = |i: usize| dir.join(format!("s{i}"));
    for i in 0..3 {
        run(
            &cfg,
            &shard(i),
            "single",
            &["--shard", &format!("{i}/3")],
            &[],
        );
    }
    let out = dir.join("merged");
    let merge = |dirs: &[&Path]| {
        let mut args: Vec<&str> = vec!["merge"];
        args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
        args.extend(["--out", out.to_str().unwrap()]);
        let o = run_bin(&args);
        assert_eq!(o.status.code(), Some(2), "refused as a usage error");
        assert!(!out.exists(), "nothing written");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let (s0, s1, s2) = (shard(0), shard(1), shard(2));
    assert!(merge(&[&s0, &s2]).contains("missing shard 1/3"));
    assert!(merge(&[&s0, &s1, &s1, &s2]).contains("are both shard 1/3"));
    // A shard still running (or killed) is not merged.
    let manifest = s1.join("run.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"finished\"", "\"running\"")).unwrap();
    let e = merge(&[&s0, &s1, &s2]);
    assert!(e.contains("s1: shard 1/3 has not finished"), "{e}");
    // A shard run with other settings (its judge judged each item twice) is not merged.
    std::fs::write(&manifest, text.replace("\"samples\": 1", "\"samples\": 2")).unwrap();
    let e = merge(&[&s0, &s1, &s2]);
    assert!(e.contains("was run with other settings"), "{e}");
    std::fs::write(&manifest, &text).unwrap();
    // An unsharded run is not a shard.
    run(&cfg, &dir.join("whole"), "single", &[], &[]);
    let e = merge(&[&s0, &s1, &dir.join("whole")]);
    assert!(e.contains("not a shard"), "{e}");
    // A shard's directory takes no other slice.
    let o = run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--mode",
        "single",
        "--shard",
        "2/3",
        "--out",
        s0.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("holds shard 0/3") && e.contains("this run is shard 2/3"),
        "{e}"
    );
    // --out must be new.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x"), "").unwrap();
    let o = run_bin(&[
        "merge",
        s0.to_str().unwrap(),
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    // A bad index names the flag.
    let o = run_bin(&["run", cfg.to_str().unwrap(), "--shard", "3/3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--shard 3/3"));
}

#[test]
fn shards_read_a_shared_cache_without_writing_it() {
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = config(dir, &sim.url);
    let cache = dir.join("team.sqlite");
    let c = cache.to_str().unwrap();
    // The team's cache holds a whole earlier run.
    run(&cfg, &dir.join("earlier"), "single", &["--cache", c], &[]);
    let asked = sim
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let before = std::fs::read(&cache).unwrap();
    let modified = std::fs::metadata(&cache).unwrap().modified().unwrap();
    for i in 0..2 {
        let flags = [
            "--shard",
            &format!("{i}/2"),
            "--cache",
            c,
            "--cache-read-only",
        ];
        run(&cfg, &dir.join(format!("s{i}")), "single", &flags, &[]);
    }
    assert_eq!(
        sim.stats
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        asked,
        "every response served from the shared cache"
    );
    assert!(
        std::fs::read(&cache).unwrap() == before,
        "the cache is unchanged"
    );
    assert_eq!(
        std::fs::metadata(&cache).unwrap().modified().unwrap(),
        modified
    );
    // A read-only cache must exist.
    let o = run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--cache",
        dir.join("none.sqlite").to_str().unwrap(),
        "--cache-read-only",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("none.sqlite: no such cache file"));
}
