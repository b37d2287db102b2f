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
//!
//! Guessing is slow: a client (an IPv4 address, or an IPv6 /64) that fails
//! [`STRIKES_ALLOWED`] times within [`STRIKE_WINDOW`] (a wrong bearer
//! token, sign-in or Firehose key) is answered 429 with `Retry-After`,
//! right token or not, until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
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

/// Failed sign-ins allowed from one client per window.
pub const STRIKES_ALLOWED: u32 = 10;
/// The window failed sign-ins are counted over.
pub const STRIKE_WINDOW: Duration = Duration::from_secs(60);
/// The most clients whose failures are remembered at once.
const MAX_CLIENTS_TRACKED: usize = 4096;

/// Marks a response as a failed sign-in, for the throttle (a 401 counts
/// without it).
#[derive(Debug, Clone, Copy)]
pub struct FailedSignIn;

#[derive(Debug, Clone, Copy)]
struct Strikes {
    since: Instant,
    count: u32,
}

/// The throttle's key for a client: its IPv4 address, or its IPv6 /64
/// (one host holds a whole /64, so counting addresses would not slow it).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

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
    /// Recent failed sign-ins per client.
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
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
            strikes: Mutex::new(HashMap::new()),
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

    fn strikes(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Strikes>> {
        self.strikes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `ip` must wait before trying again, if it has failed too
    /// often lately.
    pub fn throttled(&self, ip: IpAddr) -> Option<Duration> {
        let strikes = self.strikes();
        let s = strikes.get(&client_key(ip))?;
        let left = STRIKE_WINDOW.checked_sub(s.since.elapsed())?;
        (s.count >= STRIKES_ALLOWED && !left.is_zero()).then_some(left)
    }

    /// Count a failed sign-in from `ip`.
    pub fn strike(&self, ip: IpAddr) {
        let key = client_key(ip);
        let mut strikes = self.strikes();
        if !strikes.contains_key(&key) && strikes.len() >= MAX_CLIENTS_TRACKED {
            strikes.retain(|_, s| s.since.elapsed() < STRIKE_WINDOW);
            if strikes.len() >= MAX_CLIENTS_TRACKED
                && let Some(oldest) = strikes.iter().min_by_key(|(_, s)| s.since).map(|(k, _)| *k)
            {
                strikes.remove(&oldest);
            }
        }
        let now = Instant::now();
        let s = strikes.entry(key).or_insert(Strikes {
            since: now,
            count: 0,
        });
        if s.since.elapsed() >= STRIKE_WINDOW {
            *s = Strikes {
                since: now,
                count: 0,
            };
        }
        s.count += 1;
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
    fn repeated_failures_from_one_client_are_throttled_and_others_are_not() {
        let a = Access::new("t".repeat(32), false);
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        for _ in 0..STRIKES_ALLOWED - 1 {
            a.strike(ip);
        }
        assert_eq!(a.throttled(ip), None, "under the limit");
        a.strike(ip);
        let wait = a.throttled(ip).expect("throttled at the limit");
        assert!(
            wait <= STRIKE_WINDOW && wait > STRIKE_WINDOW / 2,
            "{wait:?}"
        );
        assert_eq!(a.throttled("203.0.113.10".parse().expect("ip")), None);
        // One IPv6 host holds a /64: its addresses count together, and a
        // v4-mapped address is its IPv4 one.
        let v6 = |s: &str| s.parse::<IpAddr>().expect("ip");
        for i in 0..STRIKES_ALLOWED {
            a.strike(v6(&format!("2001:db8:1:2::{i:x}")));
        }
        assert!(a.throttled(v6("2001:db8:1:2:ffff::1")).is_some());
        assert_eq!(a.throttled(v6("2001:db8:1:3::1")), None);
        assert!(a.throttled(v6("::ffff:203.0.113.9")).is_some());
    }

    #[test]
    fn the_throttle_remembers_a_bounded_number_of_clients() {
        let a = Access::new("t".repeat(32), false);
        for i in 0..(MAX_CLIENTS_TRACKED as u32 + 100) {
            a.strike(IpAddr::V4(i.into()));
        }
        assert!(a.strikes().len() <= MAX_CLIENTS_TRACKED);
    }

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
