//! The one TOML config file: `[lake]`, `[detect]`, `[watch]`,
//! `[correlate]`, `[serve]`, `[respond]` and `[notify]`. Every level refuses unknown
//! keys, so a typo is an error naming the file, the line and the key, not
//! a silent default. A flag overrides the file, and the file overrides the
//! built-in default; `trailwatch config check` prints every effective
//! setting and where it came from ([`Config::check_rows`]).
//!
//! The file is read and checked once, at the edge ([`Config::load`]);
//! each section's module resolves it, with the flags that override it,
//! into the typed settings its commands use and owns the section's
//! defaults, ranges and `config check` rows. Nothing outside this folder
//! sees the file as written.
//!
//! The file is `--config FILE`, else `$TRAILWATCH_CONFIG`, else
//! `~/.config/trailwatch/config.toml` when it exists; without one, every
//! setting is a flag or a default.

mod detect;
mod duration;
mod lake;
mod respond;
mod serve;
mod watch;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::notify::config::NotifyConfig;

pub use detect::{DetectFlags, DetectSettings};
pub use respond::{RespondFlags, RespondSettings};
pub use serve::{ServeFlags, ServeSettings};
pub use watch::{WatchFlags, WatchSettings};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    lake: lake::LakeSection,
    #[serde(default)]
    detect: detect::DetectSection,
    #[serde(default)]
    watch: watch::WatchSection,
    /// The correlation detections' settings
    /// ([`trailwatch_core::correlate::Settings`]).
    #[serde(default)]
    correlate: Option<Spanned<trailwatch_core::correlate::Settings>>,
    #[serde(default)]
    notify: NotifyConfig,
    #[serde(default)]
    serve: serve::ServeSection,
    #[serde(default)]
    respond: respond::RespondSection,
}

/// The config in force: the file (when there is one), checked, and its
/// text, for telling where a setting came from.
#[derive(Debug, Default)]
pub struct Config {
    path: Option<PathBuf>,
    text: String,
    raw: RawConfig,
}

/// Where an effective setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(&'static str),
    File { path: PathBuf, line: usize },
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(name) => write!(f, "environment {name}"),
            // Line 0: the file, where the setting's line is not tracked.
            Source::File { path, line: 0 } => write!(f, "{}", path.display()),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// An effective setting and where it came from.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub from: Source,
}

impl<T> Setting<T> {
    fn built_in(value: T) -> Setting<T> {
        Setting {
            value,
            from: Source::Default,
        }
    }
}

/// One line of `config check`: a setting's key, its value as shown, and
/// where it came from (none for a summary line such as the sink list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub value: String,
    pub from: Option<Source>,
}

impl Row {
    fn new(key: impl Into<String>, value: impl Into<String>, from: Source) -> Row {
        Row {
            key: key.into(),
            value: value.into(),
            from: Some(from),
        }
    }

    /// A path setting that may be unset (shown as `-`).
    fn path(key: &str, s: &Option<Setting<PathBuf>>) -> Row {
        match s {
            Some(s) => Row::new(key, s.value.display().to_string(), s.from.clone()),
            None => Row::new(key, "-", Source::Default),
        }
    }
}

/// The config file to read: `given`, else `$TRAILWATCH_CONFIG`, else
/// `~/.config/trailwatch/config.toml` when it exists.
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("TRAILWATCH_CONFIG") {
        return Some(p.into());
    }
    let p = dirs::config_dir()?.join("trailwatch").join("config.toml");
    p.exists().then_some(p)
}

impl Config {
    /// Read and check the config file `given` (or the default one); no file
    /// at all is an empty config.
    pub fn load(given: Option<&Path>) -> Result<Config> {
        let Some(path) = config_path(given) else {
            return Ok(Config::default());
        };
        Config::from_file(&path)
    }

    pub fn from_file(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Config::from_text(path, text)
    }

    /// The config whose file `path` holds `text`, checked.
    fn from_text(path: &Path, text: String) -> Result<Config> {
        // toml's message names the line, the column and the key.
        let raw: RawConfig = toml::from_str(&text)
            .with_context(|| format!("the config {} is not valid", path.display()))?;
        raw.notify
            .check()
            .with_context(|| format!("checking {}", path.display()))?;
        let cfg = Config {
            path: Some(path.to_path_buf()),
            text,
            raw,
        };
        if let Some(c) = &cfg.raw.correlate {
            c.get_ref().validate().with_context(|| {
                format!(
                    "checking {} (the [correlate] section at line {})",
                    path.display(),
                    cfg.line_of(c.span().start)
                )
            })?;
        }
        Ok(cfg)
    }

    /// The file read, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether a file was read.
    pub fn has_file(&self) -> bool {
        self.path.is_some()
    }

