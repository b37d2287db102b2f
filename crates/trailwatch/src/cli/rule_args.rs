//! Options that choose detections: built-in packs (the rule packs and
//! the correlation pack), rule files and Terraform, and the GeoIP
//! databases impossible travel needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use trailwatch_core::correlate::{self, CorrelationRule, GeoIp};
use trailwatch_core::detect::Detector;
use trailwatch_core::rules::{Engine, Rule, check_unique, load_rules, pack};

use crate::config::{Config, Setting};

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// Built-in packs, comma-separated: essential, cis, responder,
    /// correlation, all or none (default all; also `[detect] pack`).
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
}

/// Everything that detects: the rules (for the rules engine) and the
/// correlation detections, with their settings and GeoIP.
#[derive(Debug)]
pub struct Detections {
    pub rules: Vec<Rule>,
    pub correlation: Vec<CorrelationRule>,
    pub settings: correlate::Settings,
    pub geo: Option<Arc<GeoIp>>,
}

impl Detections {
    /// The detectors, the rules engine first. A selected correlation
    /// rule that cannot run is reported once, with the reason.
    pub fn detectors(self, late_horizon_minutes: Option<i64>) -> Vec<Box<dyn Detector>> {
        for r in &self.correlation {
            if let Some(why) = correlate::disabled_reason(r, self.geo.as_deref()) {
                tracing::warn!("{} is {why}", r.id);
            }
        }
        let mut engine = Engine::new(self.rules);
        if let Some(m) = late_horizon_minutes {
            engine = engine.with_late_horizon(m);
        }
        let mut out: Vec<Box<dyn Detector>> = vec![Box::new(engine)];
        out.extend(correlate::detectors(
            &self.correlation,
            &self.settings,
            self.geo,
        ));
        out
    }
}

fn load_file(path: &Path, out: &mut Vec<Rule>) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let origin = path.display().to_string();
    // The language comes from the content, whatever the file is called.
    out.extend(load_rules(&text, &origin)?);
    Ok(())
}

impl RuleArgs {
    /// The pack and the rule files in force: the flags, else `[detect]`,
    /// else every built-in pack and no files.
    pub fn settings(&self, cfg: &Config) -> (Setting<String>, Setting<Vec<PathBuf>>) {
        let d = &cfg.raw.detect;
        let pack = cfg.pick(self.pack.clone(), &d.pack, "all".to_string());
        let files = (!self.rules.is_empty()).then(|| self.rules.clone());
        (pack, cfg.pick(files, &d.rules, Vec::new()))
    }

    /// The rules and correlation detections selected, ready to run.
    pub fn detections(&self, cfg: &Config) -> Result<Detections> {
        let rules = self.load(cfg)?;
        let (pack_name, _) = self.settings(cfg);
        let correlation = correlate::selected(&pack_name.value);
        let mut settings = cfg.correlate().value;
        if !self.geoip.is_empty() {
            settings.geoip = self.geoip.clone();
        }
        settings
            .validate()
            .context("checking the correlation settings")?;
        let needs_geo = correlation
            .iter()
            .any(|r| r.id == correlate::IMPOSSIBLE_TRAVEL.id);
        let geo = if needs_geo && !settings.geoip.is_empty() {
            Some(Arc::new(
                GeoIp::open(&settings.geoip).context("opening the GeoIP databases")?,
            ))
        } else {
            None
        };
        Ok(Detections {
            rules,
            correlation,
            settings,
            geo,
        })
    }

    pub fn load(&self, cfg: &Config) -> Result<Vec<Rule>> {
        let (pack_name, files) = self.settings(cfg);
        let mut rules = pack(&pack_name.value)?;
        for p in &files.value {
            if p.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| {
                        f.extension()
                            .is_some_and(|x| x == "yaml" || x == "yml" || x == "tf")
                    })
                    .collect();
                files.sort();
                for f in files {
                    load_file(&f, &mut rules)?;
                }
            } else {
                load_file(p, &mut rules)?;
            }
        }
        check_unique(&rules)?;
        Ok(rules)
    }
}
