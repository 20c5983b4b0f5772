//! Inline SVG charts: bars with their 95% intervals, bars grouped by category, score
//! histograms, radars and lines over time. Drawn on the server, so they show without a
//! script and print as they look.

use std::fmt::Write;

use super::text::esc;

/// Series colours (Tableau 10), reused past ten models.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The colour of the i-th series.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

const WIDTH: f64 = 760.0;
const LABEL: f64 = 200.0;
const PLOT: f64 = 420.0;
const ROW: f64 = 24.0;
const AXIS: f64 = 26.0;

/// One bar: a value and its interval.
pub struct Bar {
    /// Row label (a model, or a category).
    pub label: String,
    /// The value; no bar without one.
    pub value: Option<f64>,
    /// Its 95% interval, drawn as a whisker.
    pub ci: Option<[f64; 2]>,
    /// Text at the row's end (the figure as the tables print it).
    pub text: String,
}

/// The value range a chart shows, with a reference line (0.5 for win rates, the baseline's
/// 1000 for ratings).
#[derive(Clone, Copy)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub reference: Option<f64>,
}

impl Scale {
    /// A range that holds every value and interval, padded, for figures with no natural bounds.
    pub fn around(bars: &[Bar], reference: Option<f64>) -> Scale {
        let vals: Vec<f64> = bars
            .iter()
            .flat_map(|b| b.value.into_iter().chain(b.ci.into_iter().flatten()))
            .chain(reference)
            .collect();
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() || !hi.is_finite() {
            return Scale {
                lo: 0.0,
                hi: 1.0,
                reference,
            };
        }
        let pad = ((hi - lo) * 0.08).max(1.0);
        Scale {
            lo: lo - pad,
            hi: hi + pad,
            reference,
        }
    }

    fn x(&self, v: f64) -> f64 {
        let t = ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        LABEL + t * PLOT
    }

    fn ticks(&self) -> Vec<f64> {
        let span = self.hi - self.lo;
        let raw = span / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| span / s <= 6.0)
            .unwrap_or(mag * 10.0);
        let first = (self.lo / step - 1e-9).ceil() as i64;
        let last = (self.hi / step + 1e-9).floor() as i64;
        // Rounded so 3 × 0.2 prints and compares as 0.6.
        (first..=last)
            .map(|k| (k as f64 * step * 1e9).round() / 1e9)
            .collect()
    }
}

fn fmt_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// The grid, tick labels and reference line for a plot of height `h` (above the axis).
fn axis(s: &Scale, h: f64, out: &mut String) {
    for t in s.ticks() {
        let x = s.x(t);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{h:.1}" class="grid"/><text x="{x:.1}" y="{:.1}" class="tick">{}</text>"##,
            h + 16.0,
            fmt_tick(t)
        );
    }
    if let Some(r) = s.reference {
        let x = s.x(r);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{h:.1}" class="ref"/>"##
        );
    }
}

fn bar_row(b: &Bar, s: &Scale, y: f64, h: f64, fill: &str, out: &mut String) {
    let base = s.x(s.reference.unwrap_or(s.lo).clamp(s.lo, s.hi));
    if let Some(v) = b.value {
        let x = s.x(v);
        let (x0, w) = if x >= base {
            (base, x - base)
        } else {
            (x, base - x)
        };
        let _ = write!(
            out,
            r##"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{fill}"><title>{}: {}</title></rect>"##,
            w.max(1.0),
            esc(&b.label),
            esc(&b.text)
        );
    }
    if let Some([lo, hi]) = b.ci {
        let (a, z, m) = (s.x(lo), s.x(hi), y + h / 2.0);
        let _ = write!(
            out,
            r##"<path d="M{a:.1} {m:.1}H{z:.1}M{a:.1} {:.1}V{:.1}M{z:.1} {:.1}V{:.1}" class="ci"/>"##,
            m - 5.0,
            m + 5.0,
            m - 5.0,
            m + 5.0
        );
    }
}

/// Horizontal bars, one per row, each with its interval.
pub fn bars(title: &str, rows: &[Bar], s: Scale) -> String {
    let h = rows.len() as f64 * ROW;
    let mut out = svg_open(title, h + AXIS);
    axis(&s, h, &mut out);
    for (i, b) in rows.iter().enumerate() {
        let y = i as f64 * ROW;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="label">{}</text>"##,
            LABEL - 8.0,
            y + ROW * 0.65,
            esc(&b.label)
        );
        bar_row(b, &s, y + 4.0, ROW - 8.0, colour(i), &mut out);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="value">{}</text>"##,
            LABEL + PLOT + 8.0,
            y + ROW * 0.65,
            esc(&b.text)
        );
    }
    out.push_str("</svg>");
    out
}

