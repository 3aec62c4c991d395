// One f32 matrix product C = A · B (A: M×K, B: K×N), tiled for the GPU, with split K:
// workgroup (x, y, z) computes the BM×BN block of C at rows BM·y, columns BN·x over the
// z-th range of K (info[7] values long) and writes it to out[z·M·N + m·N + n]. With one
// range that is C itself; with several, `split_sum.wgsl` adds the ranges up. (A GEMM
// convolution's products are thin — few output blocks over a long K, e.g. a weight gradient
// sums over the whole batch — and without split K most of the GPU would sit idle.)
//
// 256 invocations, 16×16; each accumulates TM×TN values of C (BM = 16·TM, BN = 16·TN) over
// 16-deep slices of K staged in workgroup memory as vec4 rows: one step reads TM/4 vec4 of A
// and TN/4 of B for TM·TN multiply-adds. Invocation (tx, ty) owns the rows 4·(ty + 16·p) + i
// and the columns 4·(tx + 16·q) + j, so neighbouring invocations read neighbouring vec4
// (no bank conflicts) and store neighbouring 16-byte runs of C. The accumulators and the
// multiply-adds are written out by the launcher (the acc_decl, acc_step and acc_store
// templates: registers, not an indexed array). A and B are read through their strides
// (a transposed operand is a view, not a copy); `a_kfast` / `b_nfast` say which index is
// contiguous, so that neighbouring invocations load neighbouring addresses. Rows of the
// staging tiles are padded by one vec4 (bank conflicts when a column is written).
// info = [M, N, K, A's stride along m, along k, B's stride along k, along n, K per range].

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const TM: u32 = {{ tm }}u;
const BM: u32 = 16u * TM;
const BN: u32 = 16u * {{ tn }}u;
const BK: u32 = 16u;
const ROW_A: u32 = BM / 4u + 1u;
const ROW_B: u32 = BN / 4u + 1u;
const A_KFAST: bool = {{ a_kfast }};
const B_NFAST: bool = {{ b_nfast }};

// a_tile[k·ROW_A + m/4][m%4] = A[m0 + m, k0 + k]; b_tile[k·ROW_B + n/4][n%4] = B[k0 + k, n0 + n].
var<workgroup> a_tile: array<vec4<f32>, {{ a_tile_len }}>;
var<workgroup> b_tile: array<vec4<f32>, {{ b_tile_len }}>;

fn store4(base: u32, m: u32, n0: u32, n_size: u32, v: vec4<f32>) {
    let row = base + m * n_size;
    if (n0 + 3u < n_size) {
        out[row + n0] = v.x;
        out[row + n0 + 1u] = v.y;
        out[row + n0 + 2u] = v.z;
        out[row + n0 + 3u] = v.w;
    } else {
        for (var j = 0u; j < 4u; j++) {
            if (n0 + j < n_size) {
                out[row + n0 + j] = v[j];
            }
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let m_size = info[0];
    let n_size = info[1];
    let k_size = info[2];
    let sa_m = info[3];
    let sa_k = info[4];
    let sb_k = info[5];
    let sb_n = info[6];
    let k_begin = wid.z * info[7];
    let k_end = min(k_size, k_begin + info[7]);
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let tx = lid % 16u;
    let ty = lid / 16u;
{{ acc_decl }}
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // A's slice is BM×16 = 256·TM values, B's 16×BN = 256·TN: TM and TN loads each.
        for (var r = 0u; r < TM; r++) {
            let e = lid + r * 256u;
            var ml = e % BM;
            var ka = e / BM;
            if (A_KFAST) {
                ml = e / BK;
                ka = e % BK;
            }
            var va = 0.0;
            if (m0 + ml < m_size && k0 + ka < k_end) {
                va = a[(m0 + ml) * sa_m + (k0 + ka) * sa_k];
            }
            a_tile[ka * ROW_A + ml / 4u][ml % 4u] = va;
        }
        for (var r = 0u; r < {{ tn }}u; r++) {
            let e = lid + r * 256u;
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
            b_tile[kb * ROW_B + nl / 4u][nl % 4u] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
{{ acc_step }}
        }
        workgroupBarrier();
    }
    let base = wid.z * m_size * n_size;
{{ acc_store }}
}