    /// The `[notify]` section: sinks, routes, the outbox (checked when
    /// the file was read).
    pub fn notify(&self) -> &NotifyConfig {
        &self.raw.notify
    }

    /// Every effective setting, for `config check`, in the order it
    /// prints them; an error when a sink refers to an unset variable.
    pub fn check_rows(&self) -> Result<Vec<Row>> {
        self.raw.notify.check_env()?;
        let mut rows = self.lake_rows()?;
        let detect = DetectSettings::resolve(&DetectFlags::default(), self)?;
        rows.extend(detect.rows());
        rows.extend(WatchSettings::resolve(&WatchFlags::default(), self)?.rows());
        rows.extend(ServeSettings::resolve(&ServeFlags::default(), self)?.rows());
        rows.extend(RespondSettings::resolve(&RespondFlags::default(), self)?.rows());
        rows.extend(self.notify_rows(detect.correlate_rows()));
        Ok(rows)
    }

    /// `[notify]`'s rows: the outbox, then `between` (the correlation
    /// settings, printed there since the first `config check`), then the
    /// sinks and the number of routes.
    fn notify_rows(&self, between: Vec<Row>) -> Vec<Row> {
        let n = &self.raw.notify;
        let outbox = n
            .outbox_dir()
            .map_or_else(|_| "-".to_string(), |p| p.display().to_string());
        // The outbox's line is not tracked: the file is named alone.
        let from = match (&n.outbox, &self.path) {
            (Some(_), Some(p)) => Source::File {
                path: p.clone(),
                line: 0,
            },
            _ => Source::Default,
        };
        let sinks: Vec<String> = n
            .sinks
            .iter()
            .map(|(name, s)| format!("{name} ({})", s.kind.type_name()))
            .collect();
        let mut rows = vec![Row::new("notify.outbox", outbox, from)];
        rows.extend(between);
        rows.push(Row {
            key: "notify.sinks".into(),
            value: if sinks.is_empty() {
                "-".to_string()
            } else {
                sinks.join(", ")
            },
            from: None,
        });
        rows.push(Row {
            key: "notify.routes".into(),
            value: n.routes.len().to_string(),
            from: None,
        });
        rows
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text
            .get(..offset)
            .map_or(0, |t| t.bytes().filter(|b| *b == b'\n').count())
            + 1
    }

    fn file_setting<T: Clone>(&self, v: &Spanned<T>) -> Setting<T> {
        Setting {
            value: v.get_ref().clone(),
            from: Source::File {
                path: self.path.clone().unwrap_or_default(),
                line: self.line_of(v.span().start),
            },
        }
    }

    /// A flag if given, else the file's value, else the default.
    fn pick<T: Clone>(&self, flag: Option<T>, file: &Option<Spanned<T>>, default: T) -> Setting<T> {
        self.pick_opt(flag, file)
            .unwrap_or_else(|| Setting::built_in(default))
    }

    /// A flag if given, else the file's value, else nothing.
    fn pick_opt<T: Clone>(&self, flag: Option<T>, file: &Option<Spanned<T>>) -> Option<Setting<T>> {
        match (flag, file) {
            (Some(value), _) => Some(Setting {
                value,
                from: Source::Flag,
            }),
            (None, Some(v)) => Some(self.file_setting(v)),
            (None, None) => None,
        }
    }

