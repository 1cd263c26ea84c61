//! Reading and writing the import files through real files on disk.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::path::{Path, PathBuf};

use huifang_app::files::{
    BORROWER_COLUMNS, FileError, FileKind, ImportFormat, LOAN_COLUMNS, PAYMENT_COLUMNS,
    PRODUCT_COLUMNS, read_borrowers, read_borrowers_bytes, read_loans, read_loans_bytes,
    read_payments, read_payments_bytes, read_products, read_products_bytes, write_borrowers_csv,
    write_loans_csv, write_payments_csv, write_products_csv,
};
use huifang_app::rows::{BorrowerRow, LoanRow, PaymentRow, ProductRow, RowError};
use huifang_core::calendar::parse_date;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::schedule::Method;
use huifang_core::{Money, Rate};
use tempfile::TempDir;

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn rate(text: &str) -> Rate {
    Rate::parse_in(
        text,
        rust_decimal::Decimal::ZERO,
        rust_decimal::Decimal::TEN,
    )
    .unwrap()
}

fn date(text: &str) -> huifang_core::Date {
    parse_date(text).unwrap()
}

/// (line, column) pairs of a `Rows` error, in order.
fn places(err: &FileError) -> Vec<(usize, &str)> {
    assert!(
        matches!(err, FileError::Rows(_)),
        "expected row errors, got {err}"
    );
    err.row_errors()
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect()
}

fn reason<'a>(err: &'a FileError, line: usize, column: &str) -> &'a str {
    err.row_errors()
        .iter()
        .find(|e| e.line == line && e.column == column)
        .map(|e| e.reason.as_str())
        .unwrap_or_else(|| panic!("no error at line {line}, column {column}: {err}"))
}

fn expected_loans() -> Vec<(usize, LoanRow)> {
    vec![
        (
            2,
            LoanRow {
                external_id: "L001".into(),
                borrower_external_id: "B001".into(),
                product_code: "AUTO36".into(),
                principal: money("150000"),
                annual_rate: rate("0.0485"),
                term_months: 36,
                method: Method::Annuity,
                disbursed_on: date("2026-01-15"),
                vin: Vin::parse("1M8GDM9AXKP042788").unwrap(),
                vehicle_model: "Model Y".into(),
                vehicle_price: money("200000.5"),
                dealer: "Beijing Auto Mall".into(),
            },
        ),
        (
            3,
            LoanRow {
                external_id: "L002".into(),
                borrower_external_id: "B002".into(),
                product_code: "AUTO36".into(),
                principal: money("88000.25"),
                annual_rate: rate("0.06"),
                term_months: 24,
                method: Method::EqualPrincipal,
                disbursed_on: date("2026-02-28"),
                vin: Vin::parse("LVSN4BKM0R1944736").unwrap(),
                vehicle_model: "Lavida".into(),
                vehicle_price: money("120000"),
                dealer: "Shanghai Dealer, No. 2".into(),
            },
        ),
    ]
}

const LOANS_CSV: &str = "external_id,borrower_external_id,product_code,principal,annual_rate,term_months,repayment_method,disbursed_on,vin,vehicle_model,vehicle_price,dealer\n\
L001,B001,AUTO36,150000,0.0485,36,annuity,2026-01-15,1M8GDM9AXKP042788,Model Y,200000.50,Beijing Auto Mall\n\
L002,B002,AUTO36,88000.25,0.06,24,equal_principal,2026/2/28,lvsn4bkm0r1944736,Lavida,120000.00,\"Shanghai Dealer, No. 2\"\n";

