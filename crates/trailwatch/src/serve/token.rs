//! The server's bearer token: `TRAILWATCH_TOKEN`, else `[serve] token` in
//! the config, else one generated on first start, stored with mode 0600
//! in the state folder and printed once (on stderr, never logged again).
//! Tokens are compared in constant time.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Where the token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    Config,
    /// Read from the state folder (made on an earlier start).
    Stored,
    /// Made now, stored, and shown once.
    Generated,
}

/// The name of the stored token's file in the state folder.
pub const TOKEN_FILE: &str = "serve-token";

/// The shortest token taken from the environment or the config: 32
/// characters, as the generated one has 64 (a short token is guessed).
const MIN_LEN: usize = 32;

/// 32 bytes from the OS generator, hex (tokens, session ids, CSRF
/// tokens).
pub fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn check(token: &str, from: &str) -> Result<()> {
    if token.len() < MIN_LEN {
        bail!(
            "the token from {from} is shorter than {MIN_LEN} characters: make one with \
             `openssl rand -hex 32` (or leave it unset and serve makes one)"
        );
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("the token from {from} must be printable ASCII without spaces");
    }
    Ok(())
}

/// Resolve the token (see the module doc).
pub fn resolve(
    env: Option<String>,
    config: Option<String>,
    state: &Path,
) -> Result<(String, TokenSource)> {
    if let Some(t) = env {
        check(&t, "TRAILWATCH_TOKEN")?;
        return Ok((t, TokenSource::Env));
    }
    if let Some(t) = config {
        check(&t, "[serve] token")?;
        return Ok((t, TokenSource::Config));
    }
    let path = state.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let t = t.trim().to_string();
            check(&t, &path.display().to_string())?;
            return Ok((t, TokenSource::Stored));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(state).with_context(|| format!("creating {}", state.display()))?;
    let token = random_hex()?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(token.as_bytes())?;
    f.sync_all()?;
    Ok((token, TokenSource::Generated))
}

/// Whether `given` is `token`, in time that does not depend on where they
/// differ.
pub fn same(given: &[u8], token: &[u8]) -> bool {
    if given.len() != token.len() {
        return false;
    }
    given
        .iter()
        .zip(token)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_stored_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (t, src) = resolve(None, None, dir.path()).expect("token");
        assert_eq!(src, TokenSource::Generated);
        assert_eq!(t.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .expect("stored")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, src) = resolve(None, None, dir.path()).expect("token");
        assert_eq!((again.as_str(), src), (t.as_str(), TokenSource::Stored));
        let (env, src) =
            resolve(Some("x".repeat(32)), Some("y".repeat(32)), dir.path()).expect("token");
        assert_eq!(
            (env.as_str(), src),
            ("x".repeat(32).as_str(), TokenSource::Env)
        );
        assert!(resolve(Some("short".into()), None, dir.path()).is_err());
        // 31 characters are too few to resist guessing; the error says how
        // to make a good one.
        let err = resolve(Some("z".repeat(31)), None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("openssl rand -hex 32"), "{err}");
        assert!(
            resolve(
                None,
                Some("with a space in it, long enough to pass".into()),
                dir.path()
            )
            .is_err()
        );
    }

    #[test]
    fn comparison_needs_every_byte() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdeg", b"abcdef"));
        assert!(!same(b"abcde", b"abcdef"));
        assert!(!same(b"", b"abcdef"));
    }
}
