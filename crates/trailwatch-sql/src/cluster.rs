//! Distributed queries on Ballista, DataFusion's own distributed engine.
//!
//! Three roles, one binary:
//! - the **client** ([`remote_context`]): parses and plans the statement
//!   (Athena rewrites already applied, Trino functions registered) and
//!   sends the logical plan to the scheduler;
//! - the **scheduler** ([`run_scheduler`]): splits the plan into stages
//!   and hands tasks to executors;
//! - the **executors** ([`run_executor`]): run the tasks, reading the
//!   lake's Parquet files (local or S3) and exchanging shuffle data.
//!
//! Plans travel as DataFusion protobuf: functions by name, tables as
//! listing tables (paths, schema, partition columns). So the scheduler and
//! every executor register the same functions as the client, and reach
//! S3 through the AWS SDK's chains in their own environment
//! ([`LakeStores`]). The lake table `cloudtrail_logs` is a plain listing
//! table here (a wrapper provider cannot be encoded); its event-time
//! partition pruning is done by a logical rule instead
//! ([`ImpliedDateFilters`]), so a cluster reads the same few days a local
//! query does.
//!
//! The Ballista protocol has no authentication: whoever reaches the
//! scheduler can run plans with the executors' credentials. Scheduler and
//! executors bind 127.0.0.1 unless told otherwise (docs/scale-out.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use trailwatch_lake::store::{S3Options, s3_store};
use url::Url;

use crate::pruning::with_implied_date_filters;
use crate::yielding::YieldingJoins;
use crate::{QueryError, udf};

/// The scheduler's port when a `df://` URL gives none (Ballista's).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// `df://HOST[:PORT]` (or `HOST[:PORT]`) as the scheduler's host and port.
pub fn parse_cluster_url(url: &str) -> Result<(String, u16), QueryError> {
    let rest = url.strip_prefix("df://").unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    let bad = || QueryError::BadClusterUrl(url.to_string());
    if rest.is_empty() || rest.contains('/') {
        return Err(bad());
    }
    // Bracketed IPv6 keeps its colons: [::1]:50050.
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.ends_with(']')) => {
            (h, p.parse::<u16>().map_err(|_| bad())?)
        }
        Some(_) => return Err(bad()),
        None => (rest, DEFAULT_SCHEDULER_PORT),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Object stores by URL, with `s3://bucket` stores made on first use from
/// the AWS chains of this process (region, endpoint, credentials). The
/// scheduler lists the lake's files and the executors read them, each
/// with its own credentials; nothing secret travels in a plan.
#[derive(Debug)]
pub struct LakeStores {
    s3: S3Options,
    known: DefaultObjectStoreRegistry,
}

impl LakeStores {
    pub fn new(s3: S3Options) -> LakeStores {
        LakeStores {
            s3,
            known: DefaultObjectStoreRegistry::new(),
        }
    }
}

impl ObjectStoreRegistry for LakeStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        if url.scheme() != "s3" {
            return Err(DataFusionError::Execution(format!(
                "no object store for {url} (the lake is a local folder or s3://)"
            )));
        }
        let bucket = match url.host_str() {
            Some(b) if !b.is_empty() => b,
            _ => return Err(DataFusionError::Execution(format!("no bucket in {url}"))),
        };
        let store = s3_store(bucket, &self.s3)
            .map_err(|e| DataFusionError::Execution(format!("s3://{bucket}: {e}")))?;
        let base = Url::parse(&format!("s3://{bucket}"))
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        self.known.register_store(&base, Arc::clone(&store));
        Ok(store)
    }
}

/// DataFusion's functions with trailwatch's Trino functions in place of
/// their namesakes, as an executor decodes them.
fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in udf::all() {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    registry
}

/// Adds to every scan of `cloudtrail_logs` the `date` partition filters
/// its event-time filters imply (see [`crate::pruning`]): the job of the
/// local engine's table wrapper, done on the plan so that it survives
/// being sent to the scheduler. Results do not change, only the files
/// listed and read.
#[derive(Debug, Default)]
pub struct ImpliedDateFilters;

impl OptimizerRule for ImpliedDateFilters {
    fn name(&self) -> &str {
        "trailwatch_implied_date_filters"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        plan.transform_up(|node| match node {
            LogicalPlan::TableScan(mut scan)
                if scan.table_name.table() == "cloudtrail_logs" && !scan.filters.is_empty() =>
            {
                let mut added = false;
                for f in with_implied_date_filters(&scan.filters) {
                    if !scan.filters.contains(&f) {
                        scan.filters.push(f);
                        added = true;
                    }
                }
                let plan = LogicalPlan::TableScan(scan);
                Ok(if added {
                    Transformed::yes(plan)
                } else {
                    Transformed::no(plan)
                })
            }
            other => Ok(Transformed::no(other)),
        })
    }
}

/// A client session whose statements run on the cluster at `url`.
/// `config` carries the session settings (batch size, Parquet pushdown),
/// which travel with each job.
pub async fn remote_context(
    url: &str,
    config: SessionConfig,
    s3: &S3Options,
) -> Result<SessionContext, QueryError> {
    let (host, port) = parse_cluster_url(url)?;
    // Ballista connects when the first job is sent and reports a refused
    // connection as a raw transport error; ask first, and say it plainly.
    let unreachable = |reason: String| QueryError::ClusterUnreachable {
        url: format!("df://{host}:{port}"),
        reason,
    };
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable("no answer within 10 s".into())),
    }
    let runtime = lake_runtime(&Arc::new(LakeStores::new(s3.clone())), None)?;
    let state = SessionStateBuilder::new()
        .with_config(config.upgrade_for_ballista())
        .with_runtime_env(runtime)
        .with_default_features()
        .with_optimizer_rule(Arc::new(ImpliedDateFilters))
        .build();
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), state).await?;
    // Ballista resets the session's functions to DataFusion's; the Trino
    // ones go back on top, replacing their namesakes.
    udf::register(&ctx)?;
    Ok(ctx)
}

