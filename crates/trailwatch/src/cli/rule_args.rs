//! Options that choose rules: built-in packs, rule files and Terraform.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use trailwatch_core::rules::{Rule, check_unique, load_rules, pack};

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// Built-in pack: essential, cis, responder, all or none.
    #[arg(long, default_value = "all", value_name = "PACK")]
    pub pack: String,
    /// Rule files (.yaml/.yml) or folders of them; Terraform (.tf) files are
    /// imported. Repeatable.
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
    pub fn load(&self) -> Result<Vec<Rule>> {
        let mut rules = pack(&self.pack)?;
        for p in &self.rules {
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
