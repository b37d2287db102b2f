//! Table DDL for other engines, pointed at the lake, so Athena, Trino,
//! Spark and DuckDB query the same Parquet files trailwatch writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};

use crate::alerts::{ALERTS_DIR, alerts_schema};
use crate::partition::TABLE_DIR;
use crate::responses::{RESPONSES_DIR, responses_schema};
use crate::schema::cloudtrail_schema;

/// Engines we print DDL for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Athena,
    Trino,
    Spark,
    DuckDb,
}

/// What the DDL needs to know about the lake.
#[derive(Debug, Clone)]
pub struct LakeFacts {
    /// `s3://bucket/prefix` or a local folder (absolute).
    pub location: String,
    /// Accounts and regions present, for Athena partition projection.
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    /// The first event date present (`YYYY-MM-DD`).
    pub first_date: Option<String>,
    /// Whether the `alerts` table has files yet (DuckDB's view needs some).
    pub has_alerts: bool,
    /// Whether the `responses` table has files yet.
    pub has_responses: bool,
}

/// How one engine's DDL spells Arrow types: its scalar names and its
/// struct and array syntax.
struct TypeNames {
    string: &'static str,
    timestamp: &'static str,
    /// A struct's fields, as `(name, type)` pairs.
    row: fn(&[(String, String)]) -> String,
    array: fn(&str) -> String,
}

impl TypeNames {
    fn name(&self, t: &DataType) -> String {
        match t {
            DataType::Utf8 => self.string.into(),
            DataType::Timestamp(_, _) => self.timestamp.into(),
            DataType::Float64 => "double".into(),
            DataType::Int64 => "bigint".into(),
            DataType::Struct(fields) => {
                let fields: Vec<(String, String)> = fields
                    .iter()
                    .map(|f| (f.name().clone(), self.name(f.data_type())))
                    .collect();
                (self.row)(&fields)
            }
            DataType::List(item) => (self.array)(&self.name(item.data_type())),
            other => format!("{other}").to_lowercase(),
        }
    }
}

/// Hive's names (Athena's and Spark's DDL).
const HIVE: TypeNames = TypeNames {
    string: "string",
    timestamp: "timestamp",
    row: |fields| {
        let inner: Vec<String> = fields.iter().map(|(n, t)| format!("{n}:{t}")).collect();
        format!("struct<{}>", inner.join(","))
    },
    array: |item| format!("array<{item}>"),
};

/// Trino's names.
const TRINO: TypeNames = TypeNames {
    string: "varchar",
    timestamp: "timestamp(3)",
    row: |fields| {
        let inner: Vec<String> = fields.iter().map(|(n, t)| format!("\"{n}\" {t}")).collect();
        format!("row({})", inner.join(", "))
    },
    array: |item| format!("array({item})"),
};

fn hive_type(t: &DataType) -> String {
    HIVE.name(t)
}

fn trino_type(t: &DataType) -> String {
    TRINO.name(t)
}

fn columns(render: impl Fn(&Field) -> String) -> String {
    columns_of(&cloudtrail_schema(), render)
}

fn columns_of(schema: &Schema, render: impl Fn(&Field) -> String) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("  {}", render(f)))
        .collect::<Vec<_>>()
        .join(",\n")
}

/// The inside of a single-quoted string literal holding `text`, for
/// `engine`. Trino and DuckDB double a quote; Hive's DDL (Athena) and
/// Spark SQL read backslash escapes, where `''` would end the literal.
fn quoted(engine: Engine, text: &str) -> String {
    match engine {
        Engine::Trino | Engine::DuckDb => text.replace('\'', "''"),
        Engine::Athena | Engine::Spark => text.replace('\\', "\\\\").replace('\'', "\\'"),
    }
}

fn table_location(location: &str, s3a: bool) -> String {
    folder_location(location, s3a, TABLE_DIR)
}

fn folder_location(location: &str, s3a: bool, dir: &str) -> String {
    let base = location.trim_end_matches('/');
    let base = if s3a {
        base.replacen("s3://", "s3a://", 1)
    } else {
        base.to_string()
    };
    format!("{base}/{dir}/")
}

/// A table trailwatch writes beside the events: `alerts`, `responses`.
struct Side {
    name: &'static str,
    dir: &'static str,
    schema: Arc<Schema>,
    /// What it holds, for the comment above its DDL.
    what: &'static str,
    /// What writes it, for the note when it has no files yet.
    writers: &'static str,
    /// Whether it has files yet (DuckDB's view and Spark's repair need some).
    present: bool,
}

