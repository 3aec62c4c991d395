//! The sampler view: loads an exported generator (the shipped demo, `?weights=URL`, the `src`
//! of `<margan-sampler>`, or a file the user picks) and shows a grid of samples and a latent
//! interpolation.

use crate::logic::{image_grid, slerp};
use crate::{backend, dom};
use burn::tensor::{Device, Tensor, TensorData};
use margan::export::ExportInfo;
use margan::layers::{Mode, Network};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, Element, HtmlCanvasElement, HtmlInputElement};

/// The weights shipped with the app (`www/demo/`).
pub const DEMO: &str = "demo/shapes.margan";
const GRID: usize = 16;
const PAIRS: usize = 4;

struct Loaded {
    info: ExportInfo,
    g: Network,
}

struct Sampler {
    root: Element,
    device: Device,
    loaded: Option<Loaded>,
    grid: (HtmlCanvasElement, CanvasRenderingContext2d),
    strip: (HtmlCanvasElement, CanvasRenderingContext2d),
    status: Element,
    slider: HtmlInputElement,
    seed: u64,
    /// Endpoints of the interpolation, `[PAIRS][2][z]`.
    ends: Vec<[Vec<f32>; 2]>,
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, JsValue> {
    let resp = JsFuture::from(dom::window().fetch_with_str(url)).await?;
    let resp: web_sys::Response = resp.dyn_into()?;
    if !resp.ok() {
        return Err(dom::err(format!(
            "{url}: HTTP {} {}",
            resp.status(),
            resp.status_text()
        )));
    }
    let buf = JsFuture::from(resp.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

fn latents(seed: u64, n: usize, z: usize) -> Vec<f32> {
    let mut rng = margan::rng::Rng::new(seed);
    (0..n * z).map(|_| rng.normal() as f32).collect()
}

impl Sampler {
    fn load(&mut self, bytes: &[u8], what: &str) -> Result<(), JsValue> {
        let (info, g) = margan::export::load(bytes, what, &self.device)
            .map_err(|e| dom::err(format!("{e}. Pick a file written by `margan export`.")))?;
        let [c, h, w] = info.model.sample_shape();
        if c * h * w < 3 {
            return Err(dom::err(format!(
                "{what}: a {}-D model; the sampler shows images (use the playground for 2-D data)",
                c * h * w
            )));
        }
        self.loaded = Some(Loaded { info, g });
        self.new_ends();
        Ok(())
    }

    fn new_ends(&mut self) {
        let z = self
            .loaded
            .as_ref()
            .map(|l| l.info.model.z_dim())
            .unwrap_or(1);
        self.ends = (0..PAIRS)
            .map(|k| {
                let s = self.seed.wrapping_mul(1000) + 2 * k as u64;
                [latents(s + 7, 1, z), latents(s + 8, 1, z)]
            })
            .collect();
    }

    /// Runs the generator on `z` (`n` latents) and reads the images back asynchronously.
    async fn generate(&self, z: Vec<f32>, n: usize) -> Result<(Vec<f32>, [usize; 3]), JsValue> {
        let l = self
            .loaded
            .as_ref()
            .ok_or_else(|| dom::err("no generator loaded"))?;
        let zd = l.info.model.z_dim();
        let z = Tensor::<4>::from_data(TensorData::new(z, [n, zd, 1, 1]), &self.device);
        let x = l.g.forward(z, Mode::Eval);
        let data = x
            .into_data_async()
            .await
            .map_err(|e| dom::err(format!("reading samples back failed: {e:?}")))?;
        let v = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| dom::err(format!("{e:?}")))?;
        Ok((v, l.info.model.sample_shape()))
    }

    async fn draw_grid(&self) -> Result<f64, JsValue> {
        let z = self
            .loaded
            .as_ref()
            .map(|l| l.info.model.z_dim())
            .unwrap_or(1);
        let t0 = dom::now_ms();
        let (v, [c, h, w]) = self.generate(latents(self.seed, GRID, z), GRID).await?;
        let ms = dom::now_ms() - t0;
        put(&self.grid, &v, GRID, [c, h, w], 4)?;
        Ok(ms)
    }

    async fn draw_strip(&self) -> Result<(), JsValue> {
        let t = self.slider.value_as_number() as f32;
        let z: Vec<f32> = self.ends.iter().flat_map(|[a, b]| slerp(a, b, t)).collect();
        let (v, shape) = self.generate(z, PAIRS).await?;
        put(&self.strip, &v, PAIRS, shape, PAIRS)
    }

    async fn redraw(&self) -> Result<(), JsValue> {
        let ms = self.draw_grid().await?;
        self.draw_strip().await?;
        if let Some(l) = &self.loaded {
            let i = &l.info;
            let penalty = i
                .penalty
                .as_ref()
                .map(|p| format!("{} {:?} λ={}", p.norm.name(), p.form, p.weight))
                .unwrap_or_else(|| "no penalty".into());
            self.status.set_text_content(Some(&format!(
                "{GRID} samples in {ms:.0} ms on {} · {} loss, {penalty}, {} iterations on {}",
                backend_name(),
                i.loss.name(),
                i.iteration,
                i.data
            )));
            let _ = self.status.set_attribute("data-ms", &format!("{ms:.1}"));
        }
        let _ = self.root.set_attribute("data-ready", "1");
        Ok(())
    }
}

fn backend_name() -> String {
    dom::document()
        .get_element_by_id("backend-badge")
        .and_then(|b| b.get_attribute("data-backend"))
        .unwrap_or_else(|| "this backend".into())
}

/// Draws images onto a canvas at an integer zoom.
fn put(
    target: &(HtmlCanvasElement, CanvasRenderingContext2d),
    v: &[f32],
    n: usize,
    [c, h, w]: [usize; 3],
    cols: usize,
) -> Result<(), JsValue> {
    let (rgba, gw, gh) = image_grid(v, n, c, h, w, cols, 2);
    let (canvas, ctx) = target;
    let zoom = (canvas.width() as usize / gw).max(1);
    let mut big = vec![0u8; gw * zoom * gh * zoom * 4];
    for y in 0..gh * zoom {
        for x in 0..gw * zoom {
            let s = ((y / zoom) * gw + x / zoom) * 4;
            let d = (y * gw * zoom + x) * 4;
            big[d..d + 4].copy_from_slice(&rgba[s..s + 4]);
        }
    }
    canvas.set_width((gw * zoom) as u32);
    canvas.set_height((gh * zoom) as u32);
    let img = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&big),
        (gw * zoom) as u32,
        (gh * zoom) as u32,
    )?;
    ctx.put_image_data(&img, 0.0, 0.0)
}

