use super::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use trailwatch_core::event::{DecodeOptions, Decoder};
use trailwatch_core::ocsf::from_record;

use crate::store::temp_store;

fn record(id: &str, time: &str, source: &str, name: &str, region: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u","accountId":"111122223333","userName":"u"}},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"198.51.100.7","requestParameters":{{"userName":"x"}},"eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333","readOnly":false}}"#
    )
}

/// Export `lines` (one CloudTrail record each) into `store`.
fn export(store: &Store, lines: &[String]) -> ExportStats {
    export_holding(store, lines, FILE_ROWS)
}

fn export_holding(store: &Store, lines: &[String], max_held: usize) -> ExportStats {
    let mut ex = Exporter::holding(store, "trailwatch", max_held).unwrap();
    let text = lines.join("\n");
    let mut dec = Decoder::from_reader(
        "t",
        std::io::Cursor::new(text.into_bytes()),
        DecodeOptions::default(),
    )
    .unwrap();
    dec.for_each(|r| ex.push(&from_record(r)), |e, _| panic!("{e}"))
        .unwrap();
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
    let read = ocsf_as_cloudtrail("f.parquet", bytes, |b| {
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
        [
            "ext/trailwatch/region=.._.._x/accountId=111122223333/eventDay=20240501/api_activity-0000.parquet"
        ]
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
