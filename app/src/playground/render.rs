//! Drawing the playground: the critic's heat map and decision boundary, real and generated
//! points, the generator's gradient, the charts and the status line.

use super::{pairs, read, real_batch, Playground, ARROWS, RES, SHOWN, SIZE, WINDOW};
use crate::chart::{self, Series};
use crate::logic::{heat_color, mean_nearest_distance};
use margan::layers::Mode;
use margan::rng::Rng;
use margan::toy::points_tensor;
use wasm_bindgen::prelude::*;

impl Playground {
    pub(super) async fn render(&self) -> Result<(), JsValue> {
        let dev = &self.device;
        let ctx = &self.ctx;
        // Critic heat map on a grid.
        let grid = WINDOW.grid(RES);
        let values = read(self.gan.d.forward(points_tensor(&grid, dev), Mode::Eval)).await?;
        let scale = values.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        let cell = SIZE / RES as f64;
        for (k, v) in values.iter().enumerate() {
            let [r, g, b] = heat_color(*v, scale);
            ctx.set_fill_style_str(&format!("rgb({r},{g},{b})"));
            ctx.fill_rect(
                (k % RES) as f64 * cell,
                (k / RES) as f64 * cell,
                cell + 0.5,
                cell + 0.5,
            );
        }
        // Decision boundary: cell edges where the critic changes sign.
        ctx.set_fill_style_str("#111");
        for k in 0..RES * RES {
            let (x, y) = (k % RES, k / RES);
            let s = values[k] > 0.0;
            if (x + 1 < RES && (values[k + 1] > 0.0) != s)
                || (y + 1 < RES && (values[k + RES] > 0.0) != s)
            {
                let c = [(x as f64 + 1.0) * cell, (y as f64 + 1.0) * cell];
                ctx.fill_rect(c[0] - 1.5, c[1] - 1.5, 3.0, 3.0);
            }
        }
        // Real points (a fixed draw) and fake points (fixed latents).
        let mut rng = Rng::new(99);
        let real = if self.data_ready() {
            pairs(
                &read(real_batch(
                    self.controls.data(),
                    &self.drawn,
                    SHOWN,
                    &mut rng,
                    dev,
                ))
                .await?,
            )
        } else {
            self.drawn.clone()
        };
        let fake_t = self
            .gan
            .g
            .forward(self.z_shown.clone(), Mode::Eval)
            .detach();
        let fake = pairs(&read(fake_t.clone()).await?);
        let dot = |p: [f64; 2], color: &str, r: f64| {
            let c = WINDOW.to_canvas(p);
            ctx.set_fill_style_str(color);
            ctx.begin_path();
            let _ = ctx.arc(c[0], c[1], r, 0.0, std::f64::consts::TAU);
            ctx.fill();
        };
        real.iter().for_each(|p| dot(*p, "#1b7f3a", 2.2));
        fake.iter().for_each(|p| dot(*p, "#6a1b9a", 2.2));
        // The generator's gradient at fake samples: where its loss pushes them.
        let x = fake_t.slice([0..ARROWS]).require_grad();
        let cf = self.gan.d.forward(x.clone(), Mode::Eval).reshape([ARROWS]);
        let cr = if self.gan.config.loss.is_relativistic() && self.data_ready() {
            let mut r2 = Rng::new(5);
            let r = real_batch(self.controls.data(), &self.drawn, ARROWS, &mut r2, dev);
            self.gan.d.forward(r, Mode::Eval).reshape([ARROWS]).detach()
        } else {
            cf.zeros_like().detach()
        };
        let grads = self.gan.config.loss.g_loss(cr, cf).backward();
        if let Some(gx) = x.grad(&grads) {
            let arrows = pairs(&read(gx.neg()).await?);
            let longest = arrows
                .iter()
                .map(|a| a[0].hypot(a[1]))
                .fold(0.0, f64::max)
                .max(1e-12);
            ctx.set_stroke_style_str("#222");
            for (p, a) in fake.iter().zip(&arrows) {
                let c = WINDOW.to_canvas(*p);
                let (dx, dy) = (24.0 * a[0] / longest, -24.0 * a[1] / longest);
                ctx.begin_path();
                ctx.move_to(c[0], c[1]);
                ctx.line_to(c[0] + dx, c[1] + dy);
                ctx.stroke();
            }
        }
        // Charts and figures.
        let [d, g, nr, nf] = &self.history;
        chart::draw(
            &self.loss_ctx,
            360.0,
            150.0,
            "losses",
            &[
                Series {
                    name: "critic",
                    color: "#c62828",
                    values: d,
                },
                Series {
                    name: "generator",
                    color: "#1565c0",
                    values: g,
                },
            ],
        );
        chart::draw(
            &self.norm_ctx,
            360.0,
            150.0,
            "critic gradient norm",
            &[
                Series {
                    name: "at real",
                    color: "#1b7f3a",
                    values: nr,
                },
                Series {
                    name: "at fake",
                    color: "#6a1b9a",
                    values: nf,
                },
            ],
        );
        let dist = mean_nearest_distance(&fake, &real);
        self.root
            .set_attribute("data-dist", &format!("{dist:.4}"))?;
        self.root
            .set_attribute("data-loss-points", &d.len().to_string())?;
        let hint = if self.data_ready() {
            ""
        } else {
            " · click on the plot to draw data points"
        };
        self.status.set_text_content(Some(&format!(
            "step {} · mean distance fake→real {dist:.3}{hint}",
            self.gan.iteration
        )));
        Ok(())
    }
}
