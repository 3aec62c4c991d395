// C = A · B (A: M×K, B: K×N, f32 in and out) on tensor cores: the operands are rounded to f16 as
// they are staged in workgroup memory, multiplied as 16×16×16 cooperative matrices (wgpu's
// `wgpu_cooperative_matrix`: on NVIDIA's Vulkan driver, VK_KHR_cooperative_matrix, i.e. the
// tensor cores) and accumulated in f32. Optional (`MatmulTuning::MeasureF16` / `Fixed`): f16
// keeps 11 bits of mantissa (TF32's as many) but only 5 of exponent, so values beyond 65504
// overflow and below ~6e-8 vanish.
//
// Workgroup (x, y, z) computes the 64×64 block of C at rows 64·y, columns 64·x over the z-th
// range of K (info[7] values long), written to out[z·M·N + m·N + n] (split K as in
// `tiled_matmul.wgsl`; `split_sum.wgsl` adds the ranges up). 128 invocations = 4 subgroups of
// 32 (margan checks that the adapter's subgroups are 32 wide): subgroup s owns the 32×32 quarter at
// rows 32·(s / 2), columns 32·(s % 2), as 2×2 accumulator tiles. Each 32-deep slice of K is
// staged row-major ([m][k] for A, [k][n] for B) as f16; at the end each subgroup stores its
// tiles to workgroup memory, from where all invocations write C with bounds checks.
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

var<workgroup> a_s: array<f16, 2048>; // BM·BK, [m][k]
var<workgroup> b_s: array<f16, 2048>; // BK·BN, [k][n]
var<workgroup> c_s: array<f32, 4096>; // BM·BN: subgroup s's 32×32 quarter at s·1024, [m][n]

@compute @workgroup_size(128, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) s: u32,
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
    let qm = 32u * (s / 2u);
    let qn = 32u * (s % 2u);
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
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
        // The slice's two 16-deep steps (a loop of constant bounds: the driver unrolls it).
        for (var kk = 0u; kk < BK; kk += 16u) {
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&a_s[qm * BK + kk], BK);
            let a1 = coopLoadT<coop_mat16x16<f16, A>>(&a_s[(qm + 16u) * BK + kk], BK);
            let b0 = coopLoadT<coop_mat16x16<f16, B>>(&b_s[kk * BN + qn], BN);
            let b1 = coopLoadT<coop_mat16x16<f16, B>>(&b_s[kk * BN + qn + 16u], BN);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
        }
        workgroupBarrier();
    }
    coopStoreT(c00, &c_s[s * 1024u], 32u);
    coopStoreT(c01, &c_s[s * 1024u + 16u], 32u);
    coopStoreT(c10, &c_s[s * 1024u + 512u], 32u);
    coopStoreT(c11, &c_s[s * 1024u + 528u], 32u);
    workgroupBarrier();
    let base = wid.z * m_size * n_size;
    for (var r = 0u; r < 32u; r++) {
        let e = lid + 128u * r;
        let row = e / BN;
        let col = e % BN;
        if (m0 + row < m_size && n0 + col < n_size) {
            let q = 2u * (row / 32u) + col / 32u;
            out[base + (m0 + row) * n_size + n0 + col] = c_s[q * 1024u + (row % 32u) * 32u + col % 32u];
        }
    }
}
