//! The digest's charts as PNG: volume by category over time, SLA compliance per priority,
//! satisfaction over time.
//!
//! Drawn with plotters into an RGB buffer and encoded with `png`: no system font library and
//! no image crate. Text uses DejaVu Sans, bundled (`assets/fonts/`, Bitstream Vera licence),
//! registered with plotters' ab_glyph backend once per process.

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::Report;

/// Chart size in pixels; shown at this size in the digest.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 300;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Category colours, in the order of the report's categories (repeating after eight).
pub const PALETTE: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

/// Why a chart could not be drawn (a bug or an unusable font, never bad data).
#[derive(Debug, thiserror::Error)]
#[error("chart {name}: {message}")]
pub struct ChartError {
    pub name: String,
    pub message: String,
}

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Short name, used in file names and Content-IDs (`volume`, `sla`, `satisfaction`).
    pub name: &'static str,
    pub title: String,
    /// What the chart shows, for the `alt` text and the text part.
    pub alt: String,
    pub png: Vec<u8>,
}

fn register_font() -> Result<(), String> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the bundled font does not load".to_string())
    })
    .clone()
}

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

fn encode(buf: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        e.set_color(png::ColorType::Rgb);
        e.set_depth(png::BitDepth::Eight);
        let mut w = e.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(buf).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Draws with `f` on a white canvas and returns the PNG.
fn draw(
    name: &str,
    f: impl FnOnce(
        &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Vec<u8>, ChartError> {
    let err = |message: String| ChartError {
        name: name.to_string(),
        message,
    };
    register_font().map_err(err)?;
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        f(&root).map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    encode(&buf).map_err(err)
}

/// The legend box, in the same style on every chart.
fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, CT>,
    at: SeriesLabelPosition,
) -> Result<(), Box<dyn std::error::Error>> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FAMILY, 12))
        .draw()?;
    Ok(())
}

/// A short axis label for a timeline bucket: `23.11` for a day, `W48` for a week.
fn short_label(label: &str) -> String {
    if let Some((_, w)) = label.split_once("-W") {
        return format!("W{w}");
    }
    match label.split('-').collect::<Vec<_>>()[..] {
        [_, m, d] => format!("{d}.{m}"),
        _ => label.to_string(),
    }
}

/// The right edge of segment `i` of `n`: the next segment's start, or the axis end.
fn right_edge(i: usize, n: u32) -> SegmentValue<u32> {
    if i as u32 + 1 >= n {
        SegmentValue::Last
    } else {
        SegmentValue::Exact(i as u32 + 1)
    }
}

/// The x axis of a timeline of `n` buckets: (segments, index of the first bucket). Plotters
/// cannot map a segmented axis of one value (its width is 0), so a single bucket (a daily
/// digest) sits in the middle of three segments instead of filling the left half of two,
/// with a blank, unlabelled half beside it.
fn timeline_axis(n: u32) -> (u32, u32) {
    if n <= 1 {
        (3, 1)
    } else {
        (n, 0)
    }
}

/// The label under segment `segment`: its bucket's, every `step` buckets.
fn bucket_label(labels: &[String], segment: u32, first: u32, step: usize) -> String {
    match segment.checked_sub(first) {
        Some(i) if (i as usize).is_multiple_of(step) => {
            labels.get(i as usize).cloned().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// Every how many buckets an axis label fits.
fn label_step(n: usize) -> usize {
    n.div_ceil(12).max(1)
}

/// Stacked bars: cases opened per day or week, one colour per category. The legend is the
/// digest page's, in HTML under the chart (same colours, [`PALETTE`]): a legend drawn inside
/// would repeat it and, with many categories, cover the bars.
pub fn volume(r: &Report) -> Result<Chart, ChartError> {
    let buckets = &r.timeline.buckets;
    let n = buckets.len().max(1) as u32;
    let max = buckets
        .iter()
        .map(|b| b.cases_by_category.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let labels: Vec<String> = buckets.iter().map(|b| short_label(&b.label)).collect();
    let step = label_step(buckets.len());
    let (segments, first) = timeline_axis(n);
    let shown: Vec<usize> = (0..r.by_category.len())
        .filter(|&i| r.by_category[i].count > 0)
        .collect();
    let png = draw("volume", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Cases opened per {}", r.timeline.unit),
                (FAMILY, 18),
            )
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(36)
            .build_cartesian_2d(
                (0u32..segments - 1).into_segmented(),
                // A little room above the tallest bar.
                0u64..(max + max / 10 + 1),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(segments as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => bucket_label(&labels, *i, first, step),
                _ => String::new(),
            })
            .y_label_formatter(&|v| format!("{v}"))
            .label_style((FAMILY, 12))
            .draw()?;
        for &ci in &shown {
            let c = colour(ci);
            chart.draw_series(buckets.iter().enumerate().filter_map(|(i, b)| {
                let below: u64 = b.cases_by_category[..ci].iter().sum();
                let here = b.cases_by_category[ci];
                (here > 0).then(|| {
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as u32 + first), below),
                            (right_edge(i + first as usize, segments), below + here),
                        ],
                        c.filled(),
                    );
                    bar.set_margin(0, 0, 4, 4);
                    bar
                })
            }))?;
        }
        Ok(())
    })?;
    let per_category = r
        .by_category
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| format!("{} {}", c.label, c.count))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Chart {
        name: "volume",
        title: format!("Cases opened per {}, by category", r.timeline.unit),
        alt: format!(
            "Cases opened per {}: {} in all{}",
            r.timeline.unit,
            r.cases,
            if per_category.is_empty() {
                String::new()
            } else {
                format!(" ({per_category})")
            }
        ),
        png,
    })
}