/// Bars grouped by category: one block per category, one bar per model in the model's colour.
pub fn grouped(
    title: &str,
    categories: &[(String, Vec<Bar>)],
    models: &[String],
    s: Scale,
) -> String {
    const SUB: f64 = 13.0;
    const GAP: f64 = 12.0;
    let legend = legend(models);
    let per = models.len() as f64 * SUB + GAP;
    let h = categories.len() as f64 * per;
    let mut out = svg_open(title, h + AXIS);
    axis(&s, h, &mut out);
    for (ci, (cat, rows)) in categories.iter().enumerate() {
        let y0 = ci as f64 * per;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="label">{}</text>"##,
            LABEL - 8.0,
            y0 + per / 2.0,
            esc(cat)
        );
        for (mi, b) in rows.iter().enumerate() {
            let y = y0 + mi as f64 * SUB;
            bar_row(b, &s, y + 1.0, SUB - 2.0, colour(mi), &mut out);
        }
    }
    out.push_str("</svg>");
    legend + &out
}

/// The legend of a multi-series chart (HTML, so long names wrap).
pub fn legend(models: &[String]) -> String {
    let mut out = String::from(r#"<ul class="legend">"#);
    for (i, m) in models.iter().enumerate() {
        let _ = write!(
            out,
            r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#,
            colour(i),
            esc(m)
        );
    }
    out.push_str("</ul>");
    out
}

/// Score histograms, one row per model: how many grades fell on each point of the scale.
pub fn histograms(
    title: &str,
    scale: crate::types::Scale,
    rows: &[(String, Vec<usize>)],
) -> String {
    const H: f64 = 34.0;
    let points = scale.points().count();
    // The same width whatever the scale: 10 columns of 42 for 1-10, 5 of 84 for 1-5.
    let col = 420.0 / points as f64;
    let total_h = rows.len() as f64 * (H + 8.0);
    let mut out = svg_open(title, total_h + AXIS);
    for (k, g) in scale.points().enumerate() {
        let x = LABEL + k as f64 * col + col / 2.0;
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{:.1}" class="tick">{g}</text>"##,
            total_h + 16.0
        );
    }
    for (i, (model, counts)) in rows.iter().enumerate() {
        let y0 = i as f64 * (H + 8.0);
        let n: usize = counts.iter().sum();
        let max = counts.iter().copied().max().unwrap_or(0).max(1);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="label">{}</text><line x1="{LABEL}" y1="{:.1}" x2="{:.1}" y2="{:.1}" class="grid"/>"##,
            LABEL - 8.0,
            y0 + H * 0.7,
            esc(model),
            y0 + H,
            LABEL + points as f64 * col,
            y0 + H
        );
        for ((k, &c), g) in counts.iter().enumerate().zip(scale.points()) {
            let bh = H * c as f64 / max as f64;
            let share = if n > 0 {
                100.0 * c as f64 / n as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{}: {} × {} ({share:.0}%)</title></rect>"##,
                LABEL + k as f64 * col + 4.0,
                y0 + H - bh,
                col - 8.0,
                colour(i),
                esc(model),
                g,
                c
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="value">n = {n}</text>"##,
            LABEL + points as f64 * col + 8.0,
            y0 + H * 0.7
        );
    }
    out.push_str("</svg>");
    out
}

fn svg_open(title: &str, h: f64) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {h:.0}" width="{WIDTH}" height="{h:.0}" role="img" aria-label="{t}"><title>{t}</title>"##,
        t = esc(title)
    )
}

