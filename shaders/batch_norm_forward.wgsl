// BatchNorm forward in training mode, after batch_norm_partials.wgsl; workgroup (split, c)
// writes its range of channel c:
//   y = ((x − μ) · s) · γ + β

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.y;
    let range = split_range(wid.x);
    let ch = merge(c);
    let g = gamma[c];
    let b = beta[c];
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        y[out_offset(j, c)] = ((x[offset(j, c, X_STRIDES)] - ch.mean) * ch.s) * g + b;
    }
}
