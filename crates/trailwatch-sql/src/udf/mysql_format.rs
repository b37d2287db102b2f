//! MySQL-style date specifiers (Trino's `date_format`, `date_parse`)
//! translated to chrono's (`athena-sql-dialect.md` §3): `%i` is minutes,
//! `%s` seconds, `%M` the month name; `%D %U %u %V %w %X` are refused.

use datafusion::common::{Result, exec_err};

/// Translate a MySQL format; `parsing` picks `%f`'s parse form (1–9 digits).
pub fn to_chrono(fmt: &str, parsing: bool) -> Result<String> {
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            // A trailing lone % is literal.
            out.push_str("%%");
            break;
        };
        let t = match spec {
            'a' => "%a",
            'b' => "%b",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'f' if parsing => "%.f",
            'f' => "%6f",
            'H' => "%H",
            'h' | 'I' => "%I",
            'i' => "%M",
            'j' => "%j",
            'k' => "%-H",
            'l' => "%-I",
            'M' => "%B",
            'm' => "%m",
            'p' => "%p",
            'r' => "%I:%M:%S %p",
            'S' | 's' => "%S",
            'T' => "%H:%M:%S",
            'v' => "%V",
            'x' => "%G",
            'W' => "%A",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            'D' | 'U' | 'u' | 'V' | 'w' | 'X' => {
                return exec_err!("%{spec} not supported in date format string");
            }
            other => {
                // `%` followed by any other character is that character.
                out.push(other);
                continue;
            }
        };
        out.push_str(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloudtrail_idiom_translates() {
        assert_eq!(
            to_chrono("%Y-%m-%dT%H:%i:%sZ", false).unwrap(),
            "%Y-%m-%dT%H:%M:%SZ"
        );
        assert_eq!(to_chrono("%M %e, %Y %%", false).unwrap(), "%B %-d, %Y %%");
        assert_eq!(to_chrono("%q", false).unwrap(), "q");
        assert!(to_chrono("%X", false).is_err());
    }
}
