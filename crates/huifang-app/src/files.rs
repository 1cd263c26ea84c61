//! Reading and writing the import files: `products.csv`, `borrowers.csv`, `loans.csv` and
//! `payments.csv` (DOMAIN.md, "Formats that outside checks rely on"), as CSV (UTF-8 with or
//! without BOM, or GBK/GB18030) or as Excel `.xlsx` (first worksheet).
//!
//! Reading is all or nothing: either every row of the file is valid and comes back as a
//! validated row of [`crate::rows`] with its line number, or the caller gets a [`FileError`]
//! that lists every bad field of every bad row (line, column, reason), so a user fixes the whole
//! file in one pass and nothing is half-imported.
//!
//! Writing produces the exact headers of DOMAIN.md and values that read back identically.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use calamine::{Data, ExcelDateTime, Reader, Xlsx};
use chrono::NaiveDate;
use huifang_core::calendar::{self, Date};
use huifang_core::contact;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::outcome::Channel;
use huifang_core::schedule::{MAX_TERM_MONTHS, Method};
use huifang_core::vehicle::{
    MAX_PLACE_RADIUS_M, Place, PlaceKind, Point, Tracker, TrackerEvent, TrackerEventKind,
    parse_degrees,
};
use huifang_core::{Money, Rate};
use rust_decimal::Decimal;

use crate::rows::{
    BorrowerContacts, BorrowerRow, EmergencyRow, LoanRow, PaymentRow, ProductRow, RowError,
};

/// The header of `products.csv`.
pub const PRODUCT_COLUMNS: [&str; 4] = ["code", "name", "grace_days", "penalty_rate_markup"];

/// The header of `borrowers.csv`.
pub const BORROWER_COLUMNS: [&str; 7] = [
    "external_id",
    "name",
    "id_number",
    "mobile",
    "employer",
    "monthly_income",
    "city",
];

/// Columns `borrowers.csv` may add, each optional (empty cells too): the borrower's email and
/// WeChat open id, one emergency contact (name, relation and mobile together; the day they
/// consented to be called), and the repayment account (还款账户).
pub const BORROWER_OPTIONAL_COLUMNS: [&str; 7] = [
    "email",
    "wechat_id",
    "emergency_name",
    "emergency_relation",
    "emergency_mobile",
    "emergency_consent_on",
    "bank_account",
];

/// The header of `loans.csv`.
pub const LOAN_COLUMNS: [&str; 12] = [
    "external_id",
    "borrower_external_id",
    "product_code",
    "principal",
    "annual_rate",
    "term_months",
    "repayment_method",
    "disbursed_on",
    "vin",
    "vehicle_model",
    "vehicle_price",
    "dealer",
];

/// The header of `payments.csv`.
pub const PAYMENT_COLUMNS: [&str; 5] = [
    "external_id",
    "loan_external_id",
    "paid_on",
    "amount",
    "channel",
];

/// The header of `tracker_events.csv` (a GPS vendor's events).
pub const TRACKER_EVENT_COLUMNS: [&str; 7] =
    ["device_id", "vin", "tracker", "time", "lat", "lon", "event"];

/// The header of `places.csv` (pawn shops and used-car markets).
pub const PLACE_COLUMNS: [&str; 6] = ["external_id", "kind", "name", "lat", "lon", "radius_m"];

/// Longest external id or product code, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest name or other free text (employer, city, vehicle model, dealer), in characters.
pub const MAX_TEXT_CHARS: usize = 100;
/// Longest payment channel, in characters.
pub const MAX_CHANNEL_CHARS: usize = 32;
/// Most grace days a product may give.
pub const MAX_GRACE_DAYS: u32 = 90;
/// Largest penalty rate markup (10 = +1000%).
pub const MAX_PENALTY_MARKUP: Decimal = Decimal::TEN;

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The four import formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportFormat {
    /// `products.csv`
    Products,
    /// `borrowers.csv`
    Borrowers,
    /// `loans.csv`
    Loans,
    /// `payments.csv`
    Payments,
    /// `tracker_events.csv`
    TrackerEvents,
    /// `places.csv`
    Places,
}

impl ImportFormat {
    /// The columns of the format, in the order they are written.
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            ImportFormat::Products => &PRODUCT_COLUMNS,
            ImportFormat::Borrowers => &BORROWER_COLUMNS,
            ImportFormat::Loans => &LOAN_COLUMNS,
            ImportFormat::Payments => &PAYMENT_COLUMNS,
            ImportFormat::TrackerEvents => &TRACKER_EVENT_COLUMNS,
            ImportFormat::Places => &PLACE_COLUMNS,
        }
    }

    /// The columns a file of the format may add.
    pub const fn optional_columns(self) -> &'static [&'static str] {
        match self {
            ImportFormat::Borrowers => &BORROWER_OPTIONAL_COLUMNS,
            _ => &[],
        }
    }

    /// The conventional file name (`products.csv`, ...).
    pub const fn file_name(self) -> &'static str {
        match self {
            ImportFormat::Products => "products.csv",
            ImportFormat::Borrowers => "borrowers.csv",
            ImportFormat::Loans => "loans.csv",
            ImportFormat::Payments => "payments.csv",
            ImportFormat::TrackerEvents => "tracker_events.csv",
            ImportFormat::Places => "places.csv",
        }
    }

    /// What one row is: `product`, `borrower`, `loan`, `payment`.
    pub const fn record_name(self) -> &'static str {
        match self {
            ImportFormat::Products => "product",
            ImportFormat::Borrowers => "borrower",
            ImportFormat::Loans => "loan",
            ImportFormat::Payments => "payment",
            ImportFormat::TrackerEvents => "tracker event",
            ImportFormat::Places => "place",
        }
    }

    /// The column that must be unique within a file (`code` or `external_id`); tracker events
    /// have none (a tracker's event is known by its time and kind).
    pub const fn key_column(self) -> Option<&'static str> {
        match self {
            ImportFormat::Products => Some("code"),
            ImportFormat::Borrowers
            | ImportFormat::Loans
            | ImportFormat::Payments
            | ImportFormat::Places => Some("external_id"),
            ImportFormat::TrackerEvents => None,
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// How the bytes of an import file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// Comma-separated text, UTF-8 (with or without BOM) or GBK/GB18030.
    Csv,
    /// An Excel 2007+ workbook; the first worksheet is read.
    Xlsx,
}

