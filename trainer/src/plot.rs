//! PNG output: sample grids, 2-D scatter plots over the critic's decision surface, and loss
//! curves (with an 8×8 bitmap font for labels).

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use std::path::Path;

pub type Colour = [u8; 3];
pub const WHITE: Colour = [255, 255, 255];
pub const BLACK: Colour = [0, 0, 0];
pub const GREY: Colour = [200, 200, 200];
/// Series colours: blue, orange, green, red, purple.
pub const PALETTE: [Colour; 5] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
];

/// Saves a PNG, writing a temporary file first and renaming it over the target.
pub fn save(img: &RgbImage, path: &Path) -> Result<(), String> {
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| format!("{}: cannot write PNG ({e})", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: cannot rename ({e})", path.display()))
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Colour) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(c));
    }
}

/// Text at `(x, y)` (top-left), `scale` pixels per font pixel.
pub fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: Colour, scale: i64) {
    for (i, ch) in s.chars().enumerate() {
        if let Some(glyph) = font8x8::BASIC_FONTS.get(ch) {
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                put(
                                    img,
                                    x + (i as i64 * 8 + col) * scale + dx,
                                    y + row as i64 * scale + dy,
                                    c,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Colour) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        put(
            img,
            (x0 + t * (x1 - x0)).round() as i64,
            (y0 + t * (y1 - y0)).round() as i64,
            c,
        );
    }
}

fn disc(img: &mut RgbImage, x: f64, y: f64, r: i64, c: Colour) {
    for dy in -r..=r {
        for dx in -r..=r {
            if dx * dx + dy * dy <= r * r {
                put(img, x.round() as i64 + dx, y.round() as i64 + dy, c);
            }
        }
    }
}

/// A grid of NCHW images in `[-1, 1]` (1 or 3 channels), `cols` per row, upscaled so that
/// small images stay visible.
pub fn image_grid(images: &[f32], channels: usize, size: usize, cols: usize) -> RgbImage {
    let per = channels * size * size;
    let n = images.len() / per;
    let rows = n.div_ceil(cols);
    let scale = (64 / size).max(1);
    let pad = 2;
    let cell = size * scale + pad;
    let mut img = RgbImage::from_pixel(
        (cols * cell + pad) as u32,
        (rows * cell + pad) as u32,
        Rgb([40, 40, 40]),
    );
    for i in 0..n {
        let (gx, gy) = ((i % cols) * cell + pad, (i / cols) * cell + pad);
        for y in 0..size * scale {
            for x in 0..size * scale {
                let (sy, sx) = (y / scale, x / scale);
                let v = |c: usize| {
                    let c = if channels == 1 { 0 } else { c };
                    ((images[i * per + c * size * size + sy * size + sx].clamp(-1.0, 1.0) + 1.0)
                        * 127.5)
                        .round() as u8
                };
                img.put_pixel((gx + x) as u32, (gy + y) as u32, Rgb([v(0), v(1), v(2)]));
            }
        }
    }
    img
}

/// Diverging colour for a critic value: blue (negative, "fake") – white – red (positive, "real").
fn diverging(v: f32, scale: f32) -> Colour {
    let t = (v / scale).clamp(-1.0, 1.0);
    let mix = |a: f32, b: f32, t: f32| (a + (b - a) * t).round() as u8;
    if t >= 0.0 {
        [255, mix(255.0, 120.0, t), mix(255.0, 110.0, t)]
    } else {
        [mix(255.0, 100.0, -t), mix(255.0, 140.0, -t), 255]
    }
}

/// A `res`×`res` grid of cell centres covering `[lo, hi]²`, row-major from the top (largest y).
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub res: usize,
    pub lo: f64,
    pub hi: f64,
}

impl Grid {
    /// The cell centres, in the order [`scatter`] reads the critic's values.
    pub fn points(&self) -> Vec<[f64; 2]> {
        let Grid { res, lo, hi } = *self;
        let step = (hi - lo) / res as f64;
        (0..res * res)
            .map(|k| {
                [
                    lo + ((k % res) as f64 + 0.5) * step,
                    hi - ((k / res) as f64 + 0.5) * step,
                ]
            })
            .collect()
    }
}

/// Two point sets (green, black; `legend` names them) over the critic's values at `grid`'s points,
/// with the decision boundary `C = 0` drawn.
pub fn scatter(
    real: &[[f64; 2]],
    fake: &[[f64; 2]],
    critic: &[f32],
    grid: Grid,
    title: &str,
    legend: &str,
) -> RgbImage {
    let Grid { res, lo, hi } = grid;
    assert_eq!(critic.len(), res * res, "one critic value per grid point");
    let side = 512u32;
    let mut img = RgbImage::new(side, side);
    let scale = critic.iter().map(|v| v.abs()).fold(1e-6f32, f32::max);
    let cell = side as f64 / res as f64;
    for y in 0..side {
        for x in 0..side {
            let (gx, gy) = (((x as f64) / cell) as usize, ((y as f64) / cell) as usize);
            let v = critic[gy.min(res - 1) * res + gx.min(res - 1)];
            img.put_pixel(x, y, Rgb(diverging(v, scale)));
        }
    }
    // Decision boundary: sign changes between neighbouring grid cells.
    for gy in 0..res {
        for gx in 0..res {
            let v = critic[gy * res + gx];
            let right = gx + 1 < res && (critic[gy * res + gx + 1] > 0.0) != (v > 0.0);
            let down = gy + 1 < res && (critic[(gy + 1) * res + gx] > 0.0) != (v > 0.0);
            if right || down {
                disc(
                    &mut img,
                    (gx as f64 + 1.0) * cell,
                    (gy as f64 + 1.0) * cell,
                    1,
                    BLACK,
                );
            }
        }
    }
    let to_px = |p: &[f64; 2]| {
        (
            (p[0] - lo) / (hi - lo) * side as f64,
            (hi - p[1]) / (hi - lo) * side as f64,
        )
    };
    for p in real {
        let (x, y) = to_px(p);
        disc(&mut img, x, y, 2, PALETTE[2]);
    }
    for p in fake {
        let (x, y) = to_px(p);
        disc(&mut img, x, y, 2, BLACK);
    }
    text(&mut img, 6, 6, title, BLACK, 1);
    text(&mut img, 6, 18, legend, BLACK, 1);
    text(&mut img, 6, 30, "red: C>0  blue: C<0  line: C=0", BLACK, 1);
    img
}