fn sides(facts: &LakeFacts) -> [Side; 2] {
    [
        Side {
            name: "alerts",
            dir: ALERTS_DIR,
            schema: alerts_schema(),
            what: "the alerts trailwatch raised (detect --lake, watch --lake)",
            writers: "detect --lake or watch --lake",
            present: facts.has_alerts,
        },
        Side {
            name: "responses",
            dir: RESPONSES_DIR,
            schema: responses_schema(),
            what: "the responses trailwatch planned and applied (respond, automatic response)",
            writers: "respond --lake",
            present: facts.has_responses,
        },
    ]
}

/// The DDL for one engine: the `cloudtrail_logs` table, then `alerts` and
/// `responses`.
pub fn ddl(engine: Engine, facts: &LakeFacts) -> String {
    let events = match engine {
        Engine::Athena => athena(facts),
        Engine::Trino => trino(facts),
        Engine::Spark => spark(facts),
        Engine::DuckDb => duckdb(facts),
    };
    let mut out = events;
    for side in sides(facts) {
        out.push('\n');
        out.push_str(&match engine {
            Engine::Athena => athena_side(facts, &side),
            Engine::Trino => trino_side(facts, &side),
            Engine::Spark => spark_side(facts, &side),
            Engine::DuckDb => duckdb_side(facts, &side),
        });
    }
    out
}

fn athena_side(facts: &LakeFacts, side: &Side) -> String {
    let loc = quoted(
        Engine::Athena,
        &folder_location(&facts.location, false, side.dir),
    );
    format!(
        "-- Athena: {what}.\n\
         CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{}\n)\n\
         PARTITIONED BY (`date` string)\n\
         STORED AS PARQUET\n\
         LOCATION '{loc}'\n\
         TBLPROPERTIES (\n  \
           'projection.enabled' = 'true',\n  \
           'projection.date.type' = 'date',\n  \
           'projection.date.format' = 'yyyy-MM-dd',\n  \
           'projection.date.range' = '{},NOW',\n  \
           'projection.date.interval' = '1',\n  \
           'projection.date.interval.unit' = 'DAYS',\n  \
           'storage.location.template' = '{loc}date=${{date}}/'\n\
         );\n",
        columns_of(&side.schema, |f| format!(
            "`{}` {}",
            f.name(),
            hive_type(f.data_type())
        )),
        quoted(
            Engine::Athena,
            facts.first_date.as_deref().unwrap_or("2020-01-01")
        ),
        what = side.what,
        name = side.name,
    )
}

fn trino_side(facts: &LakeFacts, side: &Side) -> String {
    let loc = quoted(
        Engine::Trino,
        &folder_location(&facts.location, false, side.dir),
    );
    format!(
        "-- Trino (Hive connector): {what}.\n\
         CREATE TABLE IF NOT EXISTS hive.default.{name} (\n{},\n  \"date\" varchar\n)\n\
         WITH (\n  format = 'PARQUET',\n  external_location = '{loc}',\n  \
           partitioned_by = ARRAY['date']\n);\n\
         CALL hive.system.sync_partition_metadata('default', '{name}', 'FULL');\n",
        columns_of(&side.schema, |f| format!(
            "\"{}\" {}",
            f.name(),
            trino_type(f.data_type())
        )),
        what = side.what,
        name = side.name,
    )
}

fn spark_side(facts: &LakeFacts, side: &Side) -> String {
    let loc = quoted(
        Engine::Spark,
        &folder_location(&facts.location, true, side.dir),
    );
    let name = side.name;
    // Spark refuses to repair a table whose folder does not exist yet.
    let repair = if side.present {
        format!("MSCK REPAIR TABLE {name};")
    } else {
        // No semicolon in the comment: tools that split a script at
        // semicolons would cut it in two.
        format!(
            "-- No {name} in the lake yet: once {} has written some,\n\
             -- run MSCK REPAIR TABLE {name}",
            side.writers
        )
    };
    format!(
        "-- Spark SQL: {what}.\n\
         CREATE TABLE IF NOT EXISTS {name} (\n{},\n  `date` STRING\n)\n\
         USING PARQUET\n\
         PARTITIONED BY (`date`)\n\
         LOCATION '{loc}';\n\
         {repair}\n",
        columns_of(&side.schema, |f| format!(
            "`{}` {}",
            f.name(),
            hive_type(f.data_type()).to_uppercase()
        )),
        what = side.what,
    )
}