#[test]
fn utf8_csv_reads_every_format() {
    let dir = TempDir::new().unwrap();

    let products = write(&dir, "products.csv", b"code,name,grace_days,penalty_rate_markup\nAUTO36, Car loan 36 ,3,0.5\r\nAUTO60,Car loan 60,0,0\n");
    let products = read_products(&products).unwrap();
    assert_eq!(
        products,
        vec![
            (
                2,
                ProductRow {
                    code: "AUTO36".into(),
                    name: "Car loan 36".into(),
                    grace_days: 3,
                    penalty_rate_markup: rate("0.5")
                }
            ),
            (
                3,
                ProductRow {
                    code: "AUTO60".into(),
                    name: "Car loan 60".into(),
                    grace_days: 0,
                    penalty_rate_markup: rate("0")
                }
            ),
        ]
    );

    // Columns in another order, a blank line and a line of empty cells are skipped; line
    // numbers stay those of the file.
    let borrowers = write(
        &dir,
        "borrowers.csv",
        b"name,external_id,id_number,mobile,employer,monthly_income,city\nZhang San,B001,11010519491231002X,13800138000,,12000,Beijing\n\n,,,,,,\nLi Si,B002,310104200105087510,+86 139-1234-5678,ACME,0,Shanghai\n",
    );
    let borrowers = read_borrowers(&borrowers).unwrap();
    assert_eq!(
        borrowers,
        vec![
            (
                2,
                BorrowerRow {
                    external_id: "B001".into(),
                    name: "Zhang San".into(),
                    id_number: ResidentId::parse("11010519491231002X").unwrap(),
                    mobile: Mobile::parse("13800138000").unwrap(),
                    employer: String::new(),
                    monthly_income: money("12000"),
                    city: "Beijing".into(),
                    contacts: Default::default(),
                }
            ),
            (
                5,
                BorrowerRow {
                    external_id: "B002".into(),
                    name: "Li Si".into(),
                    id_number: ResidentId::parse("310104200105087510").unwrap(),
                    mobile: Mobile::parse("13912345678").unwrap(),
                    employer: "ACME".into(),
                    monthly_income: Money::ZERO,
                    city: "Shanghai".into(),
                    contacts: Default::default(),
                }
            ),
        ]
    );

    let loans = write(&dir, "loans.csv", LOANS_CSV.as_bytes());
    assert_eq!(read_loans(&loans).unwrap(), expected_loans());

    let payments = write(&dir, "payments.csv", b"external_id,loan_external_id,paid_on,amount,channel\nP001,L001,2026-02-15,4500.5,bank_transfer\nP002,L001,2026/03/15,4500.50,withholding\n");
    assert_eq!(
        read_payments(&payments).unwrap(),
        vec![
            (
                2,
                PaymentRow {
                    external_id: "P001".into(),
                    loan_external_id: "L001".into(),
                    paid_on: date("2026-02-15"),
                    amount: money("4500.50"),
                    channel: "bank_transfer".into()
                }
            ),
            (
                3,
                PaymentRow {
                    external_id: "P002".into(),
                    loan_external_id: "L001".into(),
                    paid_on: date("2026-03-15"),
                    amount: money("4500.50"),
                    channel: "withholding".into()
                }
            ),
        ]
    );
}

#[test]
fn utf8_bom_is_removed() {
    let dir = TempDir::new().unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(
        " code , name,grace_days,penalty_rate_markup\nAUTO36,车贷36期,3,0.5\n".as_bytes(),
    );
    let path = write(&dir, "products.csv", &bytes);
    let rows = read_products(&path).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, 2);
    assert_eq!(rows[0].1.code, "AUTO36");
    assert_eq!(rows[0].1.name, "车贷36期");
}

#[test]
fn gbk_csv_with_chinese_names() {
    let dir = TempDir::new().unwrap();
    let text = "external_id,name,id_number,mobile,employer,monthly_income,city\n\
B001,张三,11010519491231002X,13800138000,北京汽车集团有限公司,12000.00,北京\n\
B002,欧阳·娜娜,11010519680723655X,13912345678,,8500.5,上海\n";
    let (gbk, _, had_errors) = encoding_rs::GBK.encode(text);
    assert!(!had_errors);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "the fixture must not be valid UTF-8"
    );
    let path = write(&dir, "borrowers.csv", &gbk);
    let rows = read_borrowers(&path).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1.name, "张三");
    assert_eq!(rows[0].1.employer, "北京汽车集团有限公司");
    assert_eq!(rows[0].1.city, "北京");
    assert_eq!(rows[1].1.name, "欧阳·娜娜");
    assert_eq!(rows[1].1.monthly_income, money("8500.50"));
    assert_eq!(rows[1].1.id_number.as_str(), "11010519680723655X");

    // Chinese method names in GBK too.
    let loans = LOANS_CSV.replace("annuity", "等额本息");
    let (gbk, _, _) = encoding_rs::GBK.encode(&loans);
    assert_eq!(
        read_loans_bytes(&gbk, FileKind::Csv).unwrap(),
        expected_loans()
    );
}

