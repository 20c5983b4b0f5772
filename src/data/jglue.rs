//! JGLUE v1.1 (JCommonsenseQA, JNLI, JSQuAD, JSTS) converted into llm-jp-eval's evaluation
//! files exactly as llm-jp-eval 1.4.1's preprocessors convert them (its
//! `src/llm_jp_eval/jaster/{jcommonsenseqa,jnli,jsquad,jsts}.py`, with the JGLUE URLs pinned to
//! v1.1.0 as llm-jp/scripts' installer pins them): each train file shuffled with Python's
//! `random.seed(42)`, its first 90% `train/`, the rest `dev/`; the valid file `test/`; the file
//! written as `json.dump(…, ensure_ascii=False, indent=4)`. The JCommonsenseQA and JSTS
//! dev files this writes are byte-identical to the ones llm-jp/scripts checks by sha256
//! (`llm-jp-eval-v1.4.1/resources/sha256sums.csv` at 0a70387); a test holds them to it.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::DataError;
use crate::tasks::Sample;

/// One task's preprocessor: its instruction, cap, metrics and how a raw record reads.
struct Task {
    name: &'static str,
    instruction: &'static str,
    output_length: u32,
    metrics: &'static [&'static str],
    train: Option<&'static str>,
    valid: &'static str,
    read: fn(&Value) -> Option<Vec<Sample>>,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)?.as_str().map(str::to_string)
}

/// Python's `str()` of a JSON number: an integer as written, a float as its shortest repr
/// with a `.0` when whole (`0.0`, `3.8`).
fn py_str(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Number(n) => Some(format!("{:?}", n.as_f64()?)),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

const TASKS: &[Task] = &[
    Task {
        name: "jcommonsenseqa",
        instruction: "質問と回答の選択肢を入力として受け取り、選択肢から回答を選択してください。なお、回答は選択肢の番号（例：0）でするものとします。 回答となる数値をint型で返し、他には何も含めないことを厳守してください。",
        output_length: 1,
        metrics: &["exact_match"],
        train: Some("datasets/jcommonsenseqa-v1.1/train-v1.1.json"),
        valid: "datasets/jcommonsenseqa-v1.1/valid-v1.1.json",
        read: |v| {
            let c = |i: u32| text(v, &format!("choice{i}"));
            Some(vec![Sample {
                input: format!(
                    "質問：{}\n選択肢：0.{},1.{},2.{},3.{},4.{}",
                    text(v, "question")?,
                    c(0)?,
                    c(1)?,
                    c(2)?,
                    c(3)?,
                    c(4)?
                ),
                output: py_str(v.get("label")?)?,
            }])
        },
    },
    Task {
        name: "jnli",
        instruction: "前提と仮説の関係をentailment、contradiction、neutralの中から回答してください。それ以外には何も含めないことを厳守してください。\n\n制約：\n- 前提から仮説が、論理的知識や常識的知識を用いて導出可能である場合はentailmentと出力\n- 前提と仮説が両立しえない場合はcontradictionと出力\n- そのいずれでもない場合はneutralと出力",
        output_length: 3,
        metrics: &["exact_match"],
        train: Some("datasets/jnli-v1.1/train-v1.1.json"),
        valid: "datasets/jnli-v1.1/valid-v1.1.json",
        read: |v| {
            Some(vec![Sample {
                input: format!(
                    "前提：{}\n仮説：{}",
                    text(v, "sentence1")?,
                    text(v, "sentence2")?
                ),
                output: text(v, "label")?,
            }])
        },
    },
    Task {
        name: "jsquad",
        instruction: "質問に対する回答を文章から一言で抽出してください。回答は名詞で答えてください。 それ以外には何も含めないことを厳守してください。",
        output_length: 25,
        metrics: &["char_f1"],
        train: Some("datasets/jsquad-v1.1/train-v1.1.json"),
        valid: "datasets/jsquad-v1.1/valid-v1.1.json",
        // One JSON document: articles → paragraphs → questions, each answered by its first
        // answer.
        read: |doc| {
            let mut out = Vec::new();
            for article in doc.get("data")?.as_array()? {
                for p in article.get("paragraphs")?.as_array()? {
                    let context = text(p, "context")?;
                    for q in p.get("qas")?.as_array()? {
                        out.push(Sample {
                            input: format!("文章：{context}\n質問：{}", text(q, "question")?),
                            output: text(q.get("answers")?.get(0)?, "text")?,
                        });
                    }
                }
            }
            Some(out)
        },
    },
    Task {
        name: "jsts",
        instruction: "日本語の文ペアの意味がどのくらい近いかを判定し、類似度を0.0〜5.0までの間の値で付与してください。0.0に近いほど文ペアの意味が異なり、5.0に近いほど文ペアの意味が似ていることを表しています。整数値のみを返し、それ以外には何も含めないことを厳守してください。",
        output_length: 3,
        metrics: &["pearson", "spearman"],
        train: Some("datasets/jsts-v1.1/train-v1.1.json"),
        valid: "datasets/jsts-v1.1/valid-v1.1.json",
        read: |v| {
            Some(vec![Sample {
                input: format!(
                    "文1：{}\n文2：{}",
                    text(v, "sentence1")?,
                    text(v, "sentence2")?
                ),
                output: py_str(v.get("label")?)?,
            }])
        },
    },
];

/// The file llm-jp-eval writes, field by field in its order.
#[derive(Serialize)]
struct OutputInfo<'a> {
    instruction: &'a str,
    output_length: u32,
    metrics: &'a [&'a str],
    few_shots: [Sample; 0],
    samples: &'a [Sample],
}