impl FileKind {
    /// `.xlsx` by the path's extension (any case) or by the ZIP signature `PK\x03\x04` at the
    /// start of the bytes; CSV otherwise.
    pub fn detect(path: Option<&Path>, bytes: &[u8]) -> FileKind {
        let xlsx_extension = path
            .and_then(Path::extension)
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        if xlsx_extension || bytes.starts_with(ZIP_MAGIC) {
            FileKind::Xlsx
        } else {
            FileKind::Csv
        }
    }
}

/// Why an import file was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read from disk.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The bytes are neither UTF-8 nor GBK/GB18030 text.
    #[error("the file is neither UTF-8 nor GBK (GB18030) text; save it as UTF-8 CSV or as .xlsx")]
    Encoding,
    /// A file type Huifang does not read (e.g. a legacy `.xls` workbook).
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    /// The CSV text is malformed beyond a single row.
    #[error("malformed CSV: {0}")]
    Csv(String),
    /// The workbook could not be opened or its first worksheet read.
    #[error("cannot read the Excel workbook: {0}")]
    Excel(String),
    /// No header line (the file, or its first worksheet, has no non-blank row).
    #[error("the file is empty: expected a header line")]
    Empty,
    /// The header does not hold exactly the columns of the format.
    #[error(
        "bad header for {file}: {}",
        describe_header(missing, extra, duplicated)
    )]
    Header {
        /// The format that was expected.
        file: ImportFormat,
        /// Columns of the format absent from the header.
        missing: Vec<String>,
        /// Header names that are not columns of the format (an unnamed column is `""`).
        extra: Vec<String>,
        /// Columns named more than once.
        duplicated: Vec<String>,
    },
    /// Rows with bad fields: every bad field of every bad row, in file order.
    #[error("{}", join_lines(.0))]
    Rows(Vec<RowError>),
}

impl FileError {
    /// The row errors, empty for a file-level error.
    pub fn row_errors(&self) -> &[RowError] {
        match self {
            FileError::Rows(errors) => errors,
            _ => &[],
        }
    }
}

fn describe_header(missing: &[String], extra: &[String], duplicated: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing columns: {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        let names: Vec<String> = extra.iter().map(|n| format!("{n:?}")).collect();
        parts.push(format!("unexpected columns: {}", names.join(", ")));
    }
    if !duplicated.is_empty() {
        parts.push(format!(
            "columns given more than once: {}",
            duplicated.join(", ")
        ));
    }
    parts.join("; ")
}

