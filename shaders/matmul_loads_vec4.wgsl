// The vector loads of `tiled_matmul.wgsl` (inserted at its `vec_loads` placeholder), for an
// operand bound as vec4<f32>: its contiguous index a multiple of 4 long and its other stride a
// multiple of 4 (the launcher checks), so that 4 neighbouring values along the contiguous index
// are one aligned vec4 of the buffer. Uses `a4_at(i)` / `b4_at(i)` (the vec4 starting at value i)
// and the definitions of `matmul_loads.wgsl`.
//
// Vector v (< BM·BK/4) of A's slice: the row and depth of its first value. A read along k
// (A_KFAST) takes 4 neighbouring invocations per row (64 contiguous bytes of it); along m,
// neighbouring invocations take neighbouring vec4 of one depth.
fn a_vec_place(v: u32) -> vec2<u32> {
    if (A_KFAST) {
        return vec2<u32>(v / (BK / 4u), 4u * (v % (BK / 4u)));
    }
    return vec2<u32>(4u * (v % (BM / 4u)), v / (BM / 4u));
}

// Vector v (< BK·BN/4) of B's slice: the column and depth of its first value.
fn b_vec_place(v: u32) -> vec2<u32> {
    if (B_NFAST) {
        return vec2<u32>(4u * (v % (BN / 4u)), v / (BN / 4u));
    }
    return vec2<u32>(v / (BK / 4u), 4u * (v % (BK / 4u)));
}

// The 4 values of vector v of A's slice, 0 outside A or past the range of K (all 4 are inside
// or none: M or K is a multiple of 4, as are the block's and the slice's offsets).
fn load_a4(d: Dims, k0: u32, v: u32) -> vec4<f32> {
    let p = a_vec_place(v);
    if (d.m0 + p.x < d.m_size && k0 + p.y < d.k_end) {
        return a4_at((d.m0 + p.x) * d.sa_m + (k0 + p.y) * d.sa_k);
    }
    return vec4<f32>(0.0);
}

fn load_b4(d: Dims, k0: u32, v: u32) -> vec4<f32> {
    let p = b_vec_place(v);
    if (d.n0 + p.x < d.n_size && k0 + p.y < d.k_end) {
        return b4_at((k0 + p.y) * d.sb_k + (d.n0 + p.x) * d.sb_n);
    }
    return vec4<f32>(0.0);
}
