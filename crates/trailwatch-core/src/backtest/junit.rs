//! JUnit XML for CI (GitHub Actions, GitLab, Jenkins read it): one test
//! case per expectation, a `<failure>` saying why, and one per noisy rule
//! as a skipped case that names it.

use super::expect::Checked;

/// `text` escaped for XML text and attributes; characters XML 1.0 cannot
/// hold (controls other than tab and newlines) are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The report: `checked` expectations, and `noisy` rules (id, what was
/// seen) reported beside them.
pub fn report(checked: &[Checked], noisy: &[(String, String)], seconds: f64) -> String {
    let failures = checked.iter().filter(|c| !c.met()).count();
    let tests = checked.len() + noisy.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"trailwatch rules backtest\" tests=\"{tests}\" failures=\"{failures}\" time=\"{seconds:.3}\">\n"
    ));
    out.push_str(&format!(
        "  <testsuite name=\"expectations\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{}\" time=\"{seconds:.3}\">\n",
        noisy.len()
    ));
    for c in checked {
        let name = xml(&c.name());
        if c.met() {
            out.push_str(&format!(
                "    <testcase classname=\"backtest\" name=\"{name}\"/>\n"
            ));
        } else {
            let why = xml(&c.failures.join("; "));
            out.push_str(&format!(
                "    <testcase classname=\"backtest\" name=\"{name}\">\n      <failure message=\"{why}\">{why}</failure>\n    </testcase>\n"
            ));
        }
    }
    for (rule, what) in noisy {
        out.push_str(&format!(
            "    <testcase classname=\"backtest.noise\" name=\"{}\">\n      <skipped message=\"noisy: {}\"/>\n    </testcase>\n",
            xml(rule),
            xml(what)
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            xml("<a href=\"x\">&'\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }
}
