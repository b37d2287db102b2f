//! The story being pieced together: the credentials found so far (with
//! how each was minted), the events made with them, and the tallies the
//! report is made of. A reader of the trail feeds it in hops: first the
//! events the subject names, then the events of the keys they minted,
//! and so on to the depth limit ([`Story::take_pending`] says which keys
//! to read next). Only credentials link events, never names.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::Subject;
use super::classify::{Created, created, is_tampering, resources};
use super::mint::{KeyKind, minted};
use super::report::{
    AlertRef, Credential, NotFollowed, Report, ResourceUse, Seen, SourceIp, Tampering,
    TimelineEvent,
};
use crate::event::{Event, parse_event_time};

/// When each value was first seen in the whole lake (or input), any
/// caller: the "new with this incident" signal.
#[derive(Debug, Default, Clone)]
pub struct FirstSeen {
    pub ips: BTreeMap<String, String>,
    pub agents: BTreeMap<String, String>,
    pub regions: BTreeMap<String, String>,
    pub accounts: BTreeMap<String, String>,
}

/// The values of the story's events, to ask [`FirstSeen`] about.
#[derive(Debug, Default, Clone)]
pub struct Values {
    pub ips: Vec<String>,
    pub agents: Vec<String>,
    pub regions: Vec<String>,
    pub accounts: Vec<String>,
}

#[derive(Debug, Default, Clone)]
struct Tally {
    events: u64,
    first: Option<(i64, String)>,
    last: Option<(i64, String)>,
}

impl Tally {
    fn add(&mut self, at: i64, time: &str) {
        self.events += 1;
        if self.first.as_ref().is_none_or(|(t, _)| at < *t) {
            self.first = Some((at, time.to_string()));
        }
        if self.last.as_ref().is_none_or(|(t, _)| at > *t) {
            self.last = Some((at, time.to_string()));
        }
    }

