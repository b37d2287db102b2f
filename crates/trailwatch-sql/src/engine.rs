//! The query engine: a DataFusion session with the lake's tables
//! (`cloudtrail_logs`, `alerts`), the Trino functions, a memory limit with
//! spilling to disk, a timeout, and read-only enforcement.

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use trailwatch_lake::alerts::{ALERTS_DIR, alerts_schema};
use trailwatch_lake::partition::TABLE_DIR;
use trailwatch_lake::responses::{RESPONSES_DIR, responses_schema};
use trailwatch_lake::schema::cloudtrail_schema;
use trailwatch_lake::store::{Location, S3Options, s3_store};

use crate::guard::{Allowed, check};
use crate::pruning::{EventTimePruning, IdentityCopies, IdentityCopyFilters};
use crate::raw::register_raw_table;
use crate::rewrite::rewrite;
use crate::yielding::YieldingJoins;
use crate::{QueryError, udf};

/// How a query may run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Memory for execution; past it, sorts and aggregations spill to disk.
    pub memory_limit: Option<usize>,
    /// How long one statement may run.
    pub timeout: Option<Duration>,
    /// How to reach S3 (for `s3://` lakes and LOCATIONs).
    pub s3: S3Options,
    /// Rows per batch.
    pub batch_size: usize,
    /// How long a listing of the lake's files is reused. DataFusion keeps
    /// it for the session's life by default, which suits a one-shot
    /// `query`; a long-lived session (`serve`) sets a short time so new
    /// files are seen.
    pub listing_ttl: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            memory_limit: None,
            timeout: None,
            s3: S3Options::default(),
            batch_size: 8192,
            listing_ttl: None,
        }
    }
}

/// A statement's result.
#[derive(Debug)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Set for statements that return no rows (a table was registered).
    pub message: Option<String>,
    /// The rows stopped at a [`Cap`]: there were more.
    pub truncated: bool,
}

/// The most of an answer kept: a server answering many callers keeps
/// each answer within bounds whatever the statement returns (a cross
/// join, `SELECT *` over a year). `None`: no bound.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cap {
    pub rows: Option<usize>,
    /// Bytes of Arrow data (what the rows take in memory, before they are
    /// rendered).
    pub bytes: Option<usize>,
}

/// A session that answers Athena-dialect SQL. Clones share the session
/// (tables, settings): cheap handles for running a statement on a task of
/// its own.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    opts: EngineOptions,
    /// Statements run on a Ballista cluster (`query --cluster`).
    remote: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("opts", &self.opts).finish()
    }
}

/// Make the object store of an `s3://bucket/...` location known to the
/// session; local paths need nothing.
pub(crate) fn register_store(
    ctx: &SessionContext,
    location: &str,
    s3: &S3Options,
) -> Result<(), QueryError> {
    if let Location::S3 { bucket, .. } = Location::parse(location) {
        let store = s3_store(&bucket, s3)?;
        let url = url::Url::parse(&format!("s3://{bucket}"))?;
        ctx.register_object_store(&url, store);
    }
    Ok(())
}

