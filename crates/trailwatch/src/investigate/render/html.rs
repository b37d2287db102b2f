//! One self-contained HTML page: the report's JSON and the script that
//! draws it (`report.js`, shared with the dashboard's Investigate page),
//! inline, with no fetch from anywhere — it opens offline, attached to a
//! ticket. The page's policy forbids every network load.

use std::io::Write;

use anyhow::Result;
use trailwatch_core::investigate::Report;

/// The script that draws a report.
pub const REPORT_JS: &str = include_str!("report.js");
/// Its styles.
pub const REPORT_CSS: &str = include_str!("report.css");

/// `text` safe inside an HTML element's text or a double-quoted
/// attribute.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub fn write(report: &Report, out: &mut dyn Write) -> Result<()> {
    // JSON inside <script>: `<` as \u003c, so no text of a record can
    // close the element (`</script>`) or open a comment; U+2028/2029 are
    // escaped by JSON writers only optionally, so here.
    let json = serde_json::to_string(report)?
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let title = escaped(&format!("trailwatch: {}", report.subject.describe()));
    write!(
        out,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #1f2328; }}
{css}</style>
</head>
<body>
<div id="report"></div>
<script type="application/json" id="report-data">{json}</script>
<script>
{js}
renderInvestigation(document.getElementById("report"), JSON.parse(document.getElementById("report-data").textContent), null);
</script>
</body>
</html>
"#,
        css = REPORT_CSS,
        js = REPORT_JS,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_title_is_text() {
        assert_eq!(escaped("<b>\"x\"&'"), "&lt;b&gt;&quot;x&quot;&amp;&#39;");
    }
}
