//! A brute-force reference for the margins of a 2-D classifier: the decision boundary traced on
//! a fine grid, then each sample's distance to the nearest traced boundary point. Exact up to
//! the grid spacing, with no optimisation that can stall in a local minimum — what the
//! augmented-Lagrangian estimator of [`crate::margins`] is checked against.

use crate::device::to_vec;
use crate::layers::{Mode, Network};
use crate::norms::Norm;
use crate::toy::points_tensor;
use burn::tensor::Device;

/// Points where `D` changes sign on a `res × res`-cell grid over the square `centre ± half`:
/// on every cell edge whose ends differ in sign, the zero of the linear interpolation.
pub fn boundary_points(
    net: &Network,
    centre: [f64; 2],
    half: f64,
    res: usize,
    device: &Device,
) -> Vec<[f64; 2]> {
    let k = res + 1;
    let h = 2.0 * half / res as f64;
    let node = |i: usize, j: usize| {
        [
            centre[0] - half + i as f64 * h,
            centre[1] - half + j as f64 * h,
        ]
    };
    let mut values = Vec::with_capacity(k * k);
    // Rows of nodes in chunks, to bound the batch size.
    for rows in (0..k).collect::<Vec<_>>().chunks(64) {
        let pts: Vec<[f64; 2]> = rows
            .iter()
            .flat_map(|j| (0..k).map(move |i| node(i, *j)))
            .collect();
        let n = pts.len();
        let v = to_vec(
            net.forward(points_tensor(&pts, device), Mode::Eval)
                .reshape([n]),
        );
        values.extend(v.into_iter().map(|x| x as f64));
    }
    let at = |i: usize, j: usize| values[j * k + i];
    let mut out = Vec::new();
    let mut edge = |a: [f64; 2], b: [f64; 2], va: f64, vb: f64| {
        if (va > 0.0) != (vb > 0.0) {
            let t = va / (va - vb);
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
        }
    };
    for j in 0..k {
        for i in 0..k {
            if i + 1 < k {
                edge(node(i, j), node(i + 1, j), at(i, j), at(i + 1, j));
            }
            if j + 1 < k {
                edge(node(i, j), node(i, j + 1), at(i, j), at(i, j + 1));
            }
        }
    }
    out
}

/// `‖a − b‖` in the given norm.
pub fn distance(a: [f64; 2], b: [f64; 2], norm: Norm) -> f64 {
    let (dx, dy) = ((a[0] - b[0]).abs(), (a[1] - b[1]).abs());
    match norm {
        Norm::L1 => dx + dy,
        Norm::L2 => dx.hypot(dy),
        Norm::Linf => dx.max(dy),
    }
}

/// Margins of 2-D `points` for `net` by brute force: the distance to the nearest boundary point
/// traced on a `res × res` grid over `centre ± half` (∞ where no boundary lies in the square).
pub fn grid_margins_reference(
    net: &Network,
    points: &[[f64; 2]],
    norm: Norm,
    centre: [f64; 2],
    half: f64,
    res: usize,
    device: &Device,
) -> Vec<f64> {
    let boundary = boundary_points(net, centre, half, res, device);
    distances_to(&boundary, points, norm)
}

/// Each point's distance to the nearest of `boundary` (∞ when it is empty).
pub fn distances_to(boundary: &[[f64; 2]], points: &[[f64; 2]], norm: Norm) -> Vec<f64> {
    points
        .iter()
        .map(|p| {
            boundary
                .iter()
                .map(|b| distance(*p, *b, norm))
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}
