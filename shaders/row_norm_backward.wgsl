// Backward of the per-row L-infinity / L1 norm: the vector-Jacobian product with the upstream
// gradient up[rows].
//   mode 0 (L-inf): dg[r, i] = up[r] * sign(g[r, i]) at i = argmax[r], 0 elsewhere.
//   mode 1 (L1):    dg[r, i] = up[r] * sign(g[r, i]).
// sign(0) = 0, the subgradient PyTorch and burn use for |x| at 0.
// g is read through its strides (row_norm_forward.wgsl's at()), dg written contiguous.
// Workgroup x covers WG columns of row y + 65535·z; info = [rows, cols, mode, d1, d2, d3,
// s0, s1, s2, s3] as in the forward.

@group(0) @binding(0) var<storage, read_write> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> argmax: array<f32>;
@group(0) @binding(2) var<storage, read_write> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> dg: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let rows = info[0];
    let cols = info[1];
    let mode = info[2];
    let r = wid.y + wid.z * nwg.y;
    let c = wid.x * WG + lid;
    if (r >= rows || c >= cols) {
        return;
    }
    let e = r * cols + c;
    let rest = c / info[5];
    let at = r * info[6] + (rest / info[4]) * info[7] + (rest % info[4]) * info[8]
        + (c % info[5]) * info[9];
    let v = up[r] * sign(g[at]);
    if (mode == 1u) {
        dg[e] = v;
    } else {
        dg[e] = select(0.0, v, c == u32(argmax[r]));
    }
}