    /// [`Config::pick`] for a number that must lie in `range`; the error
    /// names where an out-of-range value came from.
    fn pick_in<T>(
        &self,
        key: &str,
        flag: Option<T>,
        file: &Option<Spanned<T>>,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<Setting<T>>
    where
        T: Clone + PartialOrd + fmt::Display,
    {
        let s = self.pick(flag, file, default);
        if !range.contains(&s.value) {
            bail!(
                "{key} = {} (from {}) is out of range: give {} to {}",
                s.value,
                s.from,
                range.start(),
                range.end()
            );
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<Config> {
        Config::from_text(Path::new("/etc/tw.toml"), text.to_string())
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let cfg = config("[watch]\nlateness = \"1m\"\npoll_ms = 250\n").unwrap();
        let flags = WatchFlags {
            lateness: Some(10),
            ..WatchFlags::default()
        };
        let w = WatchSettings::resolve(&flags, &cfg).unwrap();
        assert_eq!((w.lateness, w.poll_ms, w.idle_after), (10, 250, 900));
        let rows = w.rows();
        let from = |key: &str| {
            rows.iter()
                .find(|r| r.key == key)
                .and_then(|r| r.from.clone())
                .unwrap()
        };
        assert_eq!(from("watch.lateness"), Source::Flag);
        assert_eq!(
            from("watch.poll"),
            Source::File {
                path: "/etc/tw.toml".into(),
                line: 3
            }
        );
        assert_eq!(from("watch.idle_after"), Source::Default);
    }

    #[test]
    fn an_out_of_range_number_names_where_it_came_from() {
        let cfg = config("[watch]\nlate_horizon = 60\n").unwrap();
        let err = WatchSettings::resolve(&WatchFlags::default(), &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("watch.late_horizon = 60"), "{err}");
        assert!(err.contains("/etc/tw.toml:2"), "{err}");
    }

    #[test]
    fn durations_read_like_the_flags_under_the_flags_names() {
        let cfg = config(
            "[watch]\nlateness = \"5m\"\nlate_horizon = \"7d\"\nidle_after = \"15m\"\n\
             stuck_after = 600\npoll = \"2s\"\ningest_interval = \"1m\"\n",
        )
        .unwrap();
        let w = WatchSettings::resolve(&WatchFlags::default(), &cfg).unwrap();
        assert_eq!(
            (
                w.lateness,
                w.late_horizon,
                w.idle_after,
                w.stuck_after,
                w.poll_ms,
                w.ingest_interval
            ),
            (300, 604_800, 900, 600, 2000, 60)
        );
        let shown: Vec<String> = w
            .rows()
            .iter()
            .map(|r| format!("{} {}", r.key, r.value))
            .collect();
        assert!(
            shown.contains(&"watch.lateness 300s".to_string()),
            "{shown:?}"
        );
        assert!(
            shown.contains(&"watch.poll 2000ms".to_string()),
            "{shown:?}"
        );
        // A bare number under poll is milliseconds, as `--poll 250` is.
        let cfg = config("[watch]\npoll = 250\n").unwrap();
        let w = WatchSettings::resolve(&WatchFlags::default(), &cfg).unwrap();
        assert_eq!(w.poll_ms, 250);
        // A negative text is no duration; a negative number is out of range.
        let cfg = config("[watch]\nlateness = \"-5m\"\n").unwrap();
        let err = WatchSettings::resolve(&WatchFlags::default(), &cfg).unwrap_err();
        assert!(err.to_string().contains("/etc/tw.toml:2"), "{err}");
        // Both names at once is one setting given twice.
        assert!(config("[watch]\npoll = \"1s\"\npoll_ms = 500\n").is_err());
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        for text in [
            "[lake]\nlocaton = \"x\"\n",
            "[watch]\npol = 5\n",
            "[serve]\nport = 80\n",
            "[detekt]\n",
        ] {
            assert!(config(text).is_err(), "{text}");
        }
    }

    #[test]
    fn respond_auto_takes_only_rules_with_a_response_and_a_budget_in_range() {
        let cfg = config("[respond]\nauto = [\"cloudtrail-stopped\"]\nmax_actions_per_hour = 3\n")
            .unwrap();
        let set = RespondSettings::resolve(&RespondFlags::default(), &cfg).unwrap();
        assert_eq!(set.auto.value, ["cloudtrail-stopped"]);
        assert_eq!(set.max_actions_per_hour.value, 3);
        let off = RespondSettings::resolve(&RespondFlags::default(), &config("").unwrap()).unwrap();
        assert!(off.auto.value.is_empty(), "off by default");
        let cfg = config("[respond]\nauto = [\"console-login-without-mfa\"]\n").unwrap();
        let err = RespondSettings::resolve(&RespondFlags::default(), &cfg)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("console-login-without-mfa") && err.contains("no automatic response"),
            "{err}"
        );
        let cfg = config("[respond]\nmax_actions_per_hour = 100000\n").unwrap();
        assert!(RespondSettings::resolve(&RespondFlags::default(), &cfg).is_err());
        let cfg = config("[respond]\nrole_arn = \"responder\"\n").unwrap();
        assert!(
            RespondSettings::resolve(&RespondFlags::default(), &cfg).is_err(),
            "not an ARN"
        );
    }

    #[test]
    fn check_rows_hide_the_token_and_list_every_section() {
        let cfg = config("[serve]\ntoken = \"s3cr3t-t0ken\"\n").unwrap();
        let rows = cfg.check_rows().unwrap();
        let shown = format!("{rows:?}");
        assert!(!shown.contains("s3cr3t-t0ken"), "{shown}");
        for key in [
            "lake.location",
            "detect.pack",
            "watch.poll",
            "serve.listen",
            "serve.token",
            "notify.outbox",
            "correlate.max_speed_kmh",
            "notify.routes",
            "respond.auto",
            "respond.max_actions_per_hour",
        ] {
            assert!(rows.iter().any(|r| r.key == key), "{key} missing: {shown}");
        }
    }
}
