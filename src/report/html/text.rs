//! Untrusted text on the page. Every model answer, question and judge explanation goes
//! through here: escaped as text, or rendered from Markdown with raw HTML, links and images
//! turned back into plain text, so nothing a model writes becomes markup, a request or a
//! script.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Escapes text for an element's content or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown (as models write it: headings, lists, emphasis, code, tables) rendered safely.
/// Raw HTML is shown as the text it is; a link keeps its text and shows its address
/// beside it without being followable; an image becomes its description, so the page never
/// loads anything.
pub fn markdown(s: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut link: Vec<CowStr> = Vec::new();
    let events = Parser::new_ext(s, opts).flat_map(|e| -> Vec<Event> {
        match e {
            Event::Html(h) | Event::InlineHtml(h) => vec![Event::Text(h)],
            Event::Start(Tag::Link { dest_url, .. }) => {
                link.push(dest_url);
                vec![]
            }
            Event::End(TagEnd::Link) => match link.pop() {
                Some(url) if !url.is_empty() => vec![Event::Text(format!(" <{url}>").into())],
                _ => vec![],
            },
            Event::Start(Tag::Image { .. }) => vec![Event::Text("[画像: ".into())],
            Event::End(TagEnd::Image) => vec![Event::Text("]".into())],
            e => vec![e],
        }
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_links_and_images_stay_text() {
        let h = markdown(
            "**太字** と `code`\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n\
             [こちら](javascript:alert(1)) ![猫](http://example.com/cat.png)",
        );
        assert!(h.contains("<strong>太字</strong>") && h.contains("<code>code</code>"));
        for bad in ["<script", "<img", "<a ", "href="] {
            assert!(!h.contains(bad), "{bad} in {h}");
        }
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
        assert!(h.contains("こちら &lt;javascript:alert(1)&gt;"), "{h}");
        assert!(h.contains("[画像: 猫]"), "{h}");
    }

    #[test]
    fn escape_covers_attributes() {
        assert_eq!(esc(r#"a"b'c<d>&"#), "a&quot;b&#39;c&lt;d&gt;&amp;");
    }
}
