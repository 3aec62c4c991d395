// BatchNorm forward in training mode, after batch_norm_partials.wgsl; workgroup (split, k)
// writes its range of slot k (channel c = k % C of group k / C):
//   v = ((x − μ) · s) · γ + β,  y = v, or the LeakyReLU / ReLU that follows it fused in:
//   y = v · (v > 0 ? 1 : slope)
// and the first range's workgroup of each channel of group 0 also moves that channel's running
// statistics (one invocation; a separate launch before), with momentum m, the variance
// unbiased as PyTorch's:
//   running_mean' = running_mean · (1 − m) + μ · m
//   running_var'  = running_var · (1 − m) + σ² · M / max(M − 1, 1) · m
// once per group, in the groups' order: as G forward passes one after the other would. Both go
// to one buffer, the mean at 0 and the variance at RV_AT (a multiple of the device's offset
// alignment, so that each is a view of it).

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_out: array<f32>;

const MOMENTUM_BITS: u32 = {{ momentum_bits }}u;
const RV_AT: u32 = {{ rv_at }}u;

fn move_running(c: u32) {
    let m = bitcast<f32>(MOMENTUM_BITS);
    let unbias = f32(M) / max(f32(M) - 1.0, 1.0);
    var mean = running_mean[c];
    var variance = running_var[c];
    for (var g = 0u; g < G; g = g + 1u) {
        let ch = merge(g * C + c);
        mean = mean * (1.0 - m) + ch.mean * m;
        variance = variance * (1.0 - m) + (ch.variance * unbias) * m;
    }
    running_out[c] = mean;
    running_out[RV_AT + c] = variance;
}

fn output_pass(split: u32, k: u32, lid: u32) {
    let range = split_range(split);
    let ch = merge(k);
    let g = gamma[k % C];
    let b = beta[k % C];
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        let v = ((x[offset(j, k, X_STRIDES)] - ch.mean) * ch.s) * g + b;
        y[out_offset(j, k)] = {{ activation }};
    }
    if (split == 0u && k < C && lid == 0u) {
        move_running(k);
    }
}
