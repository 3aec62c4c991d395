// Shared part of mean_terms_forward.wgsl and mean_terms_backward.wgsl (appended to it): the
// pointwise functions φ and their derivatives, as burn's autodiff takes them (relu'(0) = 0).

const WG: u32 = {{ workgroup_size }}u;
// Samples per group.
const N: u32 = {{ n }}u;

fn softplus(z: f32) -> f32 {
    // log(1 + eᶻ) without overflow: max(z, 0) + log(1 + e^(−|z|)).
    return max(z, 0.0) + log(1.0 + exp(-abs(z)));
}

fn sigmoid(z: f32) -> f32 {
    let e = exp(-abs(z));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
}

fn positive(z: f32) -> f32 {
    return select(0.0, 1.0, z > 0.0);
}
