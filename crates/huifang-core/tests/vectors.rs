//! The independent reference vectors in `shared/vectors/` must pass exactly.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::path::PathBuf;

use huifang_core::calendar::parse_date;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::schedule::{Method, ScheduleTerms, build};
use huifang_core::{Money, Rate};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    match std::env::var_os("HUIFANG_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    }
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vector file {} must exist: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn schedules_match_to_the_fen() {
    let doc = load("schedules.json");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 7);
    let mut checked = 0;
    for case in cases {
        let terms = ScheduleTerms {
            principal: Money::parse(s(&case["principal"])).unwrap(),
            annual_rate: Rate::parse_annual(s(&case["annual_rate"])).unwrap(),
            term_months: u32::try_from(case["term_months"].as_u64().unwrap()).unwrap(),
            method: s(&case["method"]).parse::<Method>().unwrap(),
            start: parse_date(s(&case["disbursed_on"])).unwrap(),
        };
        let got = build(&terms).unwrap();
        let want = case["installments"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{case:?}");
        for (g, w) in got.iter().zip(want) {
            let label = format!(
                "{} {} {} n={}",
                terms.method, terms.principal, terms.annual_rate, g.n
            );
            assert_eq!(u64::from(g.n), w["n"].as_u64().unwrap(), "{label}");
            assert_eq!(
                g.due_date.to_string(),
                s(&w["due_date"]),
                "{label} due_date"
            );
            assert_eq!(
                g.principal.to_string(),
                s(&w["principal"]),
                "{label} principal"
            );
            assert_eq!(
                g.interest.to_string(),
                s(&w["interest"]),
                "{label} interest"
            );
            assert_eq!(g.payment.to_string(), s(&w["payment"]), "{label} payment");
            assert_eq!(
                g.balance_after.to_string(),
                s(&w["balance_after"]),
                "{label} balance_after"
            );
            checked += 1;
        }
    }
    assert!(checked > 200);
}

#[test]
fn identifiers_match() {
    let doc = load("identifiers.json");
    let ids = &doc["resident_id"];
    for v in ids["valid"].as_array().unwrap() {
        assert!(ResidentId::parse(s(v)).is_ok(), "{v} should be valid");
    }
    for v in ids["invalid"].as_array().unwrap() {
        assert!(
            ResidentId::parse(s(&v["value"])).is_err(),
            "{v} should be invalid"
        );
    }
    let vins = &doc["vin"];
    for v in vins["valid"].as_array().unwrap() {
        assert!(Vin::parse(s(v)).is_ok(), "{v} should be valid");
    }
    for v in vins["invalid"].as_array().unwrap() {
        assert!(Vin::parse(s(&v["value"])).is_err(), "{v} should be invalid");
    }
    let mobiles = &doc["mobile"];
    for v in mobiles["valid"].as_array().unwrap() {
        assert!(Mobile::parse(s(v)).is_ok(), "{v} should be valid");
    }
    for v in mobiles["invalid"].as_array().unwrap() {
        assert!(Mobile::parse(s(v)).is_err(), "{v} should be invalid");
    }
}
