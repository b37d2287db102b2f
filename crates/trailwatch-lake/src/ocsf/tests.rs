use std::collections::BTreeMap;

use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use trailwatch_core::event::{DecodeOptions, Decoder};
use trailwatch_core::ocsf::from_record;

use crate::store::{Store, temp_store};

fn record(id: &str, time: &str, source: &str, name: &str, region: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u","accountId":"111122223333","userName":"u"}},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"198.51.100.7","requestParameters":{{"userName":"x"}},"eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333","readOnly":false}}"#
    )
}

/// Export `lines` (one CloudTrail record each) into `store`.
fn export(store: &Store, lines: &[String]) -> ExportStats {
    export_holding(store, lines, FILE_ROWS)
}

/// The lake batch (the `cloudtrail` table's columns) of CloudTrail text.
fn lake_batch(text: &str) -> RecordBatch {
    let mut b = crate::batch::BatchBuilder::new();
    let mut dec = Decoder::from_reader(
        "t",
        std::io::Cursor::new(text.as_bytes().to_vec()),
        DecodeOptions::default(),
    )
    .unwrap();
    dec.for_each(
        |r| {
            b.append(r);
            Ok::<(), std::convert::Infallible>(())
        },
        |e, _| panic!("{e}"),
    )
    .unwrap();
    b.finish().unwrap()
}

fn export_holding(store: &Store, lines: &[String], max_held: usize) -> ExportStats {
    let mut ex = Exporter::holding(store, "trailwatch", max_held).unwrap();
    // One record per batch, as many files of a partition would come.
    for line in lines {
        ex.push(&lake_batch(line), None, None).unwrap();
    }
    ex.finish().unwrap()
}

#[test]
fn events_land_per_partition_and_class_sorted_and_read_back() {
    let (_rt, _dir, store) = temp_store();
    let lines = vec![
        record(
            "b",
            "2024-05-01T12:00:02Z",
            "ec2.amazonaws.com",
            "DescribeInstances",
            "us-east-1",
        ),
        record(
            "a",
            "2024-05-01T12:00:01Z",
            "ec2.amazonaws.com",
            "RunInstances",
            "us-east-1",
        ),
        record(
            "c",
            "2024-05-01T12:00:03Z",
            "iam.amazonaws.com",
            "CreateUser",
            "us-east-1",
        ),
        record(
            "d",
            "2024-05-02T00:00:00Z",
            "ec2.amazonaws.com",
            "DescribeInstances",
            "eu-west-1",
        ),
    ];
    let stats = export(&store, &lines);
    assert_eq!(stats.events, 4);
    assert_eq!(stats.files, 3);
    assert_eq!(stats.by_class, BTreeMap::from([(3001, 1), (6003, 3)]));
    let mut files: Vec<String> = store
        .list("ext")
        .unwrap()
        .iter()
        .map(|o| store.rel(&o.location))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "ext/trailwatch/region=eu-west-1/accountId=111122223333/eventDay=20240502/api_activity-0000.parquet",
            "ext/trailwatch/region=us-east-1/accountId=111122223333/eventDay=20240501/account_change-0000.parquet",
            "ext/trailwatch/region=us-east-1/accountId=111122223333/eventDay=20240501/api_activity-0000.parquet",
        ]
    );
    // Sorted by time within the file, typed as the dictionary says.
    let bytes = store.get(&files[2]).unwrap();
    let batch = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let times = batch
        .column_by_name("time")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert!(times.values().windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        batch
            .schema()
            .field_with_name("class_uid")
            .unwrap()
            .data_type(),
        &DataType::Int32
    );
    assert!(
        batch.schema().field_with_name("user").is_err(),
        "API Activity has no user"
    );
    assert_eq!(batch.column_by_name("unmapped").unwrap().null_count(), 0);

    // And back: the same records, in time order.
    let mut text = Vec::new();
    let (read, absent) = ocsf_as_cloudtrail("f.parquet", bytes, |b| {
        text.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        read,
        ReadStats {
            rows: 2,
            not_cloudtrail: 0
        }
    );
    assert!(absent.is_empty(), "{absent:?}");
    let back: Vec<serde_json::Value> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let want: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(back[0], want);
    assert_eq!(back[1]["eventID"], "b");
}

#[test]
fn a_second_export_replaces_the_first_and_hostile_partition_values_are_cleaned() {
    let (_rt, _dir, store) = temp_store();
    let lines = vec![record(
        "a",
        "2024-05-01T12:00:01Z",
        "ec2.amazonaws.com",
        "RunInstances",
        "../../x",
    )];
    export(&store, &lines);
    export(&store, &lines);
    let files: Vec<String> = store
        .list("ext")
        .unwrap()
        .iter()
        .map(|o| store.rel(&o.location))
        .collect();
    assert_eq!(
        files,
        [format!(
            "ext/trailwatch/region={}/accountId=111122223333/eventDay=20240501/api_activity-0000.parquet",
            crate::partition::folder_name("../../x")
        )]
    );
    assert!(Exporter::new(&store, "../up").is_err());
}

#[test]
fn every_class_schema_reads_its_own_events() {
    for class in Class::ALL {
        let s = event_schema(class);
        for required in [
            "activity_id",
            "class_uid",
            "metadata",
            "time",
            "cloud",
            "severity_id",
            "type_uid",
        ] {
            assert!(s.field_with_name(required).is_ok(), "{class:?} {required}");
        }
        assert_eq!(
            s.field_with_name("user").is_ok(),
            class != Class::ApiActivity
        );
    }
}

