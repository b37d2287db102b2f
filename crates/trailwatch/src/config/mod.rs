//! The one TOML config file: `[lake]`, `[detect]`, `[watch]`,
//! `[correlate]` and `[notify]` (the section `serve` will join them). Every
//! level refuses unknown keys, so a typo is an error naming the file, the
//! line and the key, not a silent default. A flag overrides the file, and
//! the file overrides the built-in default; `trailwatch config check`
//! prints every effective setting and where it came from.
//!
//! The file is `--config FILE`, else `$TRAILWATCH_CONFIG`, else
//! `~/.config/trailwatch/config.toml` when it exists; without one, every
//! setting is a flag or a default.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::notify::config::NotifyConfig;

/// `[lake]`: where the lake is.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeSection {
    /// A local folder or `s3://bucket/prefix`.
    pub location: Option<Spanned<String>>,
    /// An S3-compatible endpoint.
    pub endpoint_url: Option<Spanned<String>>,
}

/// `[detect]`: which rules run (for `detect` and `watch`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSection {
    /// Built-in packs: `essential`, `cis`, `responder`, `all`, `none`.
    pub pack: Option<Spanned<String>>,
    /// Rule files or folders (CloudWatch-pattern YAML or Terraform).
    pub rules: Option<Spanned<Vec<PathBuf>>>,
}

/// `[watch]`: the watcher's settings (each also a flag of `watch`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSection {
    pub state: Option<Spanned<PathBuf>>,
    pub output: Option<Spanned<PathBuf>>,
    pub lateness: Option<Spanned<i64>>,
    pub late_horizon: Option<Spanned<u64>>,
    pub idle_after: Option<Spanned<u64>>,
    pub stuck_after: Option<Spanned<u64>>,
    pub poll_ms: Option<Spanned<u64>>,
    pub ingest_interval: Option<Spanned<u64>>,
    pub public_keys: Option<Spanned<PathBuf>>,
}

/// `[serve]`: the HTTP server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// The bearer token (TRAILWATCH_TOKEN wins). A secret: keep the
    /// config file private.
    pub token: Option<Spanned<String>>,
    pub listen: Option<Spanned<String>>,
    pub state: Option<Spanned<PathBuf>>,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub lake: LakeSection,
    #[serde(default)]
    pub detect: DetectSection,
    #[serde(default)]
    pub watch: WatchSection,
    /// The correlation detections' settings
    /// ([`trailwatch_core::correlate::Settings`]).
    #[serde(default)]
    pub correlate: Option<Spanned<trailwatch_core::correlate::Settings>>,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub serve: ServeSection,
}

/// The config in force: the file (when there is one) and its text, for
/// telling where a setting came from.
#[derive(Debug, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    text: String,
    pub raw: RawConfig,
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

/// trailwatch's folder for state (the notification outbox, the query
/// shell's history, `serve`'s state), where XDG puts state:
/// `$XDG_STATE_HOME/trailwatch`, by default `~/.local/state/trailwatch`.
/// Systems without an XDG state folder use the local data folder: on macOS
/// `~/Library/Application Support/trailwatch`, on Windows
/// `%LOCALAPPDATA%\trailwatch`.
pub fn state_dir() -> Result<PathBuf> {
    let base = dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .context("no state folder for this user (set XDG_STATE_HOME)")?;
    Ok(base.join("trailwatch"))
}

/// `name` in the state folder, unless an older trailwatch left it in the
/// data folder (`~/.local/share/trailwatch`), where it stays in use so
/// nothing in it (pending notifications) is left behind.
pub fn state_path(name: &str) -> Result<PathBuf> {
    if let Some(old) = dirs::data_dir().map(|d| d.join("trailwatch").join(name))
        && old.exists()
    {
        let new = state_dir()?.join(name);
        if !new.exists() {
            tracing::debug!("using {} (from an older trailwatch)", old.display());
            return Ok(old);
        }
    }
    Ok(state_dir()?.join(name))
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

    /// Whether a file was read.
    pub fn has_file(&self) -> bool {
        self.path.is_some()
    }

    /// The `[correlate]` settings in force, and where they came from.
    pub fn correlate(&self) -> Setting<trailwatch_core::correlate::Settings> {
        match &self.raw.correlate {
            Some(c) => self.file_setting(c),
            None => Setting {
                value: Default::default(),
                from: Source::Default,
            },
        }
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
    pub fn pick<T: Clone>(
        &self,
        flag: Option<T>,
        file: &Option<Spanned<T>>,
        default: T,
    ) -> Setting<T> {
        match (flag, file) {
            (Some(value), _) => Setting {
                value,
                from: Source::Flag,
            },
            (None, Some(v)) => self.file_setting(v),
            (None, None) => Setting {
                value: default,
                from: Source::Default,
            },
        }
    }

    /// A flag if given, else the file's value, else nothing.
    pub fn pick_opt<T: Clone>(
        &self,
        flag: Option<T>,
        file: &Option<Spanned<T>>,
    ) -> Option<Setting<T>> {
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
    pub fn pick_in<T>(
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

    /// The lake's location: `--lake`, else `$TRAILWATCH_LAKE`, else
    /// `[lake] location`, else the user's data directory.
    pub fn lake_location(&self, flag: Option<&str>) -> Result<Setting<String>> {
        if let Some(l) = flag {
            return Ok(Setting {
                value: l.to_string(),
                from: Source::Flag,
            });
        }
        if let Ok(l) = std::env::var("TRAILWATCH_LAKE")
            && !l.is_empty()
        {
            return Ok(Setting {
                value: l,
                from: Source::Env("TRAILWATCH_LAKE"),
            });
        }
        if let Some(v) = &self.raw.lake.location {
            return Ok(self.file_setting(v));
        }
        let dir =
            dirs::data_dir().context("no data directory for the default lake; pass --lake")?;
        Ok(Setting {
            value: dir.join("trailwatch/lake").display().to_string(),
            from: Source::Default,
        })
    }

    /// The S3 endpoint: the flag, else `[lake] endpoint_url` (the SDKs
    /// read `AWS_ENDPOINT_URL` themselves when neither is set).
    pub fn endpoint_url(&self, flag: Option<&str>) -> Option<Setting<String>> {
        match (flag, &self.raw.lake.endpoint_url) {
            (Some(v), _) => Some(Setting {
                value: v.to_string(),
                from: Source::Flag,
            }),
            (None, Some(v)) => Some(self.file_setting(v)),
            (None, None) => None,
        }
    }
}
