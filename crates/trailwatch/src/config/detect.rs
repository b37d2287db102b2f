//! `[detect]` and `[correlate]`: which rules run (the built-in packs and
//! rule files) and the correlation detections' settings, for `detect`,
//! `watch`, `rules` and `serve`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;
use toml::Spanned;
use trailwatch_core::correlate;

use super::{Config, Row, Setting};

/// `[detect]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DetectSection {
    /// Built-in packs: `essential`, `cis`, `responder`, `all`, `none`.
    pack: Option<Spanned<String>>,
    /// Rule files or folders (CloudWatch-pattern YAML or Terraform).
    rules: Option<Spanned<Vec<PathBuf>>>,
}

/// What the command line says about detection; each given flag overrides
/// the file.
#[derive(Debug, Clone, Default)]
pub struct DetectFlags {
    pub pack: Option<String>,
    /// Rule files or folders (none given: the file's).
    pub rules: Vec<PathBuf>,
    /// GeoIP databases (none given: `[correlate] geoip`).
    pub geoip: Vec<PathBuf>,
    /// Stop at the first rule file or rule that cannot be loaded.
    pub strict: bool,
}

/// The detections in force.
#[derive(Debug, Clone)]
pub struct DetectSettings {
    /// Built-in packs, comma-separated (default
    /// [`trailwatch_core::rules::DEFAULT_PACK`]).
    pub pack: Setting<String>,
    /// Rule files and folders (default none).
    pub rules: Setting<Vec<PathBuf>>,
    /// The correlation detections' settings, checked, with the
    /// `--geoip` databases when given.
    pub correlate: Setting<correlate::Settings>,
    /// A rule file or rule that cannot be loaded stops the command (else
    /// it is reported and the rest run).
    pub strict: bool,
}

impl DetectSettings {
    /// The flags, else `[detect]` and `[correlate]`, else the default
    /// packs, no files and the correlation defaults.
    pub fn resolve(flags: &DetectFlags, cfg: &Config) -> Result<DetectSettings> {
        let d = &cfg.raw.detect;
        let pack = cfg.pick(
            flags.pack.clone(),
            &d.pack,
            trailwatch_core::rules::DEFAULT_PACK.to_string(),
        );
        let files = (!flags.rules.is_empty()).then(|| flags.rules.clone());
        let rules = cfg.pick(files, &d.rules, Vec::new());
        let mut correlate = match &cfg.raw.correlate {
            Some(c) => cfg.file_setting(c),
            None => Setting::built_in(correlate::Settings::default()),
        };
        if !flags.geoip.is_empty() {
            correlate.value.geoip = flags.geoip.clone();
        }
        correlate
            .value
            .validate()
            .context("checking the correlation settings")?;
        Ok(DetectSettings {
            pack,
            rules,
            correlate,
            strict: flags.strict,
        })
    }

    /// `[detect]`'s rows of `config check`.
    pub fn rows(&self) -> Vec<Row> {
        let files = if self.rules.value.is_empty() {
            "-".to_string()
        } else {
            self.rules
                .value
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![
            Row::new(
                "detect.pack",
                self.pack.value.clone(),
                self.pack.from.clone(),
            ),
            Row::new("detect.rules", files, self.rules.from.clone()),
        ]
    }

    /// `[correlate]`'s rows: every key, from the section or the defaults.
    pub fn correlate_rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let from = &self.correlate.from;
        if let Ok(serde_json::Value::Object(keys)) = serde_json::to_value(&self.correlate.value) {
            for (k, v) in keys {
                let text = match v {
                    serde_json::Value::Null => "-".to_string(),
                    serde_json::Value::Array(a) if a.is_empty() => "-".to_string(),
                    serde_json::Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(", "),
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                rows.push(Row::new(format!("correlate.{k}"), text, from.clone()));
            }
        }
        rows
    }
}
