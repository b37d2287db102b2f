//! Impossible travel: the same identity seen from two source IPs whose
//! locations are farther apart than `max_speed_kmh` allows in the time
//! between the two events.
//!
//! Console sign-ins and API calls both count; failed sign-ins do not (the
//! person never got in). Addresses that are not a person's whereabouts
//! are skipped: AWS service names and `AWS Internal`, private and other
//! special ranges, and the allow-listed ranges (VPN egress). Each identity
//! keeps its last sighting; a jump between the same two places alerts
//! once a day, so an attacker and the victim taking turns do not flood.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::geo::{GeoIp, Place, distance_km, is_public};
use super::identity::Sessions;
use super::{Detection, IMPOSSIBLE_TRAVEL, Settings, correlation_id, iso, sql_text};
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind};
use crate::event::Record;

/// How long a sighting is compared with later ones: no two places on
/// Earth are more than a day apart at any plausible speed.
const WINDOW_MS: i64 = 24 * 3_600_000;

/// How long a taken (identity, place, minute) is remembered: longer than
/// records can arrive out of order (a day, as the reorder window).
const SEEN_MINUTES: i64 = 26 * 60;

/// How many located addresses are remembered (most trails have few).
const CACHE: usize = 100_000;

/// One located event of an identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sighting {
    pub identity: String,
    /// The ARN (or other principal name) the event itself carries.
    pub principal: String,
    pub ip: String,
    pub place: Place,
    pub event_id: String,
    pub event_name: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TravelState {
    sessions: Sessions,
    /// Identity → (time ms, last sighting).
    last: BTreeMap<String, (i64, Sighting)>,
    /// Hashes of (identity, place, minute) already taken → the minute.
    seen: HashMap<u64, i64>,
    /// `identity\nplace\nplace` → when it last alerted (ms). (Text keys:
    /// the state is saved as JSON, whose object keys are strings.)
    alerted: BTreeMap<String, i64>,
}

#[derive(Debug)]
pub struct Travel {
    geo: Arc<GeoIp>,
    max_speed: f64,
    min_km: f64,
    allow: Vec<ipnet::IpNet>,
    attribution: String,
    cache: HashMap<IpAddr, Option<Place>>,
    state: TravelState,
}

impl Travel {
    pub fn new(settings: &Settings, geo: Arc<GeoIp>) -> Travel {
        Travel {
            attribution: geo.attribution(),
            geo,
            max_speed: settings.max_speed_kmh,
            min_km: settings.min_distance_km,
            allow: settings.travel_ranges(),
            cache: HashMap::new(),
            state: TravelState::default(),
        }
    }
}

/// A console sign-in that failed.
fn failed_login(r: &Record<'_>) -> bool {
    r.event.event_name.as_deref() == Some("ConsoleLogin")
        && (r.event.error_message.is_some()
            || r.event
                .response_elements
                .is_some_and(|v| v.get().contains("\"Failure\"")))
}

impl Detection for Travel {
    type Fact = Sighting;
    type State = TravelState;

    fn name(&self) -> &str {
        IMPOSSIBLE_TRAVEL.id
    }

    fn fact(&mut self, r: &Record<'_>) -> Option<Sighting> {
        let at = r.time.timestamp_millis();
        let e = &r.event;
        // Session keys are learnt from every record, located or not.
        self.state.sessions.learn(e, at);
        let ip_text = e.source_ip_address.as_deref()?.trim();
        let ip: IpAddr = ip_text.parse().ok()?;
        if !is_public(ip) || self.allow.iter().any(|n| n.contains(&ip)) || failed_login(r) {
            return None;
        }
        let identity = self.state.sessions.identify(e)?;
        let event_id = e.event_id.as_str();
        let event_name = e.event_name.as_deref().unwrap_or_default();
        if !self.cache.contains_key(&ip) {
            if self.cache.len() >= CACHE {
                self.cache.clear();
            }
            let p = self.geo.locate(ip);
            self.cache.insert(ip, p);
        }
        let here = self.cache.get(&ip)?.as_ref()?;
        // One sighting per identity, place and minute is enough (speeds
        // are measured over minutes at least), and which record of the
        // minute represents it does not matter: so the facts are the same
        // whatever order the files arrive in. (The hot path: every record
        // with a public address.)
        let minute = at.div_euclid(60_000);
        let key = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (
                identity.as_ref(),
                here.lat.to_bits(),
                here.lon.to_bits(),
                minute,
            )
                .hash(&mut h);
            h.finish()
        };
        if self.state.seen.insert(key, minute).is_some() {
            return None;
        }
        let place = here.clone();
        let ip_text = ip_text.to_string();
        let sighting = Sighting {
            identity: identity.into_owned(),
            principal: e.principal().unwrap_or_default().to_string(),
            ip: ip_text,
            place,
            event_id: event_id.to_string(),
            event_name: event_name.to_string(),
        };
        Some(sighting)
    }

    fn process(&mut self, at: i64, s: Sighting, out: &mut Vec<Alert>) {
        self.sighting(at, s, out);
    }

    fn expire(&mut self, now: i64, _out: &mut Vec<Alert>) {
        self.state.sessions.expire(now);
        self.state
            .last
            .retain(|_, (t, _)| now.saturating_sub(*t) <= WINDOW_MS);
        let minute = now.div_euclid(60_000);
        self.state
            .seen
            .retain(|_, m| minute.saturating_sub(*m) <= SEEN_MINUTES);
        self.state
            .alerted
            .retain(|_, t| now.saturating_sub(*t) <= WINDOW_MS);
    }

    fn state(&self) -> &TravelState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut TravelState {
        &mut self.state
    }
}

