// The operand loads shared by `tiled_matmul.wgsl` and `tc_matmul.wgsl` (inserted at their
// `loads` placeholder): each defines the bindings `a`, `b`, `info`, the accessors `a_at(i)` and
// `b_at(i)` (value i of the operand's buffer, bound as f32 or as vec4<f32>) and the constants
// BM, BN, BK, A_KFAST, B_NFAST first. Element e (< BM·BK) of A's slice and (< BK·BN) of B's: where it goes in the
// block and its value, 0 outside the operand or past the range of K.

struct Dims {
    m0: u32,
    n0: u32,
    m_size: u32,
    n_size: u32,
    k_end: u32,
    sa_m: u32,
    sa_k: u32,
    sb_k: u32,
    sb_n: u32,
}

// Workgroup (x, y, z)'s block: rows from BM·y, columns from BN·x, the z-th range of K (info[7]
// values long), and the operands' sizes and strides from info.
fn block_dims(wid: vec3<u32>) -> Dims {
    let k_begin = wid.z * info[7];
    return Dims(
        wid.y * BM,
        wid.x * BN,
        info[0],
        info[1],
        min(info[2], k_begin + info[7]),
        info[3],
        info[4],
        info[5],
        info[6],
    );
}

// Element e of A's slice: its row and depth in the block.
fn a_place(e: u32) -> vec2<u32> {
    if (A_KFAST) {
        return vec2<u32>(e / BK, e % BK);
    }
    return vec2<u32>(e % BM, e / BM);
}

// Element e of B's slice: its column and depth in the block.
fn b_place(e: u32) -> vec2<u32> {
    if (B_NFAST) {
        return vec2<u32>(e % BN, e / BN);
    }
    return vec2<u32>(e / BK, e % BK);
}

fn load_a(d: Dims, k0: u32, e: u32) -> f32 {
    let p = a_place(e);
    if (d.m0 + p.x < d.m_size && k0 + p.y < d.k_end) {
        return a_at((d.m0 + p.x) * d.sa_m + (k0 + p.y) * d.sa_k);
    }
    return 0.0;
}

fn load_b(d: Dims, k0: u32, e: u32) -> f32 {
    let p = b_place(e);
    if (d.n0 + p.x < d.n_size && k0 + p.y < d.k_end) {
        return b_at((k0 + p.y) * d.sb_k + (d.n0 + p.x) * d.sb_n);
    }
    return 0.0;
}
