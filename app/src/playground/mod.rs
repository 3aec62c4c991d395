//! The margin playground: a small generator and a margin-penalised critic trained live on 2-D
//! data, with the critic's value as a heat map, its decision boundary, the generator's gradient
//! at fake samples, and charts of the losses and of the critic's gradient norm.

use crate::logic::{adapt_steps, PlotWindow};
use crate::{backend, dom};
use burn::tensor::{Device, Tensor};
use margan::gan::{Gan, GanConfig};
use margan::nets::MlpConfig;
use margan::rng::Rng;
use margan::toy::{points_tensor, Toy};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, Element};

mod controls;
mod render;

use controls::Controls;

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
    let controls = Controls::build(&bar)?;
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
