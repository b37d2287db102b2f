//! The `[notify]` part of the TOML config: the sinks, by name, and the
//! routes that pick sinks by severity, rule or kind. A rule's `actions`
//! (Terraform's `alarm_actions`, whose SNS topics become action names)
//! also name sinks, so an imported alarm reaches the sink named after its
//! topic.
//!
//! String values may refer to the environment as `${NAME}`, so secrets stay
//! out of the file. They are expanded when a sink is built, not when the
//! file is read, so `notify status` works without the secrets at hand.
//! Secret values never appear in `Debug` output or logs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use trailwatch_core::alert::{Alert, AlertKind, Severity};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The outbox folder (default: beside the default lake).
    pub outbox: Option<PathBuf>,
    /// Defaults for every sink; each sink may override them.
    #[serde(default)]
    pub defaults: Delivery,
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    #[serde(default, rename = "sink")]
    pub sinks: BTreeMap<String, SinkConfig>,
}

/// How hard to try, and how fast to send.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// After this long undelivered, an alert goes to the dead letters
    /// (`30s`, `15m`, `24h`, `7d`). Default 24h.
    pub max_age: Option<String>,
    /// The first retry's delay (default `1s`); it doubles each time.
    pub retry_initial: Option<String>,
    /// The longest delay between retries (default `5m`).
    pub retry_max: Option<String>,
    /// Messages per minute at most; past it, alerts are folded into one
    /// digest message. Default 30.
    pub max_per_minute: Option<u32>,
}

/// Resolved delivery settings.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    pub max_age: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub max_per_minute: u32,
}

impl Delivery {
    /// These settings over `base`'s.
    pub fn resolve(&self, base: &Delivery) -> Result<DeliveryPolicy> {
        let pick = |mine: &Option<String>, theirs: &Option<String>, default: &str| {
            parse_duration(mine.as_deref().or(theirs.as_deref()).unwrap_or(default))
        };
        let per_minute = self.max_per_minute.or(base.max_per_minute).unwrap_or(30);
        if per_minute == 0 {
            bail!("max_per_minute must be at least 1");
        }
        Ok(DeliveryPolicy {
            max_age: pick(&self.max_age, &base.max_age, "24h")?,
            retry_initial: pick(&self.retry_initial, &base.retry_initial, "1s")?,
            retry_max: pick(&self.retry_max, &base.retry_max, "5m")?,
            max_per_minute: per_minute,
        })
    }
}

/// The longest duration a setting may give: a year. Anything longer is a
/// mistake, and deadlines computed from it must stay representable.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// `250ms`, `30s`, `15m`, `24h`, `7d`, up to [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let usage = || format!("duration {s:?}: use 250ms, 30s, 15m, 24h or 7d, at most 365d");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().with_context(usage)?;
    let millis = match unit {
        "ms" => Some(n),
        "s" | "" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => bail!(usage()),
    };
    match millis.map(Duration::from_millis) {
        Some(d) if d <= MAX_DURATION => Ok(d),
        _ => bail!("{} is out of range", usage()),
    }
}

/// Routes are checked in order; the first that matches an alert gives its
/// sinks (so a last route without conditions catches everything else).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Severities this route takes (any when absent).
    pub severity: Option<Vec<Severity>>,
    /// Rule ids this route takes; a trailing `*` matches a prefix.
    pub rules: Option<Vec<String>>,
    /// `finding`, `alarm`, `correlation`, `log-tampering` or
    /// `delivery-gap` (any when absent); another word is a config error.
    pub kind: Option<AlertKind>,
    pub sinks: Vec<String>,
}

impl Route {
    fn matches(&self, a: &Alert) -> bool {
        self.severity
            .as_ref()
            .is_none_or(|s| s.contains(&a.severity))
            && self.kind.is_none_or(|k| k == a.kind)
            && self.rules.as_ref().is_none_or(|rules| {
                rules.iter().any(|r| match r.strip_suffix('*') {
                    Some(prefix) => a.rule_id.starts_with(prefix),
                    None => *r == a.rule_id,
                })
            })
    }
}

