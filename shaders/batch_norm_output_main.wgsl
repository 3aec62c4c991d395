// The output pass's own launch, after batch_norm_partials_main.wgsl: workgroup (split, k)
// writes its range of slot k.

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    output_pass(wid.x, wid.y, lid);
}
