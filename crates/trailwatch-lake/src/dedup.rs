//! Event ids already in the lake, per partition. Duplicates of an event
//! share its `eventTime`, hence its partition, so each partition's set is
//! enough and only the partitions an ingest touches are loaded.

use std::collections::HashSet;

/// A set of eventIDs: UUIDs (CloudTrail's form) are held as 16 bytes,
/// anything else as text.
#[derive(Debug, Default)]
pub struct EventIdSet {
    uuids: HashSet<u128>,
    others: HashSet<Box<str>>,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `8-4-4-4-12` hex digits as a number; `None` for other shapes.
fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        v = (v << 4) | u128::from(hex(c)?);
    }
    // Upper- and lower-case spellings of one UUID are one id.
    Some(v)
}

impl EventIdSet {
    /// Insert; true when the id was not there yet.
    pub fn insert(&mut self, id: &str) -> bool {
        match parse_uuid(id) {
            Some(u) => self.uuids.insert(u),
            None => {
                if self.others.contains(id) {
                    false
                } else {
                    self.others.insert(id.into())
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.uuids.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_other_ids_are_deduplicated() {
        let mut s = EventIdSet::default();
        assert!(s.insert("293ba626-3be5-4a26-ab1b-0f4c54f49959"));
        assert!(!s.insert("293ba626-3be5-4a26-ab1b-0f4c54f49959"));
        assert!(s.insert("293ba626-3be5-4a26-ab1b-0f4c54f49958"));
        assert!(s.insert("id-1"));
        assert!(!s.insert("id-1"));
        assert!(s.insert("not-a-uuid-but-36-characters-long!!!"));
        assert_eq!(s.len(), 4);
    }
}
