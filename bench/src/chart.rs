//! `latest.png`: one panel per scenario (its first figure, plus the QoS 1
//! p99 latencies), a bar per broker with its median. The generator's ceiling
//! is written under the axis, not drawn (it would dwarf every broker). The
//! font is compiled in, so no system fonts are needed.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::brokers::Family;
use crate::report::{format_value, median};
use crate::runner::Cell;
use crate::scenarios::Scenario;
use crate::sizes::Sizes;

const FONT: &str = "sans-serif";
const COLUMNS: usize = 3;
const PANEL_W: u32 = 560;
const PANEL_H: u32 = 340;

fn color(f: Family) -> RGBColor {
    match f {
        Family::Sink => RGBColor(200, 200, 200),
        Family::Host => RGBColor(255, 196, 140),
        Family::RmqttJs => RGBColor(250, 160, 90),
        Family::Aedes => RGBColor(140, 190, 240),
        Family::Mosquitto => RGBColor(160, 220, 160),
    }
}

pub fn draw(cells: &[Cell], sizes: &Sizes, path: &Path) -> Result<(), String> {
    // Registering twice (a second chart in one process) is harmless.
    let _ =
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::HACK_REGULAR);
    let mut panels: Vec<(Scenario, usize)> = Vec::new();
    for s in Scenario::ALL {
        if cells.iter().any(|c| c.scenario == s) {
            panels.push((s, 0));
            if matches!(s, Scenario::Qos1 | Scenario::Qos1Persistent) {
                panels.push((s, 2));
            }
        }
    }
    if panels.is_empty() {
        return Ok(());
    }
    let rows = panels.len().div_ceil(COLUMNS);
    let root = BitMapBackend::new(path, (PANEL_W * COLUMNS as u32, PANEL_H * rows as u32))
        .into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((rows, COLUMNS));
    for (area, (scenario, k)) in areas.iter().zip(panels) {
        panel(area, cells, sizes, scenario, k)?;
    }
    root.present().map_err(|e| e.to_string())
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    cells: &[Cell],
    sizes: &Sizes,
    scenario: Scenario,
    k: usize,
) -> Result<(), String> {
    let metric = scenario.metrics()[k];
    let bars: Vec<(String, f64, Family)> = cells
        .iter()
        .filter(|c| c.scenario == scenario && c.variant.family != Family::Sink)
        .filter_map(|c| median(c, k).map(|v| (c.variant.label(), v, c.variant.family)))
        .collect();
    let ceiling = cells
        .iter()
        .find(|c| c.scenario == scenario && c.variant.family == Family::Sink)
        .and_then(|c| median(c, k))
        .map_or(String::new(), |v| {
            format!("loadgen ceiling {}", format_value(metric.unit, v))
        });
    let title = format!(
        "{} {}: {}",
        scenario.id(),
        scenario.title(sizes),
        metric.name
    );
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 15))
        .margin(10)
        .x_label_area_size(40)
        .build_cartesian_2d(0f64..max, 0f64..n)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_labels(5)
        .x_label_formatter(&|v| format_value(metric.unit, *v))
        .x_desc(ceiling)
        .label_style((FONT, 12))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (label, v, family)) in bars.iter().enumerate() {
        let top = n - i as f64 - 0.1;
        let bottom = top - 0.8;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, bottom), (*v, top)],
                color(*family).filled(),
            )))
            .map_err(|e| e.to_string())?;
        let text = format!("{label}: {}", format_value(metric.unit, *v));
        chart
            .draw_series(std::iter::once(Text::new(
                text,
                (max * 0.01, top - 0.15),
                (FONT, 13).into_font().color(&BLACK),
            )))
            .map_err(|e| e.to_string())?;
    }
    if bars.is_empty() {
        chart
            .draw_series(std::iter::once(Text::new(
                "no figures (failed or n/a)",
                (max * 0.05, n / 2.0),
                (FONT, 13),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
