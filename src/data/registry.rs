//! The benchmark sets shinpan knows: where each file comes from (a URL pinned to an upstream
//! revision), its sha256 and size, and the licence as the source states it. The files are the
//! upstream's, byte for byte; nothing is converted on download.

/// What a file of a set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A question file (FastChat format), or a variant's.
    Questions,
    /// Reference answers (FastChat answer format).
    References,
    /// Judge prompts (FastChat `judge_prompts.jsonl` format).
    JudgePrompts,
    /// The source's licence text.
    Licence,
    /// Tasks in another format (ELYZA-tasks-100's CSV).
    Tasks,
    /// A raw file converted into llm-jp-eval task files after the fetch (JGLUE).
    Source,
}

/// One file of a set.
#[derive(Debug, Clone, Copy)]
pub struct SetFile {
    /// Its name in the set's directory.
    pub name: &'static str,
    /// What it is.
    pub role: Role,
    /// The pinned URL it is downloaded from.
    pub url: &'static str,
    /// Its sha256 (`None`: the source has no pinned revision; the first download's checksum
    /// is recorded and later ones must match it).
    pub sha256: Option<&'static str>,
    /// Its size in bytes, when pinned.
    pub bytes: Option<u64>,
}

/// One benchmark set.
#[derive(Debug, Clone, Copy)]
pub struct BenchSet {
    /// Its name (`--bench NAME`).
    pub name: &'static str,
    /// The pinned upstream revision (a short commit), or `unpinned`.
    pub version: &'static str,
    /// What it is.
    pub title: &'static str,
    /// Where it comes from.
    pub source: &'static str,
    /// The licence, as the source states it.
    pub licence: &'static str,
    /// Its files.
    pub files: &'static [SetFile],
    /// Variants (`--bench NAME@VARIANT`): name, question file; the first is the default.
    pub variants: &'static [(&'static str, &'static str)],
    /// Its reference answers, if any.
    pub references: Option<&'static str>,
    /// Its judge prompts, if any.
    pub prompts: Option<&'static str>,
}

const APACHE_NO_DATA_LICENCE: &str =
    "Apache-2.0 (the repository's LICENSE); no separate licence for the data";

