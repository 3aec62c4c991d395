// C = A · B (A: M×K, B: K×N, f32 in and out) on tensor cores: the operands are rounded to f16 as
// they are staged in workgroup memory, multiplied as cooperative matrices of TILE³ (wgpu's
// `wgpu_cooperative_matrix`: on NVIDIA's Vulkan driver, VK_KHR_cooperative_matrix, i.e. the
// tensor cores, TILE = 16; 8 where only that is offered, as on Mesa's lavapipe) and accumulated
// in f32. Optional (`MatmulTuning::MeasureF16` / `Fixed`): f16 keeps 11 bits of mantissa (TF32's
// as many) but only 5 of exponent, so values beyond 65504 overflow and below ~6e-8 vanish.
//
// Workgroup (x, y, z) computes the BLOCK×BLOCK block of C at rows BLOCK·y, columns BLOCK·x over
// the z-th range of K (info[7] values long), written to out[z·M·N + m·N + n] (split K as in
// `tiled_matmul.wgsl`; `split_sum.wgsl` adds the ranges up). Three shapes (`TcVariant`): a 64
// block of 128 invocations, a 128 block (twice the multiply-adds per value staged) of 256 or
// of 128. The block is (BLOCK / TILE)² tiles. The invocations form subgroups of the adapter's
// fixed width W (margan generates the shader for it: `kernels::matmul_tc`); subgroup s owns a
// region of TILES_M × TILES_N tiles (with W = 32, TILE = 16: 2×2 for a 64 block, 2×4 for a 128
// block of 256, 4×4 for one of 128), at tile row TILES_M · (s / REGIONS_N), tile column
// TILES_N · (s % REGIONS_N), one accumulator matrix per tile. Each BK-deep slice of K (32; 16 for
// an f16×3 128 block) is staged
// as f16 with the operand's contiguous index contiguous in workgroup memory too — A as [m][k]
// (row-major) or, a transposed view, [k][m] (column-major), B as [k][n] or [n][k] — so that the
// values an invocation stages from one vec4 are 4 neighbours there as well (one store, where
// the driver merges them), and read by row- or column-major cooperative loads (`coopLoadT`,
// `coopLoad`) accordingly; every invocation loading BLOCK · 32 /
// invocations values of each operand (16, or 32 for a 128 block of 128; neighbouring
// invocations neighbouring addresses along the operand's contiguous index); with prefetch, the
// next slice's loads are issued before the current one is multiplied, so that their latency
// hides behind it. An operand whose layout allows it (its contiguous index a multiple of 4 long,
// its other stride a multiple of 4) is read as vec4, a quarter as many loads
// (`matmul_loads_vec4.wgsl`). The staging rows are padded by 8 values (16 bytes, which keeps the
// cooperative loads' rows aligned): without it, an operand stored across its rows (A
// transposed, B transposed) had every other invocation of a subgroup on one memory bank.
// At the end each subgroup stores its tiles straight to C where the whole block is inside C and
// C's rows are 16-byte aligned (N % 4 = 0, as cooperative-matrix stores need); otherwise tile by
// tile through its own TILE² staging slot in workgroup memory, from where its invocations write
// what lies inside C.
// info = [M, N, K, A's stride along m, along k, B's stride along k, along n, K per range].
//
// The f16×3 variants (`TcVariant::split`, `split_decl` below) keep f32's precision: each
// operand, scaled by a power of two that brings its largest magnitude just under 2^15 (so that
// f16's range holds it), is staged as a high part h = f16(x) and a low part l = f16((x − h)·2^11),
// 22 significant bits between them, and C = (Σ hₐh_b + 2^-11·Σ (hₐl_b + lₐh_b)) / (scales) in
// two sets of accumulators (the lₐl_b term, 2^-22 of C, is left out).

enable f16;
enable wgpu_cooperative_matrix;

@group(0) @binding(0) var<storage, read_write> a: array<{{ a_elem }}>;
@group(0) @binding(1) var<storage, read_write> b: array<{{ b_elem }}>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

{{ access }}

