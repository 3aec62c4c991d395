//! The margin playground: a small generator and a margin-penalised critic trained live on 2-D
//! data, with the critic's value as a heat map, its decision boundary, the generator's gradient
//! at fake samples, and charts of the losses and of the critic's gradient norm.

use crate::chart::{self, Series};
use crate::logic::{adapt_steps, heat_color, mean_nearest_distance, PlotWindow};
use crate::{backend, dom};
use burn::tensor::{Device, Tensor};
use margan::gan::{Gan, GanConfig};
use margan::layers::Mode;
use margan::nets::MlpConfig;
use margan::rng::Rng;
use margan::toy::{points_tensor, Toy};
use margan::{Form, GanLoss, GradientPenalty, Norm, Where};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, Element, HtmlInputElement, HtmlSelectElement};

const Z: usize = 4;
const BATCH: usize = 128;
const SHOWN: usize = 256;
const ARROWS: usize = 48;
const RES: usize = 36;
const SIZE: f64 = 360.0;
/// Training time per animation frame while playing: the number of steps per frame adapts to it
/// (1 to `MAX_STEPS_PER_FRAME`), so a fast backend trains many steps per frame and a slow one
/// stays responsive.
const TRAIN_BUDGET_MS: f64 = 30.0;
const MAX_STEPS_PER_FRAME: usize = 64;
/// While playing, the heat map and charts are redrawn at most this often, and at most a quarter
/// of the time goes to drawing (a slow backend draws less often).
const RENDER_EVERY_MS: f64 = 120.0;
const HISTORY: usize = 400;
const WINDOW: PlotWindow = PlotWindow {
    half_extent: 3.0,
    size: SIZE,
};

#[derive(Clone, Copy, PartialEq)]
enum Data {
    Toy(Toy),
    Drawn,
}

struct Controls {
    data: HtmlSelectElement,
    loss: HtmlSelectElement,
    norm: HtmlSelectElement,
    form: HtmlSelectElement,
    weight: HtmlInputElement,
    lr_d: HtmlInputElement,
    lr_g: HtmlInputElement,
}

struct Playground {
    root: Element,
    device: Device,
    gan: Gan,
    controls: Controls,
    drawn: Vec<[f64; 2]>,
    running: bool,
    /// Steps per frame while playing (adapted to `TRAIN_BUDGET_MS`).
    steps_per_frame: usize,
    /// When the last drawing ended and how long it took.
    last_render_ms: f64,
    render_ms: f64,
    /// Fixed latents of the shown fake points, and the shown real points.
    z_shown: Tensor<4>,
    history: [Vec<f64>; 4],
    ctx: CanvasRenderingContext2d,
    loss_ctx: CanvasRenderingContext2d,
    norm_ctx: CanvasRenderingContext2d,
    status: Element,
}

fn select(
    parent: &Element,
    role: &str,
    label: &str,
    options: &[(&str, &str)],
    chosen: &str,
) -> Result<HtmlSelectElement, JsValue> {
    let l = dom::text(parent, "label", &[], label);
    let s = dom::child(&l, "select", &[("data-role", role)]);
    for (value, text) in options {
        let o = dom::text(&s, "option", &[("value", value)], text);
        if *value == chosen {
            o.set_attribute("selected", "")?;
        }
    }
    s.dyn_into().map_err(Into::into)
}

fn number(
    parent: &Element,
    role: &str,
    label: &str,
    value: &str,
    step: &str,
) -> Result<HtmlInputElement, JsValue> {
    let l = dom::text(parent, "label", &[], label);
    dom::child(
        &l,
        "input",
        &[
            ("type", "number"),
            ("data-role", role),
            ("value", value),
            ("step", step),
            ("min", "0"),
        ],
    )
    .dyn_into()
    .map_err(Into::into)
}

