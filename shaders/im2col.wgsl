// Patch extraction (im2col) of an f32 image x[n, c, h, w] (any strides, compiled in) with a square k×k kernel,
// stride s and symmetric zero padding p:
//   cols[(ci·k + kh)·k + kw, (ni·ho + oh)·wo + ow] = x[ni, ci, oh·s + kh − p, ow·s + kw − p]
// (0 outside the image). One invocation per entry of cols; consecutive invocations write
// consecutive columns, so stores are coalesced. The geometry [n, c, h, w, k, s, p, ho, wo] is compiled in
// (one shader per convolution shape: divisions by constants are multiplications).
// Workgroups beyond 65535 spill into workgroup_id.y.

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;

const WG: u32 = {{ workgroup_size }}u;
// x's strides.
const XS = vec4<u32>({{ image_strides }});

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = {{ n }}u;
    let c = {{ c }}u;
    let h = {{ h }}u;
    let w = {{ w }}u;
    let k = {{ k }}u;
    let s = {{ s }}u;
    let p = {{ p }}u;
    let ho = {{ ho }}u;
    let wo = {{ wo }}u;
    let l = ho * wo;
    let width = n * l;
    let idx = (wid.x + wid.y * nwg.x) * WG + lid;
    if (idx >= c * k * k * width) {
        return;
    }
    let row = idx / width;
    let col = idx % width;
    let ci = row / (k * k);
    let tap = row % (k * k);
    let kh = tap / k;
    let kw = tap % k;
    let ni = col / l;
    let o = col % l;
    let oh = o / wo;
    let ow = o % wo;
    // Coordinates in the unpadded image; unsigned wrap-around makes "< p" fail the bound test.
    let ih = oh * s + kh - p;
    let iw = ow * s + kw - p;
    var v = 0.0;
    if (oh * s + kh >= p && ih < h && ow * s + kw >= p && iw < w) {
        v = x[ni * XS.x + ci * XS.y + ih * XS.z + iw * XS.w];
    }
    cols[idx] = v;
}