fn join_lines(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(RowError::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Public readers

/// Reads `products.csv` (or an `.xlsx` with the same columns) from a file.
pub fn read_products(path: &Path) -> Result<Vec<(usize, ProductRow)>, FileError> {
    let (bytes, kind) = load(path)?;
    read_products_bytes(&bytes, kind)
}

/// Reads `products.csv` content from bytes.
pub fn read_products_bytes(
    bytes: &[u8],
    kind: FileKind,
) -> Result<Vec<(usize, ProductRow)>, FileError> {
    read_table(ImportFormat::Products, bytes, kind, parse_product).and_then(Parsed::into_rows)
}

/// Reads `borrowers.csv` (or an `.xlsx` with the same columns) from a file.
pub fn read_borrowers(path: &Path) -> Result<Vec<(usize, BorrowerRow)>, FileError> {
    let (bytes, kind) = load(path)?;
    read_borrowers_bytes(&bytes, kind)
}

/// Reads `borrowers.csv` content from bytes.
pub fn read_borrowers_bytes(
    bytes: &[u8],
    kind: FileKind,
) -> Result<Vec<(usize, BorrowerRow)>, FileError> {
    read_table(ImportFormat::Borrowers, bytes, kind, parse_borrower).and_then(Parsed::into_rows)
}

/// Reads `loans.csv` (or an `.xlsx` with the same columns) from a file.
pub fn read_loans(path: &Path) -> Result<Vec<(usize, LoanRow)>, FileError> {
    let (bytes, kind) = load(path)?;
    read_loans_bytes(&bytes, kind)
}

/// Reads `loans.csv` content from bytes.
pub fn read_loans_bytes(bytes: &[u8], kind: FileKind) -> Result<Vec<(usize, LoanRow)>, FileError> {
    read_table(ImportFormat::Loans, bytes, kind, parse_loan).and_then(Parsed::into_rows)
}

/// Reads `payments.csv` (or an `.xlsx` with the same columns) from a file.
pub fn read_payments(path: &Path) -> Result<Vec<(usize, PaymentRow)>, FileError> {
    let (bytes, kind) = load(path)?;
    read_payments_bytes(&bytes, kind)
}

/// Reads `payments.csv` content from bytes.
pub fn read_payments_bytes(
    bytes: &[u8],
    kind: FileKind,
) -> Result<Vec<(usize, PaymentRow)>, FileError> {
    read_table(ImportFormat::Payments, bytes, kind, parse_payment).and_then(Parsed::into_rows)
}

/// Reads intake records (JSON objects) of `format` as the intake does, without importing them:
/// how many are good, or every error (numbered from 0 as the request's items are).
pub fn read_records(
    format: ImportFormat,
    records: &[serde_json::Value],
) -> Result<usize, FileError> {
    let source = Source::Records(records);
    match format {
        ImportFormat::Products => parse_products(source)?.into_rows().map(|r| r.len()),
        ImportFormat::Borrowers => parse_borrowers(source)?.into_rows().map(|r| r.len()),
        ImportFormat::Loans => parse_loans(source)?.into_rows().map(|r| r.len()),
        ImportFormat::Payments => parse_payments(source)?.into_rows().map(|r| r.len()),
        ImportFormat::TrackerEvents => parse_tracker_events(source)?.into_rows().map(|r| r.len()),
        ImportFormat::Places => parse_places(source)?.into_rows().map(|r| r.len()),
    }
}

/// The rows of an import file as read: the good ones, and every error of the bad ones in file
/// order. The import checks the good rows too, so that one refusal lists every bad row
/// (`import::import_file`).
pub(crate) struct Parsed<T> {
    pub(crate) rows: Vec<(usize, T)>,
    pub(crate) errors: Vec<RowError>,
}

impl<T> Parsed<T> {
    fn into_rows(self) -> Result<Vec<(usize, T)>, FileError> {
        if self.errors.is_empty() {
            Ok(self.rows)
        } else {
            Err(FileError::Rows(self.errors))
        }
    }
}

/// Where an import's table comes from: a file on disk, uploaded bytes, or the JSON objects of an
/// intake request (one per row, keyed by the format's column names).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A CSV or `.xlsx` file, its kind told by its name and bytes.
    File(&'a Path),
    /// Uploaded CSV or `.xlsx` bytes.
    Bytes(&'a [u8], FileKind),
    /// JSON objects, one per row.
    Records(&'a [serde_json::Value]),
}

/// Reads a table of `format` from `source` with `parse`, keeping the good rows of a table with
/// bad ones.
fn parse_source<T>(
    format: ImportFormat,
    source: Source<'_>,
    parse: fn(&mut Fields<'_>) -> Option<T>,
) -> Result<Parsed<T>, FileError> {
    match source {
        Source::File(path) => {
            let (bytes, kind) = load(path)?;
            read_table(format, &bytes, kind, parse)
        }
        Source::Bytes(bytes, kind) => read_table(format, bytes, kind, parse),
        Source::Records(records) => {
            let (header, rows, refused) = record_rows(format, records);
            let mut parsed = parse_rows(format, header, rows, FileKind::Csv, parse)?;
            parsed.errors.extend(refused);
            parsed.errors.sort_by_key(|e| e.line);
            Ok(parsed)
        }
    }
}

/// Reads products, keeping the good rows of a table with bad ones.
pub(crate) fn parse_products(source: Source<'_>) -> Result<Parsed<ProductRow>, FileError> {
    parse_source(ImportFormat::Products, source, parse_product)
}

/// Reads borrowers, keeping the good rows of a table with bad ones.
pub(crate) fn parse_borrowers(source: Source<'_>) -> Result<Parsed<BorrowerRow>, FileError> {
    parse_source(ImportFormat::Borrowers, source, parse_borrower)
}

/// Reads loans, keeping the good rows of a table with bad ones.
pub(crate) fn parse_loans(source: Source<'_>) -> Result<Parsed<LoanRow>, FileError> {
    parse_source(ImportFormat::Loans, source, parse_loan)
}

/// Reads payments, keeping the good rows of a table with bad ones.
pub(crate) fn parse_payments(source: Source<'_>) -> Result<Parsed<PaymentRow>, FileError> {
    parse_source(ImportFormat::Payments, source, parse_payment)
}

/// Reads a GPS vendor's tracker events, keeping the good rows of a table with bad ones.
pub(crate) fn parse_tracker_events(
    source: Source<'_>,
) -> Result<Parsed<TrackerEventRow>, FileError> {
    parse_source(ImportFormat::TrackerEvents, source, parse_tracker_event)
}

/// Reads places, keeping the good rows of a table with bad ones.
pub(crate) fn parse_places(source: Source<'_>) -> Result<Parsed<PlaceRow>, FileError> {
    parse_source(ImportFormat::Places, source, parse_place)
}

/// The grid of an intake's JSON objects: a header of every column of the format (its optional
/// ones too) and a row per object, numbered from 0 as the request's items are. A string is the
/// cell's text, a missing field or null an empty cell; any other value (a number: every field
/// is written as in the file, `"36"`, `"1234.50"`, so money is never a float) is the cell's
/// error. An item that is not
/// an object, or has a field the format does not have, is refused whole (the third part).
fn record_rows(
    format: ImportFormat,
    records: &[serde_json::Value],
) -> (RawRow, Vec<RawRow>, Vec<RowError>) {
    use serde_json::Value;
    let names: Vec<&str> = format
        .columns()
        .iter()
        .chain(format.optional_columns())
        .copied()
        .collect();
    let header = RawRow {
        line: 0,
        cells: names.iter().map(|n| Ok((*n).to_string())).collect(),
    };
    let mut refused = Vec::new();
    let mut rows = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let Value::Object(fields) = record else {
            refused.push(RowError {
                line: index,
                column: String::new(),
                reason: "the item must be a JSON object".to_string(),
            });
            continue;
        };
        if let Some(unknown) = fields.keys().find(|k| !names.contains(&k.as_str())) {
            refused.push(RowError {
                line: index,
                column: unknown.clone(),
                reason: format!("is not a field of a {} record", format.record_name()),
            });
            continue;
        }
        let cells: Vec<Cell> = names
            .iter()
            .map(|name| match fields.get(*name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(text)) => Ok(clean(text)),
                Some(_) => Err(
                    "must be a string, written as in the file (\"36\", \"1234.50\")".to_string(),
                ),
            })
            .collect();
        rows.push(RawRow { line: index, cells });
    }
    (header, rows, refused)
}

fn load(path: &Path) -> Result<(Vec<u8>, FileKind), FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let kind = FileKind::detect(Some(path), &bytes);
    Ok((bytes, kind))
}

// ---------------------------------------------------------------------------------------------
// From bytes to a grid of trimmed cells

/// A cell's trimmed text, or why the cell cannot be used (an Excel error value).
type Cell = Result<String, String>;

/// One non-blank line (CSV) or row (Excel) with its 1-based number in the file.
struct RawRow {
    line: usize,
    cells: Vec<Cell>,
}

impl RawRow {
    fn is_blank(&self) -> bool {
        self.cells
            .iter()
            .all(|c| matches!(c, Ok(text) if text.is_empty()))
    }
}

fn clean(text: &str) -> String {
    text.trim().trim_start_matches('\u{FEFF}').trim().to_owned()
}

fn decode_text(bytes: &[u8]) -> Result<String, FileError> {
    if bytes.starts_with(OLE_MAGIC) {
        return Err(FileError::Unsupported(
            "a legacy Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV".to_owned(),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or(FileError::Encoding)?
            .into_owned(),
    };
    // NUL never occurs in UTF-8 or GBK text; it is the mark of UTF-16 without a BOM.
    if text.contains('\0') {
        return Err(FileError::Encoding);
    }
    Ok(match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    let text = decode_text(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    // The csv crate's positions lag behind: a record's position is where the reader began
    // scanning for it, before the rest of a CRLF and any skipped blank lines. So each record's
    // real start is found by skipping line terminators from there, and its line is 1 + the line
    // breaks (`\n`, `\r\n` or a lone `\r`) before it.
    let bytes = text.as_bytes();
    let (mut counted_to, mut line) = (0usize, 1usize);
    for record in reader.records() {
        let record = record.map_err(|e| FileError::Csv(e.to_string()))?;
        let scan_start = record.position().map_or(counted_to, |p| {
            usize::try_from(p.byte()).unwrap_or(usize::MAX)
        });
        let mut start = scan_start.clamp(counted_to, bytes.len());
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        // counted_to <= start <= bytes.len(): start was clamped, then stepped over line breaks.
        line += line_breaks(bytes.get(counted_to..start).unwrap_or_default());
        counted_to = start;
        rows.push(RawRow {
            line,
            cells: record.iter().map(|c| Ok(clean(c))).collect(),
        });
    }
    Ok(rows)
}

/// Line breaks in `bytes`: `\n`, `\r\n` or a lone `\r` (a chunk never ends inside `\r\n`).
fn line_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

fn xlsx_rows(bytes: &[u8]) -> Result<Vec<RawRow>, FileError> {
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| FileError::Excel(e.to_string()))?;
    let range = match workbook.worksheet_range_at(0) {
        None => return Err(FileError::Empty),
        Some(range) => range.map_err(|e| FileError::Excel(e.to_string()))?,
    };
    let Some((first_row, _)) = range.start() else {
        return Err(FileError::Empty);
    };
    let first_row = usize::try_from(first_row).unwrap_or(usize::MAX);
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| {
            let mut cells: Vec<Cell> = cells.iter().map(excel_cell).collect();
            // A worksheet range is rectangular: empty cells right of a row's last value are
            // padding, not cells the user typed.
            while matches!(cells.last(), Some(Ok(text)) if text.is_empty()) {
                cells.pop();
            }
            RawRow {
                line: first_row.saturating_add(i).saturating_add(1),
                cells,
            }
        })
        .collect();
    Ok(rows)
}

fn excel_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Ok(String::new()),
        Data::String(text) => Ok(clean(text)),
        Data::Int(n) => Ok(n.to_string()),
        Data::Float(x) => Ok(float_text(*x)),
        Data::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.to_owned()),
        Data::DateTime(dt) => Ok(excel_datetime_text(dt)),
        Data::DateTimeIso(text) => Ok(clean(text.strip_suffix("T00:00:00").unwrap_or(text))),
        Data::DurationIso(text) => Ok(clean(text)),
        Data::Error(e) => Err(format!("holds the Excel error {e}")),
    }
}

/// A number typed in Excel as the text a person would have typed: the shortest representation
/// that reads back to the same float (`1234.5`, `36`, never `1234.4999999`). Float noise such as
/// `0.30000000000000004` is kept, so the money parser rejects it as too precise rather than this
/// code rounding it silently.
fn float_text(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else {
        x.to_string()
    }
}

/// An Excel date as `YYYY-MM-DD`; with a time of day as `YYYY-MM-DD HH:MM:SS` (which the date
/// parser then refuses, naming the value); a duration as its number of days.
fn excel_datetime_text(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        return float_text(dt.as_f64());
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    if (hour, minute, second, milli) == (0, 0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

// ---------------------------------------------------------------------------------------------
// Header, rows, duplicates

fn read_table<T>(
    format: ImportFormat,
    bytes: &[u8],
    kind: FileKind,
    parse: fn(&mut Fields<'_>) -> Option<T>,
) -> Result<Parsed<T>, FileError> {
    let rows = match kind {
        FileKind::Csv => csv_rows(bytes)?,
        FileKind::Xlsx => xlsx_rows(bytes)?,
    };
    let mut rows = rows.into_iter().filter(|row| !row.is_blank());
    let header = rows.next().ok_or(FileError::Empty)?;
    parse_rows(format, header, rows.collect(), kind, parse)
}

/// Parses the rows under `header`: every field of every row, and the duplicated keys.
fn parse_rows<T>(
    format: ImportFormat,
    header: RawRow,
    rows: Vec<RawRow>,
    kind: FileKind,
    parse: fn(&mut Fields<'_>) -> Option<T>,
) -> Result<Parsed<T>, FileError> {
    let map = map_header(format, &header)?;
    let width = header.cells.len();
    let key_column = format.key_column();

    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for mut row in rows {
        if kind == FileKind::Xlsx && row.cells.len() < width {
            // Trailing empty cells were trimmed from the worksheet row; put them back.
            row.cells.resize(width, Ok(String::new()));
        }
        if row.cells.len() != width {
            errors.push(RowError {
                line: row.line,
                column: String::new(),
                reason: format!("has {} cells, expected {width}", row.cells.len()),
            });
            continue;
        }
        let mut fields = Fields {
            line: row.line,
            format,
            cells: &row.cells,
            map: &map,
            errors: Vec::new(),
        };
        let parsed = parse(&mut fields);
        let mut row_errors = std::mem::take(&mut fields.errors);
        if let Some(key_column) = key_column
            && let Some(Ok(key)) = fields.cell(key_column)
            && identifier(key).is_ok()
        {
            match first_seen.get(key.as_str()) {
                Some(first) => row_errors.push(RowError {
                    line: row.line,
                    column: key_column.to_owned(),
                    reason: format!("duplicate {key_column}, first on line {first}"),
                }),
                None => {
                    first_seen.insert(key.clone(), row.line);
                }
            }
        }
        match parsed {
            Some(value) if row_errors.is_empty() => out.push((row.line, value)),
            _ => errors.extend(row_errors),
        }
    }
    Ok(Parsed { rows: out, errors })
}

/// For each column of the format (in format order), then each of its optional columns, the index
/// of its cell in a row (none: an optional column the file does not have).
fn map_header(format: ImportFormat, header: &RawRow) -> Result<Vec<Option<usize>>, FileError> {
    let columns = format.columns();
    let optional = format.optional_columns();
    let mut map: Vec<Option<usize>> = vec![None; columns.len() + optional.len()];
    let mut extra = Vec::new();
    let mut duplicated = Vec::new();
    for (index, cell) in header.cells.iter().enumerate() {
        let name = match cell {
            Ok(text) => text.clone(),
            Err(reason) => reason.clone(),
        };
        let slot = columns.iter().chain(optional).position(|c| *c == name);
        match slot.and_then(|slot| map.get_mut(slot)) {
            Some(Some(_)) => {
                if !duplicated.contains(&name) {
                    duplicated.push(name);
                }
            }
            Some(slot) => *slot = Some(index),
            None => extra.push(name),
        }
    }
    let missing: Vec<String> = columns
        .iter()
        .zip(&map)
        .filter(|(_, slot)| slot.is_none())
        .map(|(c, _)| (*c).to_owned())
        .collect();
    if !missing.is_empty() || !extra.is_empty() || !duplicated.is_empty() {
        return Err(FileError::Header {
            file: format,
            missing,
            extra,
            duplicated,
        });
    }
    Ok(map)
}

/// One data row being validated; collects every field error.
struct Fields<'a> {
    line: usize,
    format: ImportFormat,
    cells: &'a [Cell],
    map: &'a [Option<usize>],
    errors: Vec<RowError>,
}

impl<'a> Fields<'a> {
    fn cell(&self, column: &str) -> Option<&'a Cell> {
        let format = self.format;
        let slot = format
            .columns()
            .iter()
            .chain(format.optional_columns())
            .position(|c| *c == column)?;
        self.map
            .get(slot)
            .copied()
            .flatten()
            .and_then(|index| self.cells.get(index))
    }

    /// Parses an optional field: none when the file has no such column or the cell is empty; on
    /// failure records the error and returns `None`.
    fn optional<T>(
        &mut self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.cell(column) {
            None => Some(None),
            Some(Ok(text)) if text.trim().is_empty() => Some(None),
            Some(_) => self.field(column, parse).map(Some),
        }
    }

    fn fail(&mut self, column: &str, reason: String) {
        self.errors.push(RowError {
            line: self.line,
            column: column.to_owned(),
            reason,
        });
    }

    /// Parses one field; on failure records the error and returns `None`.
    fn field<T>(
        &mut self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let result = match self.cell(column) {
            Some(Ok(text)) => parse(text),
            Some(Err(reason)) => Err(reason.clone()),
            None => Err("is not a column of this file".to_owned()),
        };
        match result {
            Ok(value) => Some(value),
            Err(reason) => {
                self.fail(column, reason);
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field validators: each returns the reason as the user should read it after "column X: ".

fn identifier(text: &str) -> Result<String, String> {
    bounded_text(text, MAX_ID_CHARS, true)
}

fn bounded_text(text: &str, max_chars: usize, required: bool) -> Result<String, String> {
    if required && text.is_empty() {
        return Err("is empty".to_owned());
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "is {chars} characters long, at most {max_chars} allowed"
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!("contains the control character {c:?}"));
    }
    Ok(text.to_owned())
}

fn name_text(text: &str) -> Result<String, String> {
    bounded_text(text, MAX_TEXT_CHARS, true)
}

fn whole_number(text: &str, min: u32, max: u32) -> Result<u32, String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    let value = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().ok()
    } else {
        None
    };
    match value {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("must be from {min} to {max}, got {text}")),
        None if text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("must be from {min} to {max}, got {text}"))
        }
        None => Err(format!("is not a whole number: {text:?}")),
    }
}

fn money_positive(text: &str) -> Result<Money, String> {
    Money::parse_positive(text).map_err(|e| e.to_string())
}

fn money_non_negative(text: &str) -> Result<Money, String> {
    Money::parse_non_negative(text).map_err(|e| e.to_string())
}

fn id_number(text: &str) -> Result<ResidentId, String> {
    ResidentId::parse(text).map_err(|e| e.to_string())
}

fn mobile(text: &str) -> Result<Mobile, String> {
    Mobile::parse(text).map_err(|e| e.to_string())
}

fn vin(text: &str) -> Result<Vin, String> {
    Vin::parse(text).map_err(|e| e.to_string())
}

fn annual_rate(text: &str) -> Result<Rate, String> {
    Rate::parse_annual(text).map_err(|e| e.to_string())
}

fn penalty_markup(text: &str) -> Result<Rate, String> {
    Rate::parse_in(text, Decimal::ZERO, MAX_PENALTY_MARKUP).map_err(|e| e.to_string())
}

fn method(text: &str) -> Result<Method, String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    Method::from_str(text)
}

