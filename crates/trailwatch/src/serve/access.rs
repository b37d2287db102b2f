//! Who may do what: every route but `/healthz`, `/login` and the sign-in
//! page's assets needs the bearer token (`Authorization: Bearer TOKEN`)
//! or a dashboard session. A session starts when the sign-in form posts
//! the token: the server answers with a random session id in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` under TLS), so the token
//! never travels in a URL and the page's scripts never see it. A request
//! that changes state with only the cookie must also carry the session's
//! CSRF token in `X-CSRF-Token` (the page reads it from `/api/session`).
//! Every response carries a Content-Security-Policy and the usual
//! security headers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::token::{random_hex, same};

/// The session cookie's name.
pub const COOKIE: &str = "tw_session";
/// How long a dashboard session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The most sessions kept at once (the oldest goes first).
const MAX_SESSIONS: usize = 1024;

/// The page may load only its own scripts, styles and images; nothing
/// may frame it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    started: Instant,
}

/// The token and the open dashboard sessions.
#[derive(Debug)]
pub struct Access {
    token: String,
    sessions: Mutex<HashMap<String, Session>>,
    /// Cookies get `Secure` when the server speaks TLS.
    pub tls: bool,
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Bearer,
    /// A dashboard session, with its CSRF token.
    Session {
        id: String,
        csrf: String,
    },
}

impl Access {
    pub fn new(token: String, tls: bool) -> Arc<Access> {
        Arc::new(Access {
            token,
            sessions: Mutex::new(HashMap::new()),
            tls,
        })
    }

    /// Whether `given` is the token.
    pub fn is_token(&self, given: &str) -> bool {
        same(given.as_bytes(), self.token.as_bytes())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map usable.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start a session; its id (for the cookie).
    pub fn start_session(&self) -> anyhow::Result<String> {
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.started.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        let id = random_hex()?;
        sessions.insert(
            id.clone(),
            Session {
                csrf: random_hex()?,
                started: Instant::now(),
            },
        );
        Ok(id)
    }

    pub fn end_session(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The session a cookie names, if it is open.
    fn session(&self, id: &str) -> Option<Session> {
        let sessions = self.lock();
        let s = sessions.get(id)?;
        (s.started.elapsed() < SESSION_TTL).then(|| s.clone())
    }

    /// Who made the request, if anyone we know.
    pub fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            && let Some(t) = auth.strip_prefix("Bearer ")
        {
            return self.is_token(t.trim()).then_some(Caller::Bearer);
        }
        let id = cookie(headers, COOKIE)?;
        let s = self.session(&id)?;
        Some(Caller::Session { id, csrf: s.csrf })
    }

    /// The `Set-Cookie` value for a session id (empty id: clear it).
    pub fn cookie_header(&self, id: &str) -> String {
        let secure = if self.tls { "; Secure" } else { "" };
        let age = if id.is_empty() {
            0
        } else {
            SESSION_TTL.as_secs()
        };
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}")
    }
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(serde_json::json!({
            "error": "sign in: send Authorization: Bearer TOKEN, or sign in at /login"
        })),
    )
        .into_response()
}

/// Let through only a known caller; a cookie-only request that changes
/// state must carry the session's CSRF token.
pub async fn require_caller(
    State(access): State<Arc<Access>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(caller) = access.caller(req.headers()) else {
        return unauthorized();
    };
    if let Caller::Session { csrf, .. } = &caller {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD);
        let given = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !safe && !same(given.as_bytes(), csrf.as_bytes()) {
            return (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": "missing or wrong X-CSRF-Token for this session"
                })),
            )
                .into_response();
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The security headers every response carries.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_or_an_open_session_and_nothing_else() {
        let a = Access::new("t".repeat(32), false);
        let mut h = HeaderMap::new();
        assert_eq!(a.caller(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", "t".repeat(32))).expect("header"),
        );
        assert_eq!(a.caller(&h), Some(Caller::Bearer));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong"),
        );
        assert_eq!(
            a.caller(&h),
            None,
            "a wrong bearer is not saved by a cookie"
        );
        let id = a.start_session().expect("random");
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={id}")).expect("header"),
        );
        assert!(matches!(a.caller(&h), Some(Caller::Session { .. })));
        a.end_session(&id);
        assert_eq!(a.caller(&h), None);
        assert!(a.cookie_header("x").contains("HttpOnly; SameSite=Strict"));
        assert!(!a.cookie_header("x").contains("Secure"));
        assert!(
            Access::new("t".repeat(32), true)
                .cookie_header("x")
                .ends_with("; Secure")
        );
    }
}