#[test]
fn neither_utf8_nor_gbk_is_refused() {
    // 0xFF never occurs in GBK/GB18030; a trailing lone lead byte is incomplete.
    for bytes in [
        &b"code,name\xFF,grace_days,penalty_rate_markup\n"[..],
        &b"code,name,grace_days,penalty_rate_markup\nA,\x81"[..],
    ] {
        let err = read_products_bytes(bytes, FileKind::Csv).unwrap_err();
        assert!(matches!(err, FileError::Encoding), "{err}");
    }
    // UTF-16 without a BOM is valid UTF-8 full of NULs.
    let utf16: Vec<u8> = "code,name"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(matches!(
        read_products_bytes(&utf16, FileKind::Csv),
        Err(FileError::Encoding)
    ));
    // A legacy .xls workbook.
    let err = read_products_bytes(
        &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
        FileKind::Csv,
    )
    .unwrap_err();
    assert!(matches!(err, FileError::Unsupported(_)), "{err}");
}

fn loans_workbook(rows: &[[Cell; 12]]) -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    for (col, name) in LOAN_COLUMNS.iter().enumerate() {
        sheet.write_string(0, col as u16, *name).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    sheet.write_string(r, c, *s).unwrap();
                }
                Cell::Number(x) => {
                    sheet.write_number(r, c, *x).unwrap();
                }
                Cell::Date(y, m, d) => {
                    sheet
                        .write_date_with_format(
                            r,
                            c,
                            ExcelDateTime::from_ymd(*y, *m, *d).unwrap(),
                            &date_format,
                        )
                        .unwrap();
                }
                Cell::Empty => {}
            }
        }
    }
    // A second worksheet is ignored.
    workbook
        .add_worksheet()
        .write_string(0, 0, "ignored")
        .unwrap();
    workbook.save_to_buffer().unwrap()
}

#[derive(Clone, Copy)]
enum Cell {
    Text(&'static str),
    Number(f64),
    Date(u16, u8, u8),
    Empty,
}

use Cell::{Date, Number, Text};

#[test]
fn xlsx_reads_the_same_rows_as_csv() {
    let dir = TempDir::new().unwrap();
    let bytes = loans_workbook(&[
        [
            Text("L001"),
            Text("B001"),
            Text("AUTO36"),
            Number(150000.0),
            Number(0.0485),
            Number(36.0),
            Text("annuity"),
            Date(2026, 1, 15),
            Text("1M8GDM9AXKP042788"),
            Text("Model Y"),
            Number(200000.5),
            Text(" Beijing Auto Mall "),
        ],
        [
            Text("L002"),
            Text("B002"),
            Text("AUTO36"),
            Number(88000.25),
            Text("0.06"),
            Text("24"),
            Text("equal_principal"),
            Text("2026/2/28"),
            Text("LVSN4BKM0R1944736"),
            Text("Lavida"),
            Number(120000.0),
            Text("Shanghai Dealer, No. 2"),
        ],
    ]);
    let csv_rows = read_loans(&write(&dir, "loans.csv", LOANS_CSV.as_bytes())).unwrap();
    assert_eq!(csv_rows, expected_loans());
    // By extension.
    assert_eq!(
        read_loans(&write(&dir, "loans.xlsx", &bytes)).unwrap(),
        csv_rows
    );
    // By the ZIP signature, whatever the extension says.
    assert_eq!(
        read_loans(&write(&dir, "loans.dat", &bytes)).unwrap(),
        csv_rows
    );
    assert_eq!(read_loans_bytes(&bytes, FileKind::Xlsx).unwrap(), csv_rows);
    assert_eq!(FileKind::detect(None, &bytes), FileKind::Xlsx);
}

#[test]
fn xlsx_errors_name_the_excel_row() {
    let good = |id: &'static str| {
        [
            Text(id),
            Text("B001"),
            Text("AUTO36"),
            Number(150000.0),
            Number(0.0485),
            Number(36.0),
            Text("annuity"),
            Date(2026, 1, 15),
            Text("1M8GDM9AXKP042788"),
            Text("Model Y"),
            Number(200000.0),
            Text("Dealer"),
        ]
    };
    let mut noisy = good("L002");
    noisy[3] = Number(0.1 + 0.2); // float noise is not silently rounded
    noisy[5] = Number(36.5);
    let mut blank = good("");
    blank.iter_mut().for_each(|c| *c = Cell::Empty);
    let mut late = good("L003");
    late[1] = Cell::Empty;
    let bytes = loans_workbook(&[good("L001"), noisy, blank, late]);
    let err = read_loans_bytes(&bytes, FileKind::Xlsx).unwrap_err();
    assert_eq!(
        places(&err),
        vec![
            (3, "principal"),
            (3, "term_months"),
            (5, "borrower_external_id")
        ]
    );
    assert!(
        reason(&err, 3, "principal").contains("more than 2 decimal places"),
        "{err}"
    );
    assert!(
        reason(&err, 3, "term_months").contains("not a whole number"),
        "{err}"
    );
    assert_eq!(reason(&err, 5, "borrower_external_id"), "is empty");

