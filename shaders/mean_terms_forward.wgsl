// A sum of means of pointwise functions (src/kernels/mean_terms.rs): one workgroup sums
// value(i) over the N samples of a group and writes the total divided by N,
//   out[0] = Σ_t scale_t · (1/N) · Σ_i φ_t(z_t,i),  z_t,i = Σ a · x[g·N + i] + bias_t.
// The terms are generated into value() (mean_terms_common.wgsl has the φ).

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> sums: array<f32, WG>;

fn value(i: u32) -> f32 {
    var v = 0.0;
{{ value }}
    return v;
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(local_invocation_index) lid: u32) {
    var acc = 0.0;
    for (var i = lid; i < N; i = i + WG) {
        acc = acc + value(i);
    }
    sums[lid] = acc;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k = k / 2u) {
        if (lid < k) {
            sums[lid] = sums[lid] + sums[lid + k];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[0] = sums[0] / f32(N);
    }
}
