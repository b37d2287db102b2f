//! `trailwatch investigate` and `GET /api/investigate`: from a key,
//! principal, session, address or alert to the whole story.
//!
//! The story itself is pure logic ([`trailwatch_core::investigate`]); this
//! folder drives it over a trail in hops — the subject's own events, then
//! the events of each key they minted, then the other account's copies of
//! cross-account calls, then when each address, agent, region and account
//! was first seen, and the alerts citing the story — through a [`Trail`]:
//! the lake's SQL engine (`lake.rs`) or raw files read once per hop
//! (`files.rs`). `render/` writes the report as a table, CSV, Timesketch
//! JSONL or one self-contained HTML page.

mod files;
#[cfg(feature = "sql")]
mod lake;
pub mod render;

use anyhow::Result;
use chrono::{DateTime, Utc};
use trailwatch_core::correlate::geo::{GeoIp, is_public};
use trailwatch_core::event::Event;
use trailwatch_core::investigate::{AlertRef, FirstSeen, Report, Story, Subject, Values};

pub use files::Files;
#[cfg(feature = "sql")]
pub use lake::Lake;

/// What to investigate.
#[derive(Debug, Clone)]
pub struct Request {
    pub subject: Subject,
    pub window: Window,
    /// How many hops of minted credentials are followed.
    pub depth: u32,
}

/// Event times to read: `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    fn text(t: Option<DateTime<Utc>>) -> Option<String> {
        t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }
}

/// Which events a hop reads.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// The subject's own events (by principal, session or address).
    Subject(&'a Subject),
    /// Events made with these access keys.
    Keys(&'a [String]),
    /// Events by id (an alert's evidence).
    EventIds(&'a [String]),
    /// Events with these `sharedEventID`s (other accounts' copies).
    Twins(&'a [String]),
    /// Calls with these `eventName`s (respond's history of a resource).
    Calls(&'a [&'a str]),
}

/// A trail an investigation reads, hop by hop.
pub trait Trail {
    /// Hand every event of `lookup` within `window` to `f`.
    fn events(
        &mut self,
        lookup: Lookup<'_>,
        window: &Window,
        f: &mut dyn FnMut(&Event<'_>),
    ) -> Result<()>;
    /// The evidence event ids of an alert (`None`: no such alert).
    fn alert_evidence(&mut self, alert_id: &str) -> Result<Option<Vec<String>>>;
    /// The alerts raised since `since` (their evidence is matched later).
    fn alerts_since(&mut self, since: &str) -> Result<Vec<AlertRef>>;
    /// The alerts in state ALARM with these ids (all, when empty) raised
    /// at or after `since` (respond's `--alert` and `--since`).
    fn alarming_alerts(
        &mut self,
        ids: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<AlertRef>>;
    /// When each value was first seen in the whole trail.
    fn first_seen(&mut self, values: &Values) -> Result<FirstSeen>;
    /// The trail's first and last event time.
    fn span(&mut self) -> Result<Option<(String, String)>>;
    /// What the trail is called in messages ("the lake", "the input").
    fn name(&self) -> &'static str;
}

/// Run the investigation over `trail`: the subject's events, then each
/// hop of minted keys, then cross-account copies, first sightings and
/// alerts. `geo` names the place of each public address.
pub fn investigate(trail: &mut dyn Trail, req: &Request, geo: Option<&GeoIp>) -> Result<Report> {
    let mut story = Story::new(req.subject.clone(), req.depth);
    let mut notes = Vec::new();
    match &req.subject {
        Subject::AccessKey(_) => {}
        Subject::Alert(id) => match trail.alert_evidence(id)? {
            Some(ids) => trail.events(Lookup::EventIds(&ids), &Window::default(), &mut |e| {
                story.start_from(e, false)
            })?,
            None => notes.push(format!("no alert {id} in {}'s alerts table", trail.name())),
        },
        subject => {
            let complete = subject.lookup_is_complete();
            trail.events(Lookup::Subject(subject), &req.window, &mut |e| {
                story.start_from(e, complete)
            })?;
        }
    }
    loop {
        let keys = story.take_pending();
        if keys.is_empty() {
            break;
        }
        trail.events(Lookup::Keys(&keys), &req.window, &mut |e| {
            story.observe(e);
        })?;
    }
    let shared = story.shared_event_ids();
    if let Some((first, last)) = story.span_ms()
        && !shared.is_empty()
    {
        // Both copies of a call carry its time: look only around the
        // story's span (days outside it are not read).
        let hour = chrono::Duration::hours(1);
        let near = Window {
            since: DateTime::from_timestamp_millis(first).map(|t| t - hour),
            until: DateTime::from_timestamp_millis(last).map(|t| t + hour),
        };
        trail.events(Lookup::Twins(&shared), &near, &mut |e| {
            story.observe_twin(e)
        })?;
    }
    let first = match story.first_time() {
        Some(_) => trail.first_seen(&story.values())?,
        None => FirstSeen::default(),
    };
    let alerts = match story.first_time() {
        Some(t) => trail.alerts_since(t.get(..10).unwrap_or(t))?,
        None => Vec::new(),
    };
    let place = |ip: &str| {
        let ip = ip.parse().ok().filter(|ip| is_public(*ip))?;
        geo?.locate(ip).map(|p| p.label())
    };
    let since = Window::text(req.window.since);
    let until = Window::text(req.window.until);
    let mut report = story.finish(since, until, &first, alerts, &place);
    if report.is_empty() && notes.is_empty() {
        let span = match trail.span()? {
            Some((a, b)) => format!("{} spans {a} to {b}", trail.name()),
            None => format!("{} holds no events", trail.name()),
        };
        notes.push(format!(
            "no event of {} {}; {span}",
            req.subject.describe(),
            window_words(&req.window)
        ));
    }
    if !report.not_followed.is_empty() {
        notes.push(format!(
            "the depth limit ({}) was reached: {} minted credential(s) not followed (raise --depth)",
            req.depth,
            report.not_followed.len()
        ));
    }
    report.notes.extend(notes);
    Ok(report)
}

/// Every record of `dec` to `on_record`, every problem to `on_problem`;
/// returns how many problems there were. Neither can stop the loop.
fn decode_all(
    dec: &mut trailwatch_core::event::Decoder,
    mut on_record: impl FnMut(&trailwatch_core::event::Record<'_>),
    mut on_problem: impl FnMut(&trailwatch_core::event::DecodeError),
) -> u64 {
    let done = dec.for_each(
        |r| {
            on_record(r);
            Ok::<(), std::convert::Infallible>(())
        },
        |e, _| {
            on_problem(&e);
            Ok(())
        },
    );
    done.unwrap_or_else(|never| match never {})
}

fn window_words(w: &Window) -> String {
    match (Window::text(w.since), Window::text(w.until)) {
        (None, None) => "at all".into(),
        (Some(s), None) => format!("since {s}"),
        (None, Some(u)) => format!("before {u}"),
        (Some(s), Some(u)) => format!("from {s} to {u}"),
    }
}
