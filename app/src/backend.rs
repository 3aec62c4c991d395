//! Backend choice: WebGPU through burn's wgpu backend when `navigator.gpu` gives an adapter,
//! otherwise the CPU (flex) backend; `?backend=cpu` forces the CPU. One device per page, shared
//! by every view and embed.

use crate::dom;
use burn::tensor::Device;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    static DEVICE: RefCell<Option<(Device, &'static str)>> = const { RefCell::new(None) };
    static INIT: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
}

/// Whether `navigator.gpu.requestAdapter()` yields an adapter.
async fn webgpu_adapter() -> bool {
    let nav = dom::window().navigator();
    let Ok(gpu) = js_sys::Reflect::get(&nav, &"gpu".into()) else {
        return false;
    };
    if gpu.is_undefined() || gpu.is_null() {
        return false;
    }
    let Ok(f) = js_sys::Reflect::get(&gpu, &"requestAdapter".into()) else {
        return false;
    };
    let Ok(f) = f.dyn_into::<js_sys::Function>() else {
        return false;
    };
    let Ok(p) = f.call0(&gpu) else { return false };
    match JsFuture::from(js_sys::Promise::from(p)).await {
        Ok(adapter) => !adapter.is_null() && !adapter.is_undefined(),
        Err(_) => false,
    }
}

async fn init() -> (Device, &'static str) {
    let force_cpu = crate::logic::PageParams::parse(&dom::search()).force_cpu;
    if !force_cpu && webgpu_adapter().await {
        match Device::wgpu_options().init_async().await {
            Ok(d) => return (d.autodiff(), "WebGPU"),
            Err(e) => {
                web_sys::console::warn_1(&format!("WebGPU init failed, using the CPU: {e}").into())
            }
        }
    }
    (margan::device::cpu(), "CPU")
}

/// The page's device and its badge text ("WebGPU" or "CPU"); initialised on first use.
pub async fn device() -> (Device, &'static str) {
    if let Some(d) = DEVICE.with(|d| d.borrow().clone()) {
        return d;
    }
    let promise = INIT.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| {
                wasm_bindgen_futures::future_to_promise(async {
                    let d = init().await;
                    DEVICE.with(|slot| *slot.borrow_mut() = Some(d.clone()));
                    if let Some(badge) = dom::document().get_element_by_id("backend-badge") {
                        badge.set_text_content(Some(d.1));
                        let _ = badge.set_attribute("data-backend", d.1);
                    }
                    Ok(JsValue::from_str(d.1))
                })
            })
            .clone()
    });
    let _ = JsFuture::from(promise).await;
    DEVICE
        .with(|d| d.borrow().clone())
        .expect("device initialised")
}