    let err = read_loans_bytes(b"not a zip", FileKind::Xlsx).unwrap_err();
    assert!(matches!(err, FileError::Excel(_)), "{err}");
}

#[test]
fn every_bad_field_of_every_bad_row_is_reported() {
    let dir = TempDir::new().unwrap();
    let text = "external_id,name,id_number,mobile,employer,monthly_income,city\n\
B001,Zhang San,11010519491231002X,13800138000,ACME,12000,Beijing\n\
B002,Li Si,110105194912310021,13800138000,ACME,12000,Beijing\n\
B003,,11010519490230002X,12345,ACME,-5,\n\
B004,Wang Wu,370202199505033683,13800138000,ACME,12000.123,Beijing\n\
B005,Zhao Liu,370202199505033683,13800138000,ACME,1000\n\
B006,Sun Qi,510107196502067625,13800138000,ACME,abc,Chengdu\n";
    let path = write(&dir, "borrowers.csv", text.as_bytes());
    let err = read_borrowers(&path).unwrap_err();
    assert_eq!(
        places(&err),
        vec![
            (3, "id_number"),
            (4, "name"),
            (4, "id_number"),
            (4, "mobile"),
            (4, "monthly_income"),
            (4, "city"),
            (5, "monthly_income"),
            (6, ""),
            (7, "monthly_income"),
        ]
    );
    assert_eq!(
        reason(&err, 3, "id_number"),
        "check character is 1, expected X"
    );
    assert_eq!(reason(&err, 4, "name"), "is empty");
    assert!(
        reason(&err, 4, "id_number").contains("birth date 19490230"),
        "{err}"
    );
    assert!(reason(&err, 4, "mobile").contains("mobile"), "{err}");
    assert_eq!(reason(&err, 4, "monthly_income"), "must not be negative");
    assert!(
        reason(&err, 5, "monthly_income").contains("more than 2 decimal places"),
        "{err}"
    );
    assert_eq!(reason(&err, 6, ""), "has 6 cells, expected 7");
    assert!(
        reason(&err, 7, "monthly_income").contains("not a decimal number"),
        "{err}"
    );

    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(
        lines[0],
        "line 3, column id_number: check character is 1, expected X"
    );
    assert_eq!(lines[7], "line 6: has 6 cells, expected 7");
}

