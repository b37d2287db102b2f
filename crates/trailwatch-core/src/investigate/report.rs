//! The answer to an investigation, in the shape responders read: the
//! credentials followed, the timeline, what was touched, created and
//! tampered with, where it came from, and the alerts it raised. Every
//! output format (terminal, JSON, CSV, Timesketch, HTML, the dashboard)
//! renders this one value.

use serde::Serialize;

use super::Subject;
pub use super::classify::Created;
use super::mint::KeyKind;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub subject: Subject,
    /// The window asked for (`None`: unbounded on that side).
    pub since: Option<String>,
    pub until: Option<String>,
    /// How far credentials were followed.
    pub depth: u32,
    pub credentials: Vec<Credential>,
    /// Every event made with the credentials (and the other account's
    /// copy of a cross-account call), oldest first.
    pub events: Vec<TimelineEvent>,
    pub resources: Vec<ResourceUse>,
    pub created: Vec<Created>,
    pub tampering: Vec<Tampering>,
    pub source_ips: Vec<SourceIp>,
    pub user_agents: Vec<Seen>,
    pub regions: Vec<Seen>,
    pub accounts: Vec<Seen>,
    pub alerts: Vec<AlertRef>,
    /// Credentials minted past `depth`: found, not followed.
    pub not_followed: Vec<NotFollowed>,
    /// What the reader should know (no event found, what the lake spans).
    pub notes: Vec<String>,
}

/// One credential of the story.
#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    pub access_key_id: String,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub kind: KeyKind,
    /// The key that minted this one (`None` for where the story starts).
    pub parent: Option<String>,
    pub issued_by_event: Option<String>,
    /// Hops from where the story starts.
    pub depth: u32,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub events: u64,
}

/// One event of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    pub event_id: String,
    pub event_time: String,
    pub event_name: String,
    pub event_source: String,
    pub account: Option<String>,
    pub region: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub access_key_id: Option<String>,
    pub principal: Option<String>,
    pub error_code: Option<String>,
    pub read_only: Option<bool>,
    /// The first resource it touched (S3 objects as their bucket).
    pub resource: Option<String>,
    /// Titles of the alerts whose evidence it is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
}

/// Reads and writes of one resource (successful calls only).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceUse {
    pub resource: String,
    pub reads: u64,
    pub writes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tampering {
    pub event_name: String,
    pub event_id: String,
    pub event_time: String,
    pub error_code: Option<String>,
}

/// A source address of the story.
#[derive(Debug, Clone, Serialize)]
pub struct SourceIp {
    pub ip: String,
    pub events: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// The first time the whole lake (or input) saw it, any caller.
    pub first_seen_in_lake: Option<String>,
    /// Never seen before the story's first event: new with the incident.
    pub new: bool,
    pub geo: Option<String>,
}

/// A user agent, region or account of the story.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    pub value: String,
    pub events: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub first_seen_in_lake: Option<String>,
    pub new: bool,
}

/// An alert whose evidence is in the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRef {
    pub alert_id: String,
    pub rule_id: String,
    pub title: Option<String>,
    pub severity: String,
    pub alert_time: Option<String>,
    /// Its evidence events that are in the timeline.
    pub event_ids: Vec<String>,
}

/// A credential minted past the depth limit.
#[derive(Debug, Clone, Serialize)]
pub struct NotFollowed {
    pub access_key_id: String,
    pub parent: String,
    pub issued_by_event: String,
}

/// A run of alike events, for the terminal: "GetObject ×480 on
/// arn:aws:s3:::finance-reports, 03:30–04:00".
#[derive(Debug, Clone)]
pub struct Run<'r> {
    pub first: &'r TimelineEvent,
    pub last_time: &'r str,
    pub count: usize,
}

impl Report {
    /// The timeline with consecutive alike events (same call, key,
    /// resource, outcome and source address) collapsed into one run.
    pub fn runs(&self) -> Vec<Run<'_>> {
        let mut out: Vec<Run<'_>> = Vec::new();
        for e in &self.events {
            if let Some(run) = out.last_mut()
                && alike(run.first, e)
            {
                run.count += 1;
                run.last_time = &e.event_time;
                continue;
            }
            out.push(Run {
                first: e,
                last_time: &e.event_time,
                count: 1,
            });
        }
        out
    }

    /// Whether the story found nothing at all.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

fn alike(a: &TimelineEvent, b: &TimelineEvent) -> bool {
    a.event_name == b.event_name
        && a.event_source == b.event_source
        && a.access_key_id == b.access_key_id
        && a.resource == b.resource
        && a.error_code == b.error_code
        && a.source_ip == b.source_ip
        && a.account == b.account
        && a.alerts == b.alerts
}
