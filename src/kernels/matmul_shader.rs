//! `shaders/tiled_matmul.wgsl` for one pair of operand layouts and one [`MatmulVariant`]: the
//! template's body written out here, unrolled — accumulators as named registers, the 16 steps
//! of a slice one after the other with constant offsets into the staging tiles — so that the
//! code the driver receives has no loop left in its hot part to unroll (naga turns every WGSL
//! loop into a `loop {}` with a break, which drivers unroll less readily than a counted one).

use super::matmul::{MatmulVariant, DEPTH};
use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use std::fmt::Write;

/// The tiled product's shader for one layout of the operands and one variant.
pub(crate) struct MatmulShader {
    /// A's k index is its contiguous one (A row-major).
    pub a_kfast: bool,
    /// B's n index is its contiguous one (B row-major).
    pub b_nfast: bool,
    /// A is read as vec4: only in a [`MatmulVariant::vec4`] variant, where A's layout allows it
    /// (the launcher decides).
    pub a_vec4: bool,
    /// B is read as vec4.
    pub b_vec4: bool,
    pub variant: MatmulVariant,
    /// Whether operands are rounded to f16 as they are staged (the tensor cores' arithmetic).
    pub round_f16: bool,
}

const LANES: [&str; 4] = ["x", "y", "z", "w"];

/// The swizzles of the vector variants' staging rows (`tiled_matmul.wgsl`'s `slot`), by depth.
fn swizzle(k: usize) -> usize {
    2 * ((k / 4) % 4)
}

/// An operand buffer's element type: f32, or vec4<f32> where it is read as vec4.
pub(crate) fn elem(vec4: bool) -> &'static str {
    if vec4 {
        "vec4<f32>"
    } else {
        "f32"
    }
}

/// The accessors `{name}_at(i)` (value i) and
/// `{name}4_at(i)` (the 4 values from i, i a multiple of 4 where vec4): as f32, or as vec4<f32>.
pub(crate) fn access(name: &str, vec4: bool) -> String {
    let (one, four) = if vec4 {
        (format!("{name}[i / 4u][i % 4u]"), format!("{name}[i / 4u]"))
    } else {
        (
            format!("{name}[i]"),
            format!("vec4<f32>({name}[i], {name}[i + 1u], {name}[i + 2u], {name}[i + 3u])"),
        )
    };
    format!(
        "fn {name}_at(i: u32) -> f32 {{\n    return {one};\n}}\n\n\
         fn {name}4_at(i: u32) -> vec4<f32> {{\n    return {four};\n}}\n"
    )
}

/// Loads of one operand per invocation and slice, for a block side of `block`: 16-deep slices
/// over 256 invocations, 4 values per load where `vec4`.
fn loads(vec4: bool, block: usize) -> usize {
    if vec4 {
        block / 64
    } else {
        block / 16
    }
}