/// `schema` with its top-level strings as string views. The Parquet reader
/// then hands out views into the pages it decoded rather than copying each
/// value, and filters and group-bys compare views (a length and a 4-byte
/// prefix inline): 10–20% less CPU on the saved queries that scan every row
/// (docs/benchmarks.md). Strings inside structs and lists stay plain: read
/// as views too they gained on one query and lost on others. The files keep
/// plain strings; only how they are read changes.
fn as_string_views(schema: &arrow::datatypes::Schema) -> SchemaRef {
    use arrow::datatypes::{Field, Schema};
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The session settings, the same locally and on a cluster (where they
/// travel with each job).
fn session_config(opts: &EngineOptions) -> SessionConfig {
    SessionConfig::new()
        .with_batch_size(opts.batch_size)
        .with_information_schema(true)
        // Partition values such as date=2026-04-01 stay text, as in Athena.
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_bool("datafusion.execution.parquet.reorder_filters", true)
}

/// `location/dir/` as a listing URL DataFusion understands.
fn table_url(location: &str, dir: &str) -> Result<String, QueryError> {
    match Location::parse(location) {
        Location::S3 { .. } => Ok(format!("{}/{dir}/", location.trim_end_matches('/'))),
        Location::Local(path) => {
            let abs = std::path::absolute(&path)?;
            Ok(format!("{}/{dir}/", abs.display()))
        }
    }
}

/// [`session_config`] for statements run here. No file statistics are
/// gathered when a statement is planned: they would call a `useridentity`
/// copy missing from a file written before the copies a constant null, and
/// put that in the scan's predicate before `pruning::IdentityCopies` could
/// read it as the nested field. Files and row groups are still pruned by
/// each file's own statistics and bloom filters when it is opened. (A
/// cluster plans with statistics: it gets neither the copies' filters nor
/// the adapter.)
fn local_config(opts: &EngineOptions) -> SessionConfig {
    let mut config = session_config(opts);
    config.options_mut().execution.collect_statistics = false;
    config
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Result<Engine, QueryError> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = opts.memory_limit {
            runtime = runtime.with_memory_limit(limit, 1.0);
        }
        if let Some(ttl) = opts.listing_ttl {
            runtime = runtime.with_object_list_cache_ttl(Some(ttl));
        }
        let runtime = runtime.build_arc()?;
        let state = SessionStateBuilder::new()
            .with_config(local_config(&opts))
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(YieldingJoins))
            .build();
        let ctx = SessionContext::new_with_state(state);
        // After the built-in analyzer rules (types coerced), before the
        // optimizer.
        ctx.add_analyzer_rule(Arc::new(IdentityCopyFilters));
        udf::register(&ctx)?;
        Ok(Engine {
            ctx,
            opts,
            remote: false,
        })
    }

    /// A session whose statements run on the Ballista cluster whose
    /// scheduler is at `url` (`df://HOST:PORT`), with the same rewrites
    /// and functions. The memory limit is the executors' business.
    #[cfg(feature = "cluster")]
    pub async fn remote(url: &str, opts: EngineOptions) -> Result<Engine, QueryError> {
        let ctx = crate::cluster::remote_context(url, session_config(&opts), &opts.s3).await?;
        Ok(Engine {
            ctx,
            opts,
            remote: true,
        })
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Register the lake's tables: `cloudtrail_logs` (partitioned by
    /// `account`, `region`, `date`), `alerts` (by `date`) and the security
    /// state's `state_*` tables.
    pub async fn register_lake(&self, location: &str) -> Result<(), QueryError> {
        register_store(&self.ctx, location, &self.opts.s3)?;
        let text = || DataType::Utf8;
        let events = as_string_views(&cloudtrail_schema());
        let opts = ParquetReadOptions {
            file_extension: ".parquet",
            table_partition_cols: vec![
                ("account".into(), text()),
                ("region".into(), text()),
                ("date".into(), text()),
            ],
            schema: Some(&events),
            ..Default::default()
        };
        // Filters on the event time prune `date` partitions too, and
        // filters on `useridentity` fields prune by their top-level copies
        // (read as the nested fields in files written before them). A
        // cluster gets the plain listing table (plans are sent as protobuf,
        // which knows listing tables, not wrappers or adapters) and the date
        // pruning from a plan rule (`cluster::ImpliedDateFilters`).
        if self.remote {
            self.ctx
                .register_parquet("cloudtrail_logs", &table_url(location, TABLE_DIR)?, opts)
                .await?;
        } else {
            let listing =
                opts.to_listing_options(&self.ctx.copied_config(), self.ctx.copied_table_options());
            let url = ListingTableUrl::parse(table_url(location, TABLE_DIR)?)?
                .with_table_ref("cloudtrail_logs".into());
            let config = ListingTableConfig::new(url)
                .with_listing_options(listing)
                .with_schema(Arc::clone(&events))
                .with_expr_adapter_factory(Arc::new(IdentityCopies));
            let table = ListingTable::try_new(config)?.with_cache(
                self.ctx
                    .runtime_env()
                    .cache_manager
                    .get_file_statistic_cache(),
            );
            self.ctx.register_table(
                "cloudtrail_logs",
                Arc::new(EventTimePruning::new(Arc::new(table))),
            )?;
        }
        let alerts = alerts_schema();
        let opts = ParquetReadOptions {
            file_extension: ".parquet",
            table_partition_cols: vec![("date".into(), text())],
            schema: Some(&alerts),
            ..Default::default()
        };
        self.ctx
            .register_parquet("alerts", &table_url(location, ALERTS_DIR)?, opts)
            .await?;
        // What `respond` planned and applied (issue #38).
        let responses = responses_schema();
        let opts = ParquetReadOptions {
            file_extension: ".parquet",
            table_partition_cols: vec![("date".into(), text())],
            schema: Some(&responses),
            ..Default::default()
        };
        self.ctx
            .register_parquet("responses", &table_url(location, RESPONSES_DIR)?, opts)
            .await?;
        // The security state's tables (`trailwatch state --save`, `serve`).
        for def in trailwatch_lake::state_tables::TABLES {
            let schema = trailwatch_lake::state_tables::schema(def);
            let opts = ParquetReadOptions {
                file_extension: ".parquet",
                schema: Some(&schema),
                ..Default::default()
            };
            let dir = format!("{}/{}", trailwatch_lake::state_tables::STATE_DIR, def.name);
            self.ctx
                .register_parquet(
                    format!("state_{}", def.name),
                    &table_url(location, &dir)?,
                    opts,
                )
                .await?;
        }
        Ok(())
    }

    /// Run one statement (see [`run_statement`]) within the timeout.
    pub async fn run(&self, sql: &str) -> Result<QueryOutput, QueryError> {
        self.run_on(sql, &tokio::runtime::Handle::current()).await
    }

    /// [`Engine::run`] with the statement on `runtime` (a server keeps
    /// queries off the threads that answer requests; the caller's runtime
    /// only waits, so the timeout fires even while every query thread is
    /// busy).
    pub async fn run_on(
        &self,
        sql: &str,
        runtime: &tokio::runtime::Handle,
    ) -> Result<QueryOutput, QueryError> {
        self.run_capped(sql, runtime, Cap::default()).await
    }

    /// Forget the cached listings of the lake's files, so the next
    /// statement sees every file written until now. A server calls it
    /// after its own writes (the alerts it just filed), which would
    /// otherwise wait out the listing cache's time to be seen.
    pub fn forget_listings(&self) {
        if let Some(cache) = self.ctx.runtime_env().cache_manager.get_list_files_cache() {
            cache.clear();
        }
    }

    /// The statement's time limit, if it has one.
    pub fn timeout(&self) -> Option<Duration> {
        self.opts.timeout
    }

    /// [`Engine::run_on`], keeping at most `cap` of the answer: past it the
    /// statement stops and the output says `truncated`.
    pub async fn run_capped(
        &self,
        sql: &str,
        runtime: &tokio::runtime::Handle,
        cap: Cap,
    ) -> Result<QueryOutput, QueryError> {
        let Some(limit) = self.opts.timeout else {
            let ctx = self.ctx.clone();
            let s3 = self.opts.s3.clone();
            let sql = sql.to_string();
            let remote = self.remote;
            return runtime
                .spawn(async move { run_statement(&ctx, &s3, &sql, remote, cap).await })
                .await
                .map_err(|error| QueryError::Task {
                    what: "the query failed",
                    error,
                })?;
        };
        // The statement runs as its own task, so the timeout is watched
        // from outside it: an operator that computes for long without
        // yielding (a cross join) cannot hold the timer back, and the task
        // is aborted when the time is up.
        let ctx = self.ctx.clone();
        let s3 = self.opts.s3.clone();
        let sql = sql.to_string();
        let remote = self.remote;
        let mut task =
            runtime.spawn(async move { run_statement(&ctx, &s3, &sql, remote, cap).await });
        // The alarm is a plain thread, not tokio's timer: the timer is
        // driven by the runtime's workers, and a query can keep every
        // worker busy for as long as it likes.
        // It waits on a channel, not a sleep, so it ends as soon as the
        // statement does: `_statement_over` is dropped on return (or when
        // the caller drops this future), which wakes it. A sleeping alarm
        // per statement kept a thread for the whole timeout.
        let (alarm, rang) = tokio::sync::oneshot::channel::<()>();
        let (_statement_over, over) = std::sync::mpsc::channel::<()>();
        let started = std::thread::Builder::new()
            .name(ALARM_THREAD.into())
            .spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = over.recv_timeout(limit) {
                    let _ = alarm.send(());
                }
            });
        if let Err(e) = started {
            task.abort();
            return Err(QueryError::Io(e));
        }
        tokio::select! {
            done = &mut task => match done {
                Ok(result) => result,
                Err(error) => Err(QueryError::Task {
                    what: "the query failed",
                    error,
                }),
            },
            _ = rang => {
                task.abort();
                Err(if self.remote {
                    QueryError::ClusterTimeout(limit)
                } else {
                    QueryError::Timeout(limit)
                })
            }
        }
    }
}

