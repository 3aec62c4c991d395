//! margan in the browser: a sampler of exported generators and a live margin playground, on
//! WebGPU (burn's wgpu backend, with margan's WGSL kernels) or on the CPU backend.

mod backend;
mod chart;
mod dom;
pub use margan_app_logic as logic;
mod playground;
mod sampler;

use wasm_bindgen::prelude::*;

/// Runs when the module loads. On the app's own page (`#margan-app`) it mounts the views that
/// `?view=` asks for (both by default); elsewhere (an embed) it waits for `mount_*` calls.
#[wasm_bindgen(start)]
pub fn start() {
    // No window: a worker or the unit-test runner under node.
    if web_sys::window().is_none() {
        return;
    }
    dom::install_panic_hook();
    let Some(root) = dom::document().get_element_by_id("margan-app") else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let params = logic::PageParams::parse(&dom::search());
        let result = async {
            if params.show_sampler() {
                let host = dom::child(&root, "section", &[("class", "view"), ("id", "sampler")]);
                sampler::mount(host, params.weights.clone()).await?;
            }
            if params.show_playground() {
                let host = dom::child(&root, "section", &[("class", "view"), ("id", "playground")]);
                playground::mount(host).await?;
            }
            Ok::<(), JsValue>(())
        }
        .await;
        if let Err(e) = result {
            dom::show_error(&root, &dom::describe(&e));
        }
    });
}

/// Mounts the sampler into `root` (used by the `<margan-sampler>` custom element of
/// `embed.js`). `src`: URL of an exported generator (default: the shipped demo).
#[wasm_bindgen]
pub async fn mount_sampler(root: web_sys::Element, src: Option<String>) -> Result<(), JsError> {
    sampler::mount(root, src)
        .await
        .map_err(|e| JsError::new(&dom::describe(&e)))
}

/// Mounts the margin playground into `root` (the `<margan-playground>` custom element).
#[wasm_bindgen]
pub async fn mount_playground(root: web_sys::Element) -> Result<(), JsError> {
    playground::mount(root)
        .await
        .map_err(|e| JsError::new(&dom::describe(&e)))
}
