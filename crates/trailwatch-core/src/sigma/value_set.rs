//! Long value lists compiled once for the whole list. IOC rules list
//! thousands of user agents, addresses or names under one field; testing
//! them one regex at a time cost time and memory per value (20,000
//! `contains` values: 42 s and 489 MB over a 4,000-event sample). Here
//! plain strings become one hash set (whole-value equality) or one
//! Aho-Corasick automaton (`contains`, `startswith`, and `endswith` over
//! the reversed text), and CIDR ranges a table per prefix length.
//!
//! Case: Sigma compares case-insensitively unless `cased`, with Unicode's
//! simple case folding. Only plain ASCII values come here (others keep
//! their own regex), and the only non-ASCII characters that fold to an
//! ASCII letter are KELVIN SIGN (to `k`) and LATIN SMALL LETTER LONG S
//! (to `s`): a value is folded for those two, then compared ignoring ASCII
//! case, which is exactly what the regex would do.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

use super::problem::Problem;

/// Where a value must sit in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Whole,
    Anywhere,
    Start,
    End,
}

/// Plain strings, all tested at one place.
#[derive(Debug, Clone)]
pub(super) struct ValueSet {
    cased: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Whole-value equality: the values, lower-cased unless `cased`.
    Exact(HashSet<String>),
    /// Any value at the place; for [`Place::End`] the automaton holds the
    /// values reversed and is run over the reversed text.
    Search {
        automaton: AhoCorasick,
        place: Place,
    },
}

/// `text` with the two non-ASCII characters that fold to ASCII letters
/// folded; ASCII text as it is.
fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.contains(['\u{212A}', '\u{017F}']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\u{212A}' => 'k',
                '\u{017F}' => 's',
                c => c,
            })
            .collect(),
    )
}

impl ValueSet {
    /// Compile plain ASCII `values` to be found at `place`.
    pub(super) fn new(values: Vec<String>, place: Place, cased: bool) -> Result<ValueSet, Problem> {
        debug_assert!(values.iter().all(|v| v.is_ascii()));
        let kind = match place {
            Place::Whole => Kind::Exact(
                values
                    .into_iter()
                    .map(|v| if cased { v } else { v.to_ascii_lowercase() })
                    .collect(),
            ),
            _ => {
                let patterns: Vec<Vec<u8>> = values
                    .into_iter()
                    .map(|v| {
                        let mut b = v.into_bytes();
                        if place == Place::End {
                            b.reverse();
                        }
                        b
                    })
                    .collect();
                let automaton = AhoCorasick::builder()
                    .ascii_case_insensitive(!cased)
                    .match_kind(MatchKind::Standard)
                    .start_kind(if place == Place::Anywhere {
                        StartKind::Unanchored
                    } else {
                        StartKind::Anchored
                    })
                    .build(&patterns)
                    .map_err(|e| Problem::BadPattern(e.to_string()))?;
                Kind::Search { automaton, place }
            }
        };
        Ok(ValueSet { cased, kind })
    }

    /// Whether `text` holds one of the values at the place.
    pub(super) fn is_match(&self, text: &str) -> bool {
        let text = if self.cased {
            Cow::Borrowed(text)
        } else {
            fold(text)
        };
        match &self.kind {
            Kind::Exact(set) if self.cased => set.contains(text.as_ref()),
            Kind::Exact(set) => {
                // Only an ASCII text can equal an ASCII value ignoring case.
                text.is_ascii() && set.contains(&text.to_ascii_lowercase())
            }
            Kind::Search { automaton, place } => match place {
                Place::Anywhere => automaton.is_match(text.as_bytes()),
                Place::End => {
                    let reversed: Vec<u8> = text.bytes().rev().collect();
                    automaton.is_match(Input::new(&reversed).anchored(Anchored::Yes))
                }
                _ => automaton.is_match(Input::new(text.as_bytes()).anchored(Anchored::Yes)),
            },
        }
    }

    /// The values, when they are whole values compared ignoring case:
    /// what the rule index keys on.
    pub(super) fn uncased_whole_values(&self) -> Option<impl Iterator<Item = &String>> {
        match &self.kind {
            Kind::Exact(set) if !self.cased => Some(set.iter()),
            _ => None,
        }
    }
}

