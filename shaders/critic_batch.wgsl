// The batch of a critic's one pass with the gradient penalty's interpolates
// (src/kernels/critic_batch.rs), in one launch instead of a concatenation and four elementwise
// ones:
//   out = [real; fake; x̂],  x̂ = real · u + fake · (1 − u),  u one value per sample,
// out contiguous [3N, C, H, W]; real and fake any strided views of [N, C, H, W], u [N]. One
// invocation per value of one batch (N·C·H·W of them); workgroups beyond 65535 spill into
// workgroup_id.y.
// info = [N·C·H·W, shape₀..₃, real's strides₀..₃, fake's strides₀..₃].

@group(0) @binding(0) var<storage, read_write> real: array<f32>;
@group(0) @binding(1) var<storage, read_write> fake: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let count = info[0];
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= count) {
        return;
    }
    let i3 = e % info[4];
    let rest = e / info[4];
    let i2 = rest % info[3];
    let rest2 = rest / info[3];
    let i1 = rest2 % info[2];
    let i0 = rest2 / info[2];
    let r = real[i0 * info[5] + i1 * info[6] + i2 * info[7] + i3 * info[8]];
    let f = fake[i0 * info[9] + i1 * info[10] + i2 * info[11] + i3 * info[12]];
    let w = u[i0];
    out[e] = r;
    out[count + e] = f;
    out[2u * count + e] = r * w + f * (1.0 - w);
}
