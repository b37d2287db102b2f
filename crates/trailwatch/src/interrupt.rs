//! Ctrl-C for the interactive query shell: a listener on a thread of its
//! own that turns SIGINT into a notification, so a running statement can
//! be stopped and the shell goes on.

use anyhow::{Context, Result};

/// Ctrl-C (SIGINT) as a notification, delivered by a thread of its own
/// with its own small runtime: the query runtime's workers may all be
/// busy with a CPU-bound plan and not drive its signal handling.
#[derive(Debug, Clone)]
pub struct Interrupt(std::sync::Arc<tokio::sync::Notify>);

impl Interrupt {
    /// Start listening; from here on Ctrl-C no longer ends the process.
    /// The handler is installed before this returns, so no Ctrl-C falls
    /// between (an uninstalled handler would let SIGINT kill the shell).
    pub fn listen() -> Result<Interrupt> {
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the Ctrl-C listener")?;
        #[cfg(unix)]
        let mut signal = rt
            .block_on(async {
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            })
            .context("listening for Ctrl-C")?;
        let tell = std::sync::Arc::clone(&notify);
        std::thread::Builder::new()
            .name("ctrl-c".into())
            .spawn(move || {
                rt.block_on(async {
                    #[cfg(unix)]
                    while signal.recv().await.is_some() {
                        tell.notify_one();
                    }
                    #[cfg(not(unix))]
                    while tokio::signal::ctrl_c().await.is_ok() {
                        tell.notify_one();
                    }
                });
            })
            .context("starting the Ctrl-C listener")?;
        Ok(Interrupt(notify))
    }

    /// Forget a Ctrl-C that came between statements (while a result was
    /// printed), so it does not stop the next one. One that comes while a
    /// statement starts up is kept (`notify_one` stores it) and stops it.
    pub fn clear(&self) {
        use futures::FutureExt;
        let _ = self.0.notified().now_or_never();
    }

    /// Wait for the next Ctrl-C.
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

/// A statement stopped by Ctrl-C in the shell.
#[derive(Debug)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}