#[test]
fn a_parquet_file_that_is_not_ocsf_is_refused_with_its_name() {
    let err = parquet_as_cloudtrail("x.parquet", &mut &b"not parquet"[..]).unwrap_err();
    assert!(err.to_string().contains("x.parquet"), "{err}");
    let (bytes, _) =
        crate::parquet_file::encode(crate::schema::cloudtrail_schema(), std::iter::empty(), 1024)
            .unwrap();
    let err = parquet_as_cloudtrail("lake.parquet", &mut &bytes[..]).unwrap_err();
    assert!(err.to_string().contains("--lake"), "{err}");
}

#[test]
fn memory_is_bounded_by_the_rows_held_and_each_file_stays_sorted() {
    let (_rt, _dir, store) = temp_store();
    let lines: Vec<String> = (0..7)
        .map(|i| {
            let t = format!("2024-05-01T12:00:{:02}Z", 59 - i);
            record(
                &format!("e{i}"),
                &t,
                "ec2.amazonaws.com",
                "DescribeInstances",
                "us-east-1",
            )
        })
        .collect();
    let stats = export_holding(&store, &lines, 3);
    assert_eq!((stats.events, stats.files), (7, 3));
    let mut rows = 0;
    for f in store.list("ext").unwrap() {
        let bytes = store.get(&store.rel(&f.location)).unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            let times = batch
                .column_by_name("time")
                .unwrap()
                .as_primitive::<Int64Type>();
            assert!(times.values().windows(2).all(|w| w[0] <= w[1]));
            rows += batch.num_rows();
        }
    }
    assert_eq!(rows, 7);
}

#[test]
fn columns_a_writer_left_out_name_the_cloudtrail_fields_lost() {
    assert!(absent_fields(&event_schema(Class::ApiActivity)).is_empty());
    let trimmed = Schema::new(vec![
        int("class_uid"),
        object("metadata", vec![text("uid")]),
        object(
            "api",
            vec![text("operation"), object("request", vec![text("uid")])],
        ),
    ]);
    let absent = absent_fields(&trimmed);
    assert!(absent.contains(&"requestParameters"), "{absent:?}");
    assert!(absent.contains(&"additionalEventData"), "{absent:?}");
    assert!(!absent.contains(&"errorCode") || absent.contains(&"responseElements"));
}

/// Every column the exporter maps column to column is what the record's
/// own mapping (`trailwatch_core::ocsf::from_record`, held to the OCSF
/// project's reference samples) gives, row by row, for every event of the
/// bundled sample trail.
#[test]
fn the_columns_map_the_sample_as_the_record_mapping_does() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/sample-trail/AWSLogs");
    let mut files: Vec<_> = walk(&sample);
    files.sort();
    assert!(!files.is_empty());
    let mut compared = 0;
    for path in files {
        let mut dec = Decoder::open(&path, DecodeOptions::default()).unwrap();
        let mut text = Vec::new();
        dec.for_each(
            |r| {
                text.extend_from_slice(r.raw);
                text.push(b'\n');
                Ok::<(), std::convert::Infallible>(())
            },
            |e, _| panic!("{e}"),
        )
        .unwrap();
        // The records as the lake gives them back, and their columns.
        let batch = lake_batch(std::str::from_utf8(&text).unwrap());
        let mut ndjson = Vec::new();
        crate::read::batch_to_ndjson(&batch, &mut ndjson);
        let mut want = BTreeMap::new();
        let mut dec = Decoder::from_reader(
            "lake",
            std::io::Cursor::new(ndjson),
            DecodeOptions::default(),
        )
        .unwrap();
        dec.for_each(
            |r| {
                let v = serde_json::to_value(from_record(r)).unwrap();
                want.insert(r.event.event_id.to_string(), v);
                Ok::<(), std::convert::Infallible>(())
            },
            |e, _| panic!("{e}"),
        )
        .unwrap();
        let (_rt, _dir, store) = temp_store();
        let mut ex = Exporter::new(&store, "t").unwrap();
        ex.push(&batch, None, None).unwrap();
        ex.finish().unwrap();
        for f in store.list("ext").unwrap() {
            let bytes = store.get(&store.rel(&f.location)).unwrap();
            for b in ParquetRecordBatchReaderBuilder::try_new(bytes)
                .unwrap()
                .build()
                .unwrap()
            {
                let b = b.unwrap();
                let mut json = Vec::new();
                let mut w = arrow::json::writer::LineDelimitedWriter::new(&mut json);
                w.write(&b).unwrap();
                w.finish().unwrap();
                drop(w);
                for line in json.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
                    let mut got: serde_json::Value = serde_json::from_slice(line).unwrap();
                    let id = got["metadata"]["uid"].as_str().unwrap().to_string();
                    let mut want = want.remove(&id).expect("each event once");
                    for v in [&mut got, &mut want] {
                        normalise_times(v);
                    }
                    assert_eq!(got, want, "{id}");
                    compared += 1;
                }
            }
        }
        assert!(want.is_empty(), "{} events not exported", want.len());
    }
    assert_eq!(compared, 4000);
}

/// `time_dt` and `created_time_dt` as epoch ms (arrow and the record
/// mapping write the same instant in two spellings).
fn normalise_times(v: &mut serde_json::Value) {
    let ms = |t: &serde_json::Value| {
        let s = t.as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(s)
            .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{s}Z")))
            .unwrap()
            .timestamp_millis()
    };
    if let Some(t) = v.get("time_dt") {
        v["time_dt"] = ms(t).into();
    }
    if let Some(t) = v.pointer("/actor/session/created_time_dt") {
        v["actor"]["session"]["created_time_dt"] = ms(t).into();
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
