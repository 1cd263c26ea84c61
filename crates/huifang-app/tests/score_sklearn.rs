//! The risk score's logistic regression against scikit-learn's on the same rows: the same
//! coefficients (scikit-learn's `LogisticRegression` with the same L2 penalty, on the rows
//! standardised here), and the same holdout AUC (`roc_auc_score`).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::fmt::Write as _;
use std::process::Command;

use huifang_core::score::{Model, ModelKind, RIDGE, auc};

/// A deterministic stream of numbers in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rows of the behaviour model's width whose outcome follows a known logistic law, with noise.
fn rows(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
    let mut r = Lcg(seed);
    let truth = [
        1.2, 0.3, 0.8, 0.5, 0.0, 0.4, 0.2, -0.05, 1.0, 0.6, 0.9, 4.0, -0.02,
    ];
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for _ in 0..n {
        let x: Vec<f64> = vec![
            (r.next() * 120.0).ln_1p(),
            (r.next() * 12.0).floor(),
            (r.next() * 150.0).ln_1p(),
            (r.next() * 3.0).floor(),
            (r.next() * 2.0).floor(),
            if r.next() < 0.05 { 1.0 } else { 0.0 },
            (r.next() * 4.0).floor(),
            (r.next() * 60.0).floor(),
            r.next(),
            0.4 + r.next() * 0.6,
            r.next() * 0.8,
            0.02 + r.next() * 0.1,
            [12.0, 24.0, 36.0, 48.0, 60.0][(r.next() * 5.0) as usize],
        ];
        let eta: f64 = -9.0 + x.iter().zip(truth).map(|(a, b)| a * b).sum::<f64>();
        ys.push(r.next() < 1.0 / (1.0 + (-eta).exp()));
        xs.push(x);
    }
    (xs, ys)
}

fn csv(rows: &[Vec<f64>], ys: &[bool]) -> String {
    let mut out = String::new();
    for (x, y) in rows.iter().zip(ys) {
        for v in x {
            write!(out, "{v:?},").unwrap();
        }
        writeln!(out, "{}", u8::from(*y)).unwrap();
    }
    out
}

#[test]
fn the_fit_and_its_auc_agree_with_scikit_learn() {
    let (train, train_y) = rows(4_000, 7);
    let (hold, hold_y) = rows(1_500, 8);
    let model = Model::fit(ModelKind::Behaviour, &train, &train_y).unwrap();
    let scores: Vec<f64> = hold.iter().map(|x| model.probability(x)).collect();
    let ours = auc(&scores, &hold_y).unwrap();
    assert!(train_y.iter().filter(|y| **y).count() > 200);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.csv"), csv(&train, &train_y)).unwrap();
    std::fs::write(dir.path().join("hold.csv"), csv(&hold, &hold_y)).unwrap();
    let script = format!(
        r#"
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
t = np.loadtxt("{dir}/train.csv", delimiter=",")
h = np.loadtxt("{dir}/hold.csv", delimiter=",")
X, y = t[:, :-1], t[:, -1]
mean = X.mean(axis=0)
sd = X.std(axis=0)
sd[sd < 1e-6] = 1.0
m = LogisticRegression(C=1.0 / ({ridge:?} * len(y)), tol=1e-12, max_iter=100000, solver="newton-cg")
m.fit((X - mean) / sd, y)
p = m.predict_proba((h[:, :-1] - mean) / sd)[:, 1]
print(repr(float(m.intercept_[0])))
print(",".join(repr(float(c)) for c in m.coef_[0]))
print(repr(float(roc_auc_score(h[:, -1], p))))
"#,
        dir = dir.path().display(),
        ridge = RIDGE,
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 (with numpy and scikit-learn: installed by scripts/test)");
    assert!(
        out.status.success(),
        "scikit-learn failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let intercept: f64 = lines.next().unwrap().parse().unwrap();
    let coefs: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let theirs: f64 = lines.next().unwrap().parse().unwrap();
    assert_eq!(coefs.len(), model.coefficients.len());
    assert!(
        (intercept - model.intercept).abs() < 1e-5,
        "intercept {intercept} vs {}",
        model.intercept
    );
    for (i, (a, b)) in coefs.iter().zip(&model.coefficients).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "coefficient {i}: scikit-learn {a}, ours {b}"
        );
    }
    assert!(
        (ours - theirs).abs() < 1e-9,
        "AUC {ours} vs scikit-learn {theirs}"
    );
}
