//! What the BatchNorm kernels' launches share (`batch_norm_cube.rs`): the shaders, compiled
//! for one shape, strides and scalars each, the split of every channel into ranges, the two
//! passes of an operation (per-range sums, then the outputs: one launch where a channel is one
//! range, two otherwise), and the mask of an activation fused into the forward.

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
const PARTIALS: &str = include_str!("../../shaders/batch_norm_partials.wgsl");
const PARTIALS_MAIN: &str = include_str!("../../shaders/batch_norm_partials_main.wgsl");
const OUTPUT_MAIN: &str = include_str!("../../shaders/batch_norm_output_main.wgsl");
const FUSED_MAIN: &str = include_str!("../../shaders/batch_norm_fused_main.wgsl");

/// One of the BatchNorm shaders, with the shape, strides and scalars it is compiled for.
pub(super) struct BnShader {
    name: &'static str,
    /// Which entry point `parts` ends with: `partials`, `output` (a launch per pass) or
    /// `fused` (both passes in one launch).
    entry: &'static str,
    /// After the common part, in order: the passes' functions and the entry point.
    parts: Vec<&'static str>,
    workgroup: u32,
    consts: Vec<(&'static str, String)>,
}

impl KernelSource for BnShader {
    fn source(&self) -> SourceTemplate {
        let template = (self.parts.iter())
            .fold(SourceTemplate::new(COMMON), |t, part| t.add_template(*part))
            .register("workgroup_size", self.workgroup.to_string());
        self.consts
            .iter()
            .fold(template, |t, (k, v)| t.register(*k, v.clone()))
    }
    fn id(&self) -> KernelId {
        let id = (self.name, self.entry, self.workgroup, self.consts.clone());
        super::launch::kernel_id::<Self, _>(id)
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
            // An operation's gradients ([`Plan::run`] sets those it has).
            ("gy_strides", NO_STRIDES.to_string()),
            ("u_strides", NO_STRIDES.to_string()),
            ("mask_strides", NO_STRIDES.to_string()),
            ("gy_value", "0.0".to_string()),
            ("u_value", "0.0".to_string()),
            ("mask_binding", String::new()),
            ("gradient_bindings", String::new()),
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

    /// Whether an operation's two passes run in one launch: a channel's values in all groups
    /// together fit one range, so that its workgroup (one per channel) has no more to read per
    /// pass than a workgroup of the two launches has (which takes a range of one group each).
    fn one_launch(&self) -> bool {
        let [batch, _, h, w] = self.shape;
        batch * h * w <= CHUNK
    }

    /// The shader of `parts` with this plan's constants, `extra` ones replacing them by name.
    fn shader(
        &self,
        name: &'static str,
        entry: &'static str,
        parts: Vec<&'static str>,
        extra: &[(&'static str, String)],
    ) -> BnShader {
        let mut consts = self.consts.clone();
        for (key, value) in extra {
            match consts.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.clone(),
                None => consts.push((key, value.clone())),
            }
        }
        BnShader {
            name,
            entry,
            parts,
            workgroup: self.workgroup,
            consts,
        }
    }

    /// Runs one operation: the per-range sums of `x` and of the gradients `grads` names
    /// (`batch_norm_partials.wgsl`), then `body`'s output pass (its function `output_pass`, its
    /// bindings from 1 on: `buffers`, then the mask where `grads` has one, as `{{ mask_binding }}`
    /// declares it), with `extra` constants. One launch, one workgroup per channel, where a
    /// channel's values in all groups fit one range (G·M ≤ CHUNK); otherwise a launch per pass,
    /// a workgroup per range.
    pub(super) fn run(
        &self,
        name: &'static str,
        body: &'static str,
        extra: Vec<(&'static str, String)>,
        grads: Grads,
        buffers: Vec<&CubeTensor>,
    ) {
        let x = buffers[0];
        let partials = empty_like(
            x,
            Shape::new([self.groups * self.channels() * self.splits * 8]),
        );
        let mut consts = grads.consts(self.shape);
        let mut bound = vec![&partials];
        bound.extend(buffers);
        if let Some(mask) = grads.mask {
            consts.push(("mask_binding", mask_binding(bound.len())));
            bound.push(&mask.y);
        }
        consts.extend(extra);
        let buffers = bound;
        let c = self.channels() as u32;
        if self.one_launch() {
            let shader = self.shader(name, "fused", vec![PARTIALS, body, FUSED_MAIN], &consts);
            self.launch(shader, CubeCount::Static(c, 1, 1), buffers);
            return;
        }
        let slots = CubeCount::Static(self.splits as u32, c * self.groups as u32, 1);
        let (sums, sum_buffers) = grads.partials_bindings(x, &partials);
        consts.push(("gradient_bindings", sums));
        let shader = self.shader(
            "batch_norm_partials",
            "partials",
            vec![PARTIALS, PARTIALS_MAIN],
            &consts,
        );
        self.launch(shader, slots.clone(), sum_buffers);
        let shader = self.shader(name, "output", vec![body, OUTPUT_MAIN], &consts);
        self.launch(shader, slots, buffers);
    }

    fn launch(&self, shader: BnShader, count: CubeCount, buffers: Vec<&CubeTensor>) {
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
}

/// The gradients an operation reads beside x: the upstream gradient `gy` (masked by the
/// activation fused into the forward, where `mask` is given) and the outer gradient `u`.
#[derive(Default)]
pub(super) struct Grads<'a> {
    pub(super) gy: Option<&'a CubeTensor>,
    pub(super) u: Option<&'a CubeTensor>,
    pub(super) mask: Option<&'a Mask>,
}

impl Grads<'_> {
    /// Their strides and the WGSL expressions that read them at value j of slot k
    /// (`gy_value`, masked; `u_value`), through bindings named `gy`, `u` and `mask`.
    fn consts(&self, shape: [usize; 4]) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(gy) = self.gy {
            out.push(("gy_strides", strides(gy, shape, "the upstream gradient")));
            let read = "gy[offset(j, k, GY_STRIDES)]".to_string();
            let read = match self.mask {
                Some(mask) => {
                    out.push(("mask_strides", strides(&mask.y, shape, "the mask")));
                    format!(
                        "({read} * select(bitcast<f32>({}u), 1.0, mask[offset(j, k, MASK_STRIDES)] > 0.0))",
                        mask.slope
                    )
                }
                None => read,
            };
            out.push(("gy_value", read));
        }
        if let Some(u) = self.u {
            out.push(("u_strides", strides(u, shape, "the outer gradient")));
            out.push(("u_value", "u[offset(j, k, U_STRIDES)]".to_string()));
        }
        out
    }

    /// The partial sums' own launch's binding declarations and buffers: `partials`, `x`, then
    /// the gradients there are.
    fn partials_bindings<'b>(
        &self,
        x: &'b CubeTensor,
        partials: &'b CubeTensor,
    ) -> (String, Vec<&'b CubeTensor>)
    where
        Self: 'b,
    {
        let mut buffers = vec![partials, x];
        let mut decls = String::new();
        let named = [
            (self.gy, "gy"),
            (self.mask.map(|m| &m.y), "mask"),
            (self.u, "u"),
        ];
        for (t, name) in named {
            if let Some(t) = t {
                decls.push_str(&format!(
                    "@group(0) @binding({}) var<storage, read_write> {name}: array<f32>;\n",
                    buffers.len()
                ));
                buffers.push(t);
            }
        }
        (decls, buffers)
    }
}

/// The declaration of the mask's binding in an output pass.
fn mask_binding(index: usize) -> String {
    format!("@group(0) @binding({index}) var<storage, read_write> mask: array<f32>;\n")
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