#[test]
fn loan_and_payment_fields_are_validated() {
    let loans = "external_id,borrower_external_id,product_code,principal,annual_rate,term_months,repayment_method,disbursed_on,vin,vehicle_model,vehicle_price,dealer\n\
L001,B001,AUTO36,0,1.5,601,balloon,2026-02-30,1M8GDM9A1KP042788,,0,\n\
L002,B001,AUTO36,0.10,0.05,36,flat,2026-1-5,1M8GDM9AXKP042788,X,1,D\n";
    let err = read_loans_bytes(loans.as_bytes(), FileKind::Csv).unwrap_err();
    assert_eq!(
        places(&err),
        vec![
            (2, "principal"),
            (2, "annual_rate"),
            (2, "term_months"),
            (2, "repayment_method"),
            (2, "disbursed_on"),
            (2, "vin"),
            (2, "vehicle_model"),
            (2, "vehicle_price"),
            (2, "dealer"),
            (3, "disbursed_on"),
            (3, "principal"),
        ]
    );
    assert_eq!(reason(&err, 2, "principal"), "must be greater than zero");
    assert_eq!(reason(&err, 2, "annual_rate"), "must be between 0 and 1");
    assert_eq!(
        reason(&err, 2, "term_months"),
        "must be from 1 to 600, got 601"
    );
    assert!(
        reason(&err, 2, "repayment_method").contains("unknown repayment method"),
        "{err}"
    );
    assert!(
        reason(&err, 2, "disbursed_on").contains("not a real date"),
        "{err}"
    );
    assert_eq!(reason(&err, 2, "vin"), "check character is 1, expected X");
    assert!(
        reason(&err, 3, "disbursed_on").contains("YYYY-MM-DD"),
        "{err}"
    );
    assert!(
        reason(&err, 3, "principal").contains("too small for a 36-month term"),
        "{err}"
    );

    let payments = "external_id,loan_external_id,paid_on,amount,channel\n\
P001,L001,2026-02-15,0,\n\
P002,L\u{7}01,15/02/2026,12.345,a_channel_name_that_is_far_too_long\n";
    let err = read_payments_bytes(payments.as_bytes(), FileKind::Csv).unwrap_err();
    assert_eq!(
        places(&err),
        vec![
            (2, "amount"),
            (2, "channel"),
            (3, "loan_external_id"),
            (3, "paid_on"),
            (3, "amount"),
            (3, "channel")
        ]
    );
    assert!(
        reason(&err, 3, "loan_external_id").contains("control character"),
        "{err}"
    );
    assert!(reason(&err, 3, "channel").contains("at most 32"), "{err}");

    let products = format!(
        "code,name,grace_days,penalty_rate_markup\n{},P,91,10.5\nOK,P,90,10\n",
        "C".repeat(65)
    );
    let err = read_products_bytes(products.as_bytes(), FileKind::Csv).unwrap_err();
    assert_eq!(
        places(&err),
        vec![(2, "code"), (2, "grace_days"), (2, "penalty_rate_markup")]
    );
    assert_eq!(
        reason(&err, 2, "code"),
        "is 65 characters long, at most 64 allowed"
    );
    assert_eq!(
        reason(&err, 2, "penalty_rate_markup"),
        "must be between 0 and 10"
    );
}

#[test]
fn header_must_hold_exactly_the_columns() {
    // (header line, missing, extra, duplicated)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 4] = [
        ("code,name,grace_days\n", &["penalty_rate_markup"], &[], &[]),
        (
            "code,name,grace_days,penalty_rate_markup,note\n",
            &[],
            &["note"],
            &[],
        ),
        (
            "code,name,grace_days,penalty,fee\n",
            &["penalty_rate_markup"],
            &["penalty", "fee"],
            &[],
        ),
        (
            "code,name,grace_days,penalty_rate_markup,code\n",
            &[],
            &[],
            &["code"],
        ),
    ];
    for (text, want_missing, want_extra, want_duplicated) in cases {
        let err = read_products_bytes(text.as_bytes(), FileKind::Csv).unwrap_err();
        let FileError::Header {
            file,
            missing,
            extra,
            duplicated,
        } = &err
        else {
            panic!("expected a header error for {text:?}, got {err}")
        };
        assert_eq!(*file, ImportFormat::Products);
        assert_eq!(missing, want_missing);
        assert_eq!(extra, want_extra);
        assert_eq!(duplicated, want_duplicated);
    }
    let err =
        read_products_bytes(b"code,name,grace_days,penalty,fee\n", FileKind::Csv).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad header for products.csv: missing columns: penalty_rate_markup; unexpected columns: \"penalty\", \"fee\""
    );

    // Another format's header is refused, naming both sides.
    let err = read_payments_bytes(b"code,name,grace_days,penalty_rate_markup\n", FileKind::Csv)
        .unwrap_err();
    assert!(
        matches!(&err, FileError::Header { missing, extra, .. } if missing.len() == 5 && extra.len() == 4),
        "{err}"
    );

    // Empty files, and a header without rows.
    for empty in [&b""[..], b"\n\n", b"\xEF\xBB\xBF", b" , ,\n"] {
        assert!(
            matches!(
                read_products_bytes(empty, FileKind::Csv),
                Err(FileError::Empty)
            ),
            "{empty:?}"
        );
    }
    assert!(
        read_products_bytes(b"code,name,grace_days,penalty_rate_markup\n", FileKind::Csv)
            .unwrap()
            .is_empty()
    );

    let dir = TempDir::new().unwrap();
    let err = read_products(&dir.path().join("missing.csv")).unwrap_err();
    assert!(matches!(err, FileError::Read { .. }), "{err}");
    assert!(err.to_string().contains("missing.csv"), "{err}");
}

