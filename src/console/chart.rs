//! The overview's chart: the last 24 hours' sales, one bar per hour stacked by outcome, drawn
//! on the server as SVG (no script; colours come from the stylesheet by class).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::format;
use super::i18n::{L, Lang};

/// One hour's sales by outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub confirmed: i64,
    pub undone: i64,
    pub failed: i64,
    pub open: i64,
}

impl Bucket {
    fn total(&self) -> i64 {
        self.confirmed + self.undone + self.failed + self.open
    }

    /// Bottom to top, with the class that colours each and its label.
    fn segments(&self) -> [(&'static str, L, i64); 4] {
        [
            ("confirmed", L::ChartConfirmed, self.confirmed),
            ("undone", L::ChartUndone, self.undone),
            ("failed", L::ChartFailed, self.failed),
            ("open", L::ChartOpen, self.open),
        ]
    }
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 24.0;

/// The non-empty segments of a bar, bottom to top, each with the count below it.
fn stacked(bucket: &Bucket) -> Vec<(&'static str, L, i64, i64)> {
    let mut below = 0;
    let mut out = Vec::new();
    for (class, label, count) in bucket.segments() {
        if count > 0 {
            out.push((class, label, count, below));
            below += count;
        }
    }
    out
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `max`, so the axis reads in round numbers.
fn axis_top(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// Coordinates with one decimal: enough for a screen, short in the page.
fn n(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// `<svg id="chart-24h">`, oldest hour on the left.
pub fn chart(lang: Lang, buckets: &[Bucket]) -> Markup {
    let max = buckets.iter().map(Bucket::total).max().unwrap_or(0).max(0);
    let top = axis_top(max.max(1));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / buckets.len().max(1) as f64;
    let bar = slot * 0.7;
    let ticks: &[i64] = if top == 1 {
        &[0, 1]
    } else {
        &[0, top / 2, top]
    };
    let y_of = |count: i64| TOP + plot_h - plot_h * count as f64 / top as f64;
    let totals: [i64; 4] = [
        buckets.iter().map(|b| b.confirmed).sum(),
        buckets.iter().map(|b| b.undone).sum(),
        buckets.iter().map(|b| b.failed).sum(),
        buckets.iter().map(|b| b.open).sum(),
    ];
    let description = [
        L::ChartConfirmed,
        L::ChartUndone,
        L::ChartFailed,
        L::ChartOpen,
    ]
    .iter()
    .zip(totals)
    .map(|(label, total)| format!("{total} {}", lang.t(*label)))
    .collect::<Vec<_>>()
    .join(", ");
    html! {
        svg id="chart-24h" class="chart" xmlns="http://www.w3.org/2000/svg"
            viewBox={ "0 0 " (n(WIDTH)) " " (n(HEIGHT)) } role="img"
            aria-labelledby="chart-24h-title chart-24h-desc" {
            title id="chart-24h-title" { (lang.t(L::ChartTitle)) }
            desc id="chart-24h-desc" { (description) }
            @for tick in ticks.iter().copied() {
                line class="grid" x1=(n(LEFT)) x2=(n(WIDTH - RIGHT))
                    y1=(n(y_of(tick))) y2=(n(y_of(tick))) {}
                text class="axis" x=(n(LEFT - 6.0)) y=(n(y_of(tick) + 4.0)) text-anchor="end" { (tick) }
            }
            @for (i, bucket) in buckets.iter().enumerate() {
                @let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                g class="hour" {
                    @for (class, label, count, below) in stacked(bucket) {
                        rect class={ "bar " (class) } x=(n(x)) width=(n(bar))
                            y=(n(y_of(below + count))) height=(n(y_of(below) - y_of(below + count))) {
                            title { (format::hour(bucket.start)) ": " (count) " " (lang.t(label)) }
                        }
                    }
                    @if i % 3 == 0 {
                        text class="axis" x=(n(x + bar / 2.0)) y=(n(HEIGHT - 6.0)) text-anchor="middle" {
                            (format::hour(bucket.start))
                        }
                    }
                }
            }
            @if max == 0 {
                text class="empty" x=(n(LEFT + plot_w / 2.0)) y=(n(TOP + plot_h / 2.0)) text-anchor="middle" {
                    (lang.t(L::ChartEmpty))
                }
            }
        }
        ul class="legend" {
            @for (class, label, total) in [
                ("confirmed", L::ChartConfirmed, totals[0]),
                ("undone", L::ChartUndone, totals[1]),
                ("failed", L::ChartFailed, totals[2]),
                ("open", L::ChartOpen, totals[3]),
            ] {
                li { span class={ "swatch " (class) } {} " " (lang.t(label)) " (" (total) ")" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn day(counts: impl Fn(usize) -> (i64, i64, i64, i64)) -> Vec<Bucket> {
        let start = DateTime::parse_from_rfc3339("2026-12-05T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        (0..24)
            .map(|i| {
                let (confirmed, undone, failed, open) = counts(i);
                Bucket {
                    start: start + Duration::hours(i as i64),
                    confirmed,
                    undone,
                    failed,
                    open,
                }
            })
            .collect()
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(axis_top(1), 1);
        assert_eq!(axis_top(3), 5);
        assert_eq!(axis_top(7), 10);
        assert_eq!(axis_top(11), 20);
        assert_eq!(axis_top(150), 200);
        assert_eq!(axis_top(501), 1000);
    }

    #[test]
    fn one_rect_per_nonzero_segment_stacked_in_the_plot() {
        let buckets = day(|i| {
            if i == 23 {
                (3, 1, 1, 0)
            } else {
                (i as i64 % 2, 0, 0, 0)
            }
        });
        let svg = chart(Lang::PtBr, &buckets).into_string();
        assert!(svg.starts_with("<svg id=\"chart-24h\""), "{svg}");
        let rects = svg.matches("<rect ").count();
        assert_eq!(rects, 11 + 3, "{svg}");
        assert!(svg.contains("class=\"bar confirmed\""));
        assert!(svg.contains("class=\"bar undone\""));
        assert!(svg.contains("<title>11h: 3 confirmadas</title>"), "{svg}");
        // 24 hours, oldest first: 12h (15:00Z) on the left.
        assert!(svg.contains(">12h<"));
        assert!(!svg.contains("style="), "colours come from the stylesheet");
        assert!(!svg.contains(&lang_empty(Lang::PtBr)));
        // The tallest bar (5) reaches the axis top (5): its top segment starts at TOP.
        assert!(svg.contains(&format!("y=\"{}\"", n(TOP))), "{svg}");
    }

    fn lang_empty(lang: Lang) -> String {
        lang.t(L::ChartEmpty).to_owned()
    }

    #[test]
    fn an_empty_day_says_so() {
        let svg = chart(Lang::En, &day(|_| (0, 0, 0, 0))).into_string();
        assert_eq!(svg.matches("<rect ").count(), 0);
        assert!(svg.contains(&lang_empty(Lang::En)));
        assert!(svg.contains("confirmed (0)"));
    }
}