/// The name of a statement's timeout thread.
const ALARM_THREAD: &str = "tw-query-alarm";

/// Run one statement: a query, or Athena's CREATE EXTERNAL TABLE (which
/// registers a table over raw CloudTrail logs). Anything that writes is
/// refused. On a cluster (`remote`) only queries run: a table over raw
/// logs is read by trailwatch's own decoder, which a plan cannot carry.
async fn run_statement(
    ctx: &SessionContext,
    s3: &S3Options,
    sql: &str,
    remote: bool,
    cap: Cap,
) -> Result<QueryOutput, QueryError> {
    match check(sql)? {
        Allowed::Query(sql) => {
            let sql = rewrite(&sql)?;
            // Defence in depth: DataFusion itself refuses DDL, DML and
            // statements too, whatever the guard let through.
            let read_only = SQLOptions::new()
                .with_allow_ddl(false)
                .with_allow_dml(false)
                .with_allow_statements(false);
            let df = ctx.sql_with_options(&sql, read_only).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            if cap.rows.is_none() && cap.bytes.is_none() {
                let batches = df.collect().await?;
                return Ok(QueryOutput {
                    schema,
                    batches,
                    message: None,
                    truncated: false,
                });
            }
            let (batches, truncated) = collect_capped(df.execute_stream().await?, cap).await?;
            Ok(QueryOutput {
                schema,
                batches,
                message: None,
                truncated,
            })
        }
        Allowed::ExternalTable(_) if remote => Err(QueryError::LocalOnly),
        Allowed::ExternalTable(ddl) => {
            let name = ddl.name.clone();
            let location = ddl.location.clone();
            register_store(ctx, &location, s3)?;
            register_raw_table(ctx, ddl, s3).await?;
            Ok(QueryOutput {
                schema: Arc::new(arrow::datatypes::Schema::empty()),
                batches: Vec::new(),
                message: Some(format!("table {name} reads {location}")),
                truncated: false,
            })
        }
    }
}

