//! `[lake]`: where the lake is and which S3 endpoint reaches it.

use anyhow::{Context, Result};
use serde::Deserialize;
use toml::Spanned;

use super::{Config, Row, Setting, Source};

/// `[lake]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LakeSection {
    /// A local folder or `s3://bucket/prefix`.
    location: Option<Spanned<String>>,
    /// An S3-compatible endpoint.
    endpoint_url: Option<Spanned<String>>,
}

impl Config {
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
        Ok(Setting::built_in(
            dir.join("trailwatch/lake").display().to_string(),
        ))
    }

    /// The S3 endpoint: the flag, else `[lake] endpoint_url` (the SDKs
    /// read `AWS_ENDPOINT_URL` themselves when neither is set).
    pub fn endpoint_url(&self, flag: Option<&str>) -> Option<Setting<String>> {
        self.pick_opt(flag.map(str::to_string), &self.raw.lake.endpoint_url)
    }

    /// `[lake]`'s rows of `config check`.
    pub(super) fn lake_rows(&self) -> Result<Vec<Row>> {
        let lake = self.lake_location(None)?;
        let endpoint = match self.endpoint_url(None) {
            Some(e) => Row::new("lake.endpoint_url", e.value, e.from),
            None => Row::new("lake.endpoint_url", "-", Source::Default),
        };
        Ok(vec![
            Row::new("lake.location", lake.value, lake.from),
            endpoint,
        ])
    }
}