/// A secret from the config: shown as `<redacted>` whenever printed. As
/// read, it holds the text written (maybe `${NAME}`); [`Secret::resolve`]
/// gives the secret itself.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value with `${NAME}` expanded from the environment.
    pub fn resolve(&self) -> Result<Secret> {
        expand_env(&self.0).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Plain text that may refer to the environment as `${NAME}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// The text with `${NAME}` expanded from the environment.
    pub fn resolve(&self) -> Result<String> {
        expand_env(&self.0)
    }
}

/// Replace each `${NAME}` with the environment variable's value; a missing
/// variable is an error that names it (never a value).
pub fn expand_env(raw: &str) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start + 2..].find('}') else {
            bail!("unclosed ${{ in a config value");
        };
        let name = &rest[start + 2..start + 2 + len];
        let value = std::env::var(name)
            .with_context(|| format!("the config refers to ${{{name}}}, which is not set"))?;
        out.push_str(&value);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// How SMTP is protected.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS on the submission port (587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on localhost.
    None,
}

/// What a file or webhook sink writes.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    /// trailwatch's own alert JSON.
    #[default]
    Trailwatch,
    /// OCSF 1.1.0 Detection Findings (class 2004).
    Ocsf,
}

/// One sink's settings, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkKind {
    Stdout,
    File {
        path: PathBuf,
        /// `trailwatch` (the alert as `detect --format ndjson` prints it,
        /// the default) or `ocsf` (an OCSF Detection Finding per line).
        #[serde(default)]
        format: Payload,
        /// Rotate when the file passes this many bytes (default 100 MB).
        max_bytes: Option<u64>,
        /// Rotated files kept: FILE.1 … FILE.N (default 5).
        keep: Option<u32>,
    },
    Webhook {
        url: Secret,
        /// `trailwatch` (the envelope `{version, kind, alert_ids, alerts}`,
        /// the default) or `ocsf` (a JSON array of OCSF Detection Findings).
        #[serde(default)]
        format: Payload,
        #[serde(default)]
        headers: BTreeMap<String, Secret>,
        /// Shared secret for the `X-Trailwatch-Signature` HMAC-SHA256 header.
        secret: Option<Secret>,
        /// Seconds per request (default 10).
        timeout: Option<u64>,
    },
    Slack {
        url: Secret,
        timeout: Option<u64>,
    },
    Pagerduty {
        routing_key: Secret,
        /// The Events API v2 endpoint (default PagerDuty's).
        url: Option<Text>,
        timeout: Option<u64>,
    },
    Email {
        host: Text,
        port: Option<u16>,
        #[serde(default)]
        tls: SmtpTls,
        username: Option<Secret>,
        password: Option<Secret>,
        from: Text,
        to: Vec<Text>,
        timeout: Option<u64>,
        /// A PEM CA certificate to trust besides the built-in roots (an
        /// internal relay's own CA).
        ca_file: Option<PathBuf>,
    },
    Sns {
        topic_arn: Text,
        /// Default: the topic ARN's region.
        region: Option<Text>,
        /// An SNS-compatible endpoint; also `AWS_ENDPOINT_URL`.
        endpoint_url: Option<Text>,
    },
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub kind: SinkKind,
    pub delivery: Delivery,
}

/// The delivery settings a sink's table may carry beside its own.
const DELIVERY_KEYS: [&str; 4] = ["max_age", "retry_initial", "retry_max", "max_per_minute"];

impl<'de> Deserialize<'de> for SinkConfig {
    // By hand rather than with two `#[serde(flatten)]` fields: flattening
    // cannot refuse unknown keys, and a typo in a sink should be an error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SinkConfig, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let mut delivery = toml::Table::new();
        for k in DELIVERY_KEYS {
            if let Some(v) = table.remove(k) {
                delivery.insert(k.to_string(), v);
            }
        }
        Ok(SinkConfig {
            kind: toml::Value::Table(table)
                .try_into()
                .map_err(D::Error::custom)?,
            delivery: toml::Value::Table(delivery)
                .try_into()
                .map_err(D::Error::custom)?,
        })
    }
}

