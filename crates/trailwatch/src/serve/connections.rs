//! Connections: the accept loop under the router, with the limits a
//! server facing hostile clients needs and `axum::serve` does not offer.
//! - At most `max_connections` at once: past it the server stops
//!   accepting (the kernel queues the rest) until one closes.
//! - A request's headers must arrive within `header_timeout` of the
//!   server starting to wait for them; an idle kept-alive connection is
//!   waiting for headers too, so it is closed after the same time (hyper's
//!   header read timeout).
//! - A body must arrive within `body_timeout` ([`read_body_in_time`]),
//!   else 408.
//! - Each request carries its client's address (`ConnectInfo`), for the
//!   failed-sign-in throttle ([`super::access`]).
//!
//! On shutdown, open connections finish the request they are answering
//! and close; the loop waits for them at most [`DRAIN_DEADLINE`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::error::ApiError;

/// How long open connections may take to finish at shutdown.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// The limits on connections and on how slowly a client may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

/// Serve `router` on `listener` until `shutdown` completes.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    L: Listener<Addr = SocketAddr>,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Dropping the sender tells every connection to close once idle.
    let (closing, closed) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = http.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            let mut closing = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!("connection from {peer}: {e}");
                        }
                        break;
                    }
                    _ = closed.changed(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(closing);
    drop(closed);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_DEADLINE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connection(s) still open after {}s: closing them",
            limits.max_connections - slots.available_permits(),
            DRAIN_DEADLINE.as_secs()
        );
    }
}

/// The body limits [`read_body_in_time`] applies.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_body: usize,
    pub timeout: Duration,
}

/// Read the whole body within the body timeout (408 past it) and the
/// size limit (413 past it) before any handler sees the request, so a
/// client that trickles a body holds a connection for a bounded time.
pub async fn read_body_in_time(
    State(limits): State<BodyLimits>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let mut chunks = body.into_data_stream();
    let mut read = Vec::new();
    let deadline = tokio::time::sleep(limits.timeout);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        let chunk = tokio::select! {
            c = chunks.next() => c,
            () = &mut deadline => {
                return ApiError::Timeout(format!(
                    "the body did not arrive within {}s",
                    limits.timeout.as_secs()
                ))
                .into_response();
            }
        };
        match chunk {
            None => break,
            Some(Ok(bytes)) => {
                if read.len() + bytes.len() > limits.max_body {
                    return ApiError::TooLarge(format!(
                        "the body is over {} bytes, the most taken (--max-body)",
                        limits.max_body
                    ))
                    .into_response();
                }
                read.extend_from_slice(&bytes);
            }
            Some(Err(e)) => {
                return ApiError::BadRequest(format!("reading the body: {e}")).into_response();
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(read))).await
}
