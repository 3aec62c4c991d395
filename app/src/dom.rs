//! Small web-sys helpers: element creation, events, canvases, messages.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, Document, Element, HtmlCanvasElement};

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

pub fn document() -> Document {
    window().document().expect("a document")
}

/// The page's query string (`?a=b`).
pub fn search() -> String {
    window().location().search().unwrap_or_default()
}

/// `performance.now()` in milliseconds.
pub fn now_ms() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or(0.0)
}

/// Creates `<tag attrs…>` and appends it to `parent`.
pub fn child(parent: &Element, tag: &str, attrs: &[(&str, &str)]) -> Element {
    let e = document().create_element(tag).expect("create element");
    for (k, v) in attrs {
        e.set_attribute(k, v).expect("set attribute");
    }
    parent.append_child(&e).expect("append");
    e
}

/// Like [`child`] with text content.
pub fn text(parent: &Element, tag: &str, attrs: &[(&str, &str)], content: &str) -> Element {
    let e = child(parent, tag, attrs);
    e.set_text_content(Some(content));
    e
}

pub fn canvas(
    parent: &Element,
    id: &str,
    w: u32,
    h: u32,
) -> (HtmlCanvasElement, CanvasRenderingContext2d) {
    let c: HtmlCanvasElement = child(parent, "canvas", &[("class", id), ("data-role", id)])
        .dyn_into()
        .expect("a canvas");
    c.set_width(w);
    c.set_height(h);
    let ctx = c
        .get_context("2d")
        .ok()
        .flatten()
        .expect("2d context")
        .dyn_into::<CanvasRenderingContext2d>()
        .expect("2d context");
    (c, ctx)
}

/// Calls `f` on every `event` of `target` (the closure lives as long as the page).
pub fn on(target: &web_sys::EventTarget, event: &str, f: impl FnMut(web_sys::Event) + 'static) {
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    target
        .add_event_listener_with_callback(event, cb.as_ref().unchecked_ref())
        .expect("add listener");
    cb.forget();
}

/// Resolves at the next animation frame.
pub async fn next_frame() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().request_animation_frame(&resolve);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// A readable message for a JS error or a thrown value.
pub fn describe(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// Replaces (or adds) the `.error` box of `root` with `message`.
pub fn show_error(root: &Element, message: &str) {
    let el = match root.query_selector(".error").ok().flatten() {
        Some(el) => el,
        None => child(root, "div", &[("class", "error"), ("role", "alert")]),
    };
    el.set_text_content(Some(message));
}

pub fn clear_error(root: &Element) {
    if let Some(el) = root.query_selector(".error").ok().flatten() {
        el.remove();
    }
}

/// Panics go to the console and to the page instead of leaving it blank.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = format!("margan crashed: {info}");
        web_sys::console::error_1(&msg.clone().into());
        if let Some(body) = document().body() {
            show_error(&body, &msg);
        }
    }));
}

pub fn err(msg: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&msg.to_string()).into()
}