/// Every set, in the order `shinpan data list` shows them.
pub const SETS: &[BenchSet] = &[
    BenchSet {
        name: "ja-vicuna-qa",
        version: "128a862",
        title: "Japanese Vicuna QA: 80 one-turn questions, GPT-4 reference answers for 10, judge prompts",
        source: "https://github.com/ku-nlp/ja-vicuna-qa-benchmark",
        licence: APACHE_NO_DATA_LICENCE,
        files: &[
            SetFile {
                name: "question.jsonl",
                role: Role::Questions,
                url: "https://raw.githubusercontent.com/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/data/jp_bench/question.jsonl",
                sha256: Some("0a66a22e6c07773c35bfd2c12c1226ff2873d3e7b70981b9dec7ca8efb72b5d0"),
                bytes: Some(16828),
            },
            SetFile {
                name: "reference_answer/gpt-4.jsonl",
                role: Role::References,
                url: "https://raw.githubusercontent.com/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/data/jp_bench/reference_answer/gpt-4/results.jsonl",
                sha256: Some("078918a9138607b91e4614097c1f6b1208e9563616ef4a1cc0339aa6526e4427"),
                bytes: Some(8535),
            },
            SetFile {
                name: "judge_prompts.jsonl",
                role: Role::JudgePrompts,
                url: "https://raw.githubusercontent.com/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/data/jp_bench/judge_prompts.jsonl",
                sha256: Some("429c07ec35405812b26e10273520d8cd6ffe923808ab6021d431d9ae537be684"),
                bytes: Some(5165),
            },
            SetFile {
                name: "LICENSE",
                role: Role::Licence,
                url: "https://raw.githubusercontent.com/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/LICENSE",
                sha256: Some("a8a98e35db57a00aba024681f15c8f5b8e8c60feecd6a3101f26d3491e739d6e"),
                bytes: Some(11346),
            },
        ],
        variants: &[("80", "question.jsonl")],
        references: Some("reference_answer/gpt-4.jsonl"),
        prompts: Some("judge_prompts.jsonl"),
    },
    BenchSet {
        name: "japanese-mt-bench",
        version: "e37eb28",
        title: "Stability AI's Japanese MT-bench: 80 two-turn questions (question_full; @60: the current 60), GPT-4 references, Japanese judge prompts",
        source: "https://github.com/Stability-AI/FastChat/tree/jp-stable",
        licence: APACHE_NO_DATA_LICENCE,
        files: &[
            SetFile {
                name: "question_full.jsonl",
                role: Role::Questions,
                url: "https://raw.githubusercontent.com/Stability-AI/FastChat/e37eb28ee490480f6f4989274ed47c55f7dfce82/fastchat/llm_judge/data/japanese_mt_bench/question_full.jsonl",
                sha256: Some("8f56c8bd5ff93d2120409bc8f77f0020e673c74548c9637f2aace12a323834e5"),
                bytes: Some(42260),
            },
            SetFile {
                name: "question.jsonl",
                role: Role::Questions,
                url: "https://raw.githubusercontent.com/Stability-AI/FastChat/e37eb28ee490480f6f4989274ed47c55f7dfce82/fastchat/llm_judge/data/japanese_mt_bench/question.jsonl",
                sha256: Some("ed8317804df333211a9e5182bb3903f8b8f0ed8739d0371cbf7b90b42e73deaa"),
                bytes: Some(34640),
            },
            SetFile {
                name: "reference_answer/gpt-4.jsonl",
                role: Role::References,
                url: "https://raw.githubusercontent.com/Stability-AI/FastChat/e37eb28ee490480f6f4989274ed47c55f7dfce82/fastchat/llm_judge/data/japanese_mt_bench/reference_answer/gpt-4.jsonl",
                sha256: Some("0631685c4ebc66390970588b658e4d19047fafb0a00ec1d841616686c07b0d6b"),
                bytes: Some(164189),
            },
            SetFile {
                name: "judge_ja_prompts.jsonl",
                role: Role::JudgePrompts,
                url: "https://raw.githubusercontent.com/Stability-AI/FastChat/e37eb28ee490480f6f4989274ed47c55f7dfce82/fastchat/llm_judge/data/judge_ja_prompts.jsonl",
                sha256: Some("a3ef723f4e282ced514c8919773549675f0c0f87a61e5a5f46c320b048803b40"),
                bytes: Some(2449),
            },
            SetFile {
                name: "LICENSE",
                role: Role::Licence,
                url: "https://raw.githubusercontent.com/Stability-AI/FastChat/e37eb28ee490480f6f4989274ed47c55f7dfce82/LICENSE",
                sha256: Some("c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
                bytes: Some(11357),
            },
        ],
        variants: &[("80", "question_full.jsonl"), ("60", "question.jsonl")],
        references: Some("reference_answer/gpt-4.jsonl"),
        prompts: Some("judge_ja_prompts.jsonl"),
    },
    BenchSet {
        name: "rakuda",
        version: "fae1ee7",
        title: "YuzuAI Rakuda: 40 Japanese questions on Japan (v2; @v1: the first 39), its pairwise judge prompt",
        source: "https://github.com/yuzu-ai/japanese-llm-ranking",
        licence: "Apache-2.0 (the repository's LICENSE); the questions' Hugging Face dataset states none here",
        files: &[
            SetFile {
                name: "questions_v2.jsonl",
                role: Role::Questions,
                url: "https://raw.githubusercontent.com/yuzu-ai/japanese-llm-ranking/fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c/jrank/data/rakuda_v2/questions.jsonl",
                sha256: Some("008af104f80f4d8ccabc848253715ee6a95d404d3399b44c88e82a5dbcdbcda2"),
                bytes: Some(8842),
            },
            SetFile {
                name: "questions_v1.jsonl",
                role: Role::Questions,
                url: "https://raw.githubusercontent.com/yuzu-ai/japanese-llm-ranking/fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c/jrank/data/rakuda_v1/questions.jsonl",
                sha256: Some("ce26781dc98acecf1c3d64f07202edb5997811256d8840ced0474db75378960f"),
                bytes: Some(8721),
            },
            SetFile {
                name: "judge_prompts.jsonl",
                role: Role::JudgePrompts,
                url: "https://raw.githubusercontent.com/yuzu-ai/japanese-llm-ranking/fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c/jrank/data/judge_prompts.jsonl",
                sha256: Some("2dd1e84bce78b9b7b12b8e574cc61be30066b4ad5ffaf76b7cd5a726a20b65b5"),
                bytes: Some(1550),
            },
            SetFile {
                name: "LICENSE",
                role: Role::Licence,
                url: "https://raw.githubusercontent.com/yuzu-ai/japanese-llm-ranking/fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c/LICENSE",
                sha256: Some("c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
                bytes: Some(11357),
            },
        ],
        variants: &[("v2", "questions_v2.jsonl"), ("v1", "questions_v1.jsonl")],
        references: None,
        prompts: Some("judge_prompts.jsonl"),
    },
    BenchSet {
        name: "mt-bench",
        version: "0e6d3e4",
        title: "MT-bench (English): 80 two-turn questions, GPT-4 reference answers, FastChat's judge prompts",
        source: "https://github.com/lm-sys/FastChat",
        licence: APACHE_NO_DATA_LICENCE,
        files: &[
            SetFile {
                name: "question.jsonl",
                role: Role::Questions,
                url: "https://raw.githubusercontent.com/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data/mt_bench/question.jsonl",
                sha256: Some("119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7"),
                bytes: Some(48929),
            },
            SetFile {
                name: "reference_answer/gpt-4.jsonl",
                role: Role::References,
                url: "https://raw.githubusercontent.com/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data/mt_bench/reference_answer/gpt-4.jsonl",
                sha256: Some("f957a5bc977badb66885ec970e6cd08527845780313f0995764260e5777b9b3f"),
                bytes: Some(51109),
            },
            SetFile {
                name: "judge_prompts.jsonl",
                role: Role::JudgePrompts,
                url: "https://raw.githubusercontent.com/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data/judge_prompts.jsonl",
                sha256: Some("fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6"),
                bytes: Some(10449),
            },
            SetFile {
                name: "LICENSE",
                role: Role::Licence,
                url: "https://raw.githubusercontent.com/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/LICENSE",
                sha256: Some("c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
                bytes: Some(11357),
            },
        ],
        variants: &[("80", "question.jsonl")],
        references: Some("reference_answer/gpt-4.jsonl"),
        prompts: Some("judge_prompts.jsonl"),
    },
    BenchSet {
        name: "elyza-tasks-100",
        version: "unpinned",
        title: "ELYZA-tasks-100: 100 Japanese tasks, each with a reference output and its own grading criteria (eval_aspect), graded 1-5",
        source: "https://huggingface.co/datasets/elyza/ELYZA-tasks-100",
        licence: "CC BY-SA 4.0 (the dataset card)",
        files: &[SetFile {
            name: "test.csv",
            role: Role::Tasks,
            url: "https://huggingface.co/datasets/elyza/ELYZA-tasks-100/resolve/main/test.csv",
            sha256: None,
            bytes: None,
        }],
        variants: &[("100", "test.csv")],
        references: None,
        prompts: None,
    },
    BenchSet {
        name: "jglue",
        version: "6791a50",
        title: "JGLUE v1.1 (JCommonsenseQA, JNLI, JSQuAD, JSTS), converted into llm-jp-eval 1.4.1's task files: --tasks jglue",
        source: "https://github.com/yahoojapan/JGLUE/tree/v1.1.0",
        licence: "CC BY-SA 4.0 (the repository's LICENSE)",
        files: &[
            SetFile {
                name: "datasets/jcommonsenseqa-v1.1/train-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jcommonsenseqa-v1.1/train-v1.1.json",
                sha256: Some("9b55fae5ecb3aedd6f8ce5bc09196c3b629864668ec6c18eee4d65c0aa48229e"),
                bytes: Some(1879961),
            },
            SetFile {
                name: "datasets/jcommonsenseqa-v1.1/valid-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jcommonsenseqa-v1.1/valid-v1.1.json",
                sha256: Some("0d8d76f3bfa0d174866939882faccdd01fbc2bcd5a76c43748ba0c40a7b3b8d4"),
                bytes: Some(235633),
            },
            SetFile {
                name: "datasets/jnli-v1.1/train-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jnli-v1.1/train-v1.1.json",
                sha256: None,
                bytes: None,
            },
            SetFile {
                name: "datasets/jnli-v1.1/valid-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jnli-v1.1/valid-v1.1.json",
                sha256: Some("39a41d5a112cc6c5baafa7d2464e579843e904a4b7206a4e905517a257f6459c"),
                bytes: Some(632452),
            },
            SetFile {
                name: "datasets/jsquad-v1.1/train-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jsquad-v1.1/train-v1.1.json",
                sha256: None,
                bytes: None,
            },
            SetFile {
                name: "datasets/jsquad-v1.1/valid-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jsquad-v1.1/valid-v1.1.json",
                sha256: Some("fb0a57a35281ff03bbe7f0e878cff5b577985fbe6fcb242e7e8ddb63d1c0ab11"),
                bytes: Some(1976638),
            },
            SetFile {
                name: "datasets/jsts-v1.1/train-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jsts-v1.1/train-v1.1.json",
                sha256: Some("db6bd653270ac9786759920413a48973164d322998f34dd4ae32202af5e66969"),
                bytes: Some(3164816),
            },
            SetFile {
                name: "datasets/jsts-v1.1/valid-v1.1.json",
                role: Role::Source,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/datasets/jsts-v1.1/valid-v1.1.json",
                sha256: Some("7c0bdcb381179f01096c635d058853d96da1e1248d23fe3f5c2beed5dc2d9b1a"),
                bytes: Some(372253),
            },
            SetFile {
                name: "LICENSE",
                role: Role::Licence,
                url: "https://raw.githubusercontent.com/yahoojapan/JGLUE/6791a5003e6deaa6fb2458bcb3aa1f58dc52ef33/LICENSE",
                sha256: Some("3b2890eacd851373001c4a14623458e3adaf1b1967939aa9c38a318e28d61c00"),
                bytes: Some(20138),
            },
        ],
        variants: &[],
        references: None,
        prompts: None,
    },
];

impl BenchSet {
    /// Whether the set is llm-jp-eval tasks (converted after the fetch, used with --tasks)
    /// rather than questions to judge.
    pub fn is_task_set(&self) -> bool {
        self.files.iter().any(|f| f.role == Role::Source)
    }
}

/// The set named `name`.
pub fn find(name: &str) -> Option<&'static BenchSet> {
    SETS.iter().find(|s| s.name == name)
}

/// The path of a pinned URL, which a mirror serves under its base (`--mirror BASE`).
pub fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_is_complete_and_pinned_where_its_source_allows() {
        for s in SETS {
            assert!(!s.variants.is_empty() || s.is_task_set(), "{}", s.name);
            for (_, q) in s.variants {
                assert!(s.files.iter().any(|f| f.name == *q), "{} {q}", s.name);
            }
            for f in s.files {
                assert!(f.url.starts_with("https://"), "{}", f.url);
                if s.version != "unpinned" {
                    // Every URL names the commit; a file whose checksum was not at hand when
                    // the set was added has it recorded at its first fetch.
                    assert!(f.url.contains(s.version), "{} is at {}", f.url, s.version);
                    if let Some(sha) = f.sha256 {
                        assert_eq!(sha.len(), 64);
                    } else {
                        assert!(s.is_task_set(), "{} pins every file", s.name);
                    }
                }
            }
        }
        assert_eq!(
            url_path(SETS[0].files[0].url),
            "/ku-nlp/ja-vicuna-qa-benchmark/128a862da6a4478c3e80ab3c3b716d1417380751/data/jp_bench/question.jsonl"
        );
    }
}
