//! The flags that choose detections: built-in packs (the rule packs and
//! the correlation pack), rule files and Terraform, and the GeoIP
//! databases impossible travel needs. They override `[detect]` and
//! `[correlate]` ([`crate::config::DetectSettings`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::{Config, DetectFlags, DetectSettings};
use crate::detectors::Detections;

#[derive(Debug, Clone, Default, Args)]
pub struct RuleArgs {
    /// Built-in packs, comma-separated: essential, cis, responder,
    /// correlation, all or none (default essential,responder,correlation:
    /// `cis` adds the CIS monitoring alarms; also `[detect] pack`).
    #[arg(long, value_name = "PACK")]
    pub pack: Option<String>,
    /// Rule files (.yaml/.yml) or folders of them; Terraform (.tf) files are
    /// imported. Repeatable; also `[detect] rules`.
    #[arg(long = "rules", value_name = "FILE|DIR")]
    pub rules: Vec<PathBuf>,
    /// A MaxMind-format GeoIP database (.mmdb) for impossible travel;
    /// repeatable (an IPv4 and an IPv6 file). Also `geoip` in
    /// `[correlate]`.
    #[arg(long = "geoip", value_name = "FILE")]
    pub geoip: Vec<PathBuf>,
    /// Stop at the first rule file or rule that cannot be loaded, instead
    /// of reporting it, running the rest and exiting 2 at the end.
    #[arg(long)]
    pub strict: bool,
}

impl RuleArgs {
    /// The detection settings in force: these flags over the config.
    pub fn settings(&self, cfg: &Config) -> Result<DetectSettings> {
        DetectSettings::resolve(
            &DetectFlags {
                pack: self.pack.clone(),
                rules: self.rules.clone(),
                geoip: self.geoip.clone(),
                strict: self.strict,
            },
            cfg,
        )
    }

    /// The rules and correlation detections selected, ready to run.
    pub fn detections(&self, cfg: &Config) -> Result<Detections> {
        Detections::load(&self.settings(cfg)?)
    }
}
