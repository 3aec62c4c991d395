// Per-row L-infinity / L1 norm of an f32 tensor g whose rows are its first index: g[rows, cols],
// or g[N, C, H, W] with a row per sample, read through its strides (a GEMM convolution's input
// gradient is a channel-major view, which a reshape to [N, C·H·W] would copy first).
//
// One workgroup per row. Each invocation strides over the row, then the workgroup reduces its
// partial results in shared memory with a tree.
//   mode 0 (L-inf): norms[r] = max_i |g[r, i]|, argmax[r] = the LOWEST index i attaining it
//                   (stored as f32, exact for rows shorter than 2^24). A row holding a NaN gets
//                   a NaN norm, as in the plain-tensor reference (its arg-max then ignores NaNs).
//   mode 1 (L1):    norms[r] = sum_i |g[r, i]|, argmax[r] = 0.
// info = [rows, cols, mode, d1, d2, d3, s0, s1, s2, s3]: a row's values are [d1, d2, d3]
// (cols = d1·d2·d3) in row-major order, at strides s1, s2, s3; rows at stride s0 (see at()).
// Rows beyond 65535 workgroups spill into workgroup_id.y.
// Any row length >= 1, any number of rows.

@group(0) @binding(0) var<storage, read_write> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> norms: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const WG: u32 = {{ workgroup_size }}u;
const NONE: u32 = 0xffffffffu;

var<workgroup> s_val: array<f32, {{ workgroup_size }}>;
var<workgroup> s_idx: array<u32, {{ workgroup_size }}>;

var<workgroup> s_nan: array<u32, {{ workgroup_size }}>;

// Does candidate (v, i) beat the incumbent (bv, bi)? Among equal values the lower index wins;
// an empty slot (index NONE) loses to anything.
fn beats(v: f32, i: u32, bv: f32, bi: u32) -> bool {
    if (i == NONE) { return false; }
    if (bi == NONE) { return true; }
    return v > bv || (v == bv && i < bi);
}

// Offset of value i of row `row`.
fn at(row: u32, i: u32) -> u32 {
    let rest = i / info[5];
    return row * info[6] + (rest / info[4]) * info[7] + (rest % info[4]) * info[8]
        + (i % info[5]) * info[9];
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let rows = info[0];
    let cols = info[1];
    let mode = info[2];
    let row = wid.x + wid.y * nwg.x;
    // No early return: values read from storage are not uniform to WGSL's analysis, and every
    // invocation must reach the barriers below. A workgroup past the last row reads nothing.
    let in_range = row < rows;
    let end = select(0u, cols, in_range);

    var best = -1.0;
    var best_i = NONE;
    var sum = 0.0;
    var nan = 0u;
    if (mode == 1u) {
        for (var i = lid; i < end; i += WG) {
            sum += abs(g[at(row, i)]);
        }
    } else {
        for (var i = lid; i < end; i += WG) {
            let a = abs(g[at(row, i)]);
            // Indices rise within one invocation: a strict win keeps the lowest tied index.
            if (a > best) {
                best = a;
                best_i = i;
            }
            // Bit test: WGSL lets compilers assume floats are never NaN, so `a != a` may fold.
            nan = nan | u32((bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u);
        }
    }
    if (mode == 1u) {
        s_val[lid] = sum;
    } else {
        s_val[lid] = best;
        s_idx[lid] = best_i;
        s_nan[lid] = nan;
    }
    workgroupBarrier();

    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            let o = lid + stride;
            if (mode == 1u) {
                s_val[lid] = s_val[lid] + s_val[o];
            } else {
                if (beats(s_val[o], s_idx[o], s_val[lid], s_idx[lid])) {
                    s_val[lid] = s_val[o];
                    s_idx[lid] = s_idx[o];
                }
                s_nan[lid] = s_nan[lid] | s_nan[o];
            }
        }
        workgroupBarrier();
    }

    if (lid == 0u && in_range) {
        if (mode == 1u) {
            norms[row] = s_val[0];
            argmax[row] = 0.0;
        } else {
            // NaN is written as bits from a runtime select: a constant NaN expression is a
            // shader-creation error in WGSL (Chromium's Tint rejects it; naga does not).
            norms[row] = bitcast<f32>(select(bitcast<u32>(s_val[0]), 0x7fc00000u, s_nan[0] != 0u));
            // A row of NaNs only has no arg-max: point at 0.
            argmax[row] = select(f32(s_idx[0]), 0.0, s_idx[0] == NONE);
        }
    }
}