fn duckdb_side(facts: &LakeFacts, side: &Side) -> String {
    let loc = quoted(
        Engine::DuckDb,
        &folder_location(&facts.location, false, side.dir),
    );
    if !side.present {
        return format!(
            "-- DuckDB: no {} in the lake yet; re-print after {}.\n",
            side.name, side.writers
        );
    }
    format!(
        "-- DuckDB: {what}.\n\
         CREATE OR REPLACE VIEW {name} AS\n\
         SELECT * FROM read_parquet('{loc}*/*.parquet',\n  \
           hive_partitioning = true,\n  \
           hive_types = {{'date': VARCHAR}});\n",
        what = side.what,
        name = side.name,
    )
}

fn athena(facts: &LakeFacts) -> String {
    let loc = quoted(Engine::Athena, &table_location(&facts.location, false));
    let list = |s: &BTreeSet<String>| {
        let joined = s.iter().cloned().collect::<Vec<_>>().join(",");
        quoted(Engine::Athena, &joined)
    };
    format!(
        "-- Athena: CloudTrail lake written by trailwatch, with partition projection\n\
         -- (no MSCK REPAIR needed; re-print after new accounts or regions appear).\n\
         CREATE EXTERNAL TABLE IF NOT EXISTS cloudtrail_logs (\n{}\n)\n\
         PARTITIONED BY (account string, region string, `date` string)\n\
         STORED AS PARQUET\n\
         LOCATION '{loc}'\n\
         TBLPROPERTIES (\n  \
           'projection.enabled' = 'true',\n  \
           'projection.account.type' = 'enum',\n  \
           'projection.account.values' = '{}',\n  \
           'projection.region.type' = 'enum',\n  \
           'projection.region.values' = '{}',\n  \
           'projection.date.type' = 'date',\n  \
           'projection.date.format' = 'yyyy-MM-dd',\n  \
           'projection.date.range' = '{},NOW',\n  \
           'projection.date.interval' = '1',\n  \
           'projection.date.interval.unit' = 'DAYS',\n  \
           'storage.location.template' = '{loc}account=${{account}}/region=${{region}}/date=${{date}}/',\n  \
           'parquet.compression' = 'ZSTD'\n\
         );\n",
        columns(|f| format!("`{}` {}", f.name(), hive_type(f.data_type()))),
        list(&facts.accounts),
        list(&facts.regions),
        quoted(
            Engine::Athena,
            facts.first_date.as_deref().unwrap_or("2020-01-01")
        ),
    )
}

fn trino(facts: &LakeFacts) -> String {
    let loc = quoted(Engine::Trino, &table_location(&facts.location, false));
    format!(
        "-- Trino (Hive connector): CloudTrail lake written by trailwatch.\n\
         CREATE TABLE IF NOT EXISTS hive.default.cloudtrail_logs (\n{},\n  \
           \"account\" varchar,\n  \"region\" varchar,\n  \"date\" varchar\n)\n\
         WITH (\n  format = 'PARQUET',\n  external_location = '{loc}',\n  \
           partitioned_by = ARRAY['account', 'region', 'date']\n);\n\
         CALL hive.system.sync_partition_metadata('default', 'cloudtrail_logs', 'FULL');\n",
        columns(|f| format!("\"{}\" {}", f.name(), trino_type(f.data_type()))),
    )
}

fn spark(facts: &LakeFacts) -> String {
    let loc = quoted(Engine::Spark, &table_location(&facts.location, true));
    format!(
        "-- Spark SQL: CloudTrail lake written by trailwatch.\n\
         CREATE TABLE IF NOT EXISTS cloudtrail_logs (\n{},\n  \
           account STRING,\n  region STRING,\n  `date` STRING\n)\n\
         USING PARQUET\n\
         PARTITIONED BY (account, region, `date`)\n\
         LOCATION '{loc}';\n\
         MSCK REPAIR TABLE cloudtrail_logs;\n",
        columns(|f| format!("`{}` {}", f.name(), hive_type(f.data_type()).to_uppercase())),
    )
}

