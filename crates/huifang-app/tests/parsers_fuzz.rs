//! Every parser of outside input, fed random input: import files (CSV bytes, CSV with the
//! format's header and random cells, .xlsx workbooks with random cells, bytes that claim to be a
//! workbook), intake records (random JSON), the JSON documents users send (rule set, contact
//! rules, notification rules, channels, templates) and providers' signed callback bodies. None
//! panics; each refusal is a clear error that names what is wrong (a line and column, an item and
//! field, or the document's field), and a refused document changes nothing.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::files::{self, FileError, FileKind, ImportFormat};
use huifang_app::{AppError, contact, notify, rules, team};
use huifang_testkit::Dbs;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

const FORMATS: [ImportFormat; 4] = [
    ImportFormat::Products,
    ImportFormat::Borrowers,
    ImportFormat::Loans,
    ImportFormat::Payments,
];

/// Reads `bytes` as each format; every refusal says something and names lines in the file.
fn read_all(bytes: &[u8], kind: FileKind, lines: usize) {
    for format in FORMATS {
        let result = match format {
            ImportFormat::Products => files::read_products_bytes(bytes, kind).map(|r| r.len()),
            ImportFormat::Borrowers => files::read_borrowers_bytes(bytes, kind).map(|r| r.len()),
            ImportFormat::Loans => files::read_loans_bytes(bytes, kind).map(|r| r.len()),
            ImportFormat::Payments => files::read_payments_bytes(bytes, kind).map(|r| r.len()),
            ImportFormat::TrackerEvents | ImportFormat::Places => {
                unreachable!("not among FORMATS")
            }
        };
        check_refusal(format, result, 1..=lines.max(1));
    }
}

fn check_refusal(
    format: ImportFormat,
    result: Result<usize, FileError>,
    lines: std::ops::RangeInclusive<usize>,
) {
    let Err(e) = result else { return };
    assert!(!e.to_string().trim().is_empty(), "{format}: an empty error");
    for row in e.row_errors() {
        assert!(
            lines.contains(&row.line),
            "{format}: line {} outside {lines:?}: {row}",
            row.line
        );
        assert!(!row.reason.is_empty(), "{format}: {row}");
        let known = format
            .columns()
            .iter()
            .chain(format.optional_columns())
            .any(|c| *c == row.column);
        assert!(
            row.column.is_empty() || known,
            "{format}: unknown column in {row}"
        );
    }
}

