// Shared part of the BatchNorm kernels (training mode): the other batch_norm_*.wgsl files are
// appended to it. Statistics are per channel c of x [N, C, H, W] over N, H and W: M = N·H·W
// values, μ, the biased σ², s = 1/√(σ² + ε), x̂ = (x − μ)·s. A batch of G·N samples may hold G
// groups of N (one critic pass over real, fake and penalty points), each normalised with its
// own statistics: statistics slot k = g·C + c is channel c of group g, and everything below
// that says "channel" means a slot.
//
// Each operation has two passes: batch_norm_partials.wgsl splits every channel into SPLITS
// ranges of CHUNK values and sums, per range, what the operation needs (count, mean, squared
// deviations, and sums of gradients against the deviations); the output pass merges a
// channel's ranges (Chan et al.'s parallel variance) and writes its outputs elementwise over one
// range. So a channel is spread over SPLITS workgroups however large M grows: two launches
// (batch_norm_partials_main.wgsl, batch_norm_output_main.wgsl). Where a channel's values in all
// G groups fit one range (G·M ≤ CHUNK) the two passes run in one launch instead
// (batch_norm_fused_main.wgsl), one workgroup per channel. Where the same formulas in tensor ops take 20–60 launches these take
// 1 or 2.
//
// The shape, the inputs' strides (in elements: a GEMM convolution hands out channel-major
// views, an autodiff gradient may be a broadcast) and ε are compiled in as constants: a
// network has a few BatchNorm shapes, each compiled once. Outputs of x's shape take x's order of
// dimensions (see out_offset), so a channel-major activation stays channel-major.

// [G·C, SPLITS, 8] per range: count, mean, Σ(x − mean)², Σgy, Σgy·(x − mean), Σu, Σu·(x − mean),
// Σu·gy, with mean the range's own (gy, u: the operation's gradients; 0 where it has none).
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;

const WG: u32 = {{ workgroup_size }}u;
// Groups of the batch, and samples per group.
const G: u32 = {{ groups }}u;
const N: u32 = {{ n }}u;
const C: u32 = {{ c }}u;
const H: u32 = {{ h }}u;
const W: u32 = {{ w }}u;
const HW: u32 = H * W;
// Values per statistics slot.
const M: u32 = N * HW;
const SPLITS: u32 = {{ splits }}u;
const CHUNK: u32 = {{ chunk }}u;
const X_STRIDES = vec4<u32>({{ x_strides }});
const OUT_STRIDES = vec4<u32>({{ out_strides }});
// The strides of the operation's gradients, where it has them (0 where not): the upstream
// gradient gy, the outer gradient u, and the output of the forward an activation was fused
// into, whose signs mask gy.
const GY_STRIDES = vec4<u32>({{ gy_strides }});
const U_STRIDES = vec4<u32>({{ u_strides }});
const MASK_STRIDES = vec4<u32>({{ mask_strides }});
const EPS_BITS: u32 = {{ eps_bits }}u;

var<workgroup> partial_sums: array<vec4<f32>, WG>;

// Offset of value j = n·HW + h·W + w of slot k (sample (k / C)·N + n, channel k % C) in a
// tensor with strides s.
fn offset(j: u32, k: u32, s: vec4<u32>) -> u32 {
    let n = (k / C) * N + j / HW;
    let hw = j % HW;
    return n * s.x + (k % C) * s.y + (hw / W) * s.z + (hw % W) * s.w;
}

// The same value in an output, whose dimensions lie in memory in x's order, packed (x's own
// layout where x is NCHW or a GEMM convolution's channel-major view).
fn out_offset(j: u32, k: u32) -> u32 {
    return offset(j, k, OUT_STRIDES);
}

// [begin, end) of range `split` of a channel.
fn split_range(split: u32) -> vec2<u32> {
    return vec2<u32>(split * CHUNK, min(M, (split + 1u) * CHUNK));
}

// Sum of v over the workgroup (every invocation gets it).
fn workgroup_sum(v: vec4<f32>, lid: u32) -> vec4<f32> {
    partial_sums[lid] = v;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k = k / 2u) {
        if (lid < k) {
            partial_sums[lid] = partial_sums[lid] + partial_sums[lid + k];
        }
        workgroupBarrier();
    }
    let total = partial_sums[0];
    workgroupBarrier();
    return total;
}

// A channel's statistics and gradient sums, merged from its ranges.
struct Channel {
    mean: f32,
    variance: f32,
    // 1 / √(σ² + ε)
    s: f32,
    // Σgy, Σgy·(x − μ), Σu, Σu·(x − μ), Σu·gy over the channel.
    g: f32,
    g_dev: f32,
    u: f32,
    u_dev: f32,
    ug: f32,
}

// Slot k's statistics and sums.
fn merge(k: u32) -> Channel {
    let base = k * SPLITS * 8u;
    var count = 0.0;
    var weighted = 0.0;
    for (var k = 0u; k < SPLITS; k = k + 1u) {
        let n = partials[base + k * 8u];
        count = count + n;
        weighted = weighted + n * partials[base + k * 8u + 1u];
    }
    let mean = weighted / count;
    var out = Channel(mean, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    var squares = 0.0;
    for (var k = 0u; k < SPLITS; k = k + 1u) {
        let p = base + k * 8u;
        let d = partials[p + 1u] - mean;
        squares = squares + partials[p + 2u] + partials[p] * d * d;
        out.g = out.g + partials[p + 3u];
        out.g_dev = out.g_dev + partials[p + 4u] + d * partials[p + 3u];
        out.u = out.u + partials[p + 5u];
        out.u_dev = out.u_dev + partials[p + 6u] + d * partials[p + 5u];
        out.ug = out.ug + partials[p + 7u];
    }
    out.variance = squares / count;
    out.s = 1.0 / sqrt(out.variance + bitcast<f32>(EPS_BITS));
    return out;
}
