//! End to end against a real llama.cpp `llama-server` with a real small model
//! (SmolLM2-135M-Instruct), both installed by `scripts/fetch-llama.sh` (run by `.ci/run`) into
//! `$SHINPAN_LLAMA_DIR`, else `~/.cache/shinpan`. The model is far too small to judge well,
//! so the verdicts are asked for as schema-constrained JSON (`--structured-verdicts`, which
//! llama.cpp's server honours), with the tag parser as the fallback; the test requires that
//! most verdicts are read from the real model's replies and that the raw text of the others
//! is kept with the reason.

use std::io::Write;
use std::net::TcpListener;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{installed, jsonl, say};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts llama-server on a free port and waits until it answers.
fn start() -> Option<(Server, String)> {
    let tools = installed(
        "SHINPAN_LLAMA_DIR",
        "",
        &["llama-server", "smollm2.gguf"],
        "scripts/fetch-llama.sh",
        "SKIPPED llama::a_real_llama_cpp_server_end_to_end",
    )?;
    let (bin, model) = (&tools[0], &tools[1]);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-m", model.to_str().unwrap(), "--host", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .args(["-c", "8192", "-np", "2", "-t", "2", "--seed", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("llama-server starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .and_then(|mut s| {
                use std::io::Read;
                s.write_all(b"GET /health HTTP/1.0\r\n\r\n").ok()?;
                let mut buf = String::new();
                s.read_to_string(&mut buf).ok()?;
                Some(buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200"))
            })
            .unwrap_or(false);
        if ok {
            return Some((server, format!("http://127.0.0.1:{port}/v1")));
        }
        assert!(
            Instant::now() < deadline,
            "llama-server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

const QUESTIONS: &str = r#"{"question_id": 1, "category": "stem", "turns": ["What is the boiling point of water at sea level?"]}
{"question_id": 2, "category": "writing", "turns": ["Write one sentence about cats.", "Now make it shorter."]}
{"question_id": 3, "category": "math", "turns": ["What is 12 + 30?"], "reference": ["42"]}
"#;

/// Verdicts read and judgments made, over a judgment file's orders (`g1`/`g2`) or grades.
fn parsed(records: &[Value]) -> (usize, usize) {
    let mut read = 0;
    let mut all = 0;
    for r in records {
        if r.get("score").is_some() {
            all += 1;
            match r["score"].as_f64() {
                Some(s) => {
                    assert!((1.0..=10.0).contains(&s), "{r}");
                    read += 1;
                }
                None => {
                    // The raw reply is kept, and why it could not be read.
                    assert!(!r["judgment"].as_str().unwrap().is_empty(), "{r}");
                    assert!(!r["error"].as_str().unwrap().is_empty(), "{r}");
                }
            }
        } else {
            for g in ["g1", "g2"] {
                all += 1;
                let w = r[format!("{g}_winner")].as_str().unwrap();
                assert!(["model_1", "model_2", "tie", "error"].contains(&w), "{r}");
                if w == "error" {
                    assert!(r[format!("{g}_error")].is_string(), "{r}");
                    assert!(
                        !r[format!("{g}_judgment")].as_str().unwrap().is_empty(),
                        "{r}"
                    );
                } else {
                    read += 1;
                }
            }
        }
    }
    (read, all)
}

#[test]
fn a_real_llama_cpp_server_end_to_end() {
    let Some((_server, url)) = start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.jsonl");
    std::fs::write(&q, QUESTIONS).unwrap();
    let out = dir.path().join("run");
    let args = |mode: &str| {
        let mut a: Vec<String> = [
            "run",
            "--models",
            "smol-a,smol-b",
            "--judge",
            "smol-judge",
            "--mode",
            mode,
            "--questions",
            q.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--base-url",
            &url,
            "--api-key-env",
            "",
            "--max-tokens",
            "48",
            "--judge-max-tokens",
            "256",
            "--reasks",
            "1",
            "--concurrency",
            "2",
            "--timeout",
            "120",
            "--structured-verdicts",
            // A 135M model: a few unreadable verdicts must not fail the run; the test
            // counts them itself.
            "--allow-failures",
            "50%",
            "--format",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if mode == "pairwise-baseline" {
            a.extend(["--baseline".to_string(), "smol-b".to_string()]);
        }
        a
    };
    let started = Instant::now();
    let o = crate::shinpan_bin().args(args("single")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Real answers from the real model, every turn.
    let rows = jsonl(&out.join("answers/smol-a.jsonl"));
    assert_eq!(rows.len(), 3);
    // The real server said what it serves (its /v1/models), and the run said it.
    assert!(
        stderr.contains("serves smol") && stderr.contains("as llama.cpp"),
        "{stderr}"
    );
    for r in &rows {
        let served = r["served"].as_str().unwrap();
        assert!(
            served.contains(";weights=llama.cpp ") && served.contains("size="),
            "{served}"
        );
        let turns = r["choices"][0]["turns"].as_array().unwrap();
        assert!(
            turns.iter().all(|t| !t.as_str().unwrap().trim().is_empty()),
            "{r}"
        );
        assert!(
            r["usage"]["completion_tokens"].as_u64().unwrap() > 0,
            "usage recorded: {r}"
        );
    }
    let judged = jsonl(&out.join("judgments/smol-judge_single.jsonl"));
    assert_eq!(judged.len(), 2 * 4, "2 models × 4 turns");
    let (single_read, single_all) = parsed(&judged);
    // Every report row accounts for every judgment: counted or an error.
    let models = report["models"].as_array().unwrap();
    let reported_errors: u64 = models.iter().map(|m| m["errors"].as_u64().unwrap()).sum();
    let reported_n: u64 = models.iter().map(|m| m["n"].as_u64().unwrap()).sum();
    assert_eq!(
        (reported_n as usize, reported_errors as usize),
        (single_read, single_all - single_read)
    );
    assert_eq!(report["partial"], single_read < single_all);

    // Pairwise on the same answers: nothing is regenerated, every game is judged both ways.
    let o = crate::shinpan_bin()
        .args(args("pairwise-baseline"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "answers: 0 made now, 0 from the response cache, 6 reused from the run directory"
        ),
        "{stderr}"
    );
    let pairs = jsonl(&out.join("judgments/smol-judge_pair.jsonl"));
    assert_eq!(pairs.len(), 4, "4 turns, smol-a against smol-b");
    let (pair_read, pair_all) = parsed(&pairs);
    let (read, all) = (single_read + pair_read, single_all + pair_all);
    // The real model's output rate over the test: every completion token it billed (answers,
    // grades, both orders of each game, re-asks) per second of the two runs.
    let secs = started.elapsed().as_secs_f64();
    let completion = |rows: &[Value]| -> u64 {
        rows.iter()
            .filter_map(|r| r["usage"]["completion_tokens"].as_u64())
            .sum()
    };
    let answers_b = jsonl(&out.join("answers/smol-b.jsonl"));
    let tokens =
        completion(&rows) + completion(&answers_b) + completion(&judged) + completion(&pairs);
    say(&format!(
        "llama end to end: {read} of {all} verdicts read from the real model's replies ({single_read}/{single_all} grades, {pair_read}/{pair_all} pairwise orders) in {secs:.0} s; {tokens} completion tokens, {:.1} tokens/s with 2 slots",
        tokens as f64 / secs
    ));
    assert!(
        read * 4 >= all * 3,
        "most verdicts must be read from the real model: {read} of {all}"
    );
}
