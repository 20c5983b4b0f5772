//! Deterministic facts about an answer's text: its length, whether it is in Japanese, and how
//! much Markdown it uses (what style control corrects for).

use serde::{Deserialize, Deserializer};

/// Length and language of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextStats {
    /// Characters (Unicode scalar values).
    pub chars: u32,
    /// Whether the text reads as Japanese (see [`is_japanese`]); `None` when it has no
    /// letters to tell by (a bare number, code symbols).
    pub japanese: Option<bool>,
    /// Markdown headers, list items and bold spans outside code blocks (see
    /// [`markdown_counts`]), each at most 255.
    pub markdown: [u8; 3],
}

impl TextStats {
    /// Measures a text.
    pub fn of(text: &str) -> Self {
        Self {
            chars: text.chars().count().min(u32::MAX as usize) as u32,
            japanese: is_japanese(text),
            markdown: markdown_counts(text).map(|n| n.min(255) as u8),
        }
    }
}

/// Headers, list items and bold spans of a Markdown text, with fenced code blocks removed, as
/// Arena-Hard-Auto counts them for style control (`utils/add_markdown_info.py` at 3bab294):
/// a header is a line that starts with 1 to 6 `#` and then whitespace; a list item a line
/// that, after leading whitespace, starts with digits and `.`, or with `-`, `*` or `+`, and
/// then whitespace; bold is `**…**` or `__…__` within a line, not empty and without the
/// marker's own character inside.
pub fn markdown_counts(text: &str) -> [usize; 3] {
    let mut counts = [0usize; 3];
    let mut in_code = false;
    for line in text.split('\n') {
        if line.trim_start().starts_with("```") {
            // A fence opens or closes a block; a block opened and closed on one line is
            // inline and removed with the line's text between.
            let fences = line.matches("```").count();
            if fences % 2 == 1 {
                in_code = !in_code;
            }
            continue;
        }
        if in_code {
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let after_hashes = line[hashes..].chars().next();
        if (1..=6).contains(&hashes) && after_hashes.is_some_and(char::is_whitespace) {
            counts[0] += 1;
        }
        let item = line.trim_start();
        let digits = item.chars().take_while(char::is_ascii_digit).count();
        let rest = &item[digits..];
        let ordered = digits > 0
            && rest.starts_with('.')
            && rest[1..].chars().next().is_some_and(char::is_whitespace);
        let unordered = item.starts_with(['-', '*', '+'])
            && item[1..].chars().next().is_some_and(char::is_whitespace);
        if ordered || unordered {
            counts[1] += 1;
        }
        counts[2] += bold_spans(line, "**", '*') + bold_spans(line, "__", '_');
    }
    counts
}

/// Non-overlapping `marker…marker` spans in `line` whose inside is not empty and has no
/// `inner` character, left to right (as `re.findall(r"\*\*[^*\n]+\*\*")` counts them).
fn bold_spans(line: &str, marker: &str, inner: char) -> usize {
    let mut n = 0;
    let mut rest = line;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len()..];
        let body = after.chars().take_while(|c| *c != inner).count();
        let body_bytes: usize = after.chars().take(body).map(char::len_utf8).sum();
        if body > 0 && after[body_bytes..].starts_with(marker) {
            n += 1;
            rest = &after[body_bytes + marker.len()..];
        } else {
            // No span starts here: try from the next character.
            let step = rest[start..].chars().next().map_or(1, char::len_utf8);
            rest = &rest[start + step..];
        }
    }
    n
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{FF66}'..='\u{FF9D}')
}

fn is_kanji(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Whether a text is in Japanese: it has kana (which Chinese lacks) and Japanese characters
/// are at least 20% of its "words", counting each kana or kanji as one and each run of Latin
/// letters as one (so an answer that is mostly code with a Japanese explanation still counts
/// as Japanese, and an English answer with one quoted Japanese term does not). `None` when
/// the text has neither.
pub fn is_japanese(text: &str) -> Option<bool> {
    let mut kana = 0usize;
    let mut kanji = 0usize;
    let mut latin_words = 0usize;
    let mut in_word = false;
    for c in text.chars() {
        if is_kana(c) {
            kana += 1;
        } else if is_kanji(c) {
            kanji += 1;
        }
        let latin = c.is_ascii_alphabetic() || matches!(c, '\u{00C0}'..='\u{024F}');
        if latin && !in_word {
            latin_words += 1;
        }
        in_word = latin;
    }
    let ja = kana + kanji;
    if ja == 0 && latin_words == 0 {
        return None;
    }
    Some(kana > 0 && ja * 5 >= ja + latin_words)
}

/// Deserialises an optional answer text straight into its [`TextStats`], so the text itself
/// is never kept.
pub fn stats_of_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TextStats>, D::Error> {
    let s: Option<std::borrow::Cow<'de, str>> = Option::deserialize(d)?;
    Ok(s.map(|s| TextStats::of(&s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_counted_as_arena_hard_counts_it() {
        let text = "# 見出し\n## 小見出し\n#タグ\n####### 七つ\n- 一\n  * 二\n+ 三\n1. 四\n10. 五\n-負\n\
                    **太字**と__太字__、**空****\n```\n# コード\n- コード\n**コード**\n```\n後の**太字**";
        // Headers: the two with a space; list items: five; bold: four outside the block.
        assert_eq!(markdown_counts(text), [2, 5, 4]);
        assert_eq!(markdown_counts("**a*b**"), [0, 0, 0]);
        assert_eq!(TextStats::of("- a\n- b").markdown, [0, 2, 0]);
    }

    #[test]
    fn japanese_detection() {
        assert_eq!(is_japanese("富士山の高さは3776メートルです。"), Some(true));
        assert_eq!(is_japanese("Mount Fuji is 3,776 metres high."), Some(false));
        assert_eq!(
            is_japanese("The word 「富士山」 means Mount Fuji in English, see above."),
            Some(false)
        );
        assert_eq!(
            is_japanese("富士山高3776米。"),
            Some(false),
            "Chinese has no kana"
        );
        assert_eq!(is_japanese("42"), None);
        let code = "次の関数で数えます。\n```python\ndef count_hiragana(s):\n    return sum(1 for ch in s if '\\u3041' <= ch <= '\\u309f')\n```";
        assert_eq!(is_japanese(code), Some(true));
        assert_eq!(TextStats::of("日本語").chars, 3);
    }
}
