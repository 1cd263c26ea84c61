//! Charts drawn on the server as SVG elements of the page: no script, nothing fetched. Bar
//! lengths are computed in integers from the exact values (fen or counts).

use std::fmt::Write;

/// One bar: its label, its value (fen or a count), the text shown at its end and its colour.
pub struct Bar {
    pub label: String,
    pub value: i128,
    pub text: String,
    pub color: &'static str,
}

/// Green to red, M0 to M7+.
pub const BUCKET_COLORS: [&str; 8] = [
    "#3ba272", "#91cc75", "#fac858", "#f2a33a", "#ee6666", "#d14a61", "#a12b4a", "#6e1b36",
];
/// Normal to loss.
pub const TIER_COLORS: [&str; 5] = ["#3ba272", "#fac858", "#f2a33a", "#ee6666", "#8b1e3f"];
/// Level 0 (none) to 3.
pub const LEVEL_COLORS: [&str; 4] = ["#91cc75", "#fac858", "#f2a33a", "#ee6666"];

const WIDTH: i128 = 640;
const LABEL: i128 = 110;
const TEXT: i128 = 190;
const ROW: i128 = 28;

/// A horizontal bar chart titled `title`, one bar per item, lengths in proportion to the values.
pub fn bars(items: &[Bar], title: &str) -> String {
    let max = items.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let rows = i128::try_from(items.len()).unwrap_or(0);
    let height = rows * ROW + 36;
    let room = WIDTH - LABEL - TEXT;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="0" y="16" font-size="14" font-weight="bold" fill="#333">{t}</text>"##,
        t = escape(title)
    );
    for (i, b) in (0i128..).zip(items) {
        let y = 28 + i * ROW;
        let len = if b.value > 0 {
            (b.value * room / max).max(2)
        } else {
            0
        };
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end" fill="#333">{label}</text><rect x="{LABEL}" y="{y}" width="{len}" height="{h}" fill="{color}"><title>{label}: {text}</title></rect><text x="{tx}" y="{ty}" font-size="12" fill="#555">{text}</text>"##,
            lx = LABEL - 8,
            ty = y + 15,
            h = ROW - 8,
            tx = LABEL + len + 6,
            label = escape(&b.label),
            text = escape(&b.text),
            color = b.color,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Text made safe inside SVG and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_in_proportion_and_labels_escaped() {
        let svg = bars(
            &[
                Bar {
                    label: "M0".into(),
                    value: 300,
                    text: "a".into(),
                    color: "#000",
                },
                Bar {
                    label: "<M1>".into(),
                    value: 100,
                    text: "b".into(),
                    color: "#111",
                },
            ],
            "T",
        );
        let room = WIDTH - LABEL - TEXT;
        assert!(svg.contains(&format!(r#"width="{room}""#)), "{svg}");
        assert!(svg.contains(&format!(r#"width="{}""#, room / 3)), "{svg}");
        assert!(svg.contains("&lt;M1&gt;") && !svg.contains("<M1>"), "{svg}");
    }
}
