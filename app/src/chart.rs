//! Line charts of a few series on a canvas.

use crate::logic::chart_range;
use web_sys::CanvasRenderingContext2d;

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: &'a [f64],
}

/// Draws `series` (indexed by step) over the whole canvas with a legend and the value range.
pub fn draw(ctx: &CanvasRenderingContext2d, w: f64, h: f64, title: &str, series: &[Series]) {
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_fill_style_str("#333");
    ctx.set_font("12px sans-serif");
    let _ = ctx.fill_text(title, 6.0, 14.0);
    let Some((lo, hi)) = chart_range(series.iter().map(|s| s.values)) else {
        let _ = ctx.fill_text("(no steps yet)", 6.0, h / 2.0);
        return;
    };
    let (top, bottom, left, right) = (22.0, h - 6.0, 40.0, w - 6.0);
    let y = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    ctx.set_fill_style_str("#777");
    ctx.set_font("10px sans-serif");
    let _ = ctx.fill_text(&format!("{hi:.3}"), 2.0, top + 8.0);
    let _ = ctx.fill_text(&format!("{lo:.3}"), 2.0, bottom);
    if lo < 0.0 && hi > 0.0 {
        ctx.set_stroke_style_str("#ddd");
        ctx.begin_path();
        ctx.move_to(left, y(0.0));
        ctx.line_to(right, y(0.0));
        ctx.stroke();
    }
    let mut legend_x = w - 6.0;
    for s in series.iter().rev() {
        legend_x -= 8.0 + 7.0 * s.name.chars().count() as f64;
        ctx.set_fill_style_str(s.color);
        let _ = ctx.fill_text(s.name, legend_x, 14.0);
    }
    for s in series {
        let n = s.values.len();
        if n == 0 {
            continue;
        }
        ctx.set_stroke_style_str(s.color);
        ctx.set_line_width(1.5);
        ctx.begin_path();
        let mut pen_down = false;
        for (i, v) in s.values.iter().enumerate() {
            if !v.is_finite() {
                pen_down = false;
                continue;
            }
            let x = left + (right - left) * i as f64 / (n.max(2) - 1) as f64;
            if pen_down {
                ctx.line_to(x, y(*v));
            } else {
                ctx.move_to(x, y(*v));
                pen_down = true;
            }
        }
        ctx.stroke();
    }
    ctx.set_line_width(1.0);
}
