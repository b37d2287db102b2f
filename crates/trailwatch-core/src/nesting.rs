//! How deeply a rule or Terraform file nests, checked before a recursive
//! parser sees it. YAML and HCL parsers recurse once per level: a hostile
//! file 100,000 levels deep overflows the stack or takes minutes to load.
//! Real rule files nest a handful of levels; the bound is generous.

/// The most levels of brackets, strings-with-interpolations, indentation
/// steps or block-sequence dashes a rule or Terraform file may nest.
pub const MAX_DEPTH: usize = 64;
/// The widest indentation a YAML line may have.
const MAX_INDENT: usize = 256;

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    /// `{`, `[` or `(` in code.
    Bracket,
    /// A `"…"` string (HCL or YAML).
    Double,
    /// A YAML `'…'` string.
    Single,
}

/// The deepest nesting of brackets in `text`, reading `"…"` strings (and,
/// for YAML, `'…'`) as strings, and HCL's `${…}`/`%{…}` inside strings as
/// one more level of code; `#` starts a comment outside strings.
fn bracket_depth(text: &str, yaml: bool) -> usize {
    let mut stack: Vec<Frame> = Vec::new();
    let mut max = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match stack.last().copied() {
            Some(Frame::Double) => match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    stack.pop();
                }
                '$' | '%' if !yaml && chars.peek() == Some(&'{') => {
                    chars.next();
                    stack.push(Frame::Bracket);
                }
                _ => {}
            },
            Some(Frame::Single) => {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        stack.pop();
                    }
                }
            }
            _ => match c {
                '{' | '[' | '(' => stack.push(Frame::Bracket),
                '}' | ']' | ')' if stack.last() == Some(&Frame::Bracket) => {
                    stack.pop();
                }
                '"' => stack.push(Frame::Double),
                '\'' if yaml => stack.push(Frame::Single),
                '#' => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => {}
            },
        }
        max = max.max(stack.len());
    }
    max
}

/// A document nested too deep to parse safely, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooDeep {
    #[error("line {line} is indented {columns} columns; rule files may nest {max} columns at most", max = MAX_INDENT)]
    Indented { line: usize, columns: usize },
    #[error("line {line} nests {depth} sequences; rule files may nest {max} levels at most", max = MAX_DEPTH)]
    Sequences { line: usize, depth: usize },
    #[error("brackets nest {0} levels deep; rule files may nest {max} at most", max = MAX_DEPTH)]
    Brackets(usize),
    #[error("blocks and expressions nest {0} levels deep; Terraform files may nest {max} at most", max = MAX_DEPTH)]
    Blocks(usize),
}

/// Refuse a YAML document nested deeper than [`MAX_DEPTH`]: flow brackets,
/// a line's chain of block-sequence dashes (`- - - x`), or indentation
/// past 256 columns.
pub fn check_yaml(text: &str) -> Result<(), TooDeep> {
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if indent > MAX_INDENT {
            return Err(TooDeep::Indented {
                line: n + 1,
                columns: indent,
            });
        }
        let mut rest = line.trim_start();
        let mut dashes = 0;
        while let Some(r) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
            dashes += 1;
            rest = r.trim_start();
        }
        if dashes > MAX_DEPTH {
            return Err(TooDeep::Sequences {
                line: n + 1,
                depth: dashes,
            });
        }
    }
    let depth = bracket_depth(text, true);
    if depth > MAX_DEPTH {
        return Err(TooDeep::Brackets(depth));
    }
    Ok(())
}

/// Refuse HCL nested deeper than [`MAX_DEPTH`].
pub fn check_hcl(text: &str) -> Result<(), TooDeep> {
    let depth = bracket_depth(text, false);
    if depth > MAX_DEPTH {
        return Err(TooDeep::Blocks(depth));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_files_pass_and_deep_ones_are_refused() {
        let tf = r#"resource "x" "y" { a = "${var.z}-${lookup(m, "k")}" b = [{ c = "]]]" }] }"#;
        assert_eq!(check_hcl(tf), Ok(()));
        let many = "a = \"${x}\"\n".repeat(500);
        assert_eq!(check_hcl(&many), Ok(()));
        let deep = format!("a = {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(check_hcl(&deep).is_err());
        let hidden = format!("a = \"{}\"", "${[".repeat(100));
        assert!(check_hcl(&hidden).is_err());
        // Closing brackets in strings do not hide real nesting.
        let sneaky = "[ \"]\" ".repeat(100);
        assert!(check_hcl(&sneaky).is_err());

        let yaml = "rules:\n  - id: a\n    pattern: '{ ($.a = \"[\") }'\n";
        assert_eq!(check_yaml(yaml), Ok(()));
        assert!(check_yaml(&format!("x: {}", "[".repeat(100_000))).is_err());
        assert!(check_yaml(&format!("x:\n  {}1", "- ".repeat(100_000))).is_err());
        assert!(check_yaml(&format!("x:\n{}y: 1", " ".repeat(1000))).is_err());
    }
}