/// `YYYY-MM-DD`; `YYYY/MM/DD` and `YYYY/M/D` are accepted as a convenience.
fn date(text: &str) -> Result<Date, String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Some(date) = calendar::parse_date(text) {
        return Ok(date);
    }
    let not_a_date = || format!("is not a date in the form YYYY-MM-DD: {text:?}");
    // `-` needs zero padding (`2026-01-05`); `/` does not (`2026/1/5`).
    let (separator, min_len) = if text.contains('/') {
        ('/', 1)
    } else {
        ('-', 2)
    };
    let parts: Vec<&str> = text.split(separator).collect();
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let [year, month, day] = parts.as_slice() else {
        return Err(not_a_date());
    };
    if !(digits(year, 4, 4) && digits(month, min_len, 2) && digits(day, min_len, 2)) {
        return Err(not_a_date());
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<i32>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return Err(not_a_date());
    };
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(_) if year < 1900 => Err(format!("is before 1900: {text:?}")),
        Some(date) => Ok(date),
        None => Err(format!("is not a real date: {text:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Row parsers: every field is parsed before any `?`, so every bad field is reported.

fn parse_product(f: &mut Fields<'_>) -> Option<ProductRow> {
    let code = f.field("code", identifier);
    let name = f.field("name", name_text);
    let grace_days = f.field("grace_days", |t| whole_number(t, 0, MAX_GRACE_DAYS));
    let penalty_rate_markup = f.field("penalty_rate_markup", penalty_markup);
    Some(ProductRow {
        code: code?,
        name: name?,
        grace_days: grace_days?,
        penalty_rate_markup: penalty_rate_markup?,
    })
}

fn parse_borrower(f: &mut Fields<'_>) -> Option<BorrowerRow> {
    let external_id = f.field("external_id", identifier);
    let name = f.field("name", name_text);
    let id_number = f.field("id_number", id_number);
    let mobile = f.field("mobile", mobile);
    let employer = f.field("employer", |t| bounded_text(t, MAX_TEXT_CHARS, false));
    let monthly_income = f.field("monthly_income", money_non_negative);
    let city = f.field("city", name_text);
    let contacts = borrower_contacts(f);
    Some(BorrowerRow {
        external_id: external_id?,
        name: name?,
        id_number: id_number?,
        mobile: mobile?,
        employer: employer?,
        monthly_income: monthly_income?,
        city: city?,
        contacts: contacts?,
    })
}

/// The optional contact columns of a borrower's row: an emergency contact needs its name,
/// relation and mobile together.
fn borrower_contacts(f: &mut Fields<'_>) -> Option<BorrowerContacts> {
    let email = f.optional("email", |t| contact::check_address(Channel::Email, t));
    let wechat_id = f.optional("wechat_id", |t| contact::check_address(Channel::Wechat, t));
    let name = f.optional("emergency_name", name_text);
    let relation = f.optional("emergency_relation", |t| bounded_text(t, 20, true));
    let mobile = f.optional("emergency_mobile", mobile);
    let consent_on = f.optional("emergency_consent_on", date);
    let bank_account = f.optional("bank_account", huifang_core::ids::bank_account);
    let emergency = match (name?, relation?, mobile?, consent_on?) {
        (None, None, None, None) => None,
        (Some(name), Some(relation), Some(mobile), consent_on) => Some(EmergencyRow {
            name,
            relation,
            mobile,
            consent_on,
        }),
        (name, relation, mobile, _) => {
            for (column, given) in [
                ("emergency_name", name.is_some()),
                ("emergency_relation", relation.is_some()),
                ("emergency_mobile", mobile.is_some()),
            ] {
                if !given {
                    f.fail(
                        column,
                        "is empty: an emergency contact needs a name, a relation and a mobile"
                            .into(),
                    );
                }
            }
            return None;
        }
    };
    Some(BorrowerContacts {
        email: email?,
        wechat_id: wechat_id?,
        emergency,
        bank_account: bank_account?,
    })
}

fn parse_loan(f: &mut Fields<'_>) -> Option<LoanRow> {
    let external_id = f.field("external_id", identifier);
    let borrower_external_id = f.field("borrower_external_id", identifier);
    let product_code = f.field("product_code", identifier);
    let principal = f.field("principal", money_positive);
    let annual_rate = f.field("annual_rate", annual_rate);
    let term_months = f.field("term_months", |t| whole_number(t, 1, MAX_TERM_MONTHS));
    let method = f.field("repayment_method", method);
    let disbursed_on = f.field("disbursed_on", date);
    let vin = f.field("vin", vin);
    let vehicle_model = f.field("vehicle_model", name_text);
    let vehicle_price = f.field("vehicle_price", money_positive);
    let dealer = f.field("dealer", name_text);
    if let (Some(principal), Some(term)) = (principal, term_months)
        && principal.fen() < i64::from(term)
    {
        f.fail(
            "principal",
            format!(
                "is too small for a {term}-month term: every installment needs at least one fen"
            ),
        );
    }
    Some(LoanRow {
        external_id: external_id?,
        borrower_external_id: borrower_external_id?,
        product_code: product_code?,
        principal: principal?,
        annual_rate: annual_rate?,
        term_months: term_months?,
        method: method?,
        disbursed_on: disbursed_on?,
        vin: vin?,
        vehicle_model: vehicle_model?,
        vehicle_price: vehicle_price?,
        dealer: dealer?,
    })
}

fn parse_payment(f: &mut Fields<'_>) -> Option<PaymentRow> {
    let external_id = f.field("external_id", identifier);
    let loan_external_id = f.field("loan_external_id", identifier);
    let paid_on = f.field("paid_on", date);
    let amount = f.field("amount", money_positive);
    let channel = f.field("channel", |t| bounded_text(t, MAX_CHANNEL_CHARS, true));
    Some(PaymentRow {
        external_id: external_id?,
        loan_external_id: loan_external_id?,
        paid_on: paid_on?,
        amount: amount?,
        channel: channel?,
    })
}

/// One row of `tracker_events.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerEventRow {
    /// The vehicle the tracker is on (binds it to the loan of this VIN).
    pub vin: String,
    /// The event as the core judges it.
    pub event: TrackerEvent,
}

/// One row of `places.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRow {
    /// The place's key: a place sent again is updated.
    pub external_id: String,
    /// The place (its id is the store's).
    pub place: Place,
}

