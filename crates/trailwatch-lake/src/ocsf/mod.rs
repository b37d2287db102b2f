//! OCSF in Parquet, both ways.
//!
//! Export (`export`, `columns`): the lake's events as OCSF 1.1.0, written
//! as an Amazon Security Lake custom source lays them out,
//! `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/`,
//! one class per file, each file sorted by time. Each class's Arrow schema
//! (here) holds only attributes the class defines, typed as the OCSF
//! dictionary says (`integer_t` 32-bit, `long_t` and `timestamp_t`
//! 64-bit, `datetime_t` a UTC timestamp, `json_t` JSON text, `unmapped` a
//! map of text, as Security Lake stores it).
//!
//! Import (`import`): a Parquet file of OCSF CloudTrail events (Security
//! Lake's `cloud_trail_mgmt_2_0`, or an export) read back as CloudTrail
//! records.

mod columns;
mod export;
mod import;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use trailwatch_core::ocsf::Class;

pub use export::{ExportStats, Exporter, FILE_ROWS, export_lake};
pub use import::{
    Converted, ReadStats, absent_fields, is_ocsf, is_parquet_name, ocsf_as_cloudtrail,
    parquet_as_cloudtrail,
};

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}

fn long(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}

fn flag(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}

/// A UTC time. The zone is written as an offset: naming it ("UTC") needs
/// arrow's time-zone database, which the build without `sql` leaves out.
fn datetime(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        true,
    )
}

fn object(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

fn list_of(name: &str, item: DataType) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, true))),
        true,
    )
}

fn account() -> Field {
    object("account", vec![text("uid")])
}

/// `actor`: who called, and their session.
fn actor_schema() -> Field {
    object(
        "actor",
        vec![
            object("idp", vec![text("name")]),
            text("invoked_by"),
            object(
                "session",
                vec![
                    long("created_time"),
                    datetime("created_time_dt"),
                    flag("is_mfa"),
                    text("issuer"),
                ],
            ),
            object(
                "user",
                vec![
                    account(),
                    text("credential_uid"),
                    text("name"),
                    text("type"),
                    text("uid"),
                    text("uid_alt"),
                ],
            ),
        ],
    )
}

/// `api`: the call, its request and response.
fn api_schema() -> Field {
    object(
        "api",
        vec![
            text("operation"),
            object("request", vec![text("data"), text("uid")]),
            object(
                "response",
                vec![text("data"), text("error"), text("message")],
            ),
            object("service", vec![text("name")]),
            text("version"),
        ],
    )
}

/// `metadata`: the event's id, product and OCSF version.
fn metadata_schema() -> Field {
    object(
        "metadata",
        vec![
            text("event_code"),
            object(
                "product",
                vec![
                    object("feature", vec![text("name")]),
                    text("name"),
                    text("vendor_name"),
                    text("version"),
                ],
            ),
            list_of("profiles", DataType::Utf8),
            text("uid"),
            text("version"),
        ],
    )
}

/// The Arrow schema of `class`'s events.
pub fn event_schema(class: Class) -> SchemaRef {
    let mut fields = vec![
        int("activity_id"),
        text("activity_name"),
        actor_schema(),
        api_schema(),
        text("category_name"),
        int("category_uid"),
        text("class_name"),
        int("class_uid"),
        object("cloud", vec![account(), text("provider"), text("region")]),
    ];
    if class == Class::Authentication {
        fields.push(object("dst_endpoint", vec![text("svc_name")]));
    }
    fields.push(object("http_request", vec![text("user_agent")]));
    if class == Class::Authentication {
        fields.push(flag("is_mfa"));
    }
    fields.push(metadata_schema());
    let observable = vec![text("name"), text("type"), int("type_id"), text("value")];
    fields.push(list_of(
        "observables",
        DataType::Struct(Fields::from(observable)),
    ));
    if class == Class::ApiActivity {
        let resource = vec![object("owner", vec![account()]), text("type"), text("uid")];
        fields.push(list_of(
            "resources",
            DataType::Struct(Fields::from(resource)),
        ));
    }
    fields.extend([
        text("severity"),
        int("severity_id"),
        object(
            "src_endpoint",
            vec![text("domain"), text("ip"), text("uid")],
        ),
        text("status"),
        int("status_id"),
        long("time"),
        datetime("time_dt"),
        text("type_name"),
        long("type_uid"),
        unmapped(),
    ]);
    if class != Class::ApiActivity {
        fields.push(object(
            "user",
            vec![text("name"), text("uid"), text("uid_alt")],
        ));
    }
    Arc::new(Schema::new(fields))
}

/// `unmapped`: a map of text to text.
fn unmapped() -> Field {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    Field::new("unmapped", DataType::Map(Arc::new(entries), false), true)
}

#[cfg(test)]
mod tests;