/// Take batches from `stream` until `cap` is reached; whether there was
/// more. Dropping the stream stops the statement's execution.
async fn collect_capped(
    mut stream: datafusion::physical_plan::SendableRecordBatchStream,
    cap: Cap,
) -> Result<(Vec<RecordBatch>, bool), QueryError> {
    use futures::StreamExt;
    let max_rows = cap.rows.unwrap_or(usize::MAX);
    let max_bytes = cap.bytes.unwrap_or(usize::MAX);
    let (mut rows, mut bytes) = (0usize, 0usize);
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        if rows >= max_rows || bytes >= max_bytes {
            return Ok((batches, true));
        }
        let room = max_rows - rows;
        if batch.num_rows() > room {
            batches.push(batch.slice(0, room));
            return Ok((batches, true));
        }
        rows += batch.num_rows();
        bytes += batch.get_array_memory_size();
        batches.push(batch);
    }
    Ok((batches, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers stop at their cap, say so, and are whole below it.
    #[test]
    fn a_capped_answer_stops_at_its_rows_and_says_it_was_cut() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let engine = Engine::new(EngineOptions::default()).unwrap();
        let handle = rt.handle().clone();
        let rows = |out: &QueryOutput| out.batches.iter().map(|b| b.num_rows()).sum::<usize>();
        let big = "SELECT a.value * 1000 + b.value AS n FROM generate_series(1, 1000) a CROSS JOIN generate_series(1, 1000) b";
        let cap = Cap {
            rows: Some(2500),
            bytes: None,
        };
        let out = rt.block_on(engine.run_capped(big, &handle, cap)).unwrap();
        assert_eq!(rows(&out), 2500);
        assert!(out.truncated);
        let small = "SELECT value FROM generate_series(1, 2500)";
        let out = rt.block_on(engine.run_capped(small, &handle, cap)).unwrap();
        assert_eq!(rows(&out), 2500);
        assert!(!out.truncated, "exactly the cap is not cut");
        let by_bytes = Cap {
            rows: None,
            bytes: Some(1),
        };
        let out = rt
            .block_on(engine.run_capped(big, &handle, by_bytes))
            .unwrap();
        assert!(out.truncated);
        assert!(rows(&out) < 1_000_000);
    }

    /// A two-worker runtime and an engine that stops statements after
    /// `limit`.
    fn with_timeout(limit: Duration) -> (tokio::runtime::Runtime, Engine) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let engine = Engine::new(EngineOptions {
            timeout: Some(limit),
            ..EngineOptions::default()
        })
        .unwrap();
        (rt, engine)
    }

    /// Held by each test that starts alarm threads: the count of alarm
    /// threads is the whole process's, so one test's slow statement must
    /// not be counted as another's leftover (CI once saw exactly that).
    static TIMEOUT_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// This process's threads called `name` (Linux: /proc/self/task).
    #[cfg(target_os = "linux")]
    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(|t| t.ok())
                    .filter(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|c| c.trim_end() == name)
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// A statement's timeout thread ends with the statement, not when the
    /// timeout would have run out (300 quick queries used to leave 300
    /// threads asleep for the whole --timeout).
    #[cfg(target_os = "linux")]
    #[test]
    fn quick_statements_leave_no_timeout_thread_behind() {
        let _alone = TIMEOUT_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let (rt, engine) = with_timeout(Duration::from_secs(600));
        let threads = || {
            std::fs::read_dir("/proc/self/task")
                .map(|t| t.count())
                .unwrap_or(0)
        };
        let before = threads();
        for _ in 0..50 {
            let out = rt.block_on(engine.run("SELECT 40 + 2 AS answer")).unwrap();
            assert_eq!(out.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        }
        // Each thread wakes as its statement ends; give them a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while threads_named(ALARM_THREAD) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(threads_named(ALARM_THREAD), 0);
        // Whatever the threads are called: 50 statements leave nowhere near
        // 50 threads behind (other tests of this binary run beside it).
        let grown = threads().saturating_sub(before);
        assert!(grown < 25, "{grown} more threads after 50 statements");
    }

    /// The widest statements the guard lets through plan and run on a
    /// thread of the query stack: a 1,900-term OR filter and a 3,900-term
    /// sum (2,000 terms used to overflow the stack and abort the process).
    #[test]
    fn the_widest_statements_allowed_run_on_the_query_stack() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_stack_size(crate::guard::QUERY_STACK_BYTES)
            .enable_all()
            .build()
            .unwrap();
        let engine = Engine::new(EngineOptions::default()).unwrap();
        let terms: Vec<String> = (0..1_900).map(|i| format!("e = 'E{i}'")).collect();
        let filter = format!(
            "WITH t(e) AS (VALUES ('E1'), ('E7'), ('X')) SELECT count(*) AS n FROM t WHERE {}",
            terms.join(" OR ")
        );
        let sum = format!("SELECT 1{} AS n", " + 1".repeat(3_899));
        for (sql, want) in [(filter, 2i64), (sum, 3_900)] {
            let out = rt.block_on(engine.run(&sql)).unwrap();
            let n = out.batches[0]
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap()
                .value(0);
            assert_eq!(n, want);
        }
    }

    /// The timeout still stops a statement that runs past it.
    #[test]
    fn a_statement_past_the_timeout_is_stopped() {
        let _alone = TIMEOUT_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let (rt, engine) = with_timeout(Duration::from_millis(200));
        // Ten billion rows to add up: far past 200 ms.
        let values: Vec<String> = (1..=100).map(|i| format!("({i})")).collect();
        let slow = format!(
            "WITH t(x) AS (VALUES {}) SELECT sum(a.x * b.x + c.x * d.x + e.x) FROM t a, t b, t c, t d, t e",
            values.join(", ")
        );
        let started = std::time::Instant::now();
        let err = rt.block_on(engine.run(&slow)).unwrap_err();
        assert!(matches!(err, QueryError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        rt.shutdown_background();
    }

    /// The events' top-level strings are read as views; nested strings,
    /// names, nullability and other types stay as they are.
    #[test]
    fn the_events_top_level_strings_are_read_as_views() {
        let plain = cloudtrail_schema();
        let views = as_string_views(&plain);
        assert_eq!(plain.fields().len(), views.fields().len());
        let mut converted = 0;
        for (p, v) in plain.fields().iter().zip(views.fields()) {
            assert_eq!(p.name(), v.name());
            assert_eq!(p.is_nullable(), v.is_nullable());
            if p.data_type() == &DataType::Utf8 {
                assert_eq!(v.data_type(), &DataType::Utf8View, "{}", p.name());
                converted += 1;
            } else {
                assert_eq!(v.data_type(), p.data_type(), "{}", p.name());
            }
        }
        assert!(converted > 20, "{converted} columns");
        let DataType::Struct(fields) = views.field_with_name("useridentity").unwrap().data_type()
        else {
            panic!("useridentity is a struct")
        };
        assert_eq!(fields.find("arn").unwrap().1.data_type(), &DataType::Utf8);
    }
}