/// Reads a moment: RFC 3339 with its offset (`2026-12-01T08:00:00+08:00`, `…Z`), or
/// `YYYY-MM-DD HH:MM:SS` at Beijing time (UTC+8). Unix seconds.
pub fn moment(text: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    let beijing = chrono::FixedOffset::east_opt(8 * 3_600)
        .unwrap_or_else(|| unreachable!("UTC+8 is a valid offset"));
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|t| t.and_local_timezone(beijing).single())
        .map(|t| t.timestamp())
        .ok_or_else(|| {
            format!("is not a time (RFC 3339, or YYYY-MM-DD HH:MM:SS at UTC+8): {text:?}")
        })
}

fn parse_tracker_event(f: &mut Fields<'_>) -> Option<TrackerEventRow> {
    let device = f.field("device_id", identifier);
    let vin = f.field("vin", |t| vin(t).map(|v| v.as_str().to_owned()));
    let tracker = f.field("tracker", |t| t.parse::<Tracker>());
    let at = f.field("time", moment);
    let kind = f.field("event", |t| t.parse::<TrackerEventKind>());
    let lat = f.optional("lat", |t| parse_degrees(t, 90));
    let lon = f.optional("lon", |t| parse_degrees(t, 180));
    let point = match (lat?, lon?) {
        (Some(lat_e6), Some(lon_e6)) => Some(Point { lat_e6, lon_e6 }),
        (None, None) => None,
        (None, Some(_)) => {
            f.fail("lat", "is empty while lon is given".to_owned());
            return None;
        }
        (Some(_), None) => {
            f.fail("lon", "is empty while lat is given".to_owned());
            return None;
        }
    };
    let kind = kind?;
    if kind == TrackerEventKind::Position && point.is_none() {
        f.fail("lat", "a position needs lat and lon".to_owned());
        return None;
    }
    Some(TrackerEventRow {
        vin: vin?,
        event: TrackerEvent {
            device: device?,
            tracker: tracker?,
            at: at?,
            kind,
            point,
        },
    })
}

