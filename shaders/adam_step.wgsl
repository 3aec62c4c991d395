// One Adam step of a parameter tensor, fused into one pass over its elements (burn's Adam takes
// 13 elementwise launches per tensor). With the step's scalars computed on the host exactly as
// burn's Adam computes them (f32):
//   m' = m·β₁ + g·(1−β₁)
//   v' = v·β₂ + (g·g)·(1−β₂)
//   p' = p − ((m'·c) / (√v' + ε̂))·lr,   c = √(1−β₂ᵗ) / (1−β₁ᵗ),   ε̂ = ε·√(1−β₂ᵗ)
// The first step passes m = v = 0. One invocation per element. p, m, v and the outputs are
// contiguous; g may be any strided view of the same 4-D shape (a transposed matrix product's
// result, say), read through its strides instead of being copied first.
// info = [n, β₁, β₂, 1−β₁, 1−β₂, c, ε̂, lr (the f32s as their bits),
//         shape₀..₃, g's strides₀..₃ (in elements; lower ranks padded in front with 1 and 0)].
// Workgroups beyond 65535 spill into workgroup_id.y.

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> p_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> m_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = info[0];
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= n) {
        return;
    }
    let beta1 = bitcast<f32>(info[1]);
    let beta2 = bitcast<f32>(info[2]);
    let one_minus_beta1 = bitcast<f32>(info[3]);
    let one_minus_beta2 = bitcast<f32>(info[4]);
    let combined = bitcast<f32>(info[5]);
    let eps = bitcast<f32>(info[6]);
    let lr = bitcast<f32>(info[7]);

    // Row-major position of element i, then g's offset there.
    let i3 = i % info[11];
    let r3 = i / info[11];
    let i2 = r3 % info[10];
    let r2 = r3 / info[10];
    let i1 = r2 % info[9];
    let i0 = r2 / info[9];
    let gi = g[i0 * info[12] + i1 * info[13] + i2 * info[14] + i3 * info[15]];
    let mi = m[i] * beta1 + gi * one_minus_beta1;
    let vi = v[i] * beta2 + (gi * gi) * one_minus_beta2;
    let update = (mi * combined) / (sqrt(vi) + eps);
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = p[i] - update * lr;
}