    fn first(&self) -> String {
        self.first
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    fn last(&self) -> String {
        self.last
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Key {
    principal: Option<String>,
    account: Option<String>,
    kind: KeyKind,
    parent: Option<String>,
    issued_by_event: Option<String>,
    depth: u32,
    tally: Tally,
}

/// An investigation in progress.
#[derive(Debug)]
pub struct Story {
    subject: Subject,
    depth: u32,
    keys: BTreeMap<String, Key>,
    pending: Vec<String>,
    not_followed: Vec<NotFollowed>,
    seen: HashSet<String>,
    events: Vec<(i64, TimelineEvent)>,
    shared: BTreeSet<String>,
    resources: BTreeMap<String, (u64, u64)>,
    created: Vec<Created>,
    tampering: Vec<Tampering>,
    ips: BTreeMap<String, Tally>,
    agents: BTreeMap<String, Tally>,
    regions: BTreeMap<String, Tally>,
    accounts: BTreeMap<String, Tally>,
}

fn event_ms(e: &Event<'_>) -> i64 {
    parse_event_time(&e.event_time).map_or(0, |t| t.timestamp_millis())
}

fn key_of<'e>(e: &'e Event<'_>) -> Option<&'e str> {
    e.user_identity
        .as_ref()?
        .access_key_id
        .as_deref()
        .filter(|k| !k.is_empty())
}

impl Story {
    /// A story about `subject`, following credentials `depth` hops. An
    /// access key subject is the first key to read.
    pub fn new(subject: Subject, depth: u32) -> Story {
        let mut story = Story {
            subject,
            depth,
            keys: BTreeMap::new(),
            pending: Vec::new(),
            not_followed: Vec::new(),
            seen: HashSet::new(),
            events: Vec::new(),
            shared: BTreeSet::new(),
            resources: BTreeMap::new(),
            created: Vec::new(),
            tampering: Vec::new(),
            ips: BTreeMap::new(),
            agents: BTreeMap::new(),
            regions: BTreeMap::new(),
            accounts: BTreeMap::new(),
        };
        if let Subject::AccessKey(key) = &story.subject {
            let key = key.clone();
            story.add_key(&key, None, None, 0);
        }
        story
    }

    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    fn add_key(
        &mut self,
        key: &str,
        parent: Option<(&str, &str)>,
        principal: Option<String>,
        depth: u32,
    ) {
        self.keys.insert(
            key.to_string(),
            Key {
                principal,
                account: None,
                kind: KeyKind::of(key),
                parent: parent.map(|(k, _)| k.to_string()),
                issued_by_event: parent.map(|(_, e)| e.to_string()),
                depth,
                tally: Tally::default(),
            },
        );
        self.pending.push(key.to_string());
    }

    /// An event the subject's own lookup found (by principal, session,
    /// address or alert evidence): it is part of the story, and its key
    /// is where the story starts. `complete`: the lookup returned every
    /// event of that key (a key has one principal, so a lookup by
    /// principal is), so the key need not be read again.
    pub fn start_from(&mut self, e: &Event<'_>, complete: bool) {
        if let Some(key) = key_of(e)
            && !self.keys.contains_key(key)
        {
            self.add_key(key, None, None, 0);
            if complete {
                self.pending.retain(|k| k != key);
            }
        }
        self.keep(e);
    }

    /// An event read for the pending keys: kept when a story credential
    /// made it. Returns whether it was kept.
    pub fn observe(&mut self, e: &Event<'_>) -> bool {
        if key_of(e).is_some_and(|k| self.keys.contains_key(k)) {
            self.keep(e);
            true
        } else {
            false
        }
    }

    /// The other account's copy of a story event (same `sharedEventID`).
    pub fn observe_twin(&mut self, e: &Event<'_>) {
        if e.shared_event_id
            .as_deref()
            .is_some_and(|s| self.shared.contains(s))
        {
            self.keep(e);
        }
    }

    /// The keys found since the last call, to read next.
    pub fn take_pending(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pending)
    }

    /// Every key of the story so far.
    pub fn keys(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// The `sharedEventID`s of the story's events: their copies in other
    /// accounts belong to it too.
    pub fn shared_event_ids(&self) -> Vec<String> {
        self.shared.iter().cloned().collect()
    }

    /// The event ids in the timeline.
    pub fn event_ids(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(|(_, e)| e.event_id.as_str())
    }

    /// The addresses, agents, regions and accounts of the story's events.
    pub fn values(&self) -> Values {
        Values {
            ips: self.ips.keys().cloned().collect(),
            agents: self.agents.keys().cloned().collect(),
            regions: self.regions.keys().cloned().collect(),
            accounts: self.accounts.keys().cloned().collect(),
        }
    }

    /// The story's first event time.
    pub fn first_time(&self) -> Option<&str> {
        self.events
            .iter()
            .min_by_key(|(at, _)| *at)
            .map(|(_, e)| e.event_time.as_str())
    }

    /// The story's first and last event times, in milliseconds.
    pub fn span_ms(&self) -> Option<(i64, i64)> {
        let first = self.events.iter().map(|(at, _)| *at).min()?;
        let last = self.events.iter().map(|(at, _)| *at).max()?;
        Some((first, last))
    }

    fn keep(&mut self, e: &Event<'_>) {
        if !self.seen.insert(e.event_id.to_string()) {
            return;
        }
        let at = event_ms(e);
        let time = e.event_time.as_str();
        let key = key_of(e);
        if let Some(k) = key.and_then(|k| self.keys.get_mut(k)) {
            k.tally.add(at, time);
            if k.principal.is_none() {
                k.principal = e.principal().map(str::to_string);
            }
            if k.account.is_none() {
                k.account = e
                    .user_identity
                    .as_ref()
                    .and_then(|u| u.account_id.as_deref())
                    .map(str::to_string);
            }
        }
        self.follow(e, key);
        let ok = e.error_code.is_none();
        let touched = resources(e);
        if ok {
            for r in &touched {
                let entry = self.resources.entry(r.clone()).or_default();
                if e.read_only == Some(true) {
                    entry.0 += 1;
                } else {
                    entry.1 += 1;
                }
            }
        }
        if let Some(c) = created(e) {
            self.created.push(c);
        }
        let name = e.event_name.as_deref().unwrap_or_default();
        if is_tampering(name) {
            self.tampering.push(Tampering {
                event_name: name.to_string(),
                event_id: e.event_id.to_string(),
                event_time: time.to_string(),
                error_code: e.error_code.as_deref().map(str::to_string),
            });
        }
        if let Some(s) = e.shared_event_id.as_deref() {
            self.shared.insert(s.to_string());
        }
        let ip = e.source_ip_address.as_deref().map(str::to_string);
        let agent = e.user_agent.as_deref().map(str::to_string);
        let account = e.account().map(str::to_string);
        for (map, v) in [
            (&mut self.ips, ip.clone()),
            (&mut self.agents, agent.clone()),
            (&mut self.regions, Some(e.aws_region.to_string())),
            (&mut self.accounts, account.clone()),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                map.entry(v).or_default().add(at, time);
            }
        }
        self.events.push((
            at,
            TimelineEvent {
                event_id: e.event_id.to_string(),
                event_time: time.to_string(),
                event_name: name.to_string(),
                event_source: e.event_source.as_deref().unwrap_or_default().to_string(),
                account,
                region: e.aws_region.to_string(),
                source_ip: ip,
                user_agent: agent,
                access_key_id: key.map(str::to_string),
                principal: e.principal().map(str::to_string),
                error_code: e.error_code.as_deref().map(str::to_string),
                read_only: e.read_only,
                resource: touched.into_iter().next(),
                alerts: Vec::new(),
            },
        ));
    }

    /// Follow what `e` minted: a new key one hop further, unless it is
    /// known already (a loop is followed once) or past the depth limit
    /// (reported, not followed).
    fn follow(&mut self, e: &Event<'_>, caller: Option<&str>) {
        let Some(caller) = caller else { return };
        let Some(depth) = self.keys.get(caller).map(|k| k.depth) else {
            return;
        };
        let Some(m) = minted(e) else { return };
        if self.keys.contains_key(&m.access_key_id) {
            return;
        }
        if depth >= self.depth {
            if !self
                .not_followed
                .iter()
                .any(|n| n.access_key_id == m.access_key_id)
            {
                self.not_followed.push(NotFollowed {
                    access_key_id: m.access_key_id,
                    parent: caller.to_string(),
                    issued_by_event: e.event_id.to_string(),
                });
            }
            return;
        }
        let caller = caller.to_string();
        self.add_key(
            &m.access_key_id,
            Some((&caller, &e.event_id)),
            m.principal,
            depth + 1,
        );
        if let Some(k) = self.keys.get_mut(&m.access_key_id) {
            k.kind = m.kind;
        }
    }

    /// The report: the timeline in time order, with what the lake knows
    /// of first sightings, the alerts citing the story's events, and a
    /// place for each address when `geo` knows it.
    pub fn finish(
        self,
        since: Option<String>,
        until: Option<String>,
        lake: &FirstSeen,
        alerts: Vec<AlertRef>,
        geo: &dyn Fn(&str) -> Option<String>,
    ) -> Report {
        let mut events = self.events;
        events.sort_by(|a, b| (a.0, &a.1.event_id).cmp(&(b.0, &b.1.event_id)));
        let start = events.first().map(|(at, _)| *at);
        let mut events: Vec<TimelineEvent> = events.into_iter().map(|(_, e)| e).collect();
        let alerts = cite(&mut events, alerts);
        let is_new = |first_in_lake: Option<&String>| {
            let lake_ms = first_in_lake
                .and_then(|t| parse_event_time(t))
                .map(|t| t.timestamp_millis());
            matches!((lake_ms, start), (Some(l), Some(s)) if l >= s)
        };
        let seen = |map: BTreeMap<String, Tally>, lake: &BTreeMap<String, String>| -> Vec<Seen> {
            map.into_iter()
                .map(|(value, t)| Seen {
                    events: t.events,
                    first_seen: t.first(),
                    last_seen: t.last(),
                    first_seen_in_lake: lake.get(&value).cloned(),
                    new: is_new(lake.get(&value)),
                    value,
                })
                .collect()
        };
        let source_ips = self
            .ips
            .into_iter()
            .map(|(ip, t)| SourceIp {
                events: t.events,
                first_seen: t.first(),
                last_seen: t.last(),
                first_seen_in_lake: lake.ips.get(&ip).cloned(),
                new: is_new(lake.ips.get(&ip)),
                geo: geo(&ip),
                ip,
            })
            .collect();
        let order: BTreeMap<&str, usize> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.event_id.as_str(), i))
            .collect();
        let mut created = self.created;
        created.sort_by_key(|c| order.get(c.event_id.as_str()).copied());
        let mut tampering = self.tampering;
        tampering.sort_by_key(|t| order.get(t.event_id.as_str()).copied());
        Report {
            subject: self.subject,
            since,
            until,
            depth: self.depth,
            credentials: credentials(self.keys),
            resources: resource_uses(self.resources),
            created,
            tampering,
            source_ips,
            user_agents: seen(self.agents, &lake.agents),
            regions: seen(self.regions, &lake.regions),
            accounts: seen(self.accounts, &lake.accounts),
            alerts,
            not_followed: self.not_followed,
            notes: Vec::new(),
            events,
        }
    }
}

