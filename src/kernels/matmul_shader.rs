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
    pub variant: MatmulVariant,
    /// Whether operands are rounded to f16 as they are staged (the tensor cores' arithmetic).
    pub round_f16: bool,
}

const LANES: [&str; 4] = ["x", "y", "z", "w"];

impl MatmulShader {
    /// `[acc_decl, prologue, stage, compute, acc_store]`.
    fn body(&self) -> [String; 5] {
        let (tm, tn) = (self.variant.tm, self.variant.tn);
        let (va, vb) = (tm / 4, tn / 4);
        let (row_a, row_b) = (4 * tm + 1, 4 * tn + 1);
        let mut decl = String::new();
        for r in 0..tm {
            for q in 0..vb {
                let _ = writeln!(decl, "    var acc_{r}_{q} = vec4<f32>(0.0);");
            }
        }
        // Loads of the slice at `k` into the registers ra*, rb* (`keyword` declares them).
        let load = |k: &str, keyword: &str, indent: &str| {
            let mut s = String::new();
            for r in 0..tm {
                let e = 256 * r;
                let _ = writeln!(s, "{indent}{keyword}ra{r} = load_a(d, {k}, lid + {e}u);");
            }
            for r in 0..tn {
                let e = 256 * r;
                let _ = writeln!(s, "{indent}{keyword}rb{r} = load_b(d, {k}, lid + {e}u);");
            }
            s
        };
        let mut stash = String::new();
        for r in 0..tm {
            let _ = writeln!(stash, "        stash_a(lid + {}u, ra{r});", 256 * r);
        }
        for r in 0..tn {
            let _ = writeln!(stash, "        stash_b(lid + {}u, rb{r});", 256 * r);
        }
        let (prologue, stage) = if self.variant.prefetch {
            (
                load("k_begin", "var ", "    "),
                stash + &load("k0 + BK", "", "        "),
            )
        } else {
            (String::new(), load("k0", "let ", "        ") + &stash)
        };
        let mut compute = String::new();
        for kk in 0..DEPTH {
            compute += "        {\n";
            for p in 0..va {
                let o = kk * row_a + 16 * p;
                let _ = writeln!(compute, "            let a{p} = a_tile[ty + {o}u];");
            }
            for q in 0..vb {
                let o = kk * row_b + 16 * q;
                let _ = writeln!(compute, "            let b{q} = b_tile[tx + {o}u];");
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
        [decl, prologue, stage, compute, store]
    }
}

impl KernelSource for MatmulShader {
    fn source(&self) -> SourceTemplate {
        let [decl, prologue, stage, compute, store] = self.body();
        let (bm, bn) = (16 * self.variant.tm, 16 * self.variant.tn);
        SourceTemplate::new(include_str!("../../shaders/tiled_matmul.wgsl"))
            .register("loads", include_str!("../../shaders/matmul_loads.wgsl"))
            .register("a_kfast", self.a_kfast.to_string())
            .register("b_nfast", self.b_nfast.to_string())
            .register("round_f16", self.round_f16.to_string())
            .register("bm", bm.to_string())
            .register("bn", bn.to_string())
            .register("a_tile_len", (DEPTH * (bm / 4 + 1)).to_string())
            .register("b_tile_len", (DEPTH * (bn / 4 + 1)).to_string())
            .register("acc_decl", decl)
            .register("prologue", prologue)
            .register("stage", stage)
            .register("compute", compute)
            .register("acc_store", store)
    }
    fn id(&self) -> KernelId {
        let v = self.variant;
        super::launch::kernel_id::<Self, _>((
            "tiled_matmul",
            self.a_kfast,
            self.b_nfast,
            v.tm,
            v.tn,
            v.prefetch,
            self.round_f16,
        ))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}
