//! `trailwatch serve`: one process that answers queries over the lake,
//! takes pushed events ([`push`]) through detection and into the lake
//! ([`worker`]), and serves the dashboard and the JSON API, on axum and
//! tokio. Secure by default: it binds 127.0.0.1, every route but `/healthz` and the sign-in
//! page needs the token ([`access`]), SQL is read-only with a timeout and a
//! memory limit ([`api`]), request bodies are capped, and TLS is one flag
//! pair away ([`tls`]). Queries run on a runtime of their own, so a heavy
//! one does not hold up the threads that answer HTTP. Its flags are read
//! in `cli/serve.rs`, which hands [`run`] the resolved [`Options`].

pub mod access;
pub mod alerts;
pub mod api;
pub mod assets;
pub mod connections;
pub mod error;
pub mod investigate;
pub mod metrics;
pub mod push;
pub mod respond;
pub mod summary;
pub mod tls;
pub mod token;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use trailwatch_core::detect::Detector;
use trailwatch_core::detect::shared::Shared;
use trailwatch_lake::aws::AwsOptions;
use trailwatch_lake::store::{S3Options, Store};
use trailwatch_sql::{Engine, EngineOptions};

use crate::config::WatchSettings;
use crate::detectors::Detections;
use crate::notify::config::NotifyConfig;
use crate::pipeline::follow::{FollowOptions, Wake};
use crate::pipeline::output;
use crate::runtime::named as runtime;
use access::Access;
use error::ApiError;
use metrics::Metrics;
use token::TokenSource;

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    pub access: Arc<Access>,
    pub engine: Arc<Engine>,
    /// The runtime queries run on.
    pub query_rt: tokio::runtime::Handle,
    /// The summary's runtime: one thread, so its computation in the
    /// background takes at most one core from the views (see summary.rs).
    pub summary_rt: tokio::runtime::Handle,
    pub metrics: Arc<Metrics>,
    /// Where pushed records are kept until they are in the lake.
    pub spool: Arc<push::Spool>,
    /// Spool files for the detection worker.
    pub to_worker: std::sync::mpsc::Sender<Wake>,
    /// The config's notification outbox, when it has sinks.
    pub notifier: Option<crate::notify::dispatch::Notifier>,
    /// The security state: rebuilt from the lake by the worker at start,
    /// then kept up to date with every pushed record.
    pub posture: Arc<std::sync::Mutex<trailwatch_core::posture::Posture>>,
    /// The activity the overview shows, kept the same way.
    pub activity: Arc<std::sync::Mutex<trailwatch_core::activity::Activity>>,
    /// Whether the rebuild of both from the lake has finished.
    pub posture_ready: Arc<std::sync::atomic::AtomicBool>,
    /// `GET /api/rules`' answer, made once.
    pub rules: serde_json::Value,
    /// `GET /api/summary`'s last answer.
    pub summary: summary::Cache,
    /// The GeoIP databases in force (for the places of investigated
    /// addresses), when the detections opened them.
    pub geo: Option<Arc<trailwatch_core::correlate::geo::GeoIp>>,
    /// The lake as files (for investigations' partition listings).
    pub lake: Store,
    /// Responses: `POST /api/respond`, and the worker's automatic ones.
    pub responder: Arc<crate::respond::Responder>,
}

/// Every rule in force, as `GET /api/rules` lists them.
fn rule_list(d: &Detections) -> serde_json::Value {
    let mut out = Vec::new();
    for r in &d.rules {
        out.push(json!({
            "id": r.id, "title": r.title, "severity": r.severity,
            "kind": if r.alarm.is_some() { "alarm" } else { "finding" },
            "source": r.origin,
        }));
    }
    for (i, r) in d.sigma.rules.iter().enumerate() {
        out.push(json!({
            "id": r.id, "title": r.title, "severity": r.severity,
            "kind": match r.body {
                trailwatch_core::sigma::rule::Body::Detection(_) => "sigma",
                trailwatch_core::sigma::rule::Body::Correlation(_) => "sigma-correlation",
            },
            "source": r.origin, "tags": r.tags, "alerts_on_its_own": d.sigma.alerts[i],
        }));
    }
    for c in &d.correlation {
        out.push(json!({
            "id": c.id, "title": c.title, "severity": c.severity,
            "kind": "correlation", "source": format!("pack {}", trailwatch_core::correlate::PACK),
        }));
    }
    serde_json::Value::Array(out)
}

/// `/`: the dashboard for a signed-in browser, else the sign-in page.
async fn dashboard(State(app): State<Arc<App>>, req: Request) -> Response {
    if app.access.caller(req.headers()).is_some() {
        assets::file("index.html")
    } else {
        Redirect::to("/login").into_response()
    }
}