const BM: u32 = {{ block }}u;
const BN: u32 = {{ block }}u;
const BK: u32 = {{ depth }}u;
const A_KFAST: bool = {{ a_kfast }};
const B_NFAST: bool = {{ b_nfast }};
// Staging rows, padded: along k for A's [m][k] and B's [n][k], along m or n for [k][m], [k][n].
const ROW_A: u32 = select(BM, BK, A_KFAST) + 8u;
const ROW_B: u32 = select(BK, BN, B_NFAST) + 8u;
// The cooperative matrices' side, tiles of one subgroup's region, and regions per row of the
// block (BLOCK / TILE / TILES_N).
const TILE: u32 = {{ tile }}u;
const TILES_M: u32 = {{ tiles_m }}u;
const TILES_N: u32 = {{ tiles_n }}u;
const REGIONS_N: u32 = {{ regions_n }}u;

var<workgroup> a_s: array<f16, {{ a_len }}>; // [m][k] (BM·ROW_A) or [k][m] (BK·ROW_A)
var<workgroup> b_s: array<f16, {{ b_len }}>; // [k][n] (BK·ROW_B) or [n][k] (BN·ROW_B)
var<workgroup> c_s: array<f32, {{ staging }}>; // a TILE² slot per subgroup, at s·TILE², [m][n]

{{ split_decl }}

{{ loads }}

{{ vec_loads }}

// Where A's value at row m, depth k of the slice, and B's at depth k, column n, are staged.
fn a_at_s(m: u32, k: u32) -> u32 {
    return select(k * ROW_A + m, m * ROW_A + k, A_KFAST);
}

fn b_at_s(k: u32, n: u32) -> u32 {
    return select(n * ROW_B + k, k * ROW_B + n, B_NFAST);
}

fn stash_a(e: u32, v: f32) {
    let p = a_place(e);
    put_a(a_at_s(p.x, p.y), v);
}

fn stash_b(e: u32, v: f32) {
    let p = b_place(e);
    put_b(b_at_s(p.y, p.x), v);
}

// Vector v of A's slice (read as vec4): 4 values along A's contiguous index, neighbours in
// workgroup memory too.
fn stash_a4(v: u32, x: vec4<f32>) {
    let p = a_vec_place(v);
    let i = a_at_s(p.x, p.y);
    put_a(i, x.x);
    put_a(i + 1u, x.y);
    put_a(i + 2u, x.z);
    put_a(i + 3u, x.w);
}

// Vector v of B's slice: 4 values along B's contiguous index.
fn stash_b4(v: u32, x: vec4<f32>) {
    let p = b_vec_place(v);
    let i = b_at_s(p.y, p.x);
    put_b(i, x.x);
    put_b(i + 1u, x.y);
    put_b(i + 2u, x.z);
    put_b(i + 3u, x.w);
}

// Writes subgroup `slot`'s staged tile (rows r0.., columns c0.. of C) where it lies inside C.
fn edge_copy(base: u32, r0: u32, c0: u32, slot: u32, lane: u32, width: u32, m_size: u32, n_size: u32) {
    for (var e = lane; e < TILE * TILE; e += width) {
        let r = r0 + e / TILE;
        let c = c0 + e % TILE;
        if (r < m_size && c < n_size) {
            out[base + r * n_size + c] = c_s[slot * TILE * TILE + e];
        }
    }
}

@compute @workgroup_size({{ invocations }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) s: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) width: u32,
) {
    let k_begin = wid.z * info[7];
    let d = block_dims(wid);
    let m0 = d.m0;
    let n0 = d.n0;
    let m_size = d.m_size;
    let n_size = d.n_size;
    // The region's first row and column within the block.
    let qm = TILE * TILES_M * (s / REGIONS_N);
    let qn = TILE * TILES_N * (s % REGIONS_N);
{{ scales }}
    // Accumulators c<i>_<j>: tile i down, j across the region.
{{ declare }}
{{ prologue }}
    for (var k0 = k_begin; k0 < d.k_end; k0 += BK) {
{{ stage }}
        workgroupBarrier();
        // The slice's steps of TILE along K (a loop of constant bounds: the driver unrolls it).
        for (var kk = 0u; kk < BK; kk += TILE) {
{{ multiply }}
        }
        workgroupBarrier();
    }
{{ combine }}
    let base = wid.z * m_size * n_size;
    if (m0 + BM <= m_size && n0 + BN <= n_size && n_size % 4u == 0u) {
{{ store_direct }}
    } else {
{{ store_edge }}
    }
}
