// The first pass of every BatchNorm operation: sums range `split` of slot k into partials
// (layout in batch_norm_common.wgsl), in two passes over it: the range's mean, then the squared
// deviations and the gradient sums. Which gradients exist (gy, u) is templated in, read through
// bindings of those names that the entry point's file declares.
fn partials_pass(split: u32, k: u32, lid: u32) {
    let range = split_range(split);
    let count = f32(range.y - range.x);
    var sum = 0.0;
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        sum = sum + x[offset(j, k, X_STRIDES)];
    }
    let mean = workgroup_sum(vec4<f32>(sum, 0.0, 0.0, 0.0), lid).x / count;
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var j = range.x + lid; j < range.y; j = j + WG) {
        let d = x[offset(j, k, X_STRIDES)] - mean;
        let g = {{ gy_value }};
        let v = {{ u_value }};
        a = a + vec4<f32>(d * d, g, g * d, v);
        b = b + vec4<f32>(v * d, v * g, 0.0, 0.0);
    }
    a = workgroup_sum(a, lid);
    b = workgroup_sum(b, lid);
    if (lid == 0u) {
        let p = (k * SPLITS + split) * 8u;
        partials[p] = count;
        partials[p + 1u] = mean;
        partials[p + 2u] = a.x;
        partials[p + 3u] = a.y;
        partials[p + 4u] = a.z;
        partials[p + 5u] = a.w;
        partials[p + 6u] = b.x;
        partials[p + 7u] = b.y;
    }
}
