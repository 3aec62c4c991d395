// The partial sums' own launch (operations over more than one range per channel): workgroup
// (split, k) sums its range of slot k.

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
{{ gradient_bindings }}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    partials_pass(wid.x, wid.y, lid);
}