impl Travel {
    /// One sighting in event-time order: compared with the identity's
    /// previous one.
    fn sighting(&mut self, at: i64, s: Sighting, out: &mut Vec<Alert>) {
        let prev = self.state.last.get(&s.identity).cloned();
        if let Some((then, p)) = prev
            && p.ip != s.ip
            && at.saturating_sub(then) <= WINDOW_MS
        {
            let km = distance_km(&p.place, &s.place);
            let hours = (at.saturating_sub(then)).max(0) as f64 / 3_600_000.0;
            let speed = if hours > 0.0 {
                km / hours
            } else {
                f64::INFINITY
            };
            if km >= self.min_km && speed > self.max_speed {
                let (a, b) = (p.place.label(), s.place.label());
                let key = if a <= b {
                    format!("{}\n{a}\n{b}", s.identity)
                } else {
                    format!("{}\n{b}\n{a}", s.identity)
                };
                let recent = self
                    .state
                    .alerted
                    .get(&key)
                    .is_some_and(|t| at.saturating_sub(*t) < WINDOW_MS);
                if !recent {
                    self.state.alerted.insert(key, at);
                    out.push(self.alert(then, &p, at, &s, km, speed));
                }
            }
        }
        self.state.last.insert(s.identity.clone(), (at, s));
    }

