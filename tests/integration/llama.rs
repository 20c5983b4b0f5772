//! End to end against a real llama.cpp `llama-server` with a real small model
//! (SmolLM2-135M-Instruct), both installed by `scripts/fetch-llama.sh` (run by `.ci/run`).
//! The model is far too small to judge well: that is the point, it exercises verdict parsing,
//! re-asks and error recording on real, messy output.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cached(name: &str) -> PathBuf {
    let base = std::env::var_os("SHINPAN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/shinpan"));
    base.join(name)
}

/// Starts llama-server on a free port and waits until it answers.
fn start() -> Option<(Server, String)> {
    let bin = cached("llama-server");
    let model = cached("smollm2.gguf");
    if !bin.exists() || !model.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide {} and {} (scripts/fetch-llama.sh)",
            bin.display(),
            model.display()
        );
        eprintln!("skipping: run scripts/fetch-llama.sh to install llama-server and the model");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .args([
            "-m",
            model.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
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
                use std::io::{Read, Write};
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
            "64",
            "--reasks",
            "1",
            "--concurrency",
            "2",
            "--timeout",
            "120",
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
    let o = crate::shinpan_bin().args(args("single")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Real answers from the real model, every turn.
    let answers = std::fs::read_to_string(out.join("answers/smol-a.jsonl")).unwrap();
    let rows: Vec<Value> = answers
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for r in &rows {
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
    // Every judgment has a 1-10 score or an error with its reason; the report agrees.
    let judged = std::fs::read_to_string(out.join("judgments/smol-judge_single.jsonl")).unwrap();
    let judged: Vec<Value> = judged
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(judged.len(), 2 * 4, "2 models × 4 turns");
    let mut errors = 0;
    for j in &judged {
        match j["score"].as_f64() {
            Some(s) => assert!((1.0..=10.0).contains(&s), "{j}"),
            None => {
                errors += 1;
                assert!(!j["error"].as_str().unwrap().is_empty(), "{j}");
            }
        }
    }
    let models = report["models"].as_array().unwrap();
    let reported_errors: u64 = models.iter().map(|m| m["errors"].as_u64().unwrap()).sum();
    let reported_n: u64 = models.iter().map(|m| m["n"].as_u64().unwrap()).sum();
    assert_eq!((reported_n + reported_errors) as usize, judged.len());
    assert_eq!(reported_errors as usize, errors);

    // Pairwise on the same answers: nothing is regenerated, every game is judged both ways.
    let o = crate::shinpan_bin()
        .args(args("pairwise-baseline"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("answers: 0 generated, 6 reused"),
        "{stderr}"
    );
    let pairs = std::fs::read_to_string(out.join("judgments/smol-judge_pair.jsonl")).unwrap();
    let pairs: Vec<Value> = pairs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(pairs.len(), 4, "4 turns, smol-a against smol-b");
    for p in &pairs {
        for g in ["g1_winner", "g2_winner"] {
            let w = p[g].as_str().unwrap();
            assert!(["model_1", "model_2", "tie", "error"].contains(&w), "{p}");
        }
        assert!(!p["g1_judgment"].as_str().unwrap().is_empty() || p["g1_error"].is_string());
    }
}
