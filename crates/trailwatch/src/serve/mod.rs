//! `trailwatch serve`: one process that answers queries over the lake,
//! takes pushed events ([`push`]) through detection and into the lake
//! ([`worker`]), and serves the dashboard and the JSON API, on axum and
//! tokio. Secure by
//! default: it binds 127.0.0.1, every route but `/healthz` and the sign-in
//! page needs the token ([`access`]), SQL is read-only with a timeout and a
//! memory limit ([`api`]), request bodies are capped, and TLS is one flag
//! pair away ([`tls`]). Queries run on a runtime of their own, so a heavy
//! one does not hold up the threads that answer HTTP.

pub mod access;
pub mod alerts;
pub mod api;
pub mod assets;
pub mod metrics;
pub mod push;
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
use clap::Args;
use serde_json::json;
use trailwatch_sql::{Engine, EngineOptions};

use crate::cli::lake_args::LakeArgs;
use crate::cli::rule_args::RuleArgs;
use crate::config::Config;
use access::Access;
use metrics::Metrics;
use token::TokenSource;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Address to listen on (also `[serve] listen`). Default 127.0.0.1:8080:
    /// give another address only behind TLS or a trusted proxy.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The server's state folder, where a generated token is kept (also
    /// `[serve] state`). Default: $XDG_STATE_HOME/trailwatch/serve
    /// (~/.local/state/trailwatch/serve), or the platform's local data
    /// folder where there is no state folder (macOS: ~/Library/Application
    /// Support/trailwatch/serve).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// A PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The largest request body taken, in bytes (larger: 413).
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub max_body: usize,
    /// How long one SQL statement may run (bare numbers are seconds).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub timeout: u64,
    /// Memory for one statement's execution, in bytes (past it, sorts and
    /// aggregations spill to disk).
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    pub memory_limit: usize,
    /// Time between ingests of pushed events (and, with --watch, of the
    /// trail files taken) into the lake; both go through detection at once
    /// (bare numbers are seconds).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = crate::timespec::positive_seconds_arg)]
    pub ingest_interval: u64,
    /// Also follow these trail folders or `s3://bucket/prefix`es, as
    /// `watch` does (its `[watch]` settings apply: lateness, polling,
    /// public keys for digests), through the same pipeline as pushed
    /// events: an event both pushed and read from the trail is stored and
    /// alerted once.
    #[arg(long, value_name = "DIR|S3URL", num_args = 1..)]
    pub watch: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

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
    pub to_worker: std::sync::mpsc::Sender<crate::pipeline::follow::Wake>,
    /// The config's notification outbox, when it has sinks.
    pub notifier: Option<crate::notify::dispatch::Notifier>,
    /// The security state: rebuilt from the lake by the worker at start,
    /// then kept up to date with every pushed record.
    pub posture: Arc<std::sync::Mutex<trailwatch_core::posture::Posture>>,
    /// Whether the rebuild from the lake has finished.
    pub posture_ready: Arc<std::sync::atomic::AtomicBool>,
    /// `GET /api/rules`' answer, made once.
    pub rules: serde_json::Value,
    /// `GET /api/summary`'s last answer.
    pub summary: summary::Cache,
}

/// The default state folder (see `--state`).
pub fn default_state() -> Result<PathBuf> {
    crate::config::state_path("serve").context("pass --state")
}

/// Every rule in force, as `GET /api/rules` lists them.
fn rule_list(args: &RuleArgs, cfg: &Config) -> Result<serde_json::Value> {
    let d = args.detections(cfg)?;
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
    Ok(serde_json::Value::Array(out))
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
    api::error(StatusCode::NOT_FOUND, "no such route (see docs/api.md)")
}

/// Count refusals for `/metrics`.
async fn count_refusals(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::UNAUTHORIZED {
        app.metrics
            .requests_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    res
}

/// The routes, with their guards.
pub fn router(app: Arc<App>, max_body: usize) -> Router {
    let guarded = Router::new()
        .route("/api/query", post(api::query))
        .route("/api/rules", get(api::rules))
        .route("/api/alerts", get(alerts::list))
        .route("/api/alerts/{id}", get(alerts::one))
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
        .layer(middleware::from_fn_with_state(app.clone(), count_refusals))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(access::security_headers))
        .with_state(app)
}