    fn alert(&self, then: i64, p: &Sighting, now: i64, s: &Sighting, km: f64, speed: f64) -> Alert {
        let minutes = (now - then) as f64 / 60_000.0;
        let speed_text = if speed.is_finite() {
            format!("{speed:.0} km/h")
        } else {
            "at the same moment".to_string()
        };
        let description = format!(
            "{} was in {} ({}, {} at {}) and {:.0} minutes later in {} ({}, {} at {}): {:.0} km apart, {} against a limit of {:.0} km/h. Locations: {}.",
            s.identity,
            p.place.label(),
            p.ip,
            p.event_name,
            iso(then),
            minutes,
            s.place.label(),
            s.ip,
            s.event_name,
            iso(now),
            km,
            speed_text,
            self.max_speed,
            self.attribution,
        );
        let mut principals = vec![p.principal.clone()];
        if s.principal != p.principal {
            principals.push(s.principal.clone());
        }
        let names: Vec<String> = principals.iter().map(|n| sql_text(n)).collect();
        let query = format!(
            "SELECT eventtime, eventname, sourceipaddress, useridentity.arn, errorcode FROM cloudtrail_logs\nWHERE useridentity.arn IN ({}) AND eventtime BETWEEN {} AND {}\nORDER BY eventtime",
            names.join(", "),
            sql_text(&iso(then - 3_600_000)),
            sql_text(&iso(now + 3_600_000)),
        );
        let dimensions = [
            ("identity", s.identity.clone()),
            ("from_ip", p.ip.clone()),
            ("from_location", p.place.label()),
            ("from_time", iso(then)),
            ("to_ip", s.ip.clone()),
            ("to_location", s.place.label()),
            ("to_time", iso(now)),
            ("distance_km", format!("{km:.0}")),
            (
                "speed_kmh",
                if speed.is_finite() {
                    format!("{speed:.0}")
                } else {
                    "inf".into()
                },
            ),
            ("geoip_attribution", self.attribution.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Alert {
            // Places and the minute, not event ids: which record of a
            // minute represents it depends on file order.
            alert_id: correlation_id(
                &IMPOSSIBLE_TRAVEL,
                &[
                    &s.identity,
                    &p.place.label(),
                    &s.place.label(),
                    &now.div_euclid(60_000).to_string(),
                ],
            ),
            kind: AlertKind::Correlation,
            rule_id: IMPOSSIBLE_TRAVEL.id.to_string(),
            title: format!("Impossible travel: {} to {}", p.place.label(), s.place.label()),
            severity: IMPOSSIBLE_TRAVEL.severity,
            state: AlarmState::Alarm,
            time: iso(now),
            window_start: Some(iso(then)),
            window_end: Some(iso(now)),
            threshold: Some(self.max_speed),
            datapoints: Vec::new(),
            dimensions,
            event_ids: vec![p.event_id.clone(), s.event_id.clone()],
            event_count: 2,
            principals,
            source_ips: vec![p.ip.clone(), s.ip.clone()],
            actions: vec![
                "Ask the person whether both sign-ins were theirs; if not, revoke the identity's sessions and rotate its keys and password.".into(),
                "Run the query to see everything the identity did from both places.".into(),
            ],
            description,
            query: Some(query),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::super::cases::{Case, call, check, role_session, user, with};
    use super::super::geo::{GeoIp, Place};
    use super::super::{Ordered, Settings};
    use super::Travel;
    use crate::detect::Detector;

    /// A small world: London, Reading (60 km west), New York, Sydney.
    fn world() -> Arc<GeoIp> {
        let place = |lat, lon, city: &str| Place {
            lat,
            lon,
            city: city.into(),
            country: String::new(),
        };
        Arc::new(GeoIp::from_table(vec![
            (
                "81.2.69.0/24".parse().unwrap(),
                place(51.5074, -0.1278, "London"),
            ),
            (
                "81.2.70.0/24".parse().unwrap(),
                place(51.4543, -0.9781, "Reading"),
            ),
            (
                "8.8.8.0/24".parse().unwrap(),
                place(40.7128, -74.0060, "New York"),
            ),
            (
                "1.1.1.0/24".parse().unwrap(),
                place(-33.8688, 151.2093, "Sydney"),
            ),
        ]))
    }

    fn detector(s: &Settings) -> Box<dyn Detector> {
        Box::new(Ordered::new(Travel::new(s, world())))
    }

    /// `who` calls from `ip` at `time`.
    fn from(time: &str, who: Value, ip: &str) -> Value {
        with(
            call(time, "ec2", "DescribeInstances", who),
            "sourceIPAddress",
            json!(ip),
        )
    }

    fn alice() -> Value {
        user("alice")
    }

    #[test]
    fn one_identity_too_far_apart_too_soon_fires() {
        let cases = [
            Case::fires(
                "London, then Sydney an hour later",
                "user/alice was in London (81.2.69.142, DescribeInstances at 2024-05-01T10:00:00Z) and 60 minutes later in Sydney",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T11:00:00Z", alice(), "1.1.1.1"),
                ],
            ),
            Case::fires(
                "a session alice started, used from Sydney",
                "user/alice was in London",
                vec![
                    with(
                        with(
                            from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                            "eventName",
                            json!("AssumeRole"),
                        ),
                        "responseElements",
                        json!({"credentials": {"accessKeyId": "ASIAALICE1"}}),
                    ),
                    from(
                        "2024-05-01T10:30:00Z",
                        role_session("admin", "s", "ASIAALICE1"),
                        "1.1.1.7",
                    ),
                ],
            ),
            Case::fires(
                "turns between the same two places alert once a day",
                "Sydney",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T11:00:00Z", alice(), "1.1.1.1"),
                    from("2024-05-01T12:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T13:00:00Z", alice(), "1.1.1.1"),
                ],
            ),
        ];
        check(&cases, || detector(&Settings::default()));
    }

    #[test]
    fn plausible_journeys_failed_sign_ins_and_unlocated_addresses_stay_quiet() {
        let failed_login = |time: &str, ip: &str| {
            let c = with(
                call(time, "signin", "ConsoleLogin", alice()),
                "sourceIPAddress",
                json!(ip),
            );
            let c = with(c, "errorMessage", json!("Failed authentication"));
            with(c, "responseElements", json!({"ConsoleLogin": "Failure"}))
        };
        let cases = [
            Case::quiet(
                "London, then New York twelve hours later",
                vec![
                    from("2024-05-01T08:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T20:00:00Z", alice(), "8.8.8.8"),
                ],
            ),
            Case::quiet(
                "London and Reading a minute apart (closer than min_distance_km)",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T10:01:00Z", alice(), "81.2.70.1"),
                ],
            ),
            Case::quiet(
                "a failed sign-in from far away",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    failed_login("2024-05-01T10:05:00Z", "1.1.1.1"),
                ],
            ),
            Case::quiet(
                "private and service addresses",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T10:05:00Z", alice(), "10.0.0.8"),
                    from("2024-05-01T10:06:00Z", alice(), "s3.amazonaws.com"),
                ],
            ),
            Case::quiet(
                "two users, one in each place",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T10:05:00Z", user("bob"), "1.1.1.1"),
                ],
            ),
            Case::quiet(
                "sightings more than a day apart",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-02T11:00:00Z", alice(), "1.1.1.1"),
                ],
            ),
        ];
        check(&cases, || detector(&Settings::default()));
        let vpn = Settings {
            travel_allow: vec!["1.1.1.0/24".into()],
            ..Settings::default()
        };
        check(
            &[Case::quiet(
                "the allow-listed VPN egress",
                vec![
                    from("2024-05-01T10:00:00Z", alice(), "81.2.69.142"),
                    from("2024-05-01T10:05:00Z", alice(), "1.1.1.1"),
                ],
            )],
            || detector(&vpn),
        );
    }
}
