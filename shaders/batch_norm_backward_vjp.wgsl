// Vector-Jacobian product of the BatchNorm backward (batch_norm_backward.wgsl's gx), which a
// gradient penalty differentiates again; after batch_norm_partials.wgsl with gy and u. With
// u = ∂L/∂gx and, over the channel, G₁ = Σgy, G₂ = Σgy·x̂, U₁ = Σu, U₂ = Σu·x̂, R = Σu·gy,
// Q = R − (G₁U₁ + G₂U₂)/M:
//   ∂L/∂gy = γ · s · (u − U₁/M − x̂ · U₂/M)
//   ∂L/∂γ  = s · Q            (first range of each channel of group 0, summed over groups)
//   ∂L/∂x  = −s²γ · (Q/M · x̂ + G₂/M · u + U₂/M · gy − (G₂U₁ + U₂G₁)/M² − 2G₂U₂/M² · x̂)
// (gx = γ·P(gy) with P symmetric gives the first two; the third from ∂s/∂x = −s²·x̂/M and
// ∂x̂/∂x = P.) First order only: this product is not differentiated again.

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgy: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<f32>;


// A slot's G₁, G₂, U₁, U₂ and Q, each divided by M.
struct Scaled {
    g1: f32,
    g2: f32,
    u1: f32,
    u2: f32,
    q: f32,
}

fn scaled(ch: Channel) -> Scaled {
    let inv_m = 1.0 / f32(M);
    let g1 = ch.g * inv_m;
    let g2 = ch.s * ch.g_dev * inv_m;
    let u1 = ch.u * inv_m;
    let u2 = ch.s * ch.u_dev * inv_m;
    return Scaled(g1, g2, u1, u2, ch.ug * inv_m - (g1 * u1 + g2 * u2));
}

fn output_pass(split: u32, k: u32, lid: u32) {
    let c = k % C;
    let range = split_range(split);
    let ch = merge(k);
    let s = ch.s;
    let m = scaled(ch);
    let gam = gamma[c];
    let k_gy = gam * s;
    let k_x = -s * s * gam;
    let constant = m.g2 * m.u1 + m.u2 * m.g1;
    let x_coef = m.q - 2.0 * m.g2 * m.u2;
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        let xh = (x[offset(j, k, X_STRIDES)] - ch.mean) * s;
        let g = gy[offset(j, k, GY_STRIDES)];
        let v = u[offset(j, k, U_STRIDES)];
        let o = out_offset(j, k);
        dgy[o] = k_gy * (v - m.u1 - xh * m.u2);
        dx[o] = k_x * (x_coef * xh + m.g2 * v + m.u2 * g - constant);
    }
    if (split == 0u && lid == 0u && k < C) {
        var total = 0.0;
        for (var g = 0u; g < G; g = g + 1u) {
            let other = merge(g * C + c);
            total = total + other.s * scaled(other).q;
        }
        dgamma[c] = total * f32(M);
    }
}