async fn not_found() -> Response {
    ApiError::NotFound("no such route (see docs/api.md)".into()).into_response()
}

/// Whether a request tries a credential: a bearer token, a Firehose key
/// or the sign-in form (a session cookie is a random id, not a guess).
fn tries_a_credential(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(axum::http::header::AUTHORIZATION)
        || h.contains_key("x-amz-firehose-access-key")
        || (req.method() == axum::http::Method::POST && req.uri().path() == "/login")
}

/// Count refusals for `/metrics`, and throttle clients that keep failing
/// to sign in ([`access`]): a client over the limit is answered 429 when
/// it tries a credential again, before the credential is looked at.
async fn guard_sign_ins(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .filter(|_| tries_a_credential(&req));
    let refused = || {
        app.metrics
            .requests_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    };
    if let Some(wait) = client.and_then(|ip| app.access.throttled(ip)) {
        refused();
        return ApiError::Throttled(wait).into_response();
    }
    let res = next.run(req).await;
    let failed = res.status() == StatusCode::UNAUTHORIZED
        || res.extensions().get::<access::FailedSignIn>().is_some();
    if failed {
        refused();
        if let Some(ip) = client {
            app.access.strike(ip);
        }
    }
    res
}

/// A body whose `Content-Length` is over `--max-body` is refused at once
/// (413), before any of it is read; a body without one is cut at the limit
/// as it is read (`DefaultBodyLimit`).
async fn refuse_large_bodies(State(max): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > max as u64) {
        return ApiError::TooLarge(format!(
            "the body is {n} bytes; the most taken is {max} (--max-body)"
        ))
        .into_response();
    }
    next.run(req).await
}

/// The routes, with their guards.
pub fn router(app: Arc<App>, limits: connections::BodyLimits) -> Router {
    let max_body = limits.max_body;
    let guarded = Router::new()
        .route("/api/query", post(api::query))
        .route("/api/rules", get(api::rules))
        .route("/api/alerts", get(alerts::list))
        .route("/api/alerts/{id}", get(alerts::one))
        .route("/api/investigate", get(investigate::investigate))
        .route("/api/respond", post(respond::respond))
        .route("/api/summary", get(summary::summary))
        .route("/api/state", get(summary::state))
        .route("/api/session", get(api::session))
        .route("/logout", post(api::logout))
        .route("/ingest/cloudtrail", post(push::records))
        .route("/ingest/eventbridge", post(push::records))
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    app.metrics.render(
                        app.notifier.as_ref().map(|n| n.pending_per_sink()),
                        app.spool.depth(),
                    ),
                )
            }),
        )
        .route_layer(middleware::from_fn_with_state(
            app.access.clone(),
            access::require_caller,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(dashboard))
        .route("/login", get(|| async { assets::file("login.html") }))
        .route("/login", post(api::login))
        .route("/assets/{name}", get(assets::asset))
        // Firehose sends its own access-key header, checked as the token.
        .route("/ingest/firehose", post(push::firehose))
        .merge(guarded)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard_sign_ins))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            limits,
            connections::read_body_in_time,
        ))
        .layer(middleware::from_fn_with_state(
            max_body,
            refuse_large_bodies,
        ))
        .layer(middleware::from_fn(access::security_headers))
        .with_state(app)
}

/// Everything `serve` needs, resolved from its flags and the config
/// (`cli/serve.rs`).
#[derive(Debug)]
pub struct Options {
    pub listen: SocketAddr,
    /// The state folder: the token, the push spool, the pipeline's state.
    pub state: PathBuf,
    /// The config file's `[serve] token`, when it has one.
    pub config_token: Option<String>,
    /// A PEM certificate chain and its key: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_body: usize,
    /// Connections at once and how slowly a client may send.
    pub connections: connections::Limits,
    /// The longest one SQL statement may run.
    pub timeout: Duration,
    /// Memory for one statement's execution, in bytes.
    pub memory_limit: usize,
    /// Time between ingests of pushed events (and followed files).
    pub ingest_interval: Duration,
    /// The lake's location.
    pub lake: String,
    pub s3: S3Options,
    /// AWS access for SNS sinks.
    pub sns: AwsOptions,
    /// Trail folders or S3 prefixes to follow as `watch` does.
    pub watch: Vec<String>,
    /// `[watch]`'s settings: lateness, polling, public keys.
    pub watch_settings: WatchSettings,
    pub notify: NotifyConfig,
    /// `[respond]`: the role per account, the automatic rules and their budget.
    pub respond: crate::config::RespondSettings,
}