/// Python's `random` (MT19937) as far as `random.seed(n)` and `random.shuffle` use it.
struct PyRandom {
    mt: [u32; 624],
    index: usize,
}

impl PyRandom {
    /// `random.seed(n)` for a small non-negative int: `init_by_array([n])`.
    fn seed(n: u32) -> PyRandom {
        let mut mt = [0u32; 624];
        mt[0] = 19_650_218;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        let key = [n];
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..624.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..623 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom { mt, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[k] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `_randbelow(n)`: `getrandbits(n.bit_length())` until below `n` (n < 2^32).
    fn below(&mut self, n: usize) -> usize {
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = (self.next_u32() >> (32 - k)) as usize;
            if r < n {
                return r;
            }
        }
    }

    /// `random.shuffle(x)`.
    fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.below(i + 1);
            x.swap(i, j);
        }
    }
}

/// `json.dumps(…, ensure_ascii=False, indent=4)`.
fn python_json(info: &OutputInfo) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    info.serialize(&mut ser).expect("serialises");
    out
}

fn read_raw(task: &Task, path: &Path) -> Result<Vec<Sample>, DataError> {
    let bad = |what: String| DataError(format!("{}: {what}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let docs: Vec<Value> = if task.name == "jsquad" {
        vec![serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?]
    } else {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l.trim()).map_err(|e| bad(format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        out.extend((task.read)(d).ok_or_else(|| {
            bad(format!(
                "record {}: not a {} record (a field is missing)",
                i + 1,
                task.name
            ))
        })?);
    }
    Ok(out)
}

/// Converts the raw files in `dir` into `dir/evaluation/{train,dev,test}/<task>.json`;
/// returns the files written. Every file is written atomically.
pub fn convert(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut written = Vec::new();
    let eval = dir.join("evaluation");
    let mut write = |split: &str, t: &Task, samples: &[Sample]| -> Result<(), DataError> {
        let info = OutputInfo {
            instruction: t.instruction,
            output_length: t.output_length,
            metrics: t.metrics,
            few_shots: [],
            samples,
        };
        let path = eval.join(split).join(format!("{}.json", t.name));
        crate::store::write_atomic(&path, &python_json(&info))
            .map_err(|e| DataError(format!("{}: {e}", path.display())))?;
        written.push(path);
        Ok(())
    };
    for t in TASKS {
        if let Some(train) = t.train {
            let mut samples = read_raw(t, &dir.join(train))?;
            let mut rng = PyRandom::seed(42);
            rng.shuffle(&mut samples);
            // Python's int(len * 0.9).
            let cut = (samples.len() as f64 * 0.9) as usize;
            write("train", t, &samples[..cut])?;
            write("dev", t, &samples[cut..])?;
        }
        let test = read_raw(t, &dir.join(t.valid))?;
        write("test", t, &test)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python 3: `random.seed(42); [random.getrandbits(32) for _ in range(3)]` and
    /// `x = list(range(10)); random.seed(42); random.shuffle(x)`.
    #[test]
    fn pythons_random_is_reproduced() {
        let mut r = PyRandom::seed(42);
        let first: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(first, [2746317213, 478163327, 107420369]);
        let mut x: Vec<u32> = (0..10).collect();
        PyRandom::seed(42).shuffle(&mut x);
        assert_eq!(x, [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]);
    }

    #[test]
    fn numbers_are_written_as_python_writes_them() {
        assert_eq!(py_str(&serde_json::json!(0.0)).unwrap(), "0.0");
        assert_eq!(py_str(&serde_json::json!(3.8)).unwrap(), "3.8");
        assert_eq!(py_str(&serde_json::json!(4)).unwrap(), "4");
    }
}