/// Builds the sampler inside `root` and loads `src` (or the demo).
pub async fn mount(root: Element, src: Option<String>) -> Result<(), JsValue> {
    let _ = root.class_list().add_1("margan-sampler");
    dom::text(&root, "h2", &[], "Sampler");
    let bar = dom::child(&root, "div", &[("class", "controls")]);
    let again = dom::text(
        &bar,
        "button",
        &[("data-role", "new-samples")],
        "New samples",
    );
    dom::text(&bar, "label", &[], "Load an export: ");
    let picker = dom::child(
        &bar,
        "input",
        &[
            ("type", "file"),
            ("accept", ".margan,.bin"),
            ("data-role", "file"),
        ],
    );
    let grid = dom::canvas(&root, "sample-grid", 4 * 36 * 4, 4 * 36 * 4);
    dom::text(&root, "h3", &[], "Interpolation between two latent points");
    let slider: HtmlInputElement = dom::child(
        &root,
        "input",
        &[
            ("type", "range"),
            ("min", "0"),
            ("max", "1"),
            ("step", "0.02"),
            ("value", "0"),
            ("data-role", "interpolate"),
        ],
    )
    .dyn_into()?;
    let strip = dom::canvas(&root, "interpolation", PAIRS as u32 * 36 * 4, 36 * 4);
    let status = dom::text(&root, "p", &[("class", "status")], "loading…");

    let (device, _) = backend::device().await;
    let url = src.unwrap_or_else(|| DEMO.to_string());
    let state = Rc::new(RefCell::new(Sampler {
        root: root.clone(),
        device,
        loaded: None,
        grid,
        strip,
        status,
        slider,
        seed: 1,
        ends: Vec::new(),
    }));
    let loaded = match fetch_bytes(&url).await {
        Ok(bytes) => state.borrow_mut().load(&bytes, &url),
        Err(e) => Err(e),
    };
    match loaded {
        Ok(()) => {
            let s = state.borrow();
            s.redraw().await?;
        }
        Err(e) => {
            dom::show_error(&root, &dom::describe(&e));
            state
                .borrow()
                .status
                .set_text_content(Some("no generator loaded"));
        }
    }

    // Events: each spawns its own async task; the state is only borrowed between awaits.
    let s = state.clone();
    dom::on(&again, "click", move |_| {
        let s = s.clone();
        wasm_bindgen_futures::spawn_local(async move {
            {
                let mut st = s.borrow_mut();
                st.seed += 1;
                st.new_ends();
            }
            let r = s.borrow().redraw().await;
            if let Err(e) = r {
                dom::show_error(&s.borrow().root, &dom::describe(&e));
            }
        });
    });
    let s = state.clone();
    let slider_el = state.borrow().slider.clone();
    dom::on(&slider_el, "input", move |_| {
        let s = s.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let r = s.borrow().draw_strip().await;
            if let Err(e) = r {
                dom::show_error(&s.borrow().root, &dom::describe(&e));
            }
        });
    });
    let s = state.clone();
    let picker: HtmlInputElement = picker.dyn_into()?;
    let picker2 = picker.clone();
    dom::on(&picker, "change", move |_| {
        let Some(file) = picker2.files().and_then(|f| f.get(0)) else {
            return;
        };
        let s = s.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let name = file.name();
            let result = async {
                let buf = JsFuture::from(file.array_buffer()).await?;
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                s.borrow_mut().load(&bytes, &name)?;
                dom::clear_error(&s.borrow().root);
                let r = s.borrow().redraw().await;
                r
            }
            .await;
            if let Err(e) = result {
                dom::show_error(&s.borrow().root, &dom::describe(&e));
            }
        });
    });
    Ok(())
}
