// C = A · B (A: M×K, B: K×N, f32 in and out) on tensor cores: the operands are rounded to f16 as
// they are staged in workgroup memory, multiplied as cooperative matrices of TILE³ (wgpu's
// `wgpu_cooperative_matrix`: on NVIDIA's Vulkan driver, VK_KHR_cooperative_matrix, i.e. the
// tensor cores, TILE = 16; 8 where only that is offered, as on Mesa's lavapipe) and accumulated in f32. Optional (`MatmulTuning::MeasureF16` / `Fixed`): f16
// keeps 11 bits of mantissa (TF32's as many) but only 5 of exponent, so values beyond 65504
// overflow and below ~6e-8 vanish.
//
// Workgroup (x, y, z) computes the 64×64 block of C at rows 64·y, columns 64·x over the z-th
// range of K (info[7] values long), written to out[z·M·N + m·N + n] (split K as in
// `tiled_matmul.wgsl`; `split_sum.wgsl` adds the ranges up). The block is (64 / TILE)² tiles.
// The 128 invocations form 128 / W subgroups of the adapter's fixed width W (margan generates
// the shader for it: `kernels::matmul_tc`); subgroup s owns a region of TILES_M × TILES_N tiles
// (e.g. 2×2 for W = 32, TILE = 16), at tile row TILES_M · (s / REGIONS_N), tile column
// TILES_N · (s % REGIONS_N), one accumulator matrix per tile. Each 32-deep slice of K is staged
// row-major ([m][k] for A, [k][n] for B) as f16. At the end each subgroup stores its tiles
// straight to C where the whole block is inside C and C's rows are 16-byte aligned (N % 4 = 0,
// as cooperative-matrix stores need); otherwise tile by tile through its own TILE² staging
// slot in workgroup memory, from where its invocations write what lies inside C.
// info = [M, N, K, A's stride along m, along k, B's stride along k, along n, K per range].

enable f16;
enable wgpu_cooperative_matrix;

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 32u;
const A_KFAST: bool = {{ a_kfast }};
const B_NFAST: bool = {{ b_nfast }};
// The cooperative matrices' side, tiles of one subgroup's region, and regions per row of the
// block (64 / TILE / TILES_N).
const TILE: u32 = {{ tile }}u;
const TILES_M: u32 = {{ tiles_m }}u;
const TILES_N: u32 = {{ tiles_n }}u;
const REGIONS_N: u32 = {{ regions_n }}u;

var<workgroup> a_s: array<f16, 2048>; // BM·BK, [m][k]
var<workgroup> b_s: array<f16, 2048>; // BK·BN, [k][n]
var<workgroup> c_s: array<f32, {{ staging }}>; // a TILE² slot per subgroup, at s·TILE², [m][n]

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

@compute @workgroup_size(128, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) s: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) width: u32,
) {
    let m_size = info[0];
    let n_size = info[1];
    let sa_m = info[3];
    let sa_k = info[4];
    let sb_k = info[5];
    let sb_n = info[6];
    let k_begin = wid.z * info[7];
    let k_end = min(info[2], k_begin + info[7]);
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    // The region's first row and column within the block.
    let qm = TILE * TILES_M * (s / REGIONS_N);
    let qn = TILE * TILES_N * (s % REGIONS_N);
    // Accumulators c<i>_<j>: tile i down, j across the region.
{{ declare }}
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // 2048 values of each operand, 16 per invocation; neighbouring invocations take
        // neighbouring addresses along each operand's contiguous index.
        for (var r = 0u; r < 16u; r++) {
            let e = lid + 128u * r;
            var ml = e / BK;
            var ka = e % BK;
            if (!A_KFAST) {
                ml = e % BM;
                ka = e / BM;
            }
            var va = 0.0;
            if (m0 + ml < m_size && k0 + ka < k_end) {
                va = a[(m0 + ml) * sa_m + (k0 + ka) * sa_k];
            }
            a_s[ml * BK + ka] = f16(va);
            var nl = e % BN;
            var kb = e / BN;
            if (!B_NFAST) {
                nl = e / BK;
                kb = e % BK;
            }
            var vb = 0.0;
            if (n0 + nl < n_size && k0 + kb < k_end) {
                vb = b[(k0 + kb) * sb_k + (n0 + nl) * sb_n];
            }
            b_s[kb * BN + nl] = f16(vb);
        }
        workgroupBarrier();
        // The slice's steps of TILE along K (a loop of constant bounds: the driver unrolls it).
        for (var kk = 0u; kk < BK; kk += TILE) {
{{ multiply }}
        }
        workgroupBarrier();
    }
    let base = wid.z * m_size * n_size;
    if (m0 + BM <= m_size && n0 + BN <= n_size && n_size % 4u == 0u) {
{{ store_direct }}
    } else {
{{ store_edge }}
    }
}
