//! What margan's wgpu adapter offers its product kernels, recorded once as the device is set up
//! (`margan::device::wgpu`): the f16 cooperative matrices of the tensor-core kernel
//! (`shaders/tc_matmul.wgsl`) and the subgroup width it is generated for, and the workgroup
//! memory that decides which variants of either kernel fit.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// The subgroup width the shader is generated for; 0 while no device offers the product.
static WIDTH: AtomicU32 = AtomicU32::new(0);
/// The side of the cooperative matrices (16, or 8 where only 8×8×8 is offered).
static TILE: AtomicU32 = AtomicU32::new(16);
/// The device's workgroup memory in bytes (which variants fit).
static SHARED_BYTES: AtomicU32 = AtomicU32::new(0);
/// Why the product is or is not offered, for the bench header and error messages.
static REPORT: Mutex<String> = Mutex::new(String::new());

/// The subgroup widths the shader can be generated for.
pub const WIDTHS: [u32; 4] = [8, 16, 32, 64];

/// Whether the wgpu device margan set up (`margan::device::wgpu`) offers the product.
pub(crate) fn available() -> bool {
    WIDTH.load(Ordering::Relaxed) != 0
}

/// What detection found (empty before a wgpu device is set up).
pub(crate) fn report() -> String {
    REPORT.lock().map(|r| r.clone()).unwrap_or_default()
}

/// Records what the adapter and device offer (called once, when the device is set up):
/// cooperative matrices, f16 and subgroup built-ins enabled on the device, a 16×16×16 f16 × f16
/// → f32 configuration (8×8×8 where 16×16×16 is not offered: Mesa's lavapipe), and subgroups
/// of one fixed width among [`WIDTHS`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn detect(
    adapter: &burn::tensor::wgpu::wgpu::Adapter,
    device: &burn::tensor::wgpu::wgpu::Device,
) {
    use burn::tensor::wgpu::wgpu::{CooperativeScalarType as T, Features};
    let features = device.features();
    let info = adapter.get_info();
    let configs = adapter.cooperative_matrix_properties();
    let listed = configs
        .iter()
        .map(|p| {
            format!(
                "{}×{}×{} {:?}→{:?}",
                p.m_size, p.n_size, p.k_size, p.ab_type, p.cr_type
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (lo, hi) = (info.subgroup_min_size, info.subgroup_max_size);
    let lacks = [
        (
            Features::EXPERIMENTAL_COOPERATIVE_MATRIX,
            "cooperative matrices",
        ),
        (Features::SHADER_F16, "f16 in shaders"),
        (Features::SUBGROUP, "subgroup operations"),
    ]
    .into_iter()
    .filter(|(f, _)| !features.contains(*f))
    .map(|(_, name)| name)
    .collect::<Vec<_>>();
    let offered = |t: u32| {
        configs.iter().any(|p| {
            (p.m_size, p.n_size, p.k_size) == (t, t, t)
                && p.ab_type == T::F16
                && p.cr_type == T::F32
        })
    };
    let tile = if offered(16) { 16 } else { 8 };
    let reason = if !lacks.is_empty() {
        Some(format!("the device has no {}", lacks.join(", no ")))
    } else if !offered(tile) {
        Some(format!(
            "no 16×16×16 or 8×8×8 f16→f32 cooperative matrix (offered: {})",
            if listed.is_empty() { "none" } else { &listed }
        ))
    } else if lo != hi || !WIDTHS.contains(&lo) {
        Some(format!(
            "subgroups {lo}–{hi} wide, not one fixed width of 8, 16, 32 or 64"
        ))
    } else {
        None
    };
    let text = match &reason {
        None => format!("{tile}×{tile}×{tile} f16→f32 cooperative matrices, {lo}-wide subgroups"),
        Some(why) => format!("none: {why}"),
    };
    TILE.store(tile, Ordering::Relaxed);
    SHARED_BYTES.store(
        device.limits().max_compute_workgroup_storage_size,
        Ordering::Relaxed,
    );
    WIDTH.store(if reason.is_none() { lo } else { 0 }, Ordering::Relaxed);
    if let Ok(mut r) = REPORT.lock() {
        *r = text;
    }
}

/// The device's workgroup memory in bytes (0 before margan's wgpu device is set up).
pub(crate) fn workgroup_memory() -> usize {
    shared_bytes() as usize
}

/// [`workgroup_memory`] as the device reports it.
pub(crate) fn shared_bytes() -> u32 {
    SHARED_BYTES.load(Ordering::Relaxed)
}

/// The subgroup width the tensor-core shader runs with (0: not [`available`]).
pub(crate) fn width() -> u32 {
    WIDTH.load(Ordering::Relaxed)
}

/// The side of the cooperative matrices: 16, or 8.
pub(crate) fn tile() -> u32 {
    TILE.load(Ordering::Relaxed)
}