/// The scheduler's session for each job: DataFusion's defaults with the
/// Trino functions, the lake's stores, and joins that yield (so a
/// cancelled job frees its executors' threads).
fn scheduler_session(config: SessionConfig, stores: &Arc<LakeStores>) -> Result<SessionState> {
    let runtime = lake_runtime(stores, None)?;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_physical_optimizer_rule(Arc::new(YieldingJoins))
        .build();
    for f in udf::all() {
        state.register_udf(Arc::new(f))?;
    }
    Ok(state)
}

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// The host executors and clients are told to reach this scheduler at.
    pub external_host: Option<String>,
    /// How long without a heartbeat before an executor counts as lost and
    /// its tasks run elsewhere.
    pub executor_timeout: Duration,
    pub s3: S3Options,
}

/// Run a scheduler until the process ends.
pub async fn run_scheduler(opts: SchedulerOptions) -> Result<(), QueryError> {
    let stores = Arc::new(LakeStores::new(opts.s3.clone()));
    let timeout = opts.executor_timeout.as_secs().max(1);
    let config = SchedulerConfig {
        bind_host: opts.bind.ip().to_string(),
        bind_port: opts.bind.port(),
        external_host: opts
            .external_host
            .clone()
            .unwrap_or_else(|| opts.bind.ip().to_string()),
        executor_timeout_seconds: timeout,
        // Lost executors are looked for every few seconds, not every 15.
        expire_dead_executor_interval_seconds: timeout.clamp(1, 5),
        no_executors_grace_period_seconds: timeout,
        override_session_builder: Some(Arc::new(move |config| scheduler_session(config, &stores))),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| QueryError::Cluster(e.to_string()))?;
    start_server(cluster, opts.bind, Arc::new(config))
        .await
        .map_err(|e| QueryError::Cluster(format!("the scheduler stopped: {e}")))
}

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Where this executor listens for shuffle reads (Arrow Flight).
    pub bind: SocketAddr,
    /// Its gRPC port (the scheduler's calls).
    pub grpc_port: u16,
    /// The host other executors and the client reach it at.
    pub external_host: Option<String>,
    /// Tasks at once; 0 is one per CPU.
    pub concurrency: usize,
    /// Shuffle files and spills; a temporary folder when unset.
    pub work_dir: Option<String>,
    /// How often it tells the scheduler it is alive.
    pub heartbeat: Duration,
    pub s3: S3Options,
}

/// Run an executor until the process ends (or the scheduler stops it).
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), QueryError> {
    let stores = Arc::new(LakeStores::new(opts.s3.clone()));
    let work_dir = opts.work_dir.clone();
    let mut config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        port: opts.bind.port(),
        grpc_port: opts.grpc_port,
        external_host: opts.external_host.clone(),
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        work_dir: opts.work_dir.clone(),
        executor_heartbeat_interval_seconds: opts.heartbeat.as_secs().max(1),
        print_thread_info: false,
        override_function_registry: Some(Arc::new(function_registry())),
        override_runtime_producer: Some(Arc::new(move |_config: &SessionConfig| {
            lake_runtime(&stores, work_dir.as_deref())
        })),
        ..ExecutorProcessConfig::default()
    };
    if opts.concurrency > 0 {
        config.vcores = opts.concurrency;
    }
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| QueryError::Cluster(format!("the executor stopped: {e}")))
}

/// A runtime reaching the lake through `stores`, spilling to `work_dir`
/// when given: the client's, the scheduler's and each executor task's.
fn lake_runtime(stores: &Arc<LakeStores>, work_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::clone(stores) as Arc<dyn ObjectStoreRegistry>);
    if let Some(dir) = work_dir {
        builder = builder.with_temp_file_path(dir);
    }
    builder.build_arc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_the_scheduler() {
        let ok = |s: &str| parse_cluster_url(s).unwrap();
        assert_eq!(ok("df://10.0.0.5:50050"), ("10.0.0.5".into(), 50050));
        assert_eq!(ok("df://scheduler"), ("scheduler".into(), 50050));
        assert_eq!(ok("localhost:7000"), ("localhost".into(), 7000));
        assert_eq!(ok("df://[::1]:7000/"), ("[::1]".into(), 7000));
        for bad in [
            "df://",
            "df://host:port",
            "df://h:1/x",
            "df://:80",
            "df://::1",
        ] {
            let e = parse_cluster_url(bad).unwrap_err().to_string();
            assert!(e.contains("df://HOST:PORT"), "{bad}: {e}");
        }
    }

    /// The executors know trailwatch's functions under DataFusion's
    /// names, replacing the namesakes (`date_format` is Trino's here).
    #[test]
    fn executors_decode_the_trino_functions() {
        let registry = function_registry();
        for f in udf::all() {
            let known = &registry.scalar_functions[f.name()];
            assert!(**known == f, "{} is trailwatch's", f.name());
        }
        assert!(registry.scalar_functions.contains_key("upper"));
    }
}
