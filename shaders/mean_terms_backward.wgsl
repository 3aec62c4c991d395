// Backward of mean_terms_forward.wgsl: for every value j = g·N + i of x (G groups of N),
//   dx[j] = up[0] / N · Σ_t Σ_(g, a) of t scale_t · a · φ_t'(z_t,i)
// (zero where no term reads group g). The terms are generated into grad().

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

const G: u32 = {{ groups }}u;

fn grad(g: u32, i: u32) -> f32 {
    var d = 0.0;
{{ grad }}
    return d;
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let j = (wid.x + wid.y * nwg.x) * WG + lid;
    if (j >= G * N) {
        return;
    }
    dx[j] = up[0] / f32(N) * grad(j / N, j % N);
}
