//! MeCab with the IPA dictionary, as sacrebleu's `ja-mecab` tokenizer runs it for `bleu_ja`
//! (`MeCab.Tagger(ipadic.MECAB_ARGS + " -Owakati")`, the line stripped, the output
//! stripped): one `mecab -Owakati` process, started on first use and shared, fed a line and
//! read a line at a time. The command is `$SHINPAN_MECAB` (default `mecab`); the dictionary
//! `$SHINPAN_MECAB_DIC` (a directory with `sys.dic`, such as the `ipadic` Python package's
//! `DICDIR`), else MeCab's own default. sacrebleu accepts only the IPA dictionary of
//! 392,126 entries with no user dictionary, and so does this: Debian's `mecab-ipadic`
//! adds one (令和), which changes how that word tokenises.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::tasks::normalize::py_strip;

/// The IPA dictionary's size as sacrebleu checks it (`tokenizer_ja_mecab.py`).
pub const IPADIC_SIZE: u64 = 392_126;

/// A running `mecab -Owakati`, checked to have the IPA dictionary sacrebleu accepts.
pub struct Mecab {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

static MECAB: OnceLock<Result<Mutex<Mecab>, String>> = OnceLock::new();

/// How to get a dictionary sacrebleu accepts.
const HOW: &str = "install MeCab (Debian: `apt install mecab`) and the IPA dictionary sacrebleu uses (`pip install ipadic`), then `export SHINPAN_MECAB_DIC=$(python3 -c 'import ipadic; print(ipadic.DICDIR)')`";

/// The command and the dictionary the environment names.
fn from_env() -> (String, Option<PathBuf>) {
    let cmd = std::env::var("SHINPAN_MECAB")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "mecab".to_string());
    let dic = std::env::var_os("SHINPAN_MECAB_DIC")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    (cmd, dic)
}

/// The arguments that choose a dictionary (its `mecabrc` too, so the system's cannot add a
/// user dictionary).
fn dictionary_args(dic: Option<&Path>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(dic) = dic {
        let rc = dic.join("mecabrc");
        if rc.is_file() {
            args.push("-r".to_string());
            args.push(rc.display().to_string());
        }
        args.push("-d".to_string());
        args.push(dic.display().to_string());
    }
    args
}

/// Checks the dictionary `mecab -D` describes: one dictionary, UTF-8, of the IPA
/// dictionary's size.
fn check_dictionary(cmd: &str, args: &[String]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .arg("-D")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "bleu_ja needs MeCab with the IPA dictionary, and `{cmd}` does not run ({e}): {HOW}"
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `mecab -D` exits 1 after printing; what it printed tells.
    if !text.contains("filename") {
        return Err(format!(
            "bleu_ja needs MeCab with the IPA dictionary, and `{cmd} -D` failed ({}): {HOW}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let field = |name: &str| -> Vec<&str> {
        text.lines()
            .filter_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim())
            .collect()
    };
    let files = field("filename");
    if files.len() != 1 {
        return Err(format!(
            "bleu_ja: MeCab loads {} dictionaries ({}); sacrebleu's ja-mecab allows the IPA dictionary alone, with no user dictionary: {HOW}",
            files.len(),
            files.join(", ")
        ));
    }
    let charset = field("charset").first().map(|c| c.to_ascii_lowercase());
    if !matches!(charset.as_deref(), Some("utf8" | "utf-8")) {
        return Err(format!(
            "bleu_ja: MeCab's dictionary {} is {}, not UTF-8: {HOW}",
            files[0],
            charset.as_deref().unwrap_or("of no stated charset")
        ));
    }
    let size: Option<u64> = field("size").first().and_then(|s| s.parse().ok());
    if size != Some(IPADIC_SIZE) {
        let debian = if size == Some(IPADIC_SIZE + 1) {
            " (Debian's mecab-ipadic adds 令和)"
        } else {
            ""
        };
        return Err(format!(
            "bleu_ja: MeCab's dictionary {} has {} entries{debian}; sacrebleu's ja-mecab accepts only the IPA dictionary of {IPADIC_SIZE}: {HOW}",
            files[0],
            size.map_or_else(|| "an unknown number of".to_string(), |s| s.to_string()),
        ));
    }
    Ok(())
}

impl Mecab {
    /// Starts `cmd` (`mecab`) with the dictionary at `dic` (MeCab's default when `None`),
    /// after checking it is the IPA dictionary sacrebleu accepts; else why not and how to fix.
    pub fn start(cmd: &str, dic: Option<&Path>) -> Result<Mecab, String> {
        let args = dictionary_args(dic);
        check_dictionary(cmd, &args)?;
        // -b: a line longer than MeCab's input buffer (8 KiB by default) would be split.
        let mut child = Command::new(cmd)
            .args(&args)
            .args(["-Owakati", "-b", "67108864"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("bleu_ja: `{cmd}` does not start ({e}): {HOW}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Mecab {
            _child: child,
            stdin,
            stdout,
        })
    }

    /// A line tokenised as sacrebleu's `ja-mecab` does it: stripped, MeCab's wakati output
    /// stripped (tokens joined by one space). A newline inside is a space to MeCab (both
    /// are its SPACE class), so it is sent as one.
    pub fn tokenize(&mut self, line: &str) -> Result<String, String> {
        let line = py_strip(line).replace('\n', " ");
        let mut out = String::new();
        let n = self
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.write_all(b"\n"))
            .and_then(|()| self.stdin.flush())
            .and_then(|()| self.stdout.read_line(&mut out))
            .map_err(|e| format!("bleu_ja: MeCab stopped answering ({e})"))?;
        if n == 0 {
            return Err("bleu_ja: MeCab exited".to_string());
        }
        Ok(py_strip(&out).to_string())
    }
}

fn shared() -> Result<&'static Mutex<Mecab>, String> {
    MECAB
        .get_or_init(|| {
            let (cmd, dic) = from_env();
            Mecab::start(&cmd, dic.as_deref()).map(Mutex::new)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Whether `bleu_ja` can be computed here: MeCab runs with the IPA dictionary sacrebleu
/// accepts; else why not and how to fix it.
pub fn ready() -> Result<(), String> {
    shared().map(|_| ())
}

/// A line tokenised as sacrebleu's `ja-mecab` does it, by the shared MeCab
/// ([`Mecab::tokenize`]).
pub fn tokenize(line: &str) -> Result<String, String> {
    shared()?
        .lock()
        .map_err(|_| "bleu_ja: MeCab failed earlier".to_string())?
        .tokenize(line)
}