fn duckdb(facts: &LakeFacts) -> String {
    let loc = quoted(Engine::DuckDb, &table_location(&facts.location, false));
    let httpfs = if loc.starts_with("s3://") {
        "INSTALL httpfs;\nLOAD httpfs;\n-- Credentials: CREATE SECRET (TYPE s3, PROVIDER credential_chain);\n"
    } else {
        ""
    };
    format!(
        "-- DuckDB: CloudTrail lake written by trailwatch. Partition values stay text.\n\
         {httpfs}CREATE OR REPLACE VIEW cloudtrail_logs AS\n\
         SELECT * FROM read_parquet('{loc}*/*/*/*.parquet',\n  \
           hive_partitioning = true,\n  \
           hive_types = {{'account': VARCHAR, 'region': VARCHAR, 'date': VARCHAR}});\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> LakeFacts {
        LakeFacts {
            location: "s3://lake-bucket/trail".into(),
            accounts: ["111122223333".to_string()].into(),
            regions: ["us-east-1".to_string(), "eu-west-1".to_string()].into(),
            first_date: Some("2024-05-01".into()),
            has_alerts: true,
            has_responses: true,
        }
    }

    #[test]
    fn athena_ddl_projects_account_region_and_date() {
        let d = ddl(Engine::Athena, &facts());
        assert!(
            d.contains("LOCATION 's3://lake-bucket/trail/cloudtrail/'"),
            "{d}"
        );
        assert!(d.contains("'projection.region.values' = 'eu-west-1,us-east-1'"));
        assert!(d.contains("'projection.date.range' = '2024-05-01,NOW'"));
        assert!(d.contains("account=${account}/region=${region}/date=${date}/"));
        assert!(d.contains("`useridentity` struct<type:string,principalid:string"));
        assert!(d.contains("`resources` array<struct<arn:string,accountid:string,type:string>>"));
    }

    #[test]
    fn spark_uses_s3a_and_trino_uses_rows() {
        assert!(
            ddl(Engine::Spark, &facts()).contains("LOCATION 's3a://lake-bucket/trail/cloudtrail/'")
        );
        assert!(ddl(Engine::Trino, &facts()).contains("\"tlsdetails\" row(\"tlsversion\" varchar"));
    }

    #[test]
    fn every_engine_gets_the_alerts_table_too() {
        let athena = ddl(Engine::Athena, &facts());
        assert!(athena.contains("CREATE EXTERNAL TABLE IF NOT EXISTS alerts ("));
        assert!(athena.contains("LOCATION 's3://lake-bucket/trail/alerts/'"));
        assert!(athena.contains("`datapoints` array<double>"));
        assert!(athena.contains("`event_count` bigint"));
        assert!(ddl(Engine::Trino, &facts()).contains("\"event_ids\" array(varchar)"));
        assert!(
            ddl(Engine::Spark, &facts()).contains("LOCATION 's3a://lake-bucket/trail/alerts/'")
        );
        let duck = ddl(Engine::DuckDb, &facts());
        assert!(duck.contains("read_parquet('s3://lake-bucket/trail/alerts/*/*.parquet'"));
        let none = LakeFacts {
            has_alerts: false,
            ..facts()
        };
        assert!(!ddl(Engine::DuckDb, &none).contains("VIEW alerts"));
        // Spark cannot repair a folder that is not there yet.
        let spark = ddl(Engine::Spark, &none);
        assert!(spark.contains("CREATE TABLE IF NOT EXISTS alerts"));
        assert!(!spark.contains("\nMSCK REPAIR TABLE alerts;"), "{spark}");
        assert!(ddl(Engine::Spark, &facts()).contains("\nMSCK REPAIR TABLE alerts;"));
    }

    #[test]
    fn every_engine_gets_the_responses_table_beside_the_alerts() {
        let athena = ddl(Engine::Athena, &facts());
        assert!(athena.contains("CREATE EXTERNAL TABLE IF NOT EXISTS responses ("));
        assert!(athena.contains("LOCATION 's3://lake-bucket/trail/responses/'"));
        assert!(athena.contains("`also_alerts` array<string>"));
        assert!(ddl(Engine::Trino, &facts()).contains("'default', 'responses', 'FULL'"));
        let duck = ddl(Engine::DuckDb, &facts());
        assert!(duck.contains("CREATE OR REPLACE VIEW responses AS"));
        let none = LakeFacts {
            has_responses: false,
            ..facts()
        };
        assert!(!ddl(Engine::DuckDb, &none).contains("VIEW responses"));
        assert!(ddl(Engine::DuckDb, &none).contains("VIEW alerts"));
        assert!(!ddl(Engine::Spark, &none).contains("\nMSCK REPAIR TABLE responses;"));
    }
}
