//! The browser app's pure logic (no DOM, no burn): URL parameters, image grids, latent
//! interpolation, plot coordinates, colours, a progress measure, the training pace. Its own
//! crate so that its wasm-bindgen-test unit tests build in a minute, without the app's
//! dependencies.

/// What the page's query string asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageParams {
    /// `view=sampler` or `view=playground`; both when absent.
    pub view: Option<String>,
    /// `weights=URL` of an exported generator for the sampler.
    pub weights: Option<String>,
    /// `backend=cpu` forces the CPU backend.
    pub force_cpu: bool,
}

impl PageParams {
    pub fn parse(search: &str) -> Self {
        let mut p = PageParams::default();
        for pair in search
            .trim_start_matches('?')
            .split('&')
            .filter(|s| !s.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "view" => p.view = Some(v),
                "weights" if !v.is_empty() => p.weights = Some(v),
                "backend" => p.force_cpu = v.eq_ignore_ascii_case("cpu"),
                _ => {}
            }
        }
        p
    }
    pub fn show_sampler(&self) -> bool {
        self.view.as_deref() != Some("playground")
    }
    pub fn show_playground(&self) -> bool {
        self.view.as_deref() != Some("sampler")
    }
}

/// `%XX` and `+` decoding of a query value.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lays out `n` images `[c, h, w]` (values in [-1, 1], NCHW) as a grid of `cols` columns with a
/// `gap`-pixel border, as RGBA bytes. Returns `(rgba, width, height)`. One channel is grey.
pub fn image_grid(
    data: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
    gap: usize,
) -> (Vec<u8>, usize, usize) {
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols);
    let (gw, gh) = (cols * (w + gap) + gap, rows * (h + gap) + gap);
    let mut out = vec![0u8; gw * gh * 4];
    for px in out.chunks_mut(4) {
        px.copy_from_slice(&[24, 24, 28, 255]);
    }
    let to_u8 = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
    for k in 0..n {
        let (ox, oy) = (gap + (k % cols) * (w + gap), gap + (k / cols) * (h + gap));
        for y in 0..h {
            for x in 0..w {
                let at = |ch: usize| data[((k * c + ch) * h + y) * w + x];
                let rgb = if c >= 3 {
                    [at(0), at(1), at(2)]
                } else {
                    [at(0); 3]
                };
                let o = ((oy + y) * gw + ox + x) * 4;
                out[o..o + 3].copy_from_slice(&rgb.map(to_u8));
            }
        }
    }
    (out, gw, gh)
}

/// Spherical interpolation between two latents (the usual path for Gaussian latents); linear
/// when they are (anti)parallel or zero.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos = if na > 0.0 && nb > 0.0 {
        (dot / (na * nb)).clamp(-1.0, 1.0)
    } else {
        1.0
    };
    let omega = cos.acos();
    if omega.abs() < 1e-4 || (std::f32::consts::PI - omega).abs() < 1e-4 {
        return a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect();
    }
    let s = omega.sin();
    let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

/// A square window of the plane drawn on a `size`-pixel canvas (y up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotWindow {
    pub half_extent: f64,
    pub size: f64,
}

impl PlotWindow {
    pub fn to_canvas(&self, p: [f64; 2]) -> [f64; 2] {
        let s = self.size / (2.0 * self.half_extent);
        [(p[0] + self.half_extent) * s, (self.half_extent - p[1]) * s]
    }
    pub fn to_data(&self, c: [f64; 2]) -> [f64; 2] {
        let s = 2.0 * self.half_extent / self.size;
        [c[0] * s - self.half_extent, self.half_extent - c[1] * s]
    }
    /// Centres of a `res`×`res` grid of cells, row-major from the top-left.
    pub fn grid(&self, res: usize) -> Vec<[f64; 2]> {
        (0..res * res)
            .map(|k| {
                let cell = self.size / res as f64;
                self.to_data([
                    ((k % res) as f64 + 0.5) * cell,
                    ((k / res) as f64 + 0.5) * cell,
                ])
            })
            .collect()
    }
}

/// Diverging colour of a critic value: blue below 0 (fake side), red above (real side), white at
/// the boundary; `scale` is the value shown at full saturation.
pub fn heat_color(v: f32, scale: f32) -> [u8; 3] {
    let t = (v / scale.max(1e-6)).clamp(-1.0, 1.0);
    let fade = |a: f32| (255.0 - a * t.abs() * 255.0).round().clamp(0.0, 255.0) as u8;
    if t >= 0.0 {
        [255, fade(0.55), fade(0.6)]
    } else {
        [fade(0.6), fade(0.45), 255]
    }
}

/// Mean distance from each point of `from` to its nearest point of `to` (how far the generated
/// points are from the data).
pub fn mean_nearest_distance(from: &[[f64; 2]], to: &[[f64; 2]]) -> f64 {
    if from.is_empty() || to.is_empty() {
        return f64::NAN;
    }
    from.iter()
        .map(|p| {
            to.iter()
                .map(|q| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
                .fold(f64::INFINITY, f64::min)
        })
        .sum::<f64>()
        / from.len() as f64
}

/// The `[lo, hi]` a chart of these series spans (finite values only), padded by 5%.
pub fn chart_range<'a>(series: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for s in series {
        for v in s.iter().filter(|v| v.is_finite()) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
    }
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    Some((lo - pad, hi + pad))
}