fn runtime(name: &str, threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(args: &ServeArgs, cfg: &Config) -> Result<ExitCode> {
    let s = &cfg.raw.serve;
    let listen = cfg
        .pick(args.listen.clone(), &s.listen, "127.0.0.1:8080".to_string())
        .value;
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?}: use HOST:PORT, e.g. 127.0.0.1:8080"))?;
    let state = match cfg.pick_opt(args.state.clone(), &s.state) {
        Some(p) => p.value,
        None => default_state()?,
    };
    crate::private::create_dir_all(&state)
        .with_context(|| format!("creating {}", state.display()))?;
    let config_token = s.token.as_ref().map(|t| t.get_ref().clone());
    let (token, from) = token::resolve(
        std::env::var("TRAILWATCH_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        config_token,
        &state,
    )?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(tls::config(c, k)?),
        _ => None,
    };
    if !addr.ip().is_loopback() && tls.is_none() {
        tracing::warn!(
            "listening on {addr} without TLS: the token and data cross the network in clear (give --tls-cert and --tls-key)"
        );
    }
    let query_rt = runtime("tw-query", 2)?;
    let summary_rt = runtime("tw-summary", 1)?;
    let engine = Engine::new(EngineOptions {
        memory_limit: Some(args.memory_limit),
        timeout: Some(Duration::from_secs(args.timeout)),
        s3: args.lake.s3_options(cfg),
        // Pushed events and new alerts show within a second.
        listing_ttl: Some(Duration::from_secs(1)),
        ..EngineOptions::default()
    })?;
    let location = args.lake.location(cfg)?;
    query_rt
        .block_on(engine.register_lake(&location))
        .with_context(|| format!("opening the lake {location}"))?;
    let http_rt = runtime("tw-http", 2)?;
    // Alerts are delivered to the config's sinks through the outbox, as
    // `watch` delivers them.
    let notifier = crate::notify::dispatch::Notifier::for_config(
        cfg.raw.notify.clone(),
        &crate::notify::SinkContext {
            aws: args.lake.aws.sns_options(),
        },
    )?;
    let _delivery = notifier.clone().map(|n| {
        http_rt.spawn(async move {
            n.deliver(false, None).await;
        })
    });
    let metrics = Arc::new(Metrics::default());
    let spool = Arc::new(
        push::Spool::open(&state)
            .with_context(|| format!("opening the spool in {}", state.display()))?,
    );
    // The watcher's settings (`[watch]`), for late records and, with
    // --watch, for following the trail.
    let watch_set = crate::cli::watch::Settings::resolve(
        &crate::cli::watch::WatchArgs {
            sources: args.watch.clone(),
            ..crate::cli::watch::WatchArgs::empty()
        },
        cfg,
        None,
    )?;
    // The security state is kept up to date by the same pipeline.
    let mut detectors = args
        .rules
        .detections(cfg)?
        .detectors(Some((watch_set.late_horizon / 60) as i64));
    let posture = Arc::new(std::sync::Mutex::new(
        trailwatch_core::posture::Posture::default(),
    ));
    let posture_ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    detectors.push(Box::new(trailwatch_core::posture::PostureDetector(
        posture.clone(),
    )));
    let store = args.lake.open(cfg, query_rt.handle().clone())?;
    let (to_worker, from_server) = std::sync::mpsc::channel();
    let follow = match args.watch.is_empty() {
        true => None,
        false => Some(worker::Follow {
            sources: args.watch.clone(),
            s3: args.lake.s3_options(cfg),
            handle: query_rt.handle().clone(),
            options: watch_set.follow_options()?,
            poll: Duration::from_millis(watch_set.poll_ms),
            wake: to_worker.clone(),
        }),
    };
    let worker = worker::Worker {
        store,
        spool: spool.clone(),
        state: state.join("pipeline"),
        detectors,
        // Pushed events come within seconds: alarms wait a minute for
        // stragglers. Trail files come minutes late: with --watch, the
        // watcher's lateness.
        lateness: if args.watch.is_empty() {
            60
        } else {
            watch_set.lateness
        },
        idle: Duration::from_secs(watch_set.idle_after),
        notifier: notifier.clone(),
        metrics: metrics.clone(),
        interval: Duration::from_secs(args.ingest_interval.max(1)),
        follow,
        posture: posture.clone(),
        posture_ready: posture_ready.clone(),
    };
    let stop_worker = to_worker.clone();
    let worker = std::thread::Builder::new()
        .name("tw-detect".into())
        .spawn(move || {
            if let Err(e) = worker.run(from_server) {
                tracing::error!("the detection worker stopped: {e:#}");
            }
        })
        .context("starting the detection worker")?;
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
        posture_ready,
        rules: rule_list(&args.rules, cfg)?,
        summary: summary::Cache::default(),
    });
    let router = router(app.clone(), args.max_body);
    http_rt.block_on(async move {
        // The dashboard's figures, ready before the first view.
        summary::refresh(&app);
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = tcp.local_addr()?;
        match from {
            // The one time the token is shown: on stderr, not in the log.
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
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("serving {location} on {scheme}://{local}");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match tls {
            Some(config) => {
                let listener = tls::TlsListener::new(tcp, config)?;
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await?;
            }
            None => {
                axum::serve(tcp, router)
                    .with_graceful_shutdown(shutdown)
                    .await?;
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    // The worker saves its state, ingests what is detected and stops.
    let _ = stop_worker.send(crate::pipeline::follow::Wake::Stop);
    let _ = worker.join();
    query_rt.shutdown_background();
    summary_rt.shutdown_background();
    Ok(ExitCode::SUCCESS)
}
