//! Investigation: from one key, principal, session, address or alert to
//! the whole story. A [`Story`] is fed the trail's events in hops by a
//! reader (the lake's SQL engine, or raw files read once per hop, both in
//! the binary): it follows the credentials each call minted (`mint`),
//! files what each call did (`classify`) and ends in a [`Report`].
//!
//! Only credentials link one event to the next. A session with the same
//! role and session name, another key of the same user, a user of the
//! same name made by someone else: none is the story unless a story
//! credential minted it.

mod classify;
mod mint;
mod report;
mod story;

use serde::Serialize;

pub use classify::{TAMPERING, created, is_tampering, resources};
pub use mint::{KeyKind, Minted, can_mint, minted};
pub use report::{
    AlertRef, Created, Credential, NotFollowed, Report, ResourceUse, Run, Seen, SourceIp,
    Tampering, TimelineEvent,
};
pub use story::{FirstSeen, Story, Values};

/// How far credentials are followed unless told otherwise.
pub const DEFAULT_DEPTH: u32 = 5;

/// Where an investigation starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// One access key (`AKIA…` or `ASIA…`).
    AccessKey(String),
    /// Every key of a principal: an IAM user's or root's ARN, or a role's
    /// ARN (every session of the role).
    Principal(String),
    /// An assumed-role session's ARN (`arn:aws:sts::…:assumed-role/R/S`).
    Session(String),
    /// Every credential used from an address.
    Ip(String),
    /// The credentials of an alert's evidence events.
    Alert(String),
}

impl Subject {
    /// `access key AKIA…`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Subject::AccessKey(k) => format!("access key {k}"),
            Subject::Principal(p) => format!("principal {p}"),
            Subject::Session(s) => format!("session {s}"),
            Subject::Ip(ip) => format!("address {ip}"),
            Subject::Alert(a) => format!("alert {a}"),
        }
    }

    /// Whether an event belongs to the subject itself (hop 0), for a
    /// reader that sees every event (raw files). An access key's events
    /// are found by the key; an alert's by its evidence ids.
    pub fn names(&self, e: &crate::event::Event<'_>) -> bool {
        let ui = e.user_identity.as_ref();
        let arn = ui.and_then(|u| u.arn.as_deref());
        match self {
            Subject::AccessKey(_) | Subject::Alert(_) => false,
            Subject::Principal(p) => {
                arn == Some(p.as_str())
                    || ui
                        .and_then(|u| u.session_context.as_ref())
                        .and_then(|c| c.session_issuer.as_ref())
                        .and_then(|i| i.arn.as_deref())
                        == Some(p.as_str())
            }
            Subject::Session(s) => arn == Some(s.as_str()),
            Subject::Ip(ip) => e.source_ip_address.as_deref() == Some(ip.as_str()),
        }
    }

    /// Whether the subject's own lookup returns every event of each key it
    /// finds (a key has one principal, so a lookup by principal or
    /// session does; one by address or alert does not).
    pub fn lookup_is_complete(&self) -> bool {
        matches!(self, Subject::Principal(_) | Subject::Session(_))
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use crate::event::{DecodeOptions, Decoder, Step};

    /// Decode one record and hand it to `f`.
    pub fn event<T>(raw: &str, f: impl FnOnce(&crate::event::Event<'_>) -> T) -> T {
        let mut d = Decoder::from_reader(
            "test",
            std::io::Cursor::new(raw.as_bytes().to_vec()),
            DecodeOptions::default(),
        )
        .unwrap();
        match d.next_step() {
            Some(Step::Record(r)) => f(&r.event),
            Some(Step::Error(e)) => panic!("not a record: {e}"),
            _ => panic!("no record"),
        }
    }
}

#[cfg(test)]
mod tests;