/// One panel of curves against iteration.
pub struct Panel<'a> {
    pub title: &'a str,
    pub series: Vec<(&'a str, Vec<(f64, f64)>)>,
}

fn fmt(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}")
    }
}

/// Panels stacked vertically, each with its y range, legend and the iteration range.
pub fn curves(panels: &[Panel]) -> RgbImage {
    let (w, ph) = (900i64, 260i64);
    let mut img = RgbImage::from_pixel(w as u32, (ph * panels.len() as i64) as u32, Rgb(WHITE));
    for (k, panel) in panels.iter().enumerate() {
        let top = k as i64 * ph;
        let (l, r, t, b) = (
            80.0,
            (w - 20) as f64,
            (top + 30) as f64,
            (top + ph - 30) as f64,
        );
        let pts = panel
            .series
            .iter()
            .flat_map(|(_, s)| s.iter())
            .filter(|p| p.1.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in pts {
            x0 = x0.min(p.0);
            x1 = x1.max(p.0);
            y0 = y0.min(p.1);
            y1 = y1.max(p.1);
        }
        if x0 > x1 {
            continue;
        }
        if x1 == x0 {
            x1 = x0 + 1.0;
        }
        if y1 - y0 < 1e-9 {
            y0 -= 0.5;
            y1 += 0.5;
        }
        line(&mut img, (l, b), (r, b), GREY);
        line(&mut img, (l, t), (l, b), GREY);
        text(&mut img, l as i64, top + 8, panel.title, BLACK, 1);
        text(&mut img, 4, t as i64, &fmt(y1), BLACK, 1);
        text(&mut img, 4, b as i64 - 8, &fmt(y0), BLACK, 1);
        text(
            &mut img,
            l as i64,
            b as i64 + 6,
            &format!("iteration {}", x0 as i64),
            BLACK,
            1,
        );
        let last = format!("{}", x1 as i64);
        text(
            &mut img,
            r as i64 - 8 * last.len() as i64,
            b as i64 + 6,
            &last,
            BLACK,
            1,
        );
        let mut lx = l as i64 + 8 * panel.title.len() as i64 + 24;
        for (i, (name, s)) in panel.series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let px = |p: &(f64, f64)| {
                (
                    l + (p.0 - x0) / (x1 - x0) * (r - l),
                    b - (p.1 - y0) / (y1 - y0) * (b - t),
                )
            };
            for pair in s.windows(2) {
                if pair[0].1.is_finite() && pair[1].1.is_finite() {
                    line(&mut img, px(&pair[0]), px(&pair[1]), c);
                }
            }
            line(
                &mut img,
                (lx as f64, top as f64 + 12.0),
                (lx as f64 + 16.0, top as f64 + 12.0),
                c,
            );
            text(&mut img, lx + 20, top + 8, name, c, 1);
            lx += 20 + 8 * name.len() as i64 + 16;
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_are_cell_centres_row_major_from_the_top() {
        let grid = Grid {
            res: 4,
            lo: -2.0,
            hi: 2.0,
        };
        let p = grid.points();
        assert_eq!(p.len(), 16);
        assert_eq!(p[0], [-1.5, 1.5]); // top left
        assert_eq!(p[1], [-0.5, 1.5]); // next along x
        assert_eq!(p[4], [-1.5, 0.5]); // next row down
        assert_eq!(p[15], [1.5, -1.5]); // bottom right
    }

    #[test]
    fn scatter_marks_the_decision_boundary() {
        // C > 0 on the left half, < 0 on the right: the boundary is a vertical line in the middle.
        let grid = Grid {
            res: 8,
            lo: -1.0,
            hi: 1.0,
        };
        let critic: Vec<f32> = grid.points().iter().map(|p| -p[0] as f32).collect();
        let img = scatter(&[], &[], &critic, grid, "", "");
        let row = 384; // a grid corner (the boundary is drawn at corners, one disc per cell), below the text
        let dark = |x: u32| img.get_pixel(x, row).0.iter().all(|&c| c < 60);
        assert!(dark(256), "the boundary C = 0 is drawn at x = 0");
        assert!(!dark(64) && !dark(448), "no boundary away from it");
        assert!(
            img.get_pixel(64, row).0[0] > img.get_pixel(64, row).0[2],
            "red where C > 0"
        );
        assert!(
            img.get_pixel(448, row).0[2] > img.get_pixel(448, row).0[0],
            "blue where C < 0"
        );
    }
}
