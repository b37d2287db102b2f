//! `[serve]`: the HTTP server's address, state folder and token. The
//! token is a secret: no `Debug` output or `config check` row shows it.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;
use toml::Spanned;

use super::{Config, Row, Setting, Source};

/// Where `serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `[serve]` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServeSection {
    /// The bearer token (TRAILWATCH_TOKEN wins). A secret: keep the
    /// config file private.
    token: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    state: Option<Spanned<PathBuf>>,
}

impl fmt::Debug for ServeSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeSection")
            .field("token", &self.token.as_ref().map(|_| "(hidden)"))
            .field("listen", &self.listen)
            .field("state", &self.state)
            .finish()
    }
}

/// What the command line says; each given flag overrides the file.
#[derive(Debug, Clone, Default)]
pub struct ServeFlags {
    pub listen: Option<String>,
    pub state: Option<PathBuf>,
}

/// The server's settings in force.
#[derive(Clone)]
pub struct ServeSettings {
    /// `HOST:PORT` as given (parsed where the server binds).
    pub listen: Setting<String>,
    /// The state folder, when given (else [`ServeSettings::state_dir`]'s
    /// default).
    state: Option<Setting<PathBuf>>,
    /// The config file's token, when it has one (`TRAILWATCH_TOKEN` and
    /// a token kept in the state folder are the server's to weigh).
    config_token: Option<Setting<String>>,
}

impl fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeSettings")
            .field("listen", &self.listen)
            .field("state", &self.state)
            .field(
                "config_token",
                &self.config_token.as_ref().map(|_| "(hidden)"),
            )
            .finish()
    }
}

impl ServeSettings {
    pub fn resolve(flags: &ServeFlags, cfg: &Config) -> Result<ServeSettings> {
        let s = &cfg.raw.serve;
        Ok(ServeSettings {
            listen: cfg.pick(flags.listen.clone(), &s.listen, DEFAULT_LISTEN.to_string()),
            state: cfg.pick_opt(flags.state.clone(), &s.state),
            config_token: cfg.pick_opt(None, &s.token),
        })
    }

    /// The state folder: the setting, else `serve` in trailwatch's state
    /// folder.
    pub fn state_dir(&self) -> Result<PathBuf> {
        match &self.state {
            Some(p) => Ok(p.value.clone()),
            None => crate::state_dir::state_path("serve").context("pass --state"),
        }
    }

    /// The config file's token, if it sets one.
    pub fn config_token(&self) -> Option<String> {
        self.config_token.as_ref().map(|t| t.value.clone())
    }

    /// `[serve]`'s rows of `config check`: of the token, only whether and
    /// where it is set.
    pub fn rows(&self) -> Vec<Row> {
        let state = match &self.state {
            Some(st) => Row::new(
                "serve.state",
                st.value.display().to_string(),
                st.from.clone(),
            ),
            None => Row::new(
                "serve.state",
                crate::state_dir::state_path("serve")
                    .map_or_else(|_| "-".to_string(), |p| p.display().to_string()),
                Source::Default,
            ),
        };
        let token = if std::env::var("TRAILWATCH_TOKEN").is_ok_and(|t| !t.is_empty()) {
            Row::new(
                "serve.token",
                "(set, hidden)",
                Source::Env("TRAILWATCH_TOKEN"),
            )
        } else if let Some(t) = &self.config_token {
            Row::new("serve.token", "(set, hidden)", t.from.clone())
        } else {
            Row::new(
                "serve.token",
                "(generated on first start, kept in the state folder)",
                Source::Default,
            )
        };
        vec![
            Row::new(
                "serve.listen",
                self.listen.value.clone(),
                self.listen.from.clone(),
            ),
            state,
            token,
        ]
    }
}
