// BatchNorm forward in training mode, after batch_norm_partials.wgsl; workgroup (split, k)
// writes its range of slot k (channel c = k % C of group k / C):
//   v = ((x − μ) · s) · γ + β,  y = v, or the LeakyReLU / ReLU that follows it fused in:
//   y = v · (v > 0 ? 1 : slope)

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let k = wid.y;
    let range = split_range(wid.x);
    let ch = merge(k);
    let g = gamma[k % C];
    let b = beta[k % C];
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        let v = ((x[offset(j, k, X_STRIDES)] - ch.mean) * ch.s) * g + b;
        y[out_offset(j, k)] = {{ activation }};
    }
}
