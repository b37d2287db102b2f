//! Options shared by commands that use the lake: where it is and how to
//! reach S3 (`--profile`, `--region`, `--endpoint-url`).

use anyhow::{Context, Result};
use clap::Args;
use tokio::runtime::Handle;
use trailwatch_lake::store::{Location, S3Options, Store};

use super::aws_args::AwsArgs;
use crate::config::{Config, Source};

#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    /// The lake: a local folder or s3://bucket/prefix. Default: the
    /// config's [lake] location, else the user's data directory (on Linux
    /// ~/.local/share/trailwatch/lake, or $XDG_DATA_HOME/trailwatch/lake).
    #[arg(long, value_name = "LAKE", env = "TRAILWATCH_LAKE")]
    pub lake: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl LakeArgs {
    /// `--lake`, else `$TRAILWATCH_LAKE`, else `[lake] location`, else the
    /// user's data directory.
    pub fn location(&self, cfg: &Config) -> Result<String> {
        Ok(cfg.lake_location(self.lake.as_deref())?.value)
    }

    /// `--profile`, `--region`, and `--endpoint-url` (else `[lake]
    /// endpoint_url`).
    pub fn s3_options(&self, cfg: &Config) -> S3Options {
        self.aws.options(cfg)
    }

    /// The lake, to read: it must exist and hold a committed ingest (a
    /// mistyped `--lake` is an error naming it, and nothing is created).
    pub fn open_existing(&self, cfg: &Config, handle: Handle) -> Result<Store> {
        let location = self.location(cfg)?;
        Ok(Store::open_existing(
            &location,
            &self.s3_options(cfg),
            handle,
        )?)
    }

    /// The lake as a trail to read events and alerts from (`investigate`,
    /// `respond`): opened, registered in a query engine whose statements
    /// run on `rt`.
    #[cfg(feature = "sql")]
    pub fn trail(
        &self,
        cfg: &Config,
        rt: &tokio::runtime::Runtime,
    ) -> Result<crate::investigate::Lake> {
        let location = self.location(cfg)?;
        let store = self.open_existing(cfg, rt.handle().clone())?;
        let engine = trailwatch_sql::Engine::new(trailwatch_sql::EngineOptions {
            s3: self.s3_options(cfg),
            ..Default::default()
        })?;
        rt.block_on(engine.register_lake(&location))
            .with_context(|| format!("opening the lake {location}"))?;
        Ok(crate::investigate::Lake::new(
            engine,
            store,
            rt.handle().clone(),
        ))
    }

    /// The lake's location for SQL, when there is one to read. A local
    /// folder given (flag, environment or config) must exist: a typo is
    /// an error naming it. A location that exists but holds no lake (an
    /// empty folder, the default one before any ingest) registers no lake
    /// tables: tables over raw logs (`CREATE EXTERNAL TABLE`, the seed
    /// file run verbatim) need none, and a query of `cloudtrail_logs`
    /// then says the table is missing.
    pub fn readable(&self, cfg: &Config, handle: Handle) -> Result<Option<String>> {
        let location = cfg.lake_location(self.lake.as_deref())?;
        let s3 = self.s3_options(cfg);
        if let Location::Local(dir) = Location::parse(&location.value)
            && !dir.is_dir()
        {
            if location.from == Source::Default {
                return Ok(None);
            }
            Store::open_existing(&location.value, &s3, handle.clone())?;
        }
        let store = Store::open(&location.value, &s3, handle)?;
        if store.holds_a_lake()? {
            Ok(Some(location.value))
        } else {
            tracing::debug!(
                "{} holds no lake: only tables made with CREATE EXTERNAL TABLE can be queried",
                location.value
            );
            Ok(None)
        }
    }

    /// The lake, to write: a local folder is created if missing.
    pub fn open(&self, cfg: &Config, handle: Handle) -> Result<Store> {
        let location = self.location(cfg)?;
        Store::open(&location, &self.s3_options(cfg), handle)
            .with_context(|| format!("opening the lake {location}"))
    }
}