/// A server built and ready to listen: its runtimes, the shared state of
/// the handlers, and the detection worker running beside them.
struct Server {
    app: Arc<App>,
    router: Router,
    limits: connections::Limits,
    /// Bound before anything else starts, so a busy port is the first
    /// and only thing said.
    tcp: std::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    token: String,
    token_from: TokenSource,
    state: PathBuf,
    location: String,
    http_rt: tokio::runtime::Runtime,
    query_rt: tokio::runtime::Runtime,
    summary_rt: tokio::runtime::Runtime,
    stop_worker: std::sync::mpsc::Sender<Wake>,
    worker: std::thread::JoinHandle<()>,
}

pub fn run(opts: Options, detections: Detections) -> Result<ExitCode> {
    let server = Server::build(opts, detections)?;
    server.listen()
}

impl Server {
    /// Open the lake, start the runtimes, the outbox's delivery and the
    /// detection worker, and make the routes.
    fn build(opts: Options, detections: Detections) -> Result<Server> {
        let tcp = std::net::TcpListener::bind(opts.listen)
            .with_context(|| format!("listening on {}", opts.listen))?;
        tcp.set_nonblocking(true)
            .with_context(|| format!("listening on {}", opts.listen))?;
        crate::private::create_dir_all(&opts.state)
            .with_context(|| format!("creating {}", opts.state.display()))?;
        let (token, token_from) = token::resolve(
            std::env::var("TRAILWATCH_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            opts.config_token.clone(),
            &opts.state,
        )?;
        let tls = Self::tls(&opts)?;
        let query_rt = crate::runtime::for_queries("tw-query", 2)?;
        let summary_rt = crate::runtime::for_queries("tw-summary", 1)?;
        let engine = Self::engine(&opts, &query_rt)?;
        let http_rt = runtime("tw-http", 2)?;
        // Alerts are delivered to the config's sinks through the outbox, as
        // `watch` delivers them.
        let notifier = crate::notify::dispatch::Notifier::for_config(
            opts.notify.clone(),
            &crate::notify::SinkContext {
                aws: opts.sns.clone(),
            },
        )?;
        let _delivery = notifier.clone().map(|n| {
            http_rt.spawn(async move {
                n.deliver(false, None).await;
            })
        });
        let metrics = Arc::new(Metrics::default());
        let spool = Arc::new(
            push::Spool::open(&opts.state)
                .with_context(|| format!("opening the spool in {}", opts.state.display()))?,
        );
        let posture = Arc::new(std::sync::Mutex::new(
            trailwatch_core::posture::Posture::default(),
        ));
        let posture_ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (to_worker, from_server) = std::sync::mpsc::channel();
        let app = Arc::new(App {
            access: Access::new(token.clone(), tls.is_some()),
            engine: Arc::new(engine),
            query_rt: query_rt.handle().clone(),
            summary_rt: summary_rt.handle().clone(),
            metrics,
            spool,
            to_worker,
            notifier,
            posture,
            activity: Arc::default(),
            posture_ready,
            rules: rule_list(&detections),
            summary: summary::Cache::default(),
            geo: detections.geo.clone(),
            lake: Store::open(&opts.lake, &opts.s3, query_rt.handle().clone())
                .with_context(|| format!("opening the lake {}", opts.lake))?,
            responder: Arc::new(crate::respond::Responder::new(
                opts.sns.clone(),
                &opts.respond,
            )),
        });
        let detectors = detections.detectors(Some((opts.watch_settings.late_horizon / 60) as i64));
        let worker = Self::worker(&opts, detectors, query_rt.handle(), &app)?;
        let stop_worker = app.to_worker.clone();
        let worker = std::thread::Builder::new()
            .name("tw-detect".into())
            .spawn(move || {
                if let Err(e) = worker.run(from_server) {
                    tracing::error!("the detection worker stopped: {e:#}");
                }
            })
            .context("starting the detection worker")?;
        Ok(Server {
            router: router(
                app.clone(),
                connections::BodyLimits {
                    max_body: opts.max_body,
                    timeout: opts.connections.body_timeout,
                },
            ),
            limits: opts.connections,
            app,
            tcp,
            tls,
            token,
            token_from,
            state: opts.state,
            location: opts.lake,
            http_rt,
            query_rt,
            summary_rt,
            stop_worker,
            worker,
        })
    }

    /// The TLS configuration, when given; a warning when the server
    /// listens beyond loopback without it.
    fn tls(opts: &Options) -> Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>> {
        let tls = match &opts.tls {
            Some((c, k)) => Some(tls::config(c, k)?),
            None => None,
        };
        if !opts.listen.ip().is_loopback() && tls.is_none() {
            tracing::warn!(
                "listening on {} without TLS: the token and data cross the network in clear (give --tls-cert and --tls-key)",
                opts.listen
            );
        }
        Ok(tls)
    }

    /// The query engine over the lake, with the server's limits.
    fn engine(opts: &Options, query_rt: &tokio::runtime::Runtime) -> Result<Engine> {
        let engine = Engine::new(EngineOptions {
            memory_limit: Some(opts.memory_limit),
            timeout: Some(opts.timeout),
            s3: opts.s3.clone(),
            // Pushed events and new alerts show within a second.
            listing_ttl: Some(Duration::from_secs(1)),
            ..EngineOptions::default()
        })?;
        query_rt
            .block_on(engine.register_lake(&opts.lake))
            .with_context(|| format!("opening the lake {}", opts.lake))?;
        Ok(engine)
    }

    /// The detection worker: pushed events (and, with `--watch`, the
    /// trail's files) through the detectors, the security state and into
    /// the lake.
    fn worker(
        opts: &Options,
        mut detectors: Vec<Box<dyn Detector>>,
        handle: &tokio::runtime::Handle,
        app: &App,
    ) -> Result<worker::Worker> {
        let set = &opts.watch_settings;
        // The security state and the overview's activity are kept up to
        // date by the same pipeline.
        detectors.push(Box::new(Shared(app.posture.clone())));
        detectors.push(Box::new(Shared(app.activity.clone())));
        let store = Store::open(&opts.lake, &opts.s3, handle.clone())
            .with_context(|| format!("opening the lake {}", opts.lake))?;
        let auto = output::AutoRespond::attach(
            app.responder.clone(),
            &mut detectors,
            handle.clone(),
            Some(store.clone()),
        );
        let follow = match opts.watch.is_empty() {
            true => None,
            false => Some(worker::Follow {
                sources: opts.watch.clone(),
                s3: opts.s3.clone(),
                handle: handle.clone(),
                options: FollowOptions::from_settings(set)?,
                poll: Duration::from_millis(set.poll_ms),
                wake: app.to_worker.clone(),
            }),
        };
        Ok(worker::Worker {
            store,
            spool: app.spool.clone(),
            state: opts.state.join("pipeline"),
            detectors,
            // Pushed events come within seconds: alarms wait a minute for
            // stragglers. Trail files come minutes late: with --watch, the
            // watcher's lateness.
            lateness: if opts.watch.is_empty() {
                60
            } else {
                set.lateness
            },
            idle: Duration::from_secs(set.idle_after),
            notifier: app.notifier.clone(),
            metrics: app.metrics.clone(),
            engine: app.engine.clone(),
            interval: opts.ingest_interval.max(Duration::from_secs(1)),
            follow,
            posture: app.posture.clone(),
            activity: app.activity.clone(),
            posture_ready: app.posture_ready.clone(),
            auto,
        })
    }

    /// Listen until Ctrl-C, then stop the worker (which saves its state
    /// and ingests what it has) and the runtimes.
    fn listen(self) -> Result<ExitCode> {
        let Server {
            app,
            router,
            limits,
            tcp,
            tls,
            token,
            token_from,
            state,
            location,
            http_rt,
            query_rt,
            summary_rt,
            stop_worker,
            worker,
        } = self;
        http_rt.block_on(async move {
            // The dashboard's figures, ready before the first view.
            summary::refresh(&app);
            let tcp = tokio::net::TcpListener::from_std(tcp).context("listening")?;
            let local = tcp.local_addr()?;
            announce_token(token_from, &token, &state);
            let scheme = if tls.is_some() { "https" } else { "http" };
            tracing::info!("serving {location} on {scheme}://{local}");
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            match tls {
                Some(config) => {
                    let listener = tls::TlsListener::new(tcp, config)?;
                    connections::serve(listener, router, limits, shutdown).await;
                }
                None => connections::serve(tcp, router, limits, shutdown).await,
            }
            Ok::<(), anyhow::Error>(())
        })?;
        // The worker saves its state, ingests what is detected and stops.
        let _ = stop_worker.send(Wake::Stop);
        let _ = worker.join();
        query_rt.shutdown_background();
        summary_rt.shutdown_background();
        Ok(ExitCode::SUCCESS)
    }
}

/// Say where the token comes from; a generated one is shown once, on
/// stderr, not in the log.
fn announce_token(from: TokenSource, token: &str, state: &std::path::Path) {
    match from {
        TokenSource::Generated => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "trailwatch serve: sign in with this token (kept in {}, mode 0600; it is not shown again):\n{token}",
                    state.join(token::TOKEN_FILE).display()
                );
            }
        }
        TokenSource::Stored => tracing::info!(
            "the token is the one in {}",
            state.join(token::TOKEN_FILE).display()
        ),
        TokenSource::Env => tracing::info!("the token is TRAILWATCH_TOKEN's"),
        TokenSource::Config => tracing::info!("the token is the config's [serve] token"),
    }
}
