//! An event id as a detection keeps it in a long window (privilege
//! escalation keeps every refused call of a day): CloudTrail's ids are
//! lower-case UUIDs, kept as their 16 bytes instead of 36 characters on the
//! heap; any other text is kept as it is. Either way it reads back, and is
//! saved, as exactly the text it came from.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventId {
    /// A canonical lower-case UUID (`8-4-4-4-12` hex digits).
    Uuid(u128),
    Text(Box<str>),
}

/// Where the dashes of a canonical UUID are.
const DASHES: [usize; 4] = [8, 13, 18, 23];

impl EventId {
    pub fn new(s: &str) -> EventId {
        match uuid_bits(s) {
            Some(bits) => EventId::Uuid(bits),
            None => EventId::Text(s.into()),
        }
    }
}

/// The 128 bits of a canonical lower-case UUID; none for anything else
/// (upper case too, so the text reads back exactly).
fn uuid_bits(s: &str) -> Option<u128> {
    if s.len() != 36 {
        return None;
    }
    let mut bits: u128 = 0;
    for (i, b) in s.bytes().enumerate() {
        if DASHES.contains(&i) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        bits = (bits << 4) | u128::from(digit);
    }
    Some(bits)
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventId::Uuid(b) => write!(
                f,
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                b >> 96,
                (b >> 80) & 0xffff,
                (b >> 64) & 0xffff,
                (b >> 48) & 0xffff,
                b & 0xffff_ffff_ffff
            ),
            EventId::Text(t) => f.write_str(t),
        }
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventId, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(EventId::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_as_the_text_they_came_from() {
        for text in [
            "3e5f9c0a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "3E5F9C0A-1B2C-4D5E-8F90-A1B2C3D4E5F6",
            "3e5f9c0a1b2c4d5e8f90a1b2c3d4e5f6abcd",
            "push-sg-snap",
            "",
        ] {
            let id = EventId::new(text);
            assert_eq!(id.to_string(), text);
            let saved = serde_json::to_string(&id).expect("json");
            assert_eq!(saved, serde_json::to_string(text).expect("json"));
            let back: EventId = serde_json::from_str(&saved).expect("back");
            assert_eq!(back, id);
        }
        assert!(matches!(
            EventId::new("3e5f9c0a-1b2c-4d5e-8f90-a1b2c3d4e5f6"),
            EventId::Uuid(_)
        ));
        assert!(matches!(
            EventId::new("3E5F9C0A-1B2C-4D5E-8F90-A1B2C3D4E5F6"),
            EventId::Text(_)
        ));
    }
}