impl SinkKind {
    /// The settings the config marks secret, for redaction.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            SinkKind::Webhook {
                url,
                headers,
                secret,
                ..
            } => std::iter::once(url)
                .chain(headers.values())
                .chain(secret.iter())
                .collect(),
            SinkKind::Slack { url, .. } => vec![url],
            SinkKind::Pagerduty { routing_key, .. } => vec![routing_key],
            SinkKind::Email {
                username, password, ..
            } => username.iter().chain(password.iter()).collect(),
            SinkKind::Stdout | SinkKind::File { .. } | SinkKind::Sns { .. } => Vec::new(),
        }
    }

    /// The plain settings that may refer to the environment.
    fn texts(&self) -> Vec<&Text> {
        match self {
            SinkKind::Pagerduty { url, .. } => url.iter().collect(),
            SinkKind::Email { host, from, to, .. } => {
                [host, from].into_iter().chain(to.iter()).collect()
            }
            SinkKind::Sns {
                topic_arn,
                region,
                endpoint_url,
            } => std::iter::once(topic_arn)
                .chain(region.iter())
                .chain(endpoint_url.iter())
                .collect(),
            SinkKind::Stdout
            | SinkKind::File { .. }
            | SinkKind::Webhook { .. }
            | SinkKind::Slack { .. } => Vec::new(),
        }
    }

    /// Every `${NAME}` the sink refers to is set (the values are read and
    /// dropped, never kept or shown).
    pub fn check_env(&self) -> Result<()> {
        for s in self.secrets() {
            s.resolve()?;
        }
        for t in self.texts() {
            t.resolve()?;
        }
        Ok(())
    }

    /// Sink timeouts in seconds, each within 1 s and [`MAX_DURATION`].
    fn check_timeout(&self) -> Result<()> {
        let t = match self {
            SinkKind::Webhook { timeout, .. }
            | SinkKind::Slack { timeout, .. }
            | SinkKind::Pagerduty { timeout, .. }
            | SinkKind::Email { timeout, .. } => *timeout,
            _ => None,
        };
        if let Some(t) = t
            && !(1..=MAX_DURATION.as_secs()).contains(&t)
        {
            bail!(
                "timeout = {t}: give 1 to {} seconds",
                MAX_DURATION.as_secs()
            );
        }
        Ok(())
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            SinkKind::Stdout => "stdout",
            SinkKind::File { .. } => "file",
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Slack { .. } => "slack",
            SinkKind::Pagerduty { .. } => "pagerduty",
            SinkKind::Email { .. } => "email",
            SinkKind::Sns { .. } => "sns",
        }
    }
}

impl NotifyConfig {
    /// The sinks an alert goes to: those its rule's actions name, plus the
    /// first matching route's.
    pub fn sinks_for(&self, a: &Alert) -> Vec<String> {
        let mut out: Vec<String> = a
            .actions
            .iter()
            .filter(|name| self.sinks.contains_key(name.as_str()))
            .cloned()
            .collect();
        if let Some(route) = self.routes.iter().find(|r| r.matches(a)) {
            out.extend(route.sinks.iter().cloned());
        }
        out.sort();
        out.dedup();
        out
    }

    /// Every name a route uses must be a configured sink.
    pub(crate) fn check(&self) -> Result<()> {
        for (i, r) in self.routes.iter().enumerate() {
            for s in &r.sinks {
                if !self.sinks.contains_key(s) {
                    bail!("notify.route #{}: no sink named {s:?} is configured", i + 1);
                }
            }
        }
        for (name, s) in &self.sinks {
            s.delivery
                .resolve(&self.defaults)
                .with_context(|| format!("notify.sink.{name}"))?;
            s.kind
                .check_timeout()
                .with_context(|| format!("notify.sink.{name}"))?;
            if name.contains(['/', '\\']) || name.starts_with('.') {
                bail!("notify.sink.{name}: a sink name cannot contain / or start with .");
            }
        }
        self.defaults.resolve(&Delivery::default())?;
        Ok(())
    }

    /// Every sink's `${NAME}` references are set: what `config check`
    /// asks (other commands expand them only as they build a sink, so
    /// `notify status` works without the secrets at hand).
    pub fn check_env(&self) -> Result<()> {
        for (name, s) in &self.sinks {
            s.kind
                .check_env()
                .with_context(|| format!("notify.sink.{name}"))?;
        }
        Ok(())
    }