impl Controls {
    fn data(&self) -> Data {
        match self.data.value().as_str() {
            "ring" => Data::Toy(Toy::Ring),
            "8gaussians" => Data::Toy(Toy::EightGaussians),
            "25gaussians" => Data::Toy(Toy::TwentyFiveGaussians),
            "swissroll" => Data::Toy(Toy::SwissRoll),
            _ => Data::Drawn,
        }
    }

    fn config(&self) -> Result<GanConfig, String> {
        let loss: GanLoss = self.loss.value().parse().map_err(|e| format!("{e}"))?;
        let positive = |i: &HtmlInputElement, what: &str| {
            let v = i.value_as_number();
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("{what} must be a number ≥ 0"))
            }
        };
        let weight = positive(&self.weight, "λ")?;
        let norm = match self.norm.value().as_str() {
            "l1" => Some(Norm::L1),
            "l2" => Some(Norm::L2),
            "linf" => Some(Norm::Linf),
            _ => None,
        };
        let form = if self.form.value() == "ls" {
            Form::Ls
        } else {
            Form::Hinge
        };
        Ok(GanConfig {
            loss,
            penalty: norm.map(|norm| GradientPenalty {
                norm,
                form,
                at: Where::Interpolates,
                weight,
            }),
            lr_d: positive(&self.lr_d, "critic learning rate")?,
            lr_g: positive(&self.lr_g, "generator learning rate")?,
            beta1: 0.5,
            beta2: 0.9,
            d_steps: 1,
            z_dim: Z,
        })
    }
}

fn new_gan(device: &Device, config: GanConfig, seed: u64) -> Gan {
    let mut rng = Rng::new(seed);
    let g = MlpConfig::new(Z, 2).with_width(64).init(device, &mut rng);
    let d = MlpConfig::new(2, 1).with_width(64).init(device, &mut rng);
    Gan::new(g, d, config, rng.fork(), device.clone())
}

fn real_batch(
    data: Data,
    drawn: &[[f64; 2]],
    n: usize,
    rng: &mut Rng,
    device: &Device,
) -> Tensor<4> {
    match data {
        Data::Toy(t) => t.sample_tensor(n, rng, device),
        Data::Drawn => {
            let pts: Vec<[f64; 2]> = (0..n)
                .map(|_| {
                    let p = drawn[rng.below(drawn.len())];
                    [p[0] + 0.05 * rng.normal(), p[1] + 0.05 * rng.normal()]
                })
                .collect();
            points_tensor(&pts, device)
        }
    }
}

async fn read(t: Tensor<4>) -> Result<Vec<f32>, JsValue> {
    let d = t
        .into_data_async()
        .await
        .map_err(|e| dom::err(format!("read-back failed: {e:?}")))?;
    d.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| dom::err(format!("{e:?}")))
}

fn pairs(v: &[f32]) -> Vec<[f64; 2]> {
    v.chunks(2).map(|p| [p[0] as f64, p[1] as f64]).collect()
}

impl Playground {
    fn data_ready(&self) -> bool {
        self.controls.data() != Data::Drawn || self.drawn.len() >= 2
    }

    /// `n` training steps; the last one measures the gradient norms for the chart.
    async fn train(&mut self, n: usize) -> Result<(), JsValue> {
        let data = self.controls.data();
        let mut last = None;
        for k in 0..n {
            self.gan.diagnostics = k + 1 == n;
            let (drawn, device) = (self.drawn.clone(), self.device.clone());
            last = Some(
                self.gan
                    .step_tensors(|rng| real_batch(data, &drawn, BATCH, rng, &device)),
            );
        }
        let stats = last.expect("n ≥ 1").read_async().await.map_err(|e| {
            dom::err(format!(
                "{e} — training diverged; lower the learning rates or λ and press Reset"
            ))
        })?;
        for (h, v) in self.history.iter_mut().zip([
            stats.d_loss,
            stats.g_loss,
            stats.grad_norm_real,
            stats.grad_norm_fake,
        ]) {
            h.push(v);
            if h.len() > HISTORY {
                // Keep the whole run visible: drop every other point.
                *h = h.iter().step_by(2).copied().collect();
            }
        }
        self.root
            .set_attribute("data-steps", &self.gan.iteration.to_string())?;
        Ok(())
    }

