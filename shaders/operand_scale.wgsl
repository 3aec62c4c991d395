// The largest magnitude of each operand of a product `A [m, k] · B [k, n]` (any strides), for
// the f16×3 tensor-core product (`tc_split.wgsl`): workgroup g of GROUPS writes the largest
// |x| over its share of A to out[g] and over its share of B to out[GROUPS + g], as f32 bit
// patterns (which order as the magnitudes do; a NaN's lies above infinity's).
// info = [m, k, A's stride along m, along k, n, B's stride along k, along n].

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;

const GROUPS: u32 = {{ groups }}u;
const WG: u32 = {{ workgroup_size }}u;

var<workgroup> part: array<u32, WG>;

// The largest |x| over this invocation's values of a rows × cols operand with strides
// (s_row, s_col), visited along its contiguous index. An operand that fills its memory densely
// (contiguous, or the transposed view of a contiguous tensor) is read as the flat array it is.
fn largest(which: u32, rows: u32, cols: u32, s_row: u32, s_col: u32, first: u32) -> u32 {
    var m = 0u;
    let len = rows * cols;
    let cols_fast = s_col <= s_row;
    let dense = (s_col == 1u && s_row == cols) || (s_row == 1u && s_col == rows);
    for (var e = first; e < len; e += GROUPS * WG) {
        var i = e;
        if (!dense) {
            var r = e / cols;
            var c = e % cols;
            if (!cols_fast) {
                r = e % rows;
                c = e / rows;
            }
            i = r * s_row + c * s_col;
        }
        var x: f32;
        if (which == 0u) {
            x = a[i];
        } else {
            x = b[i];
        }
        m = max(m, bitcast<u32>(abs(x)));
    }
    return m;
}

// The largest value of `part` (every invocation calls it).
fn reduce(lid: u32) -> u32 {
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            part[lid] = max(part[lid], part[lid + half]);
        }
        workgroupBarrier();
    }
    let m = part[0];
    workgroupBarrier();
    return m;
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let first = wid.x * WG + lid;
    part[lid] = largest(0u, info[0], info[1], info[2], info[3], first);
    let ma = reduce(lid);
    part[lid] = largest(1u, info[1], info[4], info[5], info[6], first);
    let mb = reduce(lid);
    if (lid == 0u) {
        out[wid.x] = ma;
        out[GROUPS + wid.x] = mb;
    }
}
