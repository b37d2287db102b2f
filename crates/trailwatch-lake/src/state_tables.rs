//! The security state as tables in the lake: `state/<table>/data.parquet`,
//! one file per table, replaced whole each time the state is saved (an
//! object-store put, so a reader sees the old file or the new one). SQL
//! sees them as `state_buckets`, `state_security_groups`, `state_users`,
//! `state_access_keys`, `state_trails`, `state_kms_keys` and
//! `state_created`; other engines read the same Parquet.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, StringBuilder};
use arrow::record_batch::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{Map, Value};

use crate::error::LakeError;
use crate::parquet_file::{self, ROW_GROUP_ROWS};
use crate::store::Store;

/// Where the state tables live in the lake.
pub const STATE_DIR: &str = "state";

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    Int,
}

/// One state table: its name and columns.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::{Bool, Int, Text};

/// Every state table. Rows are JSON objects keyed by these column names
/// (a missing key is NULL).
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "buckets",
        columns: &[
            ("id", Text),
            ("account", Text),
            ("region", Text),
            ("public", Bool),
            ("policy_public", Bool),
            ("acl_public", Bool),
            ("blocks_public_access", Bool),
            ("encryption", Bool),
            ("partial", Bool),
            ("changed", Text),
        ],
    },
    TableDef {
        name: "security_groups",
        columns: &[
            ("id", Text),
            ("account", Text),
            ("region", Text),
            ("open_to_world", Text),
            ("partial", Bool),
            ("changed", Text),
        ],
    },
    TableDef {
        name: "users",
        columns: &[
            ("id", Text),
            ("account", Text),
            ("mfa_devices", Int),
            ("console_password", Bool),
            ("partial", Bool),
            ("changed", Text),
        ],
    },
    TableDef {
        name: "access_keys",
        columns: &[
            ("id", Text),
            ("account", Text),
            ("user", Text),
            ("created", Text),
            ("status", Text),
            ("last_used", Text),
            ("partial", Bool),
        ],
    },
    TableDef {
        name: "trails",
        columns: &[
            ("id", Text),
            ("account", Text),
            ("region", Text),
            ("logging", Bool),
            ("partial", Bool),
            ("changed", Text),
        ],
    },
    TableDef {
        name: "kms_keys",
        columns: &[
            ("id", Text),
            ("account", Text),
            ("region", Text),
            ("pending_deletion", Text),
            ("disabled", Bool),
            ("partial", Bool),
            ("changed", Text),
        ],
    },
    TableDef {
        name: "created",
        columns: &[
            ("id", Text),
            ("kind", Text),
            ("account", Text),
            ("region", Text),
            ("encrypted", Bool),
            ("created", Text),
        ],
    },
];

/// A table's Arrow schema.
pub fn schema(def: &TableDef) -> SchemaRef {
    Arc::new(Schema::new(
        def.columns
            .iter()
            .map(|(name, kind)| {
                let t = match kind {
                    Text => DataType::Utf8,
                    Bool => DataType::Boolean,
                    Int => DataType::Int64,
                };
                Field::new(*name, t, true)
            })
            .collect::<Vec<_>>(),
    ))
}

/// The rows as one batch of the table's schema.
fn batch(def: &TableDef, rows: &[Map<String, Value>]) -> Result<RecordBatch, LakeError> {
    let columns: Vec<ArrayRef> = def
        .columns
        .iter()
        .map(|(name, kind)| -> ArrayRef {
            let values = rows.iter().map(|r| r.get(*name).filter(|v| !v.is_null()));
            match kind {
                Text => {
                    let mut b = StringBuilder::new();
                    for v in values {
                        match v {
                            Some(Value::String(s)) => b.append_value(s),
                            Some(other) => b.append_value(other.to_string()),
                            None => b.append_null(),
                        }
                    }
                    Arc::new(b.finish())
                }
                Bool => {
                    let mut b = BooleanBuilder::new();
                    for v in values {
                        b.append_option(v.and_then(Value::as_bool));
                    }
                    Arc::new(b.finish())
                }
                Int => {
                    let mut b = Int64Builder::new();
                    for v in values {
                        b.append_option(v.and_then(Value::as_i64));
                    }
                    Arc::new(b.finish())
                }
            }
        })
        .collect();
    Ok(RecordBatch::try_new(schema(def), columns)?)
}

/// Replace every state table with `rows(name)`.
pub fn save(
    store: &Store,
    rows: impl Fn(&str) -> Vec<Map<String, Value>>,
) -> Result<(), LakeError> {
    for def in TABLES {
        let b = batch(def, &rows(def.name))?;
        let (bytes, _) = parquet_file::encode(schema(def), [Ok(b)], ROW_GROUP_ROWS)?;
        store.put(&format!("{STATE_DIR}/{}/data.parquet", def.name), bytes)?;
    }
    Ok(())
}
