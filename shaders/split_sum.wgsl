// The second launch of a split-K matrix product (`tiled_matmul.wgsl`): adds up the partial
// products of the K ranges, out[i] = Σ_z part[z·len + i]. One invocation per output value;
// workgroups beyond 65535 spill into workgroup_id.y.
// info = [len, ranges].

@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    let len = info[0];
    if (i >= len) {
        return;
    }
    var s = 0.0;
    for (var z = 0u; z < info[1]; z++) {
        s += part[z * len + i];
    }
    out[i] = s;
}