/// CIDR ranges as a table per prefix length: an address is masked once
/// per distinct length and looked up, however many ranges there are.
#[derive(Debug, Clone, Default)]
pub(super) struct CidrSet {
    v4: HashMap<u8, HashSet<u32>>,
    v6: HashMap<u8, HashSet<u128>>,
}

/// `bits` with all but the first `len` cleared.
fn mask4(bits: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        bits >> (32 - u32::from(len)) << (32 - u32::from(len))
    }
}

/// [`mask4`] for IPv6.
fn mask6(bits: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        bits >> (128 - u32::from(len)) << (128 - u32::from(len))
    }
}

impl CidrSet {
    pub(super) fn new(nets: &[ipnet::IpNet]) -> CidrSet {
        let mut set = CidrSet::default();
        for net in nets {
            match net {
                ipnet::IpNet::V4(n) => {
                    let len = n.prefix_len();
                    set.v4
                        .entry(len)
                        .or_default()
                        .insert(mask4(u32::from(n.network()), len));
                }
                ipnet::IpNet::V6(n) => {
                    let len = n.prefix_len();
                    set.v6
                        .entry(len)
                        .or_default()
                        .insert(mask6(u128::from(n.network()), len));
                }
            }
        }
        set
    }

    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                self.v4
                    .iter()
                    .any(|(len, nets)| nets.contains(&mask4(bits, *len)))
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                self.v6
                    .iter()
                    .any(|(len, nets)| nets.contains(&mask6(bits, *len)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[&str], place: Place, cased: bool) -> ValueSet {
        ValueSet::new(values.iter().map(|v| v.to_string()).collect(), place, cased).expect("builds")
    }

    #[test]
    fn each_place_and_case() {
        let whole = set(&["StopLogging", "DeleteTrail"], Place::Whole, false);
        assert!(whole.is_match("stoplogging") && whole.is_match("DELETETRAIL"));
        assert!(!whole.is_match("StopLoggingX"));
        let start = set(&["aws-cli/", "Boto3/"], Place::Start, false);
        assert!(start.is_match("AWS-CLI/2.15 Python") && !start.is_match("x aws-cli/"));
        let end = set(&["linux", ".exe"], Place::End, false);
        assert!(end.is_match("Python/3 LINUX") && !end.is_match("linux x"));
        let anywhere = set(&["sqlmap", "nikto"], Place::Anywhere, false);
        assert!(anywhere.is_match("Mozilla (SQLMap 1.5)") && !anywhere.is_match("curl/8"));
        let cased = set(&["Python"], Place::Anywhere, true);
        assert!(cased.is_match("x Python y") && !cased.is_match("python"));
    }

    #[test]
    fn kelvin_and_long_s_fold_to_ascii_as_the_regex_folds_them() {
        let whole = set(&["kiss"], Place::Whole, false);
        assert!(whole.is_match("\u{212A}i\u{017F}s"));
        assert!(!set(&["kiss"], Place::Whole, true).is_match("\u{212A}iss"));
        let re = regex::RegexBuilder::new("^(?:kiss)$")
            .case_insensitive(true)
            .build()
            .expect("regex");
        assert!(re.is_match("\u{212A}i\u{017F}s"), "the regex agrees");
        assert!(!whole.is_match("kiss\u{e9}"));
    }

    #[test]
    fn cidr_ranges_of_any_length() {
        let nets: Vec<ipnet::IpNet> = [
            "10.0.0.0/8",
            "192.168.1.0/24",
            "203.0.113.7/32",
            "0.0.0.0/0",
            "2001:db8::/32",
        ]
        .iter()
        .map(|n| n.parse().expect("net"))
        .collect();
        let all = CidrSet::new(&nets);
        assert!(
            all.contains("8.8.8.8".parse().expect("ip")),
            "0.0.0.0/0 holds every v4"
        );
        let some = CidrSet::new(&nets[..3]);
        assert!(some.contains("10.200.1.1".parse().expect("ip")));
        assert!(some.contains("192.168.1.255".parse().expect("ip")));
        assert!(!some.contains("192.168.2.1".parse().expect("ip")));
        assert!(some.contains("203.0.113.7".parse().expect("ip")));
        assert!(!some.contains("203.0.113.8".parse().expect("ip")));
        let v6 = CidrSet::new(&nets[4..]);
        assert!(v6.contains("2001:db8:ffff::1".parse().expect("ip")));
        assert!(!v6.contains("2001:db9::1".parse().expect("ip")));
    }
}