/// The next number of training steps per animation frame, given that `steps` took `ms`
/// milliseconds and a frame may spend `budget_ms` training: doubles while well under budget,
/// halves when over it, and stays within `1 ..= max` (one step always runs).
pub fn adapt_steps(steps: usize, ms: f64, budget_ms: f64, max: usize) -> usize {
    let next = if !ms.is_finite() || ms > budget_ms {
        steps / 2
    } else if ms < 0.5 * budget_ms {
        steps * 2
    } else {
        steps
    };
    next.clamp(1, max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn page_params_parse() {
        let p = PageParams::parse("?view=sampler&weights=demo%2Fx.margan&backend=CPU");
        assert_eq!(p.view.as_deref(), Some("sampler"));
        assert_eq!(p.weights.as_deref(), Some("demo/x.margan"));
        assert!(p.force_cpu && p.show_sampler() && !p.show_playground());
        let p = PageParams::parse("");
        assert!(p.show_sampler() && p.show_playground() && !p.force_cpu && p.weights.is_none());
        assert_eq!(percent_decode("a+b%20c%zz%4"), "a b c%zz%4");
    }

    #[wasm_bindgen_test]
    fn image_grid_places_pixels() {
        // Two 1-channel 2×2 images: -1 (black) and +1 (white), side by side with a 1 px gap.
        let data = [-1.0f32, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0];
        let (rgba, w, h) = image_grid(&data, 2, 1, 2, 2, 2, 1);
        assert_eq!((w, h), (7, 4));
        let px = |x: usize, y: usize| &rgba[(y * w + x) * 4..(y * w + x) * 4 + 4];
        assert_eq!(px(1, 1), &[0, 0, 0, 255]);
        assert_eq!(px(4, 2), &[255, 255, 255, 255]);
        assert_eq!(px(0, 0), &[24, 24, 28, 255], "gap colour");
    }

    #[wasm_bindgen_test]
    fn slerp_ends_and_norm() {
        let (a, b) = ([1.0f32, 0.0], [0.0f32, 1.0]);
        assert_eq!(slerp(&a, &b, 0.0), a.to_vec());
        let end = slerp(&a, &b, 1.0);
        assert!((end[0] - 0.0).abs() < 1e-6 && (end[1] - 1.0).abs() < 1e-6);
        let mid = slerp(&a, &b, 0.5);
        let n = (mid[0] * mid[0] + mid[1] * mid[1]).sqrt();
        assert!(
            (n - 1.0).abs() < 1e-6,
            "slerp keeps the norm on the unit circle: {n}"
        );
    }

    #[wasm_bindgen_test]
    fn plot_window_round_trips() {
        let w = PlotWindow {
            half_extent: 2.5,
            size: 400.0,
        };
        assert_eq!(w.to_canvas([-2.5, 2.5]), [0.0, 0.0]);
        assert_eq!(w.to_canvas([0.0, 0.0]), [200.0, 200.0]);
        let p = w.to_data(w.to_canvas([1.25, -0.5]));
        assert!((p[0] - 1.25).abs() < 1e-12 && (p[1] + 0.5).abs() < 1e-12);
        let g = w.grid(4);
        assert_eq!(g.len(), 16);
        assert!(g[0][0] < 0.0 && g[0][1] > 0.0 && g[15][0] > 0.0 && g[15][1] < 0.0);
    }

    #[wasm_bindgen_test]
    fn heat_colors_and_distances() {
        assert_eq!(heat_color(0.0, 1.0), [255, 255, 255]);
        assert_eq!(heat_color(5.0, 1.0)[0], 255);
        assert!(heat_color(5.0, 1.0)[2] < 128);
        assert!(heat_color(-5.0, 1.0)[0] < 128);
        let d = mean_nearest_distance(&[[0.0, 0.0], [3.0, 4.0]], &[[0.0, 0.0]]);
        assert!((d - 2.5).abs() < 1e-12);
        assert_eq!(chart_range([&[1.0, f64::NAN, 3.0][..]]), Some((0.9, 3.1)));
        assert_eq!(chart_range([&[f64::NAN][..]]), None);
    }

    #[wasm_bindgen_test]
    fn steps_per_frame_adapt_to_the_budget() {
        assert_eq!(
            adapt_steps(4, 5.0, 30.0, 64),
            8,
            "well under budget: more steps"
        );
        assert_eq!(adapt_steps(4, 20.0, 30.0, 64), 4, "near budget: unchanged");
        assert_eq!(
            adapt_steps(4, 90.0, 30.0, 64),
            2,
            "over budget: fewer steps"
        );
        assert_eq!(
            adapt_steps(1, 5000.0, 30.0, 64),
            1,
            "always at least one step"
        );
        assert_eq!(adapt_steps(64, 1.0, 30.0, 64), 64, "capped");
        assert_eq!(adapt_steps(8, f64::NAN, 30.0, 64), 4);
    }
}
