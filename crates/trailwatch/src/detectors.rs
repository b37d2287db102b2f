//! The detector set every detecting command runs (`detect`, `watch`,
//! `rules`, `serve`): the built-in packs and rule files of either language
//! (CloudWatch-pattern YAML, Terraform, Sigma with its correlations), the
//! correlation detections, and the GeoIP databases impossible travel
//! needs, as [`DetectSettings`] name them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use trailwatch_core::correlate::{self, CorrelationRule, GeoIp};
use trailwatch_core::detect::Detector;
use trailwatch_core::rules::{Engine, Rule, RuleFormat, check_unique, load_rules, pack};
use trailwatch_core::sigma::{
    self, RuleSet, detector::SigmaRules, rule::SigmaError, rule::SigmaRule,
};

use crate::config::DetectSettings;

/// Everything that detects: the rules (for the rules engine) and the
/// correlation detections, with their settings and GeoIP.
#[derive(Debug)]
pub struct Detections {
    pub rules: Vec<Rule>,
    /// Sigma rules, correlations linked.
    pub sigma: RuleSet,
    pub correlation: Vec<CorrelationRule>,
    pub settings: correlate::Settings,
    pub geo: Option<Arc<GeoIp>>,
    /// What could not be loaded (reported as it was met), whatever the
    /// rule language: a command that replays exits 2 at the end when
    /// there is any.
    pub problems: Vec<String>,
}

impl Detections {
    /// The rules and correlation detections `settings` select, ready to
    /// run.
    pub fn load(settings: &DetectSettings) -> Result<Detections> {
        let Loaded {
            rules,
            sigma,
            mut problems,
        } = Loaded::selected(settings)?;
        // Correlations name rules from any file: linked once all are in.
        let (sigma, errors) = sigma::link(sigma);
        for e in errors {
            problem(
                &mut problems,
                settings.strict,
                format!("skipping a Sigma rule: {e}"),
            )?;
        }
        let correlation = correlate::selected(&settings.pack.value);
        let settings = settings.correlate.value.clone();
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
            sigma,
            correlation,
            settings,
            geo,
            problems,
        })
    }

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
        if !self.sigma.rules.is_empty() {
            out.push(Box::new(SigmaRules::new(self.sigma)));
        }
        out.extend(correlate::detectors(
            &self.correlation,
            &self.settings,
            self.geo,
        ));
        out
    }
}

/// The rules of every file given: CloudWatch-pattern rules and Sigma
/// rules, each file's language told by its content.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub sigma: Vec<SigmaRule>,
    /// What could not be loaded, each already reported.
    pub problems: Vec<String>,
}

/// Report what could not be loaded and go on, or, `strict`, stop there.
fn problem(problems: &mut Vec<String>, strict: bool, what: String) -> Result<()> {
    // The reasons quote the rule file: control characters are shown as
    // escapes, never sent to the terminal.
    let what = trailwatch_core::terminal::escape_controls(&what).into_owned();
    if strict {
        anyhow::bail!("{what} (--strict)");
    }
    tracing::warn!("{what}");
    problems.push(what);
    Ok(())
}

impl Loaded {
    /// Every rule selected: the packs and the files, of every language.
    /// A file or rule that cannot be loaded is reported and the others
    /// still run, whatever the language (or, `strict`, it stops there).
    pub fn selected(settings: &DetectSettings) -> Result<Loaded> {
        let mut out = Loaded {
            rules: pack(&settings.pack.value)?,
            ..Loaded::default()
        };
        for f in rule_files(&settings.rules.value)? {
            let (loaded, errors) = match parse_file(&f) {
                Ok(l) => l,
                Err(e) => {
                    let what = format!("skipping the rule file {}: {e:#}", f.display());
                    problem(&mut out.problems, settings.strict, what)?;
                    continue;
                }
            };
            for e in errors {
                problem(
                    &mut out.problems,
                    settings.strict,
                    format!("skipping a Sigma rule: {e}"),
                )?;
            }
            out.rules.extend(loaded.rules);
            out.sigma.extend(loaded.sigma);
        }
        check_unique(&out.rules)?;
        Ok(out)
    }
}

/// One file's rules, its language told by its content, whatever the
/// file is called. The Sigma rules of a file that cannot be loaded come
/// back with their reasons (the others still load); any other problem is
/// an error naming the file.
pub fn parse_file(path: &Path) -> Result<(Loaded, Vec<SigmaError>)> {
    let text = read_rule_file(path)?;
    let origin = path.display().to_string();
    let mut out = Loaded::default();
    if RuleFormat::sniff(&text) == RuleFormat::Sigma {
        let (rules, errors) = sigma::rule::load(&text, &origin);
        out.sigma = rules;
        return Ok((out, errors));
    }
    out.rules = load_rules(&text, &origin)?;
    Ok((out, Vec::new()))
}

/// The largest rule file read (an IOC list this long is hundreds of
/// thousands of values; past it, a clear error rather than gigabytes).
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;

/// A rule file's text, refused past [`MAX_RULE_FILE_BYTES`].
pub fn read_rule_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_RULE_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > MAX_RULE_FILE_BYTES {
        anyhow::bail!(
            "{}: a rule file may be at most {} MiB",
            path.display(),
            MAX_RULE_FILE_BYTES >> 20
        );
    }
    Ok(text)
}

/// The rule files the paths name: each file as given, and each folder's
/// `.yaml`, `.yml` and `.tf` files in name order.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .is_some_and(|x| x == "yaml" || x == "yml" || x == "tf")
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
