//! Writing results: an aligned table that fits the terminal (long cells
//! truncated, in table mode only), CSV (RFC 4180), JSON (an array of
//! objects keyed by column name), NDJSON, and Parquet.

use std::io::Write;

use arrow::array::Array;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::json::WriterBuilder;
use datafusion::arrow::json::writer::{JsonArray, LineDelimited};

use crate::QueryError;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
    Parquet,
}

fn cell_text(a: &dyn Array, row: usize, opts: &FormatOptions<'_>) -> String {
    match ArrayFormatter::try_new(a, opts) {
        Ok(f) => f.value(row).to_string(),
        Err(_) => String::new(),
    }
}

/// The batch with nested columns (lists, structs, maps) as text, as
/// Athena prints them (`[a, b]`, `{arn: …}`): arrow's CSV writer refuses
/// nested types.
fn flatten_for_csv(b: &RecordBatch) -> Result<RecordBatch, QueryError> {
    use arrow::array::{ArrayRef, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    if !b
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(b.clone());
    }
    let opts = FormatOptions::default();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        if f.data_type().is_nested() {
            let formatter = ArrayFormatter::try_new(c.as_ref(), &opts)?;
            let text: StringArray = (0..c.len())
                .map(|i| (!c.is_null(i)).then(|| formatter.value(i).to_string()))
                .collect();
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            columns.push(std::sync::Arc::new(text));
        } else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Terminal columns a cell takes: wide characters (CJK, most emoji) take
/// two, combining marks none.
fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// A cell as shown: escape sequences from records must not reach the
/// terminal.
fn as_shown(s: &str) -> String {
    trailwatch_core::terminal::escape_controls(s).into_owned()
}

/// Shorten to `width` terminal columns, marking the cut with `…`.
fn fit(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    let room = width.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// An aligned table no wider than `max_width`, of at most `max_rows` rows
/// (0: all) followed by how many were left out, as DuckDB's client does;
/// only the rows shown are formatted.
pub fn write_table(
    out: &mut impl Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    max_width: usize,
    max_rows: usize,
) -> Result<(), QueryError> {
    let opts = FormatOptions::default().with_null("NULL");
    let headers: Vec<String> = schema.fields().iter().map(|f| as_shown(f.name())).collect();
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let shown = if max_rows == 0 {
        total
    } else {
        total.min(max_rows)
    };
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(shown);
    'batches: for b in batches {
        for r in 0..b.num_rows() {
            if rows.len() == shown {
                break 'batches;
            }
            rows.push(
                b.columns()
                    .iter()
                    .map(|c| as_shown(&cell_text(c.as_ref(), r, &opts)))
                    .collect(),
            );
        }
    }
    let n = headers.len();
    if n == 0 {
        return Ok(());
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(c));
        }
    }
    // Fit: shrink the widest columns until the row fits (min 8 chars).
    let sep = 3 * n + 1;
    while widths.iter().sum::<usize>() + sep > max_width {
        let (i, w) = widths
            .iter()
            .enumerate()
            .max_by_key(|(_, w)| **w)
            .map(|(i, w)| (i, *w))
            .unwrap_or((0, 0));
        if w <= 8 {
            break;
        }
        widths[i] = w - 1;
    }
    let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(&widths) {
            let c = fit(c, *w);
            s.push(' ');
            s.push_str(&c);
            s.push_str(&" ".repeat(w.saturating_sub(display_width(&c))));
            s.push_str(" |");
        }
        writeln!(out, "{s}")
    };
    let rule: String = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s
    };
    writeln!(out, "{rule}")?;
    line(out, &headers)?;
    writeln!(out, "{rule}")?;
    for row in &rows {
        line(out, row)?;
    }
    writeln!(out, "{rule}")?;
    if total > shown {
        writeln!(
            out,
            "… {} more rows (--max-rows {shown}; 0 shows all)",
            total - shown
        )?;
    }
    writeln!(out, "{total} rows")?;
    Ok(())
}

/// Write the result in `format`.
pub fn write(
    out: &mut (impl Write + Send),
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    max_width: usize,
    max_rows: usize,
) -> Result<(), QueryError> {
    match format {
        Format::Table => write_table(out, schema, batches, max_width, max_rows),
        Format::Csv => {
            if batches.is_empty() {
                // A header line even for no rows.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", names.join(","))?;
                return Ok(());
            }
            let mut w = CsvWriterBuilder::new().with_header(true).build(&mut *out);
            for b in batches {
                w.write(&flatten_for_csv(b)?)?;
            }
            Ok(())
        }
        Format::Json => {
            // Every column is a key, NULL included.
            let mut w = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            // finish() writes `[]` when there were no rows.
            w.finish()?;
            writeln!(out)?;
            Ok(())
        }
        Format::Ndjson => {
            let mut w = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, LineDelimited>(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            Ok(())
        }
        Format::Parquet => {
            let mut w =
                datafusion::parquet::arrow::ArrowWriter::try_new(&mut *out, schema.clone(), None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// A table stops at `max_rows` and says how many rows it left out;
    /// 0 shows them all.
    #[test]
    fn a_table_stops_at_the_row_limit_and_says_how_many_more() {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = |r: std::ops::Range<i64>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(Int64Array::from_iter_values(r))],
            )
            .unwrap()
        };
        let batches = [batch(0..3), batch(3..5)];
        let table = |max_rows| {
            let mut out = Vec::new();
            write_table(&mut out, &schema, &batches, 80, max_rows).unwrap();
            String::from_utf8(out).unwrap()
        };
        let cut = table(2);
        let data: Vec<&str> = cut
            .lines()
            .filter(|l| l.starts_with("| ") && !l.contains(" n "))
            .collect();
        assert_eq!(data, ["| 0 |", "| 1 |"], "{cut}");
        assert!(cut.contains("… 3 more rows"), "{cut}");
        assert!(cut.ends_with("5 rows\n"), "{cut}");
        for all in [table(0), table(5)] {
            assert_eq!(
                all.lines().filter(|l| l.starts_with("| ")).count(),
                6,
                "{all}"
            );
            assert!(!all.contains("more rows"), "{all}");
        }
    }

    #[test]
    fn cells_line_up_by_display_width_not_characters() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("who", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(arrow::array::StringArray::from(vec![
                    "東京の管理者",
                    "alice",
                    "e\u{301}\u{1F512}",
                ])),
                Arc::new(Int64Array::from_iter_values(0..3)),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &schema, std::slice::from_ref(&batch), 80, 0).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Every line of the table ends in the same terminal column.
        let widths: Vec<usize> = text
            .lines()
            .filter(|l| l.starts_with('|') || l.starts_with('+'))
            .map(display_width)
            .collect();
        assert!(
            widths.windows(2).all(|w| w[0] == w[1]),
            "{widths:?}\n{text}"
        );
        // Six wide characters are twelve columns.
        assert!(text.contains("| 東京の管理者 | 0 |"), "{text}");
        // Cut to fit: a wide character is never split across the limit.
        let mut narrow = Vec::new();
        write_table(&mut narrow, &schema, &[batch], 16, 0).unwrap();
        let narrow = String::from_utf8(narrow).unwrap();
        let widths: Vec<usize> = narrow.lines().take(5).map(display_width).collect();
        assert!(
            widths.windows(2).all(|w| w[0] == w[1]),
            "{widths:?}\n{narrow}"
        );
        assert!(narrow.contains("東京の…"), "{narrow}");
    }
}
