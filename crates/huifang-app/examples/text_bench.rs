//! Benchmark of the Chinese text reader: the labelled set's sentences read over and over, as a
//! day's notes and replies would be; prints the tokenizer's loading time and notes per second.
//!
//!   cargo run --release -p huifang-app --example text_bench [NOTES]

// A benchmark program: it may panic on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::time::Instant;

fn main() {
    let notes: usize = std::env::args()
        .nth(1)
        .map_or(200_000, |n| n.parse().expect("NOTES: a number"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/text_signals.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let sentences: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let started = Instant::now();
    let reader = huifang_app::text::reader();
    let loaded = started.elapsed();
    let started = Instant::now();
    let (mut signals, mut chars) = (0usize, 0usize);
    for i in 0..notes {
        let s = sentences[i % sentences.len()];
        chars += s.chars().count();
        signals += reader.read(s).len();
    }
    let took = started.elapsed();
    println!(
        "text reader: {} sentences of the set, {notes} notes read ({} characters, {signals} signals) in {:.3} s: {:.0} notes/s; jieba and the lexicon loaded in {:.3} s",
        sentences.len(),
        chars,
        took.as_secs_f64(),
        notes as f64 / took.as_secs_f64(),
        loaded.as_secs_f64()
    );
}