    async fn render(&self) -> Result<(), JsValue> {
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

    fn reset(&mut self) -> Result<(), String> {
        let config = self.controls.config()?;
        self.gan = new_gan(&self.device, config, 1);
        self.history = Default::default();
        Ok(())
    }
}

/// What the page's controls asked for since the last frame (event handlers only touch this;
/// the frame loop owns the GAN, so no borrow ever spans an await).
#[derive(Default)]
struct Inputs {
    toggle: bool,
    steps: usize,
    reset: bool,
    changed: bool,
    drawn: Vec<[f64; 2]>,
}

/// Builds the playground inside `root` and starts its frame loop.
pub async fn mount(root: Element) -> Result<(), JsValue> {
    let _ = root.class_list().add_1("margan-playground");
    dom::text(&root, "h2", &[], "Margin playground");
    let bar = dom::child(&root, "div", &[("class", "controls")]);
    let data = select(
        &bar,
        "data",
        "data ",
        &[
            ("8gaussians", "8 Gaussians"),
            ("25gaussians", "25 Gaussians"),
            ("ring", "ring"),
            ("swissroll", "swiss roll"),
            ("drawn", "draw your own"),
        ],
        "8gaussians",
    )?;
    let losses: Vec<(&str, &str)> = GanLoss::ALL.iter().map(|l| (l.name(), l.name())).collect();
    let loss = select(&bar, "loss", "loss ", &losses, "hinge")?;
    let norm = select(
        &bar,
        "norm",
        "gradient norm ",
        &[("none", "none"), ("l1", "L1"), ("l2", "L2"), ("linf", "L∞")],
        "linf",
    )?;
    let form = select(
        &bar,
        "form",
        "form ",
        &[("hinge", "hinge max(0,‖g‖−1)"), ("ls", "LS (‖g‖−1)²")],
        "hinge",
    )?;
    let weight = number(&bar, "lambda", "λ ", "10", "1")?;
    let lr_d = number(&bar, "lr-d", "critic lr ", "0.001", "0.0001")?;
    let lr_g = number(&bar, "lr-g", "generator lr ", "0.001", "0.0001")?;
    let buttons = dom::child(&root, "div", &[("class", "controls")]);
    let play = dom::text(&buttons, "button", &[("data-role", "play")], "Play");
    let step = dom::text(&buttons, "button", &[("data-role", "step")], "Step");
    let reset = dom::text(&buttons, "button", &[("data-role", "reset")], "Reset");
    let clear = dom::text(
        &buttons,
        "button",
        &[("data-role", "clear")],
        "Clear drawn points",
    );
    let figures = dom::child(&root, "div", &[("class", "figures")]);
    let (canvas, ctx) = dom::canvas(&figures, "critic", SIZE as u32, SIZE as u32);
    let charts = dom::child(&figures, "div", &[("class", "charts")]);
    let (_, loss_ctx) = dom::canvas(&charts, "loss-chart", 360, 150);
    let (_, norm_ctx) = dom::canvas(&charts, "norm-chart", 360, 150);
    dom::text(&root, "p", &[("class", "legend")], "heat map: critic value (red > 0 real side, blue < 0), black: decision boundary D = 0; green: data, purple: generated, lines: the generator's gradient at generated points");
    let status = dom::text(&root, "p", &[("class", "status")], "starting…");

    let (device, _) = backend::device().await;
    let controls = Controls {
        data,
        loss,
        norm,
        form,
        weight,
        lr_d,
        lr_g,
    };
    let config = controls.config().map_err(dom::err)?;
    let mut pg = Playground {
        root: root.clone(),
        gan: new_gan(&device, config, 1),
        z_shown: Rng::new(42).normal_tensor([SHOWN, Z, 1, 1], 0.0, 1.0, &device),
        device,
        controls,
        drawn: Vec::new(),
        running: false,
        steps_per_frame: 1,
        last_render_ms: 0.0,
        render_ms: 0.0,
        history: Default::default(),
        ctx,
        loss_ctx,
        norm_ctx,
        status,
    };

    let inputs = Rc::new(RefCell::new(Inputs {
        changed: true,
        ..Default::default()
    }));
    let i = inputs.clone();
    dom::on(&play, "click", move |_| i.borrow_mut().toggle = true);
    let i = inputs.clone();
    dom::on(&step, "click", move |_| i.borrow_mut().steps += 1);
    let i = inputs.clone();
    dom::on(&reset, "click", move |_| i.borrow_mut().reset = true);
    let i = inputs.clone();
    dom::on(&clear, "click", move |_| {
        let mut i = i.borrow_mut();
        i.drawn.clear();
        i.changed = true;
    });
    for el in [&bar] {
        let i = inputs.clone();
        dom::on(el, "change", move |_| i.borrow_mut().changed = true);
    }
    let i = inputs.clone();
    let c2 = canvas.clone();
    dom::on(&canvas, "click", move |e| {
        let Some(e) = e.dyn_ref::<web_sys::MouseEvent>() else {
            return;
        };
        // offsetX/Y are CSS pixels inside the canvas; the canvas may be drawn scaled.
        let k = SIZE / (c2.client_width().max(1) as f64);
        let p = WINDOW.to_data([e.offset_x() as f64 * k, e.offset_y() as f64 * k]);
        let mut i = i.borrow_mut();
        i.drawn.push(p);
        i.changed = true;
    });

    wasm_bindgen_futures::spawn_local(async move {
        loop {
            dom::next_frame().await;
            let (toggle, steps, reset, changed, drawn) = {
                let mut i = inputs.borrow_mut();
                let out = (i.toggle, i.steps, i.reset, i.changed, i.drawn.clone());
                i.toggle = false;
                i.steps = 0;
                i.reset = false;
                i.changed = false;
                out
            };
            pg.drawn = drawn;
            if toggle {
                pg.running = !pg.running;
                play.set_text_content(Some(if pg.running { "Pause" } else { "Play" }));
                let _ = pg
                    .root
                    .set_attribute("data-running", if pg.running { "1" } else { "0" });
            }
            // Settings apply live: loss, penalty, λ and learning rates.
            match pg.controls.config() {
                Ok(c) => pg.gan.config = c,
                Err(e) => {
                    dom::show_error(&pg.root, &e);
                    continue;
                }
            }
            if reset {
                pg.reset().ok();
            }
            let steps = if pg.running {
                pg.steps_per_frame
            } else {
                steps
            };
            let mut result = Ok(());
            if steps > 0 && pg.data_ready() {
                let t0 = dom::now_ms();
                result = pg.train(steps).await;
                if pg.running {
                    pg.steps_per_frame = adapt_steps(
                        pg.steps_per_frame,
                        dom::now_ms() - t0,
                        TRAIN_BUDGET_MS,
                        MAX_STEPS_PER_FRAME,
                    );
                }
            }
            let since = dom::now_ms() - pg.last_render_ms;
            let render_due = !pg.running || since >= RENDER_EVERY_MS.max(3.0 * pg.render_ms);
            if result.is_ok() && (steps > 0 && render_due || reset || changed || toggle) {
                let t0 = dom::now_ms();
                result = pg.render().await;
                pg.last_render_ms = dom::now_ms();
                pg.render_ms = pg.last_render_ms - t0;
            }
            match result {
                Ok(()) => {
                    if changed || reset {
                        dom::clear_error(&pg.root);
                    }
                }
                Err(e) => {
                    pg.running = false;
                    play.set_text_content(Some("Play"));
                    dom::show_error(&pg.root, &dom::describe(&e));
                }
            }
        }
    });
    Ok(())
}
