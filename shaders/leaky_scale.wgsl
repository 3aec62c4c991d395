// ReLU / LeakyReLU as one elementwise kernel for the forward and both backward passes:
//   out = t · (x > 0 ? 1 : slope)
// (and, with the factor 1 − x², tanh's input gradient from its output x: src/kernels/tanh.rs)
// The forward is t = x; the input gradient t = gy (slope 0: ReLU, derivative 0 at 0 as in
// PyTorch). x and t may be any strided views of the same 4-D shape (a GEMM convolution hands
// out channel-major views, autodiff gradients broadcasts); out's dimensions lie in memory in
// x's order, packed (contiguous where x broadcasts): a channel-major x gives a channel-major
// out. One invocation per
// element; workgroups beyond 65535 spill into workgroup_id.y. The forward reads x alone (t is
// templated as x: one buffer may not be bound twice), the gradients bind t after x.
// info = [n, slope (f32 bits), shape₀..₃, x's strides₀..₃, t's strides₀..₃, out's strides₀..₃].

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
{{ t_binding }}
@group(0) @binding({{ out_binding }}) var<storage, read_write> out: array<f32>;
@group(0) @binding({{ info_binding }}) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= info[0]) {
        return;
    }
    let slope = bitcast<f32>(info[1]);
    let i3 = i % info[5];
    let r3 = i / info[5];
    let i2 = r3 % info[4];
    let r2 = r3 / info[4];
    let i1 = r2 % info[3];
    let i0 = r2 / info[3];
    let xv = x[i0 * info[6] + i1 * info[7] + i2 * info[8] + i3 * info[9]];
    let tv = {{ t_value }};
    out[i0 * info[14] + i1 * info[15] + i2 * info[16] + i3 * info[17]] = tv * {{ factor }};
}
