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
// (no bank conflicts) and store neighbouring 16-byte runs of C. Rows of the staging tiles are
// padded by one vec4 (bank conflicts when a column is written).
//
// The launcher (`src/kernels/matmul_shader.rs`) writes the body out, unrolled: the
// accumulators (registers, not an indexed array), the loads of a slice into registers (`load`),
// their stores into the tiles (`stash`), the 16 steps of multiply-adds (`compute`, with `fma`)
// and the stores of C. With prefetch, the loads of the next slice are issued before the current
// one is multiplied, so that their latency hides behind the arithmetic.
//
// A and B are read through their strides (a transposed operand is a view, not a copy);
// `a_kfast` / `b_nfast` say which index is contiguous, so that neighbouring invocations load
// neighbouring addresses.
// info = [M, N, K, A's stride along m, along k, B's stride along k, along n, K per range].

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const BM: u32 = {{ bm }}u;
const BN: u32 = {{ bn }}u;
const BK: u32 = 16u;
const ROW_A: u32 = BM / 4u + 1u;
const ROW_B: u32 = BN / 4u + 1u;
const A_KFAST: bool = {{ a_kfast }};
const B_NFAST: bool = {{ b_nfast }};
// Operands rounded to f16 as they are staged (the tensor-core kernel's arithmetic, emulated in
// f32: `MatmulChoice::F16Emulated`).
const ROUND_F16: bool = {{ round_f16 }};

// a_tile[k·ROW_A + m/4][m%4] = A[m0 + m, k0 + k]; b_tile[k·ROW_B + n/4][n%4] = B[k0 + k, n0 + n].
var<workgroup> a_tile: array<vec4<f32>, {{ a_tile_len }}>;
var<workgroup> b_tile: array<vec4<f32>, {{ b_tile_len }}>;

{{ loads }}

fn staged(v: f32) -> f32 {
    if (ROUND_F16) {
        return unpack2x16float(pack2x16float(vec2<f32>(v, 0.0))).x;
    }
    return v;
}

fn stash_a(e: u32, v: f32) {
    let p = a_place(e);
    a_tile[p.y * ROW_A + p.x / 4u][p.x % 4u] = staged(v);
}

fn stash_b(e: u32, v: f32) {
    let p = b_place(e);
    b_tile[p.y * ROW_B + p.x / 4u][p.x % 4u] = staged(v);
}

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
    let k_begin = wid.z * info[7];
    let d = block_dims(wid);
    let m0 = d.m0;
    let n0 = d.n0;
    let m_size = d.m_size;
    let n_size = d.n_size;
    let tx = lid % 16u;
    let ty = lid / 16u;
{{ acc_decl }}
{{ prologue }}
    for (var k0 = k_begin; k0 < d.k_end; k0 += BK) {
{{ stage }}
        workgroupBarrier();
{{ compute }}
        workgroupBarrier();
    }
    let base = wid.z * m_size * n_size;
{{ acc_store }}
}
