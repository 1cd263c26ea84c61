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

/// One line of a line chart: its label, colour and a value per category (basis points of a
/// percentage; `None` where there is none).
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub points: Vec<Option<i128>>,
}

/// Colours of the lines, in turn.
pub const LINE_COLORS: [&str; 10] = [
    "#5470c6", "#ee6666", "#3ba272", "#fac858", "#73c0de", "#9a60b4", "#fc8452", "#91cc75",
    "#ea7ccc", "#6e7074",
];

const PLOT_LEFT: i128 = 56;
const PLOT_TOP: i128 = 28;
const PLOT_HEIGHT: i128 = 200;
const LEGEND: i128 = 150;

/// A line chart titled `title` of percentages (values in basis points) over `categories`, with
/// the y axis from 0 to the largest value, a legend, and each point's value in its tooltip.
pub fn lines(categories: &[String], series: &[Series], title: &str) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i128::try_from(categories.len()).unwrap_or(0).max(1);
    let plot = WIDTH - PLOT_LEFT - LEGEND;
    let step = if n > 1 { plot / (n - 1) } else { 0 };
    let x = |i: i128| PLOT_LEFT + i * step;
    let y = |v: i128| PLOT_TOP + PLOT_HEIGHT - v * PLOT_HEIGHT / max;
    let height = PLOT_TOP + PLOT_HEIGHT + 40;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><text x="0" y="16" font-size="14" font-weight="bold" fill="#333">{t}</text>"##,
        t = escape(title)
    );
    // the axes, the top value and the categories (at most ten labels)
    let _ = write!(
        svg,
        r##"<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{b}" stroke="#999"/><line x1="{PLOT_LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><text x="{lx}" y="{ty}" font-size="11" text-anchor="end" fill="#555">{top}%</text><text x="{lx}" y="{b}" font-size="11" text-anchor="end" fill="#555">0%</text>"##,
        b = PLOT_TOP + PLOT_HEIGHT,
        r = PLOT_LEFT + plot,
        lx = PLOT_LEFT - 4,
        ty = PLOT_TOP + 4,
        top = escape(&format!("{}.{:02}", max / 100, max % 100)),
    );
    // at most ten labels, fewer when they are long (about 6 px a character at this size)
    let longest = categories
        .iter()
        .map(|c| i128::try_from(c.chars().count()).unwrap_or(0))
        .max()
        .unwrap_or(1);
    let fit = (plot / (longest * 6 + 12)).clamp(2, 10);
    let every = (n + fit - 1) / fit;
    for (i, c) in (0i128..).zip(categories) {
        // every `every`-th label and the last, none too close to the last
        if (i % every.max(1) == 0 && n - 1 - i >= every.max(2)) || i == n - 1 {
            let _ = write!(
                svg,
                r##"<text x="{cx}" y="{cy}" font-size="10" text-anchor="middle" fill="#555">{label}</text>"##,
                cx = x(i),
                cy = PLOT_TOP + PLOT_HEIGHT + 16,
                label = escape(c)
            );
        }
    }
    for (k, s) in (0i128..).zip(series) {
        let mut path = String::new();
        for (i, p) in (0i128..).zip(&s.points) {
            if let Some(v) = p {
                let _ = write!(
                    path,
                    "{} {},{} ",
                    if path.is_empty() { "M" } else { "L" },
                    x(i),
                    y(*v)
                );
            }
        }
        let _ = write!(
            svg,
            r##"<path d="{path}" fill="none" stroke="{color}" stroke-width="2"><title>{label}</title></path>"##,
            path = path.trim_end(),
            color = s.color,
            label = escape(&s.label)
        );
        for (i, p) in (0i128..).zip(&s.points) {
            if let Some(v) = p {
                let _ = write!(
                    svg,
                    r##"<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"><title>{label} {cat}: {val}%</title></circle>"##,
                    cx = x(i),
                    cy = y(*v),
                    color = s.color,
                    label = escape(&s.label),
                    cat = escape(
                        categories
                            .get(usize::try_from(i).unwrap_or(0))
                            .map_or("", String::as_str)
                    ),
                    val = format_args!("{}.{:02}", v / 100, v % 100),
                );
            }
        }
        let ly = PLOT_TOP + k * 16;
        let _ = write!(
            svg,
            r##"<rect x="{lx}" y="{ry}" width="10" height="10" fill="{color}"/><text x="{tx}" y="{ty}" font-size="11" fill="#333">{label}</text>"##,
            lx = WIDTH - LEGEND + 10,
            ry = ly,
            tx = WIDTH - LEGEND + 24,
            ty = ly + 9,
            color = s.color,
            label = escape(&s.label)
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
