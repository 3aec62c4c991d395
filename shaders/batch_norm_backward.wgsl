// BatchNorm backward in training mode (the statistics depend on x), after
// batch_norm_partials.wgsl with the upstream gradient gy; workgroup (split, k) writes its
// range of slot k (channel c = k % C of group k / C):
//   gx = γ · s · (gy − Σgy / M − x̂ · Σ(gy·x̂) / M),   Σ(gy·x̂) = s · Σgy·(x − μ)
// and the first range of each channel of group 0 the parameter gradients, summed over groups:
//   ∂γ = Σ(gy·x̂),   ∂β = Σgy

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> gx: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_gamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_beta: array<f32>;

{{ mask_binding }}
// Where a ReLU / LeakyReLU was fused into the forward, gy is the activation's upstream
// gradient, read times the activation's derivative at the signs of that forward's output.

fn output_pass(split: u32, k: u32, lid: u32) {
    let c = k % C;
    let range = split_range(split);
    let ch = merge(k);
    let s = ch.s;
    let g2 = s * ch.g_dev;
    let inv_m = 1.0 / f32(M);
    let mean_g = ch.g * inv_m;
    let mean_gx = g2 * inv_m;
    let a = gamma[c] * s;
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        let xh = (x[offset(j, k, X_STRIDES)] - ch.mean) * s;
        let g = {{ gy_value }};
        gx[out_offset(j, k)] = a * (g - mean_g - xh * mean_gx);
    }
    if (split == 0u && lid == 0u && k < C) {
        var gg = 0.0;
        var gb = 0.0;
        for (var g = 0u; g < G; g = g + 1u) {
            let other = merge(g * C + c);
            gg = gg + other.s * other.g_dev;
            gb = gb + other.g;
        }
        grad_gamma[c] = gg;
        grad_beta[c] = gb;
    }
}
