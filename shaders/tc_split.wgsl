// The f16×3 variants' part of `tc_matmul.wgsl` (inserted at its `split_decl`): each operand
// scaled by a power of two and staged as a high and a low f16 part, which keep f32's precision
// between them (see the header there). `scale` holds the operands' largest magnitudes as f32
// bit patterns, one per workgroup of `operand_scale.wgsl`: A's at [0, SCALE_GROUPS), B's after.

@group(0) @binding(4) var<storage, read_write> scale: array<u32>;

const SCALE_GROUPS: u32 = {{ scale_groups }}u;
// The low parts are staged 2^11 times larger (so that f16's range keeps their small values).
const LO: f32 = 2048.0;

var<workgroup> a_lo: array<f16, {{ a_len }}>;
var<workgroup> b_lo: array<f16, {{ b_len }}>;
// Each operand's scale, and C's: 2^-(ea + eb) as two factors (each within f32's range).
var<private> a_scale: f32;
var<private> b_scale: f32;
var<private> c_scale_1: f32;
var<private> c_scale_2: f32;

// x rounded to what f16 keeps of it: 11 significant bits (to nearest, ties away from zero), or
// below f16's normal range (2^-14) a multiple of its subnormals' 2^-24, so that the low part
// takes all the rest. In integer and exact operations: a compiler may take f32(f16(x)) for x
// (Mesa's does), which would leave the low part 0.
fn high(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    if ((bits & 0x7fffffffu) < 0x38800000u) {
        return round(x * 16777216.0) * 5.9604644775390625e-8;
    }
    return bitcast<f32>((bits + 0x1000u) & 0xffffe000u);
}

fn put_a(i: u32, v: f32) {
    let x = v * a_scale;
    let h = high(x);
    a_s[i] = f16(h);
    a_lo[i] = f16((x - h) * LO);
}

fn put_b(i: u32, v: f32) {
    let x = v * b_scale;
    let h = high(x);
    b_s[i] = f16(h);
    b_lo[i] = f16((x - h) * LO);
}

// 2^e for |e| ≤ 126.
fn pow2(e: i32) -> f32 {
    return bitcast<f32>(u32(e + 127) << 23u);
}

// The exponent e that puts the largest magnitude (the bits of a non-negative f32) just under
// 2^15: it lies in [2^(b − 127), 2^(b − 126)) for the biased exponent b. None (0) for all
// zeros or a NaN or infinity (the product then carries them as f16 does).
fn scale_exponent(bits: u32) -> i32 {
    let biased = i32(bits >> 23u);
    if (bits == 0u || biased >= 255) {
        return 0;
    }
    return clamp(141 - biased, -126, 126);
}

// Every invocation's scales, from the maxima of `operand_scale.wgsl`'s workgroups, reduced in
// each subgroup and then across subgroups through the edge stores' slots (`c_s`, unused until
// the end), as bit patterns. Called by every invocation of the workgroup (it has barriers).
fn set_scales(lid: u32, s: u32, lane: u32, width: u32) {
    var ma = 0u;
    var mb = 0u;
    for (var g = lid; g < SCALE_GROUPS; g += {{ invocations }}u) {
        ma = max(ma, scale[g]);
        mb = max(mb, scale[SCALE_GROUPS + g]);
    }
    ma = subgroupMax(ma);
    mb = subgroupMax(mb);
    if (lane == 0u) {
        c_s[2u * s] = bitcast<f32>(ma);
        c_s[2u * s + 1u] = bitcast<f32>(mb);
    }
    workgroupBarrier();
    for (var t = 0u; t < {{ invocations }}u / width; t++) {
        ma = max(ma, bitcast<u32>(c_s[2u * t]));
        mb = max(mb, bitcast<u32>(c_s[2u * t + 1u]));
    }
    workgroupBarrier();
    let ea = scale_exponent(ma);
    let eb = scale_exponent(mb);
    a_scale = pow2(ea);
    b_scale = pow2(eb);
    let u = -(ea + eb);
    c_scale_1 = pow2(u / 2);
    c_scale_2 = pow2(u - u / 2);
}