/// Grouped bars per priority: share of first responses and resolutions within target.
pub fn sla(r: &Report) -> Result<Chart, ChartError> {
    let rows = &r.sla;
    let n = rows.len().max(1) as u32;
    let labels: Vec<String> = rows.iter().map(|s| s.label.clone()).collect();
    let series = [("First response", colour(0)), ("Resolution", colour(2))];
    let png = draw("sla", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("SLA compliance (% within target)", (FAMILY, 18))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d((0u32..n.max(2) - 1).into_segmented(), 0f64..145f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_labels(6)
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| {
                if *v <= 100.0 {
                    format!("{v:.0}%")
                } else {
                    String::new()
                }
            })
            .label_style((FAMILY, 12))
            .draw()?;
        let seg = chart.plotting_area().dim_in_pixel().0 / n.max(2);
        for (si, (name, c)) in series.iter().enumerate() {
            let c = *c;
            let bars = rows.iter().enumerate().filter_map(|(i, s)| {
                let f = if si == 0 {
                    &s.first_response
                } else {
                    &s.resolution
                };
                f.compliance.map(|v| {
                    // Two bars side by side in the priority's segment.
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as u32), 0.0),
                            (right_edge(i, n.max(2)), v * 100.0),
                        ],
                        c.filled(),
                    );
                    // Each bar takes 40% of the segment, with a gap in the middle.
                    let (outer, inner) = (seg / 10, seg / 2 + 2);
                    let (l, rr) = if si == 0 {
                        (outer, inner)
                    } else {
                        (inner, outer)
                    };
                    bar.set_margin(0, 0, l, rr);
                    bar
                })
            });
            // The value above each bar, so 0% reads as 0% and not as "no data".
            let values = rows.iter().enumerate().filter_map(|(i, s)| {
                let f = if si == 0 {
                    &s.first_response
                } else {
                    &s.resolution
                };
                f.compliance.map(|v| {
                    let (outer, inner) = (seg / 10, seg / 2 + 2);
                    let width = seg.saturating_sub(outer + inner);
                    let dx = if si == 0 { outer } else { inner } + width / 2;
                    EmptyElement::at((SegmentValue::Exact(i as u32), v * 100.0))
                        + Text::new(
                            format!("{:.0}%", v * 100.0),
                            (dx as i32, -4),
                            (FAMILY, 12)
                                .into_font()
                                .color(&BLACK)
                                .pos(Pos::new(HPos::Center, VPos::Bottom)),
                        )
                })
            });
            chart.draw_series(values)?;
            chart
                .draw_series(bars)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    let alt = rows
        .iter()
        .map(|s| {
            let p = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}%", v * 100.0));
            format!(
                "{}: first response {}, resolution {}",
                s.label,
                p(s.first_response.compliance),
                p(s.resolution.compliance)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Chart {
        name: "sla",
        title: "SLA compliance".into(),
        alt: format!("SLA compliance per priority: {alt}"),
        png,
    })
}