    /// The outbox folder.
    pub fn outbox_dir(&self) -> Result<PathBuf> {
        if let Some(p) = &self.outbox {
            return Ok(p.clone());
        }
        crate::state_dir::state_path("outbox").context("set notify.outbox in the config")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config file with only its `[notify]` section.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawConfig {
        notify: NotifyConfig,
    }

    fn alert(rule: &str, severity: Severity, actions: &[&str]) -> Alert {
        let mut a = crate::notify::message::Message::test().alerts.remove(0);
        a.kind = AlertKind::Finding;
        a.rule_id = rule.into();
        a.severity = severity;
        a.actions = actions.iter().map(|s| s.to_string()).collect();
        a
    }

    const CONFIG: &str = r#"
        [notify]
        outbox = "/tmp/outbox"
        defaults = { max_age = "2h", max_per_minute = 10 }

        [[notify.route]]
        severity = ["P1"]
        sinks = ["pager"]

        [[notify.route]]
        rules = ["cis-*"]
        sinks = ["audit-log"]

        [[notify.route]]
        sinks = ["chat"]

        [notify.sink.pager]
        type = "pagerduty"
        routing_key = "${TW_TEST_ROUTING_KEY}"

        [notify.sink.chat]
        type = "slack"
        url = "https://hooks.slack.example/T/B/X"
        max_per_minute = 5

        [notify.sink.audit-log]
        type = "file"
        path = "/var/log/trailwatch/alerts.ndjson"

        [notify.sink.security_alerts]
        type = "sns"
        topic_arn = "arn:aws:sns:us-east-1:111122223333:security-alerts"
    "#;

    #[test]
    fn routes_pick_the_first_match_and_actions_add_sinks() {
        let text = CONFIG.replace("${TW_TEST_ROUTING_KEY}", "R0UT1NG");
        let file: RawConfig = toml::from_str(&text).unwrap();
        let c = file.notify;
        c.check().unwrap();
        assert_eq!(
            c.sinks_for(&alert("root-usage", Severity::P1, &[])),
            ["pager"]
        );
        assert_eq!(c.sinks_for(&alert("cis-4.3", Severity::P1, &[])), ["pager"]);
        assert_eq!(
            c.sinks_for(&alert("cis-4.3", Severity::P2, &[])),
            ["audit-log"]
        );
        assert_eq!(c.sinks_for(&alert("x", Severity::P4, &[])), ["chat"]);
        assert_eq!(
            c.sinks_for(&alert(
                "x",
                Severity::P3,
                &["security_alerts", "unknown-topic"]
            )),
            ["chat", "security_alerts"]
        );
        let chat = &c.sinks["chat"];
        let p = chat.delivery.resolve(&c.defaults).unwrap();
        assert_eq!(p.max_per_minute, 5);
        assert_eq!(p.max_age, Duration::from_secs(7200));
        assert_eq!(p.retry_initial, Duration::from_secs(1));
    }

    #[test]
    fn secrets_are_redacted_and_missing_variables_named() {
        let text = CONFIG.replace("${TW_TEST_ROUTING_KEY}", "R0UT1NG");
        let file: RawConfig = toml::from_str(&text).unwrap();
        let shown = format!("{:?}", file.notify);
        assert!(!shown.contains("R0UT1NG"), "{shown}");
        assert!(!shown.contains("hooks.slack.example"), "{shown}");
        // Variables are expanded when a sink is built: reading the file
        // needs none of them, building names the one that is missing.
        let file: RawConfig = toml::from_str(CONFIG).unwrap();
        let SinkKind::Pagerduty { routing_key, .. } = &file.notify.sinks["pager"].kind else {
            panic!("the pager sink is PagerDuty");
        };
        let err = routing_key.resolve().unwrap_err().to_string();
        assert!(err.contains("${TW_TEST_ROUTING_KEY}"), "{err}");
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad_route = "[[notify.route]]\nsinks = [\"nope\"]\n";
        let file: RawConfig = toml::from_str(bad_route).unwrap();
        assert!(
            file.notify
                .check()
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
        let bad_type = "[notify.sink.x]\ntype = \"carrier-pigeon\"\n";
        assert!(toml::from_str::<RawConfig>(bad_type).is_err());
        let bad_age = "[notify.sink.x]\ntype = \"stdout\"\nmax_age = \"soon\"\n";
        let file: RawConfig = toml::from_str(bad_age).unwrap();
        assert!(file.notify.check().is_err());
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
    }
}
