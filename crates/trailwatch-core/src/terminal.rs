//! Text from records, rule files and receivers made safe to print on a
//! terminal. Attackers control `userAgent`, `awsRegion`, resource names
//! and more: an escape sequence there could clear the screen, rewrite
//! earlier lines, set the window title or write to the clipboard (OSC 52)
//! of whoever reads the output. Table output shows control characters,
//! and the Unicode bidirectional overrides that can make text read
//! differently from what it is, as visible escapes instead. Errors are
//! shown on one line, each cause said once.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as it is.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character (C0, DEL, C1) and bidirectional
/// override written as a visible escape: `\n`, `\t`, `\r`, else `\u{1b}`.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// An error and its causes on one line, each said once: many libraries'
/// errors (DataFusion's, the AWS SDK's) repeat their cause's text in their
/// own, so printing the whole chain would say the same thing two or three
/// times over.
pub fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    without_xml_errors(&parts.join(": "))
}

/// The text between `open` and `close` in `doc`, if any.
fn element<'a>(doc: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = doc.find(open)? + open.len();
    let len = doc[start..].find(close)?;
    Some(&doc[start..start + len])
}

/// `text` with an S3 (or other AWS) XML error document, which
/// object_store puts whole into its errors, said as its code and message:
/// `NoSuchBucket: The specified bucket does not exist (bucket b)`.
fn without_xml_errors(text: &str) -> String {
    let Some(start) = text.find("<?xml").or_else(|| text.find("<Error>")) else {
        return text.to_string();
    };
    let Some(end) = text[start..]
        .find("</Error>")
        .map(|e| start + e + "</Error>".len())
    else {
        return text.to_string();
    };
    let doc = &text[start..end];
    let mut said = match (
        element(doc, "<Code>", "</Code>"),
        element(doc, "<Message>", "</Message>"),
    ) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        (None, Some(message)) => message.to_string(),
        (None, None) => return text.to_string(),
    };
    if let Some(bucket) = element(doc, "<BucketName>", "</BucketName>") {
        said.push_str(&format!(" (bucket {bucket})"));
    }
    format!(
        "{}{said}{}",
        &text[..start],
        without_xml_errors(&text[end..])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_error_document_is_said_as_its_code_and_message() {
        let raw = "storage error: list failed - 404 Not Found: <?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>b</BucketName><RequestId>X1</RequestId></Error>";
        assert_eq!(
            without_xml_errors(raw),
            "storage error: list failed - 404 Not Found: NoSuchBucket: The specified bucket does not exist (bucket b)"
        );
        assert_eq!(without_xml_errors("no xml here"), "no xml here");
        assert_eq!(without_xml_errors("<Error>unclosed"), "<Error>unclosed");
    }

    #[test]
    fn escapes_reach_the_terminal_only_as_visible_text() {
        let osc52 = "curl\u{1b}]52;c;ZXZpbA==\u{7}";
        assert_eq!(escape_controls(osc52), "curl\\u{1b}]52;c;ZXZpbA==\\u{7}");
        assert_eq!(escape_controls("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(escape_controls("us-east-1\0"), "us-east-1\\u{0}");
        assert_eq!(escape_controls("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(escape_controls("a\nb\tc"), "a\\nb\\tc");
        assert!(matches!(escape_controls("plain ünïcode"), Cow::Borrowed(_)));
    }
}
