//! Append-only JSONL files: a reader that reports the line of any bad record, and one writer
//! thread per output file, fed by a channel, flushing record by record so a killed run keeps
//! everything it finished.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// Problems reading a JSONL file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
}

/// Reads every record of a JSONL file with its 1-based line number, streaming (the file is
/// never held whole). Blank lines are skipped. A last line without a newline that does not
/// parse is a record torn by a killed writer and is dropped; a bad line anywhere else is an
/// error naming the line.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<(usize, T)>, StoreError> {
    let mut out = Vec::new();
    each_jsonl(path, |line, v| out.push((line, v)))?;
    Ok(out)
}

/// Like [`read_jsonl`], but appends the records alone to `out`, so a million records are never
/// held twice (with their line numbers, then without).
pub fn read_jsonl_into<T: DeserializeOwned>(
    path: &Path,
    out: &mut Vec<T>,
) -> Result<(), StoreError> {
    each_jsonl(path, |_, v| out.push(v))
}

/// Hands every record of a JSONL file, with its line number, to `f` as it is read (see
/// [`read_jsonl`]), so a caller keeps only what it needs of each.
pub fn each_jsonl<T: DeserializeOwned>(
    path: &Path,
    mut f: impl FnMut(usize, T),
) -> Result<(), StoreError> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let mut line = std::str::from_utf8(&buf).map_err(|_| StoreError::Parse {
            line: line_no,
            message: "not UTF-8 text".into(),
        })?;
        if line_no == 1 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<T>(line).or_else(|e| {
            // Python's json and pandas write a missing number as the bare token NaN, which
            // JSON has not: read it as null (a score left out, as pandas leaves it out).
            match nan_as_null(line) {
                Some(fixed) => serde_json::from_str::<T>(&fixed),
                None => Err(e),
            }
        });
        match parsed {
            Ok(v) => f(line_no, v),
            Err(_) if !complete => break,
            Err(e) => {
                return Err(StoreError::Parse {
                    line: line_no,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Like [`read_jsonl`], but a missing file reads as empty.
pub fn read_jsonl_if_exists<T: DeserializeOwned>(
    path: &Path,
) -> Result<Vec<(usize, T)>, StoreError> {
    match read_jsonl(path) {
        Err(StoreError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

/// The single writer of one JSONL file. Records are serialised by the sender and written,
/// newline-terminated and flushed, by a dedicated thread in the order they were sent.
pub struct JsonlWriter {
    path: PathBuf,
    tx: mpsc::UnboundedSender<String>,
    failed: Failure,
    thread: JoinHandle<io::Result<u64>>,
}

/// The error that stopped a writer thread, for the senders that find it stopped: a full disk
/// is said as such (`No space left on device (os error 28): OUT/…`), not as a closed channel.
type Failure = std::sync::Arc<std::sync::Mutex<Option<(io::ErrorKind, String)>>>;

fn failure_of(failed: &Failure, path: &Path) -> io::Error {
    match &*failed.lock().unwrap_or_else(|p| p.into_inner()) {
        Some((kind, msg)) => io::Error::new(*kind, msg.clone()),
        None => io::Error::other(format!("{}: the writer has stopped", path.display())),
    }
}

/// A cloneable handle that sends records to a [`JsonlWriter`].
#[derive(Clone)]
pub struct JsonlSender {
    path: PathBuf,
    tx: mpsc::UnboundedSender<String>,
    failed: Failure,
}

impl JsonlSender {
    /// Queues one record for writing; fails with the writer's own error once it has
    /// stopped on one.
    pub fn send<T: Serialize>(&self, record: &T) -> io::Result<()> {
        // The record and its newline go to the file in one write: a kill between two writes
        // would leave a whole record without its newline, which a reader counts and the next
        // writer would have to guess about.
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        self.tx
            .send(line)
            .map_err(|_| failure_of(&self.failed, &self.path))
    }
}

impl JsonlWriter {
    /// Opens `path` for appending (creating parent directories). A last line without its
    /// newline is settled first, by the rule the readers apply: a whole record (it parses)
    /// is kept and its newline added; a torn one (a killed writer's) is cut off. Appended
    /// records then start on a line of their own, and what resume counted stays.
    pub fn open(path: &Path) -> io::Result<Self> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{e}: {}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(named)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(named)?;
        truncate_torn_tail(&mut file).map_err(named)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let failed: Failure = Default::default();
        let (shown, slot) = (path.to_path_buf(), failed.clone());
        let thread = std::thread::Builder::new()
            .name(format!("writer {}", path.display()))
            .spawn(move || {
                let mut written = 0u64;
                let mut write = || -> io::Result<()> {
                    while let Some(line) = rx.blocking_recv() {
                        file.write_all(line.as_bytes())?;
                        file.flush()?;
                        written += 1;
                    }
                    file.sync_data()
                };
                match write() {
                    Ok(()) => Ok(written),
                    Err(e) => {
                        let e = io::Error::new(e.kind(), format!("{e}: {}", shown.display()));
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some((e.kind(), e.to_string()));
                        Err(e)
                    }
                }
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            tx,
            failed,
            thread,
        })
    }

    /// A handle for sending records from any task.
    pub fn sender(&self) -> JsonlSender {
        JsonlSender {
            path: self.path.clone(),
            tx: self.tx.clone(),
            failed: self.failed.clone(),
        }
    }

    /// Queues one record for writing.
    pub fn send<T: Serialize>(&self, record: &T) -> io::Result<()> {
        self.sender().send(record)
    }

    /// Waits until every queued record is on disk; returns how many were written. Senders
    /// still alive elsewhere must be dropped first, or this waits for them. The error names
    /// the file.
    pub fn finish(self) -> io::Result<u64> {
        drop(self.tx);
        let path = self.path;
        self.thread
            .join()
            .map_err(|_| io::Error::other(format!("writer of {} panicked", path.display())))?
    }
}

fn truncate_torn_tail(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Scan back from the end for the last newline, a block at a time.
    let mut end = len;
    let mut buf = vec![0u8; 8192];
    let keep = loop {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(pos) = buf[..n].iter().rposition(|&b| b == b'\n') {
            break start + pos as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    if keep == len {
        return Ok(());
    }
    let mut tail = Vec::with_capacity((len - keep) as usize);
    file.seek(SeekFrom::Start(keep))?;
    Read::by_ref(file).take(len - keep).read_to_end(&mut tail)?;
    if whole_record(&tail) {
        // The file is opened for appending: this lands at the end.
        file.write_all(b"\n")?;
    } else {
        file.set_len(keep)?;
    }
    Ok(())
}

/// Whether an unterminated last line is a whole record, as [`each_jsonl`] reads it: text that
/// parses as JSON (a torn record never does: its closing bracket is what a kill cuts).
fn whole_record(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.trim().is_empty() || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// A writer opened on first use, so a run without anything to write leaves no empty file.
pub struct LazyWriter {
    path: PathBuf,
    writer: Option<JsonlWriter>,
}

impl LazyWriter {
    /// A writer of `path`, not opened yet.
    pub fn new(path: PathBuf) -> Self {
        Self { path, writer: None }
    }

    /// Queues one record, opening the file first if needed.
    pub fn send<T: Serialize>(&mut self, v: &T) -> io::Result<()> {
        let w = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(JsonlWriter::open(&self.path)?),
        };
        w.send(v)
    }

    /// Waits until every queued record is on disk.
    pub fn finish(self) -> io::Result<()> {
        match self.writer {
            Some(w) => w.finish().map(|_| ()),
            None => Ok(()),
        }
    }
}

/// Reads a small file whole, naming the file in the error.
pub fn read_to_string(path: &Path) -> anyhow::Result<String> {
    let mut s = String::new();
    BufReader::new(File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
        .read_to_string(&mut s)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(s)
}

/// Writes a whole file atomically (temporary file, then rename), so a reader never sees half
/// a report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Half a file on a full disk is space the next write needs.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes what [`write_atomic`] leaves when it is killed before its rename: the `*.tmp`
/// files in `dir` and its subdirectories `subdirs` (call it holding the directory's lock, so
/// no writer of its own is at work). Returns how many were removed.
pub fn remove_stale_temps(dir: &Path, subdirs: &[&str]) -> usize {
    let mut removed = 0;
    for d in std::iter::once(dir.to_path_buf()).chain(subdirs.iter().map(|s| dir.join(s))) {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "tmp")
                && e.file_type().is_ok_and(|t| t.is_file())
                && std::fs::remove_file(&p).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Counts the complete lines of a file (for progress messages).
pub fn count_lines(path: &Path) -> usize {
    File::open(path)
        .map(|f| BufReader::new(f).lines().count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Serialize, Debug, PartialEq)]
    struct R {
        a: u32,
    }

    #[test]
    fn torn_last_line_is_dropped_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let rows: Vec<(usize, R)> = read_jsonl(&p).unwrap();
        assert_eq!(rows, vec![(1, R { a: 1 }), (2, R { a: 2 })]);
        let w = JsonlWriter::open(&p).unwrap();
        w.send(&R { a: 3 }).unwrap();
        assert_eq!(w.finish().unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
    }

    #[test]
    fn a_whole_record_without_its_newline_is_kept_as_the_reader_counted_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, "{\"a\":1}\n{\"a\":2}").unwrap();
        let rows: Vec<(usize, R)> = read_jsonl(&p).unwrap();
        assert_eq!(rows.len(), 2, "the reader counts the unterminated record");
        let w = JsonlWriter::open(&p).unwrap();
        w.send(&R { a: 3 }).unwrap();
        assert_eq!(w.finish().unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
            "and the writer keeps it"
        );
    }

    #[test]
    fn bad_middle_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, "{\"a\":1}\nnot json\n{\"a\":2}\n").unwrap();
        let err = read_jsonl::<R>(&p).unwrap_err().to_string();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}

/// `line` with every bare `NaN`, `Infinity` or `-Infinity` outside strings replaced by `null`;
/// `None` when it has none.
pub(crate) fn nan_as_null(line: &str) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["NaN", "-Infinity", "Infinity"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            rest = &rest[token.len()..];
            changed = true;
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

#[cfg(test)]
mod nan_tests {
    #[test]
    fn bare_nan_outside_strings_reads_as_null() {
        assert_eq!(
            super::nan_as_null(r#"{"score": NaN, "judgment": "NaN \" NaN", "x": -Infinity}"#)
                .as_deref(),
            Some(r#"{"score": null, "judgment": "NaN \" NaN", "x": null}"#)
        );
        assert_eq!(super::nan_as_null(r#"{"a": "NaN"}"#), None);
    }
}