/// Mean rating per day or week (1-5), with the number of ratings as light bars.
pub fn satisfaction(r: &Report) -> Result<Chart, ChartError> {
    let buckets = &r.timeline.buckets;
    let n = buckets.len().max(1) as u32;
    let labels: Vec<String> = buckets.iter().map(|b| short_label(&b.label)).collect();
    let step = label_step(buckets.len());
    let (segments, first) = timeline_axis(n);
    let line = colour(1);
    let png = draw("satisfaction", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Mean rating per {} (1-5)", r.timeline.unit),
                (FAMILY, 18),
            )
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(36)
            .build_cartesian_2d((0u32..segments - 1).into_segmented(), 0f64..5.5f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(segments as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => bucket_label(&labels, *i, first, step),
                _ => String::new(),
            })
            .y_labels(6)
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| {
                if *v >= 1.0 && *v <= 5.0 && v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .label_style((FAMILY, 12))
            .draw()?;
        let points: Vec<(SegmentValue<u32>, f64)> = buckets
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.rating_mean
                    .map(|m| (SegmentValue::CenterOf(i as u32 + first), m))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), line.stroke_width(2)))?
            .label("mean rating")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], line.stroke_width(2))
            });
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new(p.clone(), 4, line.filled())),
        )?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })?;
    let alt = match r.satisfaction.mean {
        Some(m) => format!(
            "Mean rating {m:.2} of 5 from {}",
            super::output::ratings_text(r.satisfaction.count)
        ),
        None => "No ratings in the period".to_string(),
    };
    Ok(Chart {
        name: "satisfaction",
        title: "Satisfaction trend".into(),
        alt,
        png,
    })
}

/// All charts of the digest, in the order they are shown.
///
/// # Errors
/// [`ChartError`] when drawing fails. A panic inside the plotting library (its arithmetic on
/// an unforeseen range) is caught and reported the same way: the scheduler task that sends
/// digests must not die of a chart.
pub fn all(r: &Report) -> Result<Vec<Chart>, ChartError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Ok(vec![volume(r)?, sla(r)?, satisfaction(r)?])
    }))
    .unwrap_or_else(|_| {
        Err(ChartError {
            name: "all".into(),
            message: "the plotting library panicked".into(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_is_a_png_of_the_announced_size_even_for_an_empty_period() {
        let mut empty = Report::sample();
        empty.timeline.buckets.clear();
        empty.sla.clear();
        for r in [Report::sample(), empty] {
            for c in all(&r).unwrap() {
                let d = png::Decoder::new(std::io::Cursor::new(&c.png));
                let reader = d.read_info().unwrap();
                assert_eq!(
                    (reader.info().width, reader.info().height),
                    (WIDTH, HEIGHT),
                    "{}",
                    c.name
                );
                assert!(!c.alt.is_empty());
            }
        }
    }

    /// The leftmost and rightmost columns of row `y` in `colour`.
    fn extent(png_bytes: &[u8], y: u32, colour: (u8, u8, u8)) -> Option<(u32, u32)> {
        let mut r = png::Decoder::new(std::io::Cursor::new(png_bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        r.next_frame(&mut buf).unwrap();
        let row = &buf[(y * WIDTH * 3) as usize..((y + 1) * WIDTH * 3) as usize];
        let xs: Vec<u32> = row
            .chunks(3)
            .enumerate()
            .filter(|(_, p)| (p[0], p[1], p[2]) == colour)
            .map(|(x, _)| x as u32)
            .collect();
        Some((*xs.first()?, *xs.last()?))
    }

    #[test]
    fn a_single_day_is_one_bar_in_the_middle_not_half_the_chart() {
        let r = Report::sample();
        assert_eq!(r.timeline.buckets.len(), 1);
        let one = volume(&r).unwrap();
        // Just above the x axis only the bars are drawn; the bottom one is category 0's.
        let (left, right) = extent(&one.png, HEIGHT - 45, PALETTE[0]).expect("a bar");
        let middle = (left + right) / 2;
        assert!(
            middle.abs_diff(WIDTH / 2) < 40,
            "bar from x={left} to x={right} is not in the middle"
        );
        assert!(
            right - left < WIDTH / 2,
            "one bar of three segments, not half"
        );
        // Two buckets: two bars side by side, the left one left of the middle.
        let mut two = r.clone();
        two.timeline.buckets.push(super::super::Bucket {
            label: "2026-11-24".into(),
            ..r.timeline.buckets[0].clone()
        });
        let both = volume(&two).unwrap();
        let (left, right) = extent(&both.png, HEIGHT - 45, PALETTE[0]).expect("bars");
        assert!(left < WIDTH / 3 && right > WIDTH * 2 / 3, "{left}..{right}");
    }
}