/// A radar of one model's figures on 0-1: one axis per label, rings at each quarter, the
/// model's polygon through its values; an axis without a value is marked `—` and drawn at
/// the centre.
pub fn radar(title: &str, axes: &[(String, Option<f64>)], colour_index: usize) -> String {
    let (w, h, r0) = (640.0_f64, 360.0_f64, 115.0_f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let n = axes.len().max(1) as f64;
    let at = |i: usize, v: f64| {
        let a = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
        (cx + r0 * v * a.cos(), cy + r0 * v * a.sin())
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure class="radar"><svg role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><title>{t}</title>"#,
        t = esc(title)
    );
    for ring in [0.25, 0.5, 0.75, 1.0] {
        let pts: Vec<String> = (0..axes.len())
            .map(|i| {
                let (x, y) = at(i, ring);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            s,
            r##"<polygon points="{}" fill="none" stroke="#ccc" stroke-width="1"/>"##,
            pts.join(" ")
        );
    }
    for (i, (label, value)) in axes.iter().enumerate() {
        let (x, y) = at(i, 1.0);
        let _ = write!(
            s,
            r##"<line x1="{cx}" y1="{cy}" x2="{x:.1}" y2="{y:.1}" stroke="#ddd"/>"##
        );
        let (lx, ly) = at(i, 1.18);
        let anchor = if (lx - cx).abs() < 1.0 {
            "middle"
        } else if lx > cx {
            "start"
        } else {
            "end"
        };
        let shown = value.map_or("—".to_string(), |v| format!("{v:.2}"));
        // Long labels are cut on the chart; the whole one is its tooltip.
        let short: String = if label.chars().count() > 22 {
            label.chars().take(21).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}" font-size="11"><title>{}</title>{} {}</text>"#,
            esc(label),
            esc(&short),
            shown
        );
    }
    let pts: Vec<String> = axes
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let (x, y) = at(i, v.unwrap_or(0.0).clamp(0.0, 1.0));
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let c = colour(colour_index);
    let _ = write!(
        s,
        r#"<polygon class="series" points="{}" fill="{c}" fill-opacity="0.25" stroke="{c}" stroke-width="2"/></svg><figcaption>{}</figcaption></figure>"#,
        pts.join(" "),
        esc(title)
    );
    s
}

/// A line of one model's figure on 0-1 over time: one point per label (a night), gridlines at
/// each quarter, the first and last labels under the axis, each point's label and value as
/// its tooltip; a label without a value breaks the line and is marked `—`.
pub fn line(title: &str, points: &[(String, Option<f64>)], colour_index: usize) -> String {
    let (w, h) = (480.0_f64, 220.0_f64);
    let (left, right, top, bottom) = (40.0, 16.0, 16.0, 36.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + ph * (1.0 - v.clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure class="line"><svg role="img" aria-label="{t}" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><title>{t}</title>"#,
        t = esc(title)
    );
    for q in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{lx:.1}" y="{ty:.1}" text-anchor="end" font-size="10">{q:.2}</text>"##,
            yy = y(q),
            x2 = left + pw,
            lx = left - 4.0,
            ty = y(q) + 3.0
        );
    }
    let c = colour(colour_index);
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, s: &mut String| {
        if run.len() > 1 {
            let _ = write!(
                s,
                r#"<polyline class="series" points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, (_, v)) in points.iter().enumerate() {
        match v {
            Some(v) => run.push(format!("{:.1},{:.1}", x(i), y(*v))),
            None => flush(&mut run, &mut s),
        }
    }
    flush(&mut run, &mut s);
    for (i, (label, v)) in points.iter().enumerate() {
        let shown = v.map_or("—".to_string(), |v| format!("{v:.4}"));
        match v {
            Some(v) => {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"><title>{} {}</title></circle>"#,
                    x(i),
                    y(*v),
                    esc(label),
                    shown
                );
            }
            None => {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10"><title>{}</title>—</text>"#,
                    x(i),
                    top + ph,
                    esc(label)
                );
            }
        }
    }
    if let (Some((first, _)), Some((last, _))) = (points.first(), points.last()) {
        let base = h - bottom + 16.0;
        let _ = write!(
            s,
            r#"<text x="{left}" y="{base}" font-size="10">{}</text>"#,
            esc(first)
        );
        if n > 1 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{base}" text-anchor="end" font-size="10">{}</text>"#,
                left + pw,
                esc(last)
            );
        }
    }
    let _ = write!(s, "</svg><figcaption>{}</figcaption></figure>", esc(title));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let s = Scale {
            lo: 0.0,
            hi: 10.0,
            reference: None,
        };
        assert_eq!(s.ticks(), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let s = Scale {
            lo: 0.0,
            hi: 1.0,
            reference: Some(0.5),
        };
        assert_eq!(s.ticks(), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    }

    #[test]
    fn labels_are_escaped() {
        let b = Bar {
            label: "<img src=x onerror=alert(1)>".into(),
            value: Some(5.0),
            ci: Some([4.0, 6.0]),
            text: "5.0".into(),
        };
        let svg = bars(
            "t",
            &[b],
            Scale {
                lo: 0.0,
                hi: 10.0,
                reference: None,
            },
        );
        assert!(!svg.contains("<img") && svg.contains("&lt;img"), "{svg}");
    }
}