impl MatmulShader {
    /// `[acc_decl, prologue, slice, acc_store]`.
    fn body(&self) -> [String; 4] {
        let v = self.variant;
        let (tm, tn) = (v.tm, v.tn);
        let (va, vb) = (tm / 4, tn / 4);
        let [bm, bn] = v.block();
        let (row_a, row_b) = if v.vec4 {
            (bm / 4, bn / 4)
        } else {
            (bm / 4 + 1, bn / 4 + 1)
        };
        let mut decl = String::new();
        for r in 0..tm {
            for q in 0..vb {
                let _ = writeln!(decl, "    var acc_{r}_{q} = vec4<f32>(0.0);");
            }
        }
        let ops = [
            ("a", (self.a_vec4, loads(self.a_vec4, bm))),
            ("b", (self.b_vec4, loads(self.b_vec4, bn))),
        ];
        // Loads of the slice at `k` into the registers ra*, rb* (`keyword` declares them).
        let load = |k: &str, keyword: &str, indent: &str| {
            let mut s = String::new();
            for (x, (vec4, count)) in ops {
                let f = if vec4 { "4" } else { "" };
                for r in 0..count {
                    let e = 256 * r;
                    let _ = writeln!(
                        s,
                        "{indent}{keyword}r{x}{r} = load_{x}{f}(d, {k}, lid + {e}u);"
                    );
                }
            }
            s
        };
        // Stores of the registers into the buffers at `bufs` (A's, B's).
        let stash = |bufs: [&str; 2], indent: &str| {
            let mut s = String::new();
            for ((x, (vec4, count)), buf) in ops.into_iter().zip(bufs) {
                let f = if vec4 { "4" } else { "" };
                for r in 0..count {
                    let e = 256 * r;
                    let _ = writeln!(s, "{indent}stash_{x}{f}({buf}, lid + {e}u, r{x}{r});");
                }
            }
            s
        };
        let (ao, bo) = if v.vec4 { ("ao + ", "bo + ") } else { ("", "") };
        let mut compute = String::new();
        for kk in 0..DEPTH {
            let s = if v.vec4 { swizzle(kk) } else { 0 };
            compute += "        {\n";
            for p in 0..va {
                let o = kk * row_a + 16 * p;
                let _ = writeln!(compute, "            let a{p} = a_tile[{ao}ty{s} + {o}u];");
            }
            for q in 0..vb {
                let o = kk * row_b + 16 * q;
                let _ = writeln!(compute, "            let b{q} = b_tile[{bo}tx{s} + {o}u];");
            }
            for r in 0..tm {
                let a = format!("vec4<f32>(a{}.{})", r / 4, LANES[r % 4]);
                for q in 0..vb {
                    let _ = writeln!(
                        compute,
                        "            acc_{r}_{q} = fma({a}, b{q}, acc_{r}_{q});"
                    );
                }
            }
            compute += "        }\n";
        }
        // The invocation's row and column of vec4 in the staging rows, at each swizzle.
        let mut prologue = String::new();
        let swizzles: &[usize] = if v.vec4 { &[0, 2, 4, 6] } else { &[0] };
        for s in swizzles {
            let _ = writeln!(
                prologue,
                "    let ty{s} = ty ^ {s}u;\n    let tx{s} = tx ^ {s}u;"
            );
        }
        let slice = if v.vec4 {
            // Slice k0 is in buffer `buf`; the next one is loaded, this one multiplied, the next
            // stored into the other buffer, one barrier.
            prologue += &load("k_begin", "var ", "    ");
            prologue += &stash(["0u", "0u"], "    ");
            prologue += "    workgroupBarrier();\n    var buf = 0u;\n";
            load("k0 + BK", "", "        ")
                + "        let ao = buf * A_HALF;\n        let bo = buf * B_HALF;\n"
                + &compute
                + &stash(["A_HALF - ao", "B_HALF - bo"], "        ")
                + "        workgroupBarrier();\n        buf = 1u - buf;\n"
        } else {
            let stage = if v.prefetch {
                prologue += &load("k_begin", "var ", "    ");
                stash(["0u", "0u"], "        ") + &load("k0 + BK", "", "        ")
            } else {
                load("k0", "let ", "        ") + &stash(["0u", "0u"], "        ")
            };
            stage + "        workgroupBarrier();\n" + &compute + "        workgroupBarrier();\n"
        };
        let mut store = String::new();
        for r in 0..tm {
            let row = format!("m0 + 4u * (ty + {}u) + {}u", 16 * (r / 4), r % 4);
            let _ = writeln!(store, "    let row{r} = {row};");
            for q in 0..vb {
                let _ = writeln!(
                    store,
                    "    if (row{r} < m_size) {{ store4(base, row{r}, n0 + 4u * (tx + {}u), n_size, acc_{r}_{q}); }}",
                    16 * q
                );
            }
        }
        [decl, prologue, slice, store]
    }
}

impl KernelSource for MatmulShader {
    fn source(&self) -> SourceTemplate {
        let [decl, prologue, slice, store] = self.body();
        let v = self.variant;
        let [bm, bn] = v.block();
        let (a4, b4) = (self.a_vec4, self.b_vec4);
        let (buffers, pad) = if v.vec4 { (2, 0) } else { (1, 1) };
        SourceTemplate::new(include_str!("../../shaders/tiled_matmul.wgsl"))
            .register("loads", include_str!("../../shaders/matmul_loads.wgsl"))
            .register(
                "vec_loads",
                include_str!("../../shaders/matmul_loads_vec4.wgsl"),
            )
            .register("a_elem", elem(a4))
            .register("b_elem", elem(b4))
            .register("access", access("a", a4) + "\n" + &access("b", b4))
            .register("a_kfast", self.a_kfast.to_string())
            .register("b_nfast", self.b_nfast.to_string())
            .register("round_f16", self.round_f16.to_string())
            .register("swizzle", v.vec4.to_string())
            .register("bm", bm.to_string())
            .register("bn", bn.to_string())
            .register("a_tile_len", (buffers * DEPTH * (bm / 4 + pad)).to_string())
            .register("b_tile_len", (buffers * DEPTH * (bn / 4 + pad)).to_string())
            .register("acc_decl", decl)
            .register("prologue", prologue)
            .register("slice", slice)
            .register("acc_store", store)
    }
    fn id(&self) -> KernelId {
        let v = self.variant;
        super::launch::kernel_id::<Self, _>((
            "tiled_matmul",
            [self.a_kfast, self.b_nfast, self.a_vec4, self.b_vec4],
            v.tm,
            v.tn,
            [v.prefetch, v.vec4, self.round_f16],
        ))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}