fn parse_place(f: &mut Fields<'_>) -> Option<PlaceRow> {
    let external_id = f.field("external_id", identifier);
    let kind = f.field("kind", |t| t.parse::<PlaceKind>());
    let name = f.field("name", |t| bounded_text(t, MAX_TEXT_CHARS, true));
    let lat = f.field("lat", |t| parse_degrees(t, 90));
    let lon = f.field("lon", |t| parse_degrees(t, 180));
    let radius_m = f.field("radius_m", |t| {
        t.parse::<u32>()
            .ok()
            .filter(|r| (1..=MAX_PLACE_RADIUS_M).contains(r))
            .ok_or_else(|| format!("must be a whole number of metres, 1 to {MAX_PLACE_RADIUS_M}"))
    });
    Some(PlaceRow {
        external_id: external_id?,
        place: Place {
            id: 0,
            kind: kind?,
            name: name?,
            point: Point {
                lat_e6: lat?,
                lon_e6: lon?,
            },
            radius_m: radius_m?,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Writers

fn iso(date: Date) -> String {
    date.to_string() // `Display` is YYYY-MM-DD, without interpreting a pattern per row
}

fn write_rows<W: Write, const N: usize>(
    writer: W,
    header: [&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(header)?;
    for row in rows {
        csv.write_record(&row)?;
    }
    csv.flush()
}

/// Writes `products.csv`: its exact header, then one line per row.
pub fn write_products_csv<W: Write>(writer: W, rows: &[ProductRow]) -> std::io::Result<()> {
    write_rows(
        writer,
        PRODUCT_COLUMNS,
        rows.iter().map(|r| {
            [
                r.code.clone(),
                r.name.clone(),
                r.grace_days.to_string(),
                r.penalty_rate_markup.to_string(),
            ]
        }),
    )
}

/// Writes `borrowers.csv`: its exact header, then one line per row (the full, unmasked ID
/// number — the file is as sensitive as the data it carries).
pub fn write_borrowers_csv<W: Write>(writer: W, rows: &[BorrowerRow]) -> std::io::Result<()> {
    write_rows(
        writer,
        BORROWER_COLUMNS,
        rows.iter().map(|r| {
            [
                r.external_id.clone(),
                r.name.clone(),
                r.id_number.as_str().to_owned(),
                r.mobile.as_str().to_owned(),
                r.employer.clone(),
                r.monthly_income.to_string(),
                r.city.clone(),
            ]
        }),
    )
}

/// Writes `loans.csv`: its exact header, then one line per row.
pub fn write_loans_csv<W: Write>(writer: W, rows: &[LoanRow]) -> std::io::Result<()> {
    write_rows(
        writer,
        LOAN_COLUMNS,
        rows.iter().map(|r| {
            [
                r.external_id.clone(),
                r.borrower_external_id.clone(),
                r.product_code.clone(),
                r.principal.to_string(),
                r.annual_rate.to_string(),
                r.term_months.to_string(),
                r.method.as_str().to_owned(),
                iso(r.disbursed_on),
                r.vin.as_str().to_owned(),
                r.vehicle_model.clone(),
                r.vehicle_price.to_string(),
                r.dealer.clone(),
            ]
        }),
    )
}

/// Writes `payments.csv`: its exact header, then one line per row.
pub fn write_payments_csv<W: Write>(writer: W, rows: &[PaymentRow]) -> std::io::Result<()> {
    write_rows(
        writer,
        PAYMENT_COLUMNS,
        rows.iter().map(|r| {
            [
                r.external_id.clone(),
                r.loan_external_id.clone(),
                iso(r.paid_on),
                r.amount.to_string(),
                r.channel.clone(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_typed() {
        assert_eq!(float_text(1234.5), "1234.5");
        assert_eq!(float_text(36.0), "36");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(0.0485), "0.0485");
        assert_eq!(float_text(150000.0), "150000");
        assert!(Money::parse(&float_text(0.1 + 0.2)).is_err());
    }

    proptest::proptest! {
        /// Any amount of money typed as a number in Excel reads back as exactly that amount.
        #[test]
        // The lossy i64 to f64 conversion is what Excel does to a typed amount: the test's point.
        #[allow(clippy::as_conversions)]
        fn excel_money_numbers_read_back_exactly(fen in -100_000_000_000_000i64..100_000_000_000_000i64) {
            let typed = fen as f64 / 100.0;
            proptest::prop_assert_eq!(Money::parse(&float_text(typed)), Ok(Money::from_fen(fen)));
        }
    }

    #[test]
    fn dates() {
        assert_eq!(date("2026-01-05").map(iso), Ok("2026-01-05".to_owned()));
        assert_eq!(date("2026/01/05").map(iso), Ok("2026-01-05".to_owned()));
        assert_eq!(date("2026/1/5").map(iso), Ok("2026-01-05".to_owned()));
        assert!(date("2026-1-5").is_err());
        assert!(date("2026/02/30").unwrap_err().contains("not a real date"));
        assert!(date("2026/1-5").is_err());
        assert!(date("05/01/2026").is_err());
        assert!(date("2026-01-05 10:00:00").is_err());
        assert_eq!(date(""), Err("is empty".to_owned()));
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(whole_number("36", 1, 600), Ok(36));
        assert!(
            whole_number("0", 1, 600)
                .unwrap_err()
                .contains("from 1 to 600")
        );
        assert!(
            whole_number("99999999999", 1, 600)
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            whole_number("36.5", 1, 600)
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            whole_number("-1", 0, 90)
                .unwrap_err()
                .contains("not a whole number")
        );
    }

    #[test]
    fn csv_line_numbers_count_physical_lines() {
        let lines = |text: &str| {
            csv_rows(text.as_bytes())
                .unwrap()
                .iter()
                .map(|r| r.line)
                .collect::<Vec<_>>()
        };
        assert_eq!(lines("h,a\nA,1\r\nB,2\r\n"), vec![1, 2, 3]);
        assert_eq!(lines("h,a\n\n\r\n\nA,1\n\nB,2"), vec![1, 5, 7]);
        assert_eq!(lines("h,a\rA,1\rB,2\r"), vec![1, 2, 3]);
        assert_eq!(lines("\n\nh,a\nA,\"multi\nline\"\nB,2\n"), vec![3, 4, 6]);
        assert_eq!(lines("\u{FEFF}h,a\r\n\r\nA,1"), vec![1, 3]);
    }

    #[test]
    fn detects_kind() {
        assert_eq!(
            FileKind::detect(Some(Path::new("a.XLSX")), b"x"),
            FileKind::Xlsx
        );
        assert_eq!(FileKind::detect(None, b"PK\x03\x04rest"), FileKind::Xlsx);
        assert_eq!(
            FileKind::detect(Some(Path::new("a.csv")), b"code"),
            FileKind::Csv
        );
    }

    #[test]
    fn decodes() {
        assert_eq!(
            decode_text("\u{FEFF}a,b".as_bytes()).ok(),
            Some("a,b".to_owned())
        );
        let (gbk, _, _) = encoding_rs::GBK.encode("张三,李四");
        assert_eq!(decode_text(&gbk).ok(), Some("张三,李四".to_owned()));
        assert!(matches!(
            decode_text(&[0xFF, 0xFE, b'a', 0]),
            Err(FileError::Encoding)
        ));
        assert!(matches!(decode_text(b"a\0b\0"), Err(FileError::Encoding)));
    }
}