/// The alerts with evidence in the timeline (each keeping only that
/// evidence), oldest first; each event is marked with their titles.
fn cite(events: &mut [TimelineEvent], mut alerts: Vec<AlertRef>) -> Vec<AlertRef> {
    let in_story: HashSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    for a in &mut alerts {
        a.event_ids.retain(|id| in_story.contains(id.as_str()));
    }
    alerts.retain(|a| !a.event_ids.is_empty());
    alerts.sort_by(|a, b| (&a.alert_time, &a.alert_id).cmp(&(&b.alert_time, &b.alert_id)));
    let mut titles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &alerts {
        for id in &a.event_ids {
            titles
                .entry(id.clone())
                .or_default()
                .push(a.title.clone().unwrap_or_else(|| a.rule_id.clone()));
        }
    }
    for e in events.iter_mut() {
        if let Some(t) = titles.remove(&e.event_id) {
            e.alerts = t;
        }
    }
    alerts
}

/// The keys as the report lists them: by hop, then first use.
fn credentials(keys: BTreeMap<String, Key>) -> Vec<Credential> {
    let mut out: Vec<Credential> = keys
        .into_iter()
        .map(|(access_key_id, k)| Credential {
            access_key_id,
            principal: k.principal,
            account: k.account,
            kind: k.kind,
            parent: k.parent,
            issued_by_event: k.issued_by_event,
            depth: k.depth,
            first_seen: k.tally.first.as_ref().map(|(_, s)| s.clone()),
            last_seen: k.tally.last.as_ref().map(|(_, s)| s.clone()),
            events: k.tally.events,
        })
        .collect();
    out.sort_by(|a, b| (a.depth, &a.first_seen).cmp(&(b.depth, &b.first_seen)));
    out
}

/// Resources by how often they were touched, most first.
fn resource_uses(resources: BTreeMap<String, (u64, u64)>) -> Vec<ResourceUse> {
    let mut out: Vec<ResourceUse> = resources
        .into_iter()
        .map(|(resource, (reads, writes))| ResourceUse {
            resource,
            reads,
            writes,
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.reads + r.writes));
    out
}
