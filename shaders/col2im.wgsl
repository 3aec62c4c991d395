// The adjoint of im2col.wgsl: folds patch columns back onto the image x[n, c, h, w], laid out
// channel-major (strides compiled in: those of a [C, N, h, w] buffer), summing every
// column entry that was read from the same pixel:
//   x[ni, ci, ih, iw] = Σ cols[(ci·k + kh)·k + kw, (ni·ho + oh)·wo + ow]
//   over the taps with oh·s + kh = ih + p and ow·s + kw = iw + p (0 ≤ oh < ho, 0 ≤ ow < wo).
// One invocation per image pixel gathers its taps (no atomics, deterministic order);
// consecutive invocations take consecutive pixels of the buffer, so stores are coalesced.
// The geometry [n, c, h, w, k, s, p, ho, wo] is compiled in
// (one shader per convolution shape: divisions by constants are multiplications). Workgroups beyond 65535 spill into workgroup_id.y.

@group(0) @binding(0) var<storage, read_write> cols: array<f32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

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
    if (idx >= n * c * h * w) {
        return;
    }
    // Pixel idx of the channel-major buffer.
    let iw = idx % w;
    let ih = (idx / w) % h;
    let ni = (idx / (w * h)) % n;
    let ci = idx / (w * h * n);
    let y = ih + p;
    let xx = iw + p;
    let col0 = ni * l;
    var sum = 0.0;
    for (var kh = 0u; kh < k; kh++) {
        // oh = (y − kh) / s must be a whole number in [0, ho).
        if (kh > y || (y - kh) % s != 0u || (y - kh) / s >= ho) {
            continue;
        }
        let oh = (y - kh) / s;
        for (var kw = 0u; kw < k; kw++) {
            if (kw > xx || (xx - kw) % s != 0u || (xx - kw) / s >= wo) {
                continue;
            }
            let ow = (xx - kw) / s;
            sum += cols[((ci * k + kh) * k + kw) * width + col0 + oh * wo + ow];
        }
    }
    x[ni * XS.x + ci * XS.y + ih * XS.z + iw * XS.w] = sum;
}