#[test]
fn duplicates_are_reported_on_the_later_line() {
    let text = "external_id,loan_external_id,paid_on,amount,channel\n\
P001,L001,2026-02-15,100,cash\n\
P002,L001,2026-02-15,100,cash\n\
P001,L001,2026-02-16,100,cash\n\
P002,L001,bad,100,cash\n";
    let err = read_payments_bytes(text.as_bytes(), FileKind::Csv).unwrap_err();
    assert_eq!(
        err.row_errors(),
        &[
            RowError {
                line: 4,
                column: "external_id".into(),
                reason: "duplicate external_id, first on line 2".into()
            },
            RowError {
                line: 5,
                column: "paid_on".into(),
                reason: "is not a date in the form YYYY-MM-DD: \"bad\"".into()
            },
            RowError {
                line: 5,
                column: "external_id".into(),
                reason: "duplicate external_id, first on line 3".into()
            },
        ]
    );
    let products = "code,name,grace_days,penalty_rate_markup\nA,x,1,0\nB,x,1,0\n\nA,y,2,0\n";
    let err = read_products_bytes(products.as_bytes(), FileKind::Csv).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 5, column code: duplicate code, first on line 2"
    );
}

fn round_trip_dir() -> TempDir {
    TempDir::new().unwrap()
}

fn written(
    dir: &TempDir,
    name: &str,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> PathBuf {
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    write(&mut file).unwrap();
    path
}

fn header_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn write_then_read_gives_back_the_same_rows() {
    let dir = round_trip_dir();

    let products = vec![
        ProductRow {
            code: "AUTO36".into(),
            name: "车贷 36 期, 标准".into(),
            grace_days: 3,
            penalty_rate_markup: rate("0.5"),
        },
        ProductRow {
            code: "AUTO60".into(),
            name: "Car \"plus\"".into(),
            grace_days: 90,
            penalty_rate_markup: rate("10"),
        },
    ];
    let path = written(&dir, "products.csv", |f| write_products_csv(f, &products));
    assert_eq!(header_of(&path), PRODUCT_COLUMNS.join(","));
    let back: Vec<ProductRow> = read_products(&path)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(back, products);

    let borrowers = vec![
        BorrowerRow {
            external_id: "B001".into(),
            name: "张三".into(),
            id_number: ResidentId::parse("11010519491231002X").unwrap(),
            mobile: Mobile::parse("13800138000").unwrap(),
            employer: String::new(),
            monthly_income: money("12000.5"),
            city: "北京".into(),
            contacts: Default::default(),
        },
        BorrowerRow {
            external_id: "B002".into(),
            name: "Li, Si".into(),
            id_number: ResidentId::parse("370202199505033683").unwrap(),
            mobile: Mobile::parse("19912345678").unwrap(),
            employer: "ACME".into(),
            monthly_income: Money::ZERO,
            city: "Qingdao".into(),
            contacts: Default::default(),
        },
    ];
    let path = written(&dir, "borrowers.csv", |f| {
        write_borrowers_csv(f, &borrowers)
    });
    assert_eq!(header_of(&path), BORROWER_COLUMNS.join(","));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("11010519491231002X"),
        "the full ID number is written, not the masked one"
    );
    assert!(
        text.contains(",12000.50,"),
        "money is written with two decimals: {text}"
    );
    let back: Vec<BorrowerRow> = read_borrowers(&path)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(back, borrowers);

    let loans: Vec<LoanRow> = expected_loans()
        .into_iter()
        .map(|(_, r)| r)
        .chain([LoanRow {
            external_id: "L003".into(),
            borrower_external_id: "B002".into(),
            product_code: "AUTO60".into(),
            principal: money("0.60"),
            annual_rate: Rate::ZERO,
            term_months: 60,
            method: Method::Flat,
            disbursed_on: date("2024-02-29"),
            vin: Vin::parse("11111111111111111").unwrap(),
            vehicle_model: "比亚迪 秦".into(),
            vehicle_price: money("0.01"),
            dealer: "经销商".into(),
        }])
        .collect();
    let path = written(&dir, "loans.csv", |f| write_loans_csv(f, &loans));
    assert_eq!(header_of(&path), LOAN_COLUMNS.join(","));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(",150000.00,0.0485,36,annuity,2026-01-15,"),
        "{text}"
    );
    assert!(text.contains(",0.60,0.00,60,flat,2024-02-29,"), "{text}");
    let back: Vec<(usize, LoanRow)> = read_loans(&path).unwrap();
    assert_eq!(
        back.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert_eq!(back.into_iter().map(|(_, r)| r).collect::<Vec<_>>(), loans);

    let payments = vec![
        PaymentRow {
            external_id: "P001".into(),
            loan_external_id: "L001".into(),
            paid_on: date("2026-02-15"),
            amount: money("4500.5"),
            channel: "bank_transfer".into(),
        },
        PaymentRow {
            external_id: "P002".into(),
            loan_external_id: "L003".into(),
            paid_on: date("2026-12-31"),
            amount: money("0.01"),
            channel: "wechat_pay".into(),
        },
    ];
    let path = written(&dir, "payments.csv", |f| write_payments_csv(f, &payments));
    assert_eq!(header_of(&path), PAYMENT_COLUMNS.join(","));
    let back: Vec<PaymentRow> = read_payments(&path)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(back, payments);

    // Writing nothing gives a header-only file that reads back as no rows.
    let path = written(&dir, "empty.csv", |f| write_payments_csv(f, &[]));
    assert!(read_payments(&path).unwrap().is_empty());
}

