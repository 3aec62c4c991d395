//! The BatchNorm backend extension and its WGSL launches on the CubeCL (wgpu) backend.

use super::launch::{empty_in_layout_of, empty_like, layout_of, unaliased};
use burn::backend::wgpu::{
    into_contiguous, CubeBackend, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate,
};
use burn::backend::{backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl::{prelude::KernelId, server::KernelArguments, CubeCount};

/// Backend extension: BatchNorm in training mode (statistics per channel of `x [N, C, H, W]`
/// over N, H, W), its backward, and the backward's vector-Jacobian product: two launches each
/// (partial sums per range of a channel, then the elementwise outputs), three for the forward
/// (its running statistics).
/// `eps` and `momentum` are f32 bits; `groups` splits the batch into that many equal groups
/// along N, each normalised with its own statistics (1: the whole batch).
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait BatchNormOps: burn::backend::Backend {
    /// `(x, γ, β, running mean, running var)` → `(y, running mean', running var')`, with
    /// `[eps, momentum, groups]`; the running statistics move once per group, in order.
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _g: &burn::backend::fusion::custom::TensorSpec,
                     _b: &burn::backend::fusion::custom::TensorSpec,
                     rm: &burn::backend::fusion::custom::TensorSpec,
                     _rv: &burn::backend::fusion::custom::TensorSpec,
                     _s: &[u32; 4]| (x.clone(), rm.clone(), rm.clone()))]
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        eps_momentum_groups_activation: [u32; 4],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `(x, gy, γ)` → `(gx, ∂γ, ∂β)`: the input gradient with the batch statistics' share, and
    /// the parameter gradients (summed over the groups), with `[eps, groups]`. Differentiable in
    /// `gx` only (see the autodiff module).
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _gy: &burn::backend::fusion::custom::TensorSpec,
                     g: &burn::backend::fusion::custom::TensorSpec,
                     _eps: &[u32; 2]| (x.clone(), g.clone(), g.clone()))]
    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `(x, gy, γ, u = ∂L/∂gx)` → `(∂L/∂x, ∂L/∂gy, ∂L/∂γ)` of the backward's `gx`, with
    /// `[eps, groups]`.
    #[fusion(meta = |x: &burn::backend::fusion::custom::TensorSpec,
                     _gy: &burn::backend::fusion::custom::TensorSpec,
                     g: &burn::backend::fusion::custom::TensorSpec,
                     _u: &burn::backend::fusion::custom::TensorSpec,
                     _eps: &[u32; 2]| (x.clone(), x.clone(), g.clone()))]
    fn batch_norm_backward_vjp(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        u: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The forward's activation argument for none; otherwise it is the LeakyReLU slope's f32 bits
/// (0 for ReLU).
pub(crate) const NO_ACTIVATION: u32 = u32::MAX;

/// Most invocations per workgroup (WebGPU's guaranteed limit). A workgroup gets the power of
/// two that gives its invocations about 4 values of a range each, between 32 and this: a small
/// batch then does not pay for idle invocations at every barrier of the tree sums.
const WORKGROUP: u32 = 256;

/// Values of a channel per range of the partial sums (16 per invocation): a channel of `M`
/// values is spread over `⌈M / CHUNK⌉` workgroups.
const CHUNK: usize = 4096;

const COMMON: &str = include_str!("../../shaders/batch_norm_common.wgsl");

/// One of the BatchNorm shaders, with the shape, strides and scalars it is compiled for.
struct BnShader {
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
struct Plan {
    shape: [usize; 4],
    groups: usize,
    splits: usize,
    workgroup: u32,
    consts: Vec<(&'static str, String)>,
}

impl Plan {
    fn new(x: &CubeTensor, [eps, groups]: [u32; 2]) -> Self {
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
            ("out_strides", wgsl_strides(&layout_of(x))),
            ("eps_bits", eps.to_string()),
        ];
        Plan {
            shape,
            groups,
            splits,
            workgroup,
            consts,
        }
    }

    fn channels(&self) -> usize {
        self.shape[1]
    }

    /// The shader `body` with this plan's constants and `extra` ones.
    fn shader(
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

    /// Launches `shader` on one workgroup per (range, statistics slot: channel of a group), or
    /// with `per_channel`, one invocation per channel.
    fn launch(&self, shader: BnShader, buffers: Vec<&CubeTensor>, per_channel: bool) {
        let c = self.channels() as u32;
        let count = if per_channel {
            CubeCount::Static(c.div_ceil(self.workgroup), 1, 1)
        } else {
            CubeCount::Static(self.splits as u32, c * self.groups as u32, 1)
        };
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
    fn partials(
        &self,
        x: &CubeTensor,
        gy: Option<&CubeTensor>,
        u: Option<&CubeTensor>,
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
                None => ("0.0".to_string(), "0u, 0u, 0u, 0u".to_string()),
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
        self.launch(shader, buffers, false);
        out
    }
}

/// A rank-4 tensor's strides as a WGSL `vec4<u32>` argument list.
fn strides(t: &CubeTensor, shape: [usize; 4], what: &str) -> String {
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
fn channel_vec(t: CubeTensor, c: usize, what: &str) -> CubeTensor {
    assert_eq!(t.dtype, DType::F32, "the BatchNorm kernels are f32 only");
    assert_eq!(
        t.meta.shape().num_elements(),
        c,
        "BatchNorm kernel: {what} must have one value per channel"
    );
    into_contiguous(t)
}

impl BatchNormOps for CubeBackend {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        [eps, momentum, groups, activation]: [u32; 4],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let plan = Plan::new(&x, [eps, groups]);
        let c = plan.channels();
        let [gamma, beta, rm, rv] = [
            (gamma, "γ"),
            (beta, "β"),
            (running_mean, "the running mean"),
            (running_var, "the running variance"),
        ]
        .map(|(t, what)| channel_vec(t, c, what));
        let partials = plan.partials(&x, None, None);
        let y = empty_in_layout_of(&x);
        let activation = if activation == NO_ACTIVATION {
            "v".to_string()
        } else {
            format!("v * select(bitcast<f32>({activation}u), 1.0, v > 0.0)")
        };
        let shader = plan.shader(
            "batch_norm_forward",
            include_str!("../../shaders/batch_norm_forward.wgsl"),
            vec![("activation", activation)],
        );
        plan.launch(shader, vec![&partials, &x, &gamma, &beta, &y], false);
        let rm_out = empty_like(&x, Shape::new([c]));
        let rv_out = empty_like(&x, Shape::new([c]));
        let shader = plan.shader(
            "batch_norm_running",
            include_str!("../../shaders/batch_norm_running.wgsl"),
            vec![("momentum_bits", momentum.to_string())],
        );
        plan.launch(shader, vec![&partials, &rm, &rv, &rm_out, &rv_out], true);
        (y, rm_out, rv_out)
    }

    fn batch_norm_backward(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let plan = Plan::new(&x, eps_groups);
        let c = plan.channels();
        let gamma = channel_vec(gamma, c, "γ");
        let gy = unaliased(gy, &[&x]);
        let partials = plan.partials(&x, Some(&gy), None);
        let gx = empty_in_layout_of(&x);
        let grad_gamma = empty_like(&x, Shape::new([c]));
        let grad_beta = empty_like(&x, Shape::new([c]));
        let shader = plan.shader(
            "batch_norm_backward",
            include_str!("../../shaders/batch_norm_backward.wgsl"),
            vec![(
                "gy_strides",
                strides(&gy, plan.shape, "the upstream gradient"),
            )],
        );
        plan.launch(
            shader,
            vec![&partials, &x, &gy, &gamma, &gx, &grad_gamma, &grad_beta],
            false,
        );
        (gx, grad_gamma, grad_beta)
    }

    fn batch_norm_backward_vjp(
        x: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        u: FloatTensor<Self>,
        eps_groups: [u32; 2],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let plan = Plan::new(&x, eps_groups);
        let c = plan.channels();
        let gamma = channel_vec(gamma, c, "γ");
        let gy = unaliased(gy, &[&x]);
        let u = unaliased(u, &[&x, &gy]);
        let partials = plan.partials(&x, Some(&gy), Some(&u));
        let dx = empty_in_layout_of(&x);
        let dgy = empty_in_layout_of(&x);
        let dgamma = empty_like(&x, Shape::new([c]));
        let shader = plan.shader(
            "batch_norm_backward_vjp",
            include_str!("../../shaders/batch_norm_backward_vjp.wgsl"),
            vec![
                (
                    "gy_strides",
                    strides(&gy, plan.shape, "the upstream gradient"),
                ),
                ("u_strides", strides(&u, plan.shape, "the outer gradient")),
            ],
        );
        plan.launch(
            shader,
            vec![&partials, &x, &gy, &gamma, &u, &dx, &dgy, &dgamma],
            false,
        );
        (dx, dgy, dgamma)
    }
}
