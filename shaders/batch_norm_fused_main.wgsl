// Both passes in one launch, where a channel's values in all groups fit one range (G·M ≤ CHUNK,
// so SPLITS = 1): workgroup c sums the slot of channel c in every group, then writes their
// outputs. Its own invocation 0 wrote the sums to partials; the barriers make them visible to
// all its invocations. What an output pass reads across groups (the running statistics, the
// parameter gradients: all groups of channel c) is this workgroup's own.

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.x;
    for (var g = 0u; g < G; g = g + 1u) {
        partials_pass(0u, g * C + c, lid);
    }
    storageBarrier();
    workgroupBarrier();
    for (var g = 0u; g < G; g = g + 1u) {
        output_pass(0u, g * C + c, lid);
    }
}
