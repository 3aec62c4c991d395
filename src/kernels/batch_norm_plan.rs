//! What the BatchNorm kernels' launches share (`batch_norm_cube.rs`): the shaders, compiled
//! for one shape, strides and scalars each, the split of every channel into ranges, the first
//! launch (per-range sums), and the mask of an activation fused into the forward.

use super::launch::{empty_like, empty_with_strides, layout_of};
use burn::backend::wgpu::{
    into_contiguous, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments, CubeCount};

/// Most invocations per workgroup (WebGPU's guaranteed limit). A workgroup gets the power of
/// two that gives its invocations about 4 values of a range each, between 32 and this: a small
/// batch then does not pay for idle invocations at every barrier of the tree sums.
const WORKGROUP: u32 = 256;

/// Values of a channel per range of the partial sums (16 per invocation): a channel of `M`
/// values is spread over `⌈M / CHUNK⌉` workgroups.
const CHUNK: usize = 4096;

const COMMON: &str = include_str!("../../shaders/batch_norm_common.wgsl");

/// One of the BatchNorm shaders, with the shape, strides and scalars it is compiled for.
pub(super) struct BnShader {
    name: &'static str,
    body: &'static str,
    workgroup: u32,
    consts: Vec<(&'static str, String)>,
}

impl KernelSource for BnShader {
    fn source(&self) -> SourceTemplate {
        let template = SourceTemplate::new(COMMON)
            .add_template(self.body)
            .register("workgroup_size", self.workgroup.to_string());
        self.consts
            .iter()
            .fold(template, |t, (k, v)| t.register(*k, v.clone()))
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>((self.name, self.workgroup, self.consts.clone()))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// What one BatchNorm operation's launches share: the shape and its split into groups and
/// ranges.
pub(super) struct Plan {
    pub(super) shape: [usize; 4],
    /// The layout of the outputs of x's shape ([`layout_of`]): compiled into the shaders, and
    /// the strides of the tensors [`Plan::output`] allocates.
    out_strides: Vec<usize>,
    groups: usize,
    splits: usize,
    workgroup: u32,
    consts: Vec<(&'static str, String)>,
}

impl Plan {
    pub(super) fn new(x: &CubeTensor, [eps, groups]: [u32; 2]) -> Self {
        assert_eq!(x.dtype, DType::F32, "the BatchNorm kernels are f32 only");
        let dims = x.meta.shape();
        assert_eq!(dims.num_dims(), 4, "BatchNorm kernels expect [N, C, H, W]");
        let shape = [dims[0], dims[1], dims[2], dims[3]];
        let [batch, c, h, w] = shape;
        assert!(
            shape.iter().product::<usize>() < u32::MAX as usize,
            "BatchNorm kernel: {shape:?} exceeds u32 indexing"
        );
        let groups = groups as usize;
        assert!(
            groups >= 1 && batch.is_multiple_of(groups),
            "BatchNorm kernel: a batch of {batch} does not split into {groups} equal groups"
        );
        // Samples per group, and values per statistics slot.
        let n = batch / groups;
        let m = n * h * w;
        // Every range but the last holds CHUNK values, the last at least one.
        let splits = m.div_ceil(CHUNK).max(1);
        assert!(
            groups * c <= 65_535 && splits <= 65_535,
            "BatchNorm kernel: {shape:?} needs more than 65535 workgroups per dimension"
        );
        let out_strides = layout_of(x);
        let per_range = m.min(CHUNK);
        let workgroup = (per_range.div_ceil(4).next_power_of_two() as u32).clamp(32, WORKGROUP);
        let consts = vec![
            ("groups", groups.to_string()),
            ("n", n.to_string()),
            ("c", c.to_string()),
            ("h", h.to_string()),
            ("w", w.to_string()),
            ("splits", splits.to_string()),
            ("chunk", CHUNK.min(m).max(1).to_string()),
            ("x_strides", strides(x, shape, "x")),
            ("out_strides", wgsl_strides(&out_strides)),
            ("eps_bits", eps.to_string()),
        ];
        Plan {
            shape,
            out_strides,
            groups,
            splits,
            workgroup,
            consts,
        }
    }

    pub(super) fn channels(&self) -> usize {
        self.shape[1]
    }

    /// An output of `x`'s shape, laid out as the shaders write it.
    pub(super) fn output(&self, x: &CubeTensor) -> CubeTensor {
        empty_with_strides(x, &self.out_strides)
    }

    /// The shader `body` with this plan's constants and `extra` ones.
    pub(super) fn shader(
        &self,
        name: &'static str,
        body: &'static str,
        extra: Vec<(&'static str, String)>,
    ) -> BnShader {
        let mut consts = self.consts.clone();
        consts.extend(extra);
        BnShader {
            name,
            body,
            workgroup: self.workgroup,
            consts,
        }
    }

    /// Launches `shader` on one workgroup per (range, statistics slot: channel of a group).
    pub(super) fn launch(&self, shader: BnShader, buffers: Vec<&CubeTensor>) {
        let c = self.channels() as u32;
        let count = CubeCount::Static(self.splits as u32, c * self.groups as u32, 1);
        let client = &buffers[0].client;
        client.launch(
            Box::new(SourceKernel::new(shader, CubeDim::new_1d(self.workgroup))),
            count,
            KernelArguments::new().with_buffers(
                buffers
                    .into_iter()
                    .map(|t| t.handle.clone().binding())
                    .collect(),
            ),
        );
    }

    /// The first launch of every operation: the per-range sums of `x` and of the gradients
    /// the operation has (`batch_norm_partials.wgsl`).
    pub(super) fn partials(
        &self,
        x: &CubeTensor,
        gy: Option<&CubeTensor>,
        u: Option<&CubeTensor>,
        mask: Option<&Mask>,
    ) -> CubeTensor {
        let out = empty_like(
            x,
            Shape::new([self.groups * self.channels() * self.splits * 8]),
        );
        let mut bindings = String::new();
        let mut buffers = vec![&out, x];
        let mut extra = Vec::new();
        for (i, (t, name)) in [(gy, "gy"), (u, "u")].into_iter().enumerate() {
            let (value, stride) = match t {
                Some(t) => {
                    bindings.push_str(&format!(
                        "@group(0) @binding({}) var<storage, read_write> {name}: array<f32>;\n",
                        buffers.len()
                    ));
                    buffers.push(t);
                    let strides_name = if i == 0 { "GY_STRIDES" } else { "U_STRIDES" };
                    (
                        format!("{name}[offset(j, k, {strides_name})]"),
                        strides(t, self.shape, name),
                    )
                }
                None => ("0.0".to_string(), NO_STRIDES.to_string()),
            };
            let value = if i == 0 {
                let [binding, mask_strides, value] =
                    masked_read(mask, value, self.shape, &mut buffers);
                bindings.push_str(&binding);
                extra.push(("mask_strides", mask_strides));
                value
            } else {
                value
            };
            extra.push((if i == 0 { "gy_value" } else { "u_value" }, value));
            extra.push((if i == 0 { "gy_strides" } else { "u_strides" }, stride));
        }
        extra.push(("gradient_bindings", bindings));
        let shader = self.shader(
            "batch_norm_partials",
            include_str!("../../shaders/batch_norm_partials.wgsl"),
            extra,
        );
        self.launch(shader, buffers);
        out
    }
}

/// A rank-4 tensor's strides as a WGSL `vec4<u32>` argument list.
pub(super) fn strides(t: &CubeTensor, shape: [usize; 4], what: &str) -> String {
    assert_eq!(t.dtype, DType::F32, "the BatchNorm kernels are f32 only");
    assert_eq!(
        t.meta.shape().dims::<4>(),
        shape,
        "BatchNorm kernel: {what} has another shape than x"
    );
    wgsl_strides(&t.meta.strides()[..4])
}

/// Rank-4 strides as a WGSL `vec4<u32>` argument list.
fn wgsl_strides(s: &[usize]) -> String {
    s.iter()
        .map(|&v| format!("{}u", u32::try_from(v).expect("stride exceeds u32")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A per-channel vector `[C]`, contiguous.
pub(super) fn channel_vec(t: CubeTensor, c: usize, what: &str) -> CubeTensor {
    assert_eq!(t.dtype, DType::F32, "the BatchNorm kernels are f32 only");
    assert_eq!(
        t.meta.shape().num_elements(),
        c,
        "BatchNorm kernel: {what} must have one value per channel"
    );
    into_contiguous(t)
}

/// The output of a forward with a ReLU / LeakyReLU fused in, whose signs mask the upstream
/// gradient of the backward (`slope`: f32 bits), as the activation's own backward would.
pub(super) struct Mask {
    pub(super) y: CubeTensor,
    pub(super) slope: u32,
}

/// The strides of a tensor a shader does not bind.
const NO_STRIDES: &str = "0u, 0u, 0u, 0u";

/// `read` (a WGSL expression of the upstream gradient at value j of slot k) times the
/// activation's derivative where `mask` is given, which then joins `buffers`; returns the
/// mask's binding declaration (empty without one), its strides and the read.
pub(super) fn masked_read<'a>(
    mask: Option<&'a Mask>,
    read: String,
    shape: [usize; 4],
    buffers: &mut Vec<&'a CubeTensor>,
) -> [String; 3] {
    let Some(mask) = mask else {
        return [String::new(), NO_STRIDES.to_string(), read];
    };
    let binding = format!(
        "@group(0) @binding({}) var<storage, read_write> mask: array<f32>;\n",
        buffers.len()
    );
    buffers.push(&mask.y);
    let read = format!(
        "({read} * select(bitcast<f32>({}u), 1.0, mask[offset(j, k, MASK_STRIDES)] > 0.0))",
        mask.slope
    );
    [binding, strides(&mask.y, shape, "the mask"), read]
}