#[test]
fn xlsx_borrowers_with_numbers_text_and_a_header_below_blank_rows() {
    use rust_xlsxwriter::Workbook;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    // Header on Excel row 3 (rows 1-2 empty), columns reordered, starting at column B.
    let header = [
        "city",
        "external_id",
        "name",
        "id_number",
        "mobile",
        "employer",
        "monthly_income",
    ];
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(2, c as u16 + 1, *name).unwrap();
    }
    sheet.write_string(3, 1, "北京").unwrap();
    sheet.write_string(3, 2, "B001").unwrap();
    sheet.write_string(3, 3, "张三").unwrap();
    sheet.write_string(3, 4, "11010519491231002X").unwrap();
    sheet.write_number(3, 5, 13800138000.0).unwrap(); // a phone typed as a number
    sheet.write_number(3, 7, 12000.5).unwrap(); // employer left empty
    sheet.write_string(5, 1, "上海").unwrap(); // row 6, after an empty row 5
    sheet.write_string(5, 2, "B002").unwrap();
    sheet.write_string(5, 3, "李四").unwrap();
    sheet.write_string(5, 4, "310104200105087510").unwrap();
    sheet.write_string(5, 5, "13912345678").unwrap();
    sheet.write_boolean(5, 6, true).unwrap();
    sheet.write_number(5, 7, 0.0).unwrap();
    sheet.write_string(5, 9, "stray").unwrap(); // a value right of the last column
    let bytes = workbook.save_to_buffer().unwrap();

    let err = read_borrowers_bytes(&bytes, FileKind::Xlsx).unwrap_err();
    assert_eq!(err.to_string(), "line 6: has 9 cells, expected 7");

    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(2, c as u16 + 1, *name).unwrap();
    }
    for (c, value) in ["北京", "B001", "张三", "11010519491231002X"]
        .iter()
        .enumerate()
    {
        sheet.write_string(3, c as u16 + 1, *value).unwrap();
    }
    sheet.write_number(3, 5, 13800138000.0).unwrap();
    sheet.write_number(3, 7, 12000.5).unwrap();
    let rows = read_borrowers_bytes(&workbook.save_to_buffer().unwrap(), FileKind::Xlsx).unwrap();
    assert_eq!(
        rows,
        vec![(
            4,
            BorrowerRow {
                external_id: "B001".into(),
                name: "张三".into(),
                id_number: ResidentId::parse("11010519491231002X").unwrap(),
                mobile: Mobile::parse("13800138000").unwrap(),
                employer: String::new(),
                monthly_income: money("12000.50"),
                city: "北京".into(),
                contacts: Default::default(),
            }
        )]
    );

    // A workbook whose first worksheet is empty.
    let mut workbook = Workbook::new();
    workbook.add_worksheet();
    assert!(matches!(
        read_borrowers_bytes(&workbook.save_to_buffer().unwrap(), FileKind::Xlsx),
        Err(FileError::Empty)
    ));
}
