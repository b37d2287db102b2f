//! Options that choose rules: built-in packs, rule files and Terraform.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use trailwatch_core::rules::{Rule, check_unique, load_rules, pack};

use crate::config::{Config, Setting};

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// Built-in pack: essential, cis, responder, all or none (default
    /// all; also `[detect] pack`).
    #[arg(long, value_name = "PACK")]
    pub pack: Option<String>,
    /// Rule files (.yaml/.yml) or folders of them; Terraform (.tf) files are
    /// imported. Repeatable; also `[detect] rules`.
    #[arg(long = "rules", value_name = "FILE|DIR")]
    pub rules: Vec<PathBuf>,
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
