//! Deterministic facts about an answer's text: its length and whether it is in Japanese.

use serde::{Deserialize, Deserializer};

/// Length and language of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextStats {
    /// Characters (Unicode scalar values).
    pub chars: u32,
    /// Whether the text reads as Japanese (see [`is_japanese`]); `None` when it has no
    /// letters to tell by (a bare number, code symbols).
    pub japanese: Option<bool>,
}

impl TextStats {
    /// Measures a text.
    pub fn of(text: &str) -> Self {
        Self {
            chars: text.chars().count().min(u32::MAX as usize) as u32,
            japanese: is_japanese(text),
        }
    }
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
