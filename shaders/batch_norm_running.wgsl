// The running statistics after a BatchNorm forward in training mode (one invocation per
// channel, from batch_norm_partials.wgsl's sums), moved towards the batch's with momentum m,
// the variance unbiased as PyTorch's:
//   running_mean' = running_mean · (1 − m) + μ · m
//   running_var'  = running_var · (1 − m) + σ² · M / max(M − 1, 1) · m
// once per group, in the groups' order: as G forward passes one after the other would.

@group(0) @binding(1) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var_out: array<f32>;

const MOMENTUM_BITS: u32 = {{ momentum_bits }}u;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.x * WG + lid;
    if (c >= C) {
        return;
    }
    let m = bitcast<f32>(MOMENTUM_BITS);
    let unbias = f32(M) / max(f32(M) - 1.0, 1.0);
    var mean = running_mean[c];
    var variance = running_var[c];
    for (var g = 0u; g < G; g = g + 1u) {
        let ch = merge(g * C + c);
        mean = mean * (1.0 - m) + ch.mean * m;
        variance = variance * (1.0 - m) + (ch.variance * unbias) * m;
    }
    running_mean_out[c] = mean;
    running_var_out[c] = variance;
}
