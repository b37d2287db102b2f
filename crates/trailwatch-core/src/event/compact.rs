//! Re-emit a record's JSON text on one line by dropping the whitespace
//! between tokens, leaving every string (and so every value) byte-identical.
//! Used to print pretty-printed inputs as NDJSON without re-serialising.

use memchr::memchr2;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Append `raw` (valid JSON) to `out` without insignificant whitespace.
pub fn compact_json(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'"' {
            // Copy the whole string, honouring escapes.
            let start = i;
            i += 1;
            loop {
                match memchr2(b'"', b'\\', &raw[i..]) {
                    None => {
                        i = raw.len();
                        break;
                    }
                    Some(j) if raw[i + j] == b'\\' => i += j + 2,
                    Some(j) => {
                        i += j + 1;
                        break;
                    }
                }
            }
            out.extend_from_slice(&raw[start..i.min(raw.len())]);
        } else {
            if !is_ws(b) {
                out.push(b);
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_json_becomes_one_line_with_strings_untouched() {
        let raw = b"{\n  \"a\" : [1, 2],\n  \"b\": \"x  \\\" y\\n\"\n}";
        let mut out = Vec::new();
        compact_json(raw, &mut out);
        assert_eq!(out, b"{\"a\":[1,2],\"b\":\"x  \\\" y\\n\"}");
    }
}
