//! Where trailwatch keeps state between runs (the notification outbox,
//! the query shell's history, `serve`'s token and spool, suggested watch
//! checkpoints): the XDG state folder, with an older trailwatch's data
//! folder kept in use so nothing left there is stranded.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// trailwatch's folder for state, where XDG puts state:
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