/// Cell text with what breaks parsers: separators, quotes, line breaks, digits, signs, dots,
/// Chinese, control characters, a BOM.
fn cell() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(",".to_string()),
            Just("\"".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("-".to_string()),
            Just(".".to_string()),
            Just("\u{FEFF}".to_string()),
            Just("\u{0}".to_string()),
            Just("等额本息".to_string()),
            Just("2026-02-30".to_string()),
            Just("11010519491231002X".to_string()),
            "[0-9]{1,12}",
            "[a-zA-Z_ ]{0,8}",
            "\\PC{0,6}",
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

/// A JSON value of any shape, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        cell().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("external_id".to_string()),
                        Just("mobile".to_string()),
                        Just("amount".to_string()),
                        Just("rules".to_string()),
                        Just("events".to_string()),
                        Just("sms".to_string()),
                        "[a-z_]{1,10}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn csv_bytes_of_any_kind_are_read_or_refused_clearly(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
        read_all(&bytes, FileKind::Csv, lines);
    }

    #[test]
    fn csv_with_the_header_and_random_cells_is_read_or_refused_by_line_and_column(
        rows in prop::collection::vec(prop::collection::vec(cell(), 0..14), 0..8),
        format_index in 0usize..4,
    ) {
        let format = FORMATS[format_index];
        let mut text = format.columns().join(",");
        for row in &rows {
            text.push('\n');
            let quoted: Vec<String> = row
                .iter()
                .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                .collect();
            text.push_str(&quoted.join(","));
        }
        let lines = text.matches('\n').count() + 1;
        read_all(text.as_bytes(), FileKind::Csv, lines);
    }

    #[test]
    fn bytes_claiming_to_be_a_workbook_are_refused_clearly(tail in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(tail);
        read_all(&bytes, FileKind::Xlsx, 1);
    }

    #[test]
    fn workbooks_with_random_cells_are_read_or_refused_by_row_and_column(
        rows in prop::collection::vec(prop::collection::vec(prop_oneof![
            cell().prop_map(Err),
            any::<f64>().prop_map(Ok),
        ], 0..13), 0..6),
        format_index in 0usize..4,
    ) {
        let format = FORMATS[format_index];
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (col, name) in format.columns().iter().enumerate() {
            sheet.write_string(0, col as u16, *name).unwrap();
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                let (r, c) = (r as u32 + 1, c as u16);
                match value {
                    Ok(number) if number.is_finite() => { sheet.write_number(r, c, *number).unwrap(); }
                    Ok(_) => {}
                    Err(text) => {
                        // the writer refuses what a worksheet cannot hold; so would Excel
                        let _ = sheet.write_string(r, c, text.as_str());
                    }
                }
            }
        }
        let bytes = book.save_to_buffer().unwrap();
        read_all(&bytes, FileKind::Xlsx, rows.len() + 1);
    }

    #[test]
    fn intake_records_of_any_json_are_read_or_refused_by_item_and_field(
        records in prop::collection::vec(json_value(), 0..6),
        format_index in 0usize..4,
    ) {
        let format = FORMATS[format_index];
        let result = files::read_records(format, &records);
        if let Err(e) = &result {
            for row in e.row_errors() {
                prop_assert!(row.line < records.len(), "{row}");
                prop_assert!(!row.reason.is_empty());
            }
        }
    }

    #[test]
    fn rule_set_documents_of_any_text_are_parsed_or_refused(text in "\\PC{0,200}", doc in json_value()) {
        for input in [text, doc.to_string()] {
            if let Err(e) = rules::parse(&input) {
                prop_assert!(!e.to_string().trim().is_empty());
            }
        }
    }
}

/// The documents stored through the application (contact rules, notification rules, channels,
/// templates) and providers' signed callbacks: random JSON is taken or refused with a clear
/// error; a refusal leaves the stored document as it was.
#[test]
fn stored_documents_and_signed_callbacks_take_any_json_without_panicking() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dbs = Dbs::new(false);
    runtime.block_on(async {
        let store = dbs.fresh().await;
        support::book(&store, 1).await;
        let admin = team::actor(&store, "admin").await.unwrap();
        let secret = "0123456789abcdef-secret";
        notify::set_channels(
            &store,
            &admin,
            &json!({"webhook_secret": secret}).to_string(),
        )
        .await
        .unwrap();
        let mut contact_before = contact::show_rules(&store).await.unwrap();
        let mut notify_before = notify::show_rules(&store).await.unwrap();

        // random documents, the same every run (the runner's default seed is fixed)
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = json_value();
        let docs: Vec<Value> = (0..120)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        let now = chrono::Utc::now();
        let timestamp = now.timestamp().to_string();
        for doc in &docs {
            let text = doc.to_string();
            let clear = |e: &AppError| {
                assert!(
                    !matches!(e, AppError::Store(_) | AppError::Io(_)),
                    "{text}: {e}"
                );
                assert!(!e.to_string().trim().is_empty());
            };
            match contact::set_rules(&store, &admin, &text).await {
                Ok(stored) => contact_before = stored,
                Err(e) => {
                    clear(&e);
                    assert_eq!(contact::show_rules(&store).await.unwrap(), contact_before);
                }
            }
            match notify::set_rules(&store, &admin, &text).await {
                Ok(stored) => notify_before = stored,
                Err(e) => {
                    clear(&e);
                    assert_eq!(notify::show_rules(&store).await.unwrap(), notify_before);
                }
            }
            let body = text.as_bytes();
            let signature = notify::sign(secret, &timestamp, body);
            if let Err(e) = notify::callback(&store, "sms", &timestamp, &signature, body, now).await
            {
                clear(&e);
            }
        }
    });
}
