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
// (no bank conflicts) and store neighbouring 16-byte runs of C.
//
// Two ways of staging (`MatmulVariant`):
// - plain: one staging buffer per operand, its rows padded by one vec4 (bank conflicts when a
//   column is written); each slice is loaded, stored, a barrier, multiplied, a barrier. With
//   prefetch, the loads of the next slice are issued before the current one is multiplied, so
//   that their latency hides behind the arithmetic.
// - vector (`vec4`): operands read 4 values per load where their layout allows
//   (`matmul_loads_vec4.wgsl`), two staging buffers per operand (BUFFERS = 2): the next slice
//   is loaded and, after the current one is multiplied, stored into the other buffer, then one
//   barrier. Its rows are not padded but swizzled (SWIZZLE): the vec4 of columns c at depth k
//   sits at k·ROW + (c ^ 2·(k/4 mod 4)), so that the scalar stores of 4 depths of a row land on
//   distinct banks.
//
// The launcher (`src/kernels/matmul_shader.rs`) writes the body out, unrolled: the
// accumulators (registers, not an indexed array), the loads of a slice into registers, their
// stores into the tiles, the 16 steps of multiply-adds (with `fma`) and the stores of C.
//
// A and B are read through their strides (a transposed operand is a view, not a copy);
// `a_kfast` / `b_nfast` say which index is contiguous, so that neighbouring invocations load
// neighbouring addresses.
// info = [M, N, K, A's stride along m, along k, B's stride along k, along n, K per range].

@group(0) @binding(0) var<storage, read_write> a: array<{{ a_elem }}>;
@group(0) @binding(1) var<storage, read_write> b: array<{{ b_elem }}>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

{{ access }}

const BM: u32 = {{ bm }}u;
const BN: u32 = {{ bn }}u;
const BK: u32 = 16u;
const SWIZZLE: bool = {{ swizzle }};
// Staging rows in vec4, and one buffer's length.
const ROW_A: u32 = BM / 4u + select(1u, 0u, SWIZZLE);
const ROW_B: u32 = BN / 4u + select(1u, 0u, SWIZZLE);
const A_HALF: u32 = BK * ROW_A;
const B_HALF: u32 = BK * ROW_B;
const A_KFAST: bool = {{ a_kfast }};
const B_NFAST: bool = {{ b_nfast }};
// Operands rounded to f16 as they are staged (the tensor-core kernel's arithmetic, emulated in
// f32: `MatmulChoice::F16Emulated`).
const ROUND_F16: bool = {{ round_f16 }};

// The staging buffers: a_tile[buf + slot(k, m/4)][m%4] = A[m0 + m, k0 + k],
// b_tile[buf + slot(k, n/4)][n%4] = B[k0 + k, n0 + n], buf = 0 or A_HALF / B_HALF.
var<workgroup> a_tile: array<vec4<f32>, {{ a_tile_len }}>;
var<workgroup> b_tile: array<vec4<f32>, {{ b_tile_len }}>;

{{ loads }}

{{ vec_loads }}

// Where the vec4 of columns (or rows) 4·c.. at depth k is staged, in rows of `row` vec4.
fn slot(k: u32, c: u32, row: u32) -> u32 {
    if (SWIZZLE) {
        return k * row + (c ^ (2u * ((k / 4u) % 4u)));
    }
    return k * row + c;
}

// v rounded to the nearest f16 (ties to even), as f32: 11 significant bits; below f16's normal
// range (2^-14) a multiple of its subnormals' 2^-24; from 65520 on, infinity. In integer and
// exact operations: a compiler may fold unpack2x16float(pack2x16float(v)) to v, and on an H200
// (stop 26) the emulation's checks failed as if NVIDIA's Vulkan compiler had.
fn to_f16(v: f32) -> f32 {
    let bits = bitcast<u32>(v);
    let size = bits & 0x7fffffffu;
    if (size >= 0x7f800000u) {
        return v;
    }
    if (size >= 0x477ff000u) {
        return bitcast<f32>((bits & 0x80000000u) | 0x7f800000u);
    }
    if (size < 0x38800000u) {
        return round(v * 16777216.0) * 5.9604644775390625e-8;
    }
    return bitcast<f32>((bits + 0xfffu + ((bits >> 13u) & 1u)) & 0xffffe000u);
}

fn staged(v: f32) -> f32 {
    if (ROUND_F16) {
        return to_f16(v);
    }
    return v;
}

fn stash_a(buf: u32, e: u32, v: f32) {
    let p = a_place(e);
    a_tile[buf + slot(p.y, p.x / 4u, ROW_A)][p.x % 4u] = staged(v);
}

fn stash_b(buf: u32, e: u32, v: f32) {
    let p = b_place(e);
    b_tile[buf + slot(p.y, p.x / 4u, ROW_B)][p.x % 4u] = staged(v);
}

// Vector v of A's slice: one vec4 along m, or 4 depths of one row.
fn stash_a4(buf: u32, v: u32, x: vec4<f32>) {
    let p = a_vec_place(v);
    let c = p.x / 4u;
    if (A_KFAST) {
        let i = p.x % 4u;
        a_tile[buf + slot(p.y, c, ROW_A)][i] = staged(x.x);
        a_tile[buf + slot(p.y + 1u, c, ROW_A)][i] = staged(x.y);
        a_tile[buf + slot(p.y + 2u, c, ROW_A)][i] = staged(x.z);
        a_tile[buf + slot(p.y + 3u, c, ROW_A)][i] = staged(x.w);
    } else {
        a_tile[buf + slot(p.y, c, ROW_A)] = vec4<f32>(staged(x.x), staged(x.y), staged(x.z), staged(x.w));
    }
}

fn stash_b4(buf: u32, v: u32, x: vec4<f32>) {
    let p = b_vec_place(v);
    let c = p.x / 4u;
    if (B_NFAST) {
        b_tile[buf + slot(p.y, c, ROW_B)] = vec4<f32>(staged(x.x), staged(x.y), staged(x.z), staged(x.w));
    } else {
        let i = p.x % 4u;
        b_tile[buf + slot(p.y, c, ROW_B)][i] = staged(x.x);
        b_tile[buf + slot(p.y + 1u, c, ROW_B)][i] = staged(x.y);
        b_tile[buf + slot(p.y + 2u, c, ROW_B)][i] = staged(x.z);
        b_tile[buf + slot(p.y + 3u, c, ROW_B)][i] = staged(x.w);
    }
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
{{ slice }}
    }
    let base = wid.z * m_size * n_size;
{{ acc_store }}
}
