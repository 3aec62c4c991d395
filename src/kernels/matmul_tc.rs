//! The optional f16 tensor-core product (`shaders/tc_matmul.wgsl`): wgpu's cooperative
//! matrices, 16×16×16 with f16 operands and f32 accumulators, where the adapter offers them
//! (NVIDIA's Vulkan driver does, through VK_KHR_cooperative_matrix), or 8×8×8 where only those
//! are offered (Mesa's lavapipe from 26.x, on the CPU: what tests run it on without a GPU),
//! with subgroups of one fixed width of 8, 16, 32 or 64; blocks of 64 or 128 and prefetch or
//! not ([`TcVariant`]), generated for the adapter.
//! Never picked unless asked for ([`super::matmul::MatmulTuning::MeasureF16`] or `Fixed`):
//! rounding the operands to f16 changes the numbers. Its f16×3 variants keep f32's precision
//! ([`super::matmul_split`]; [`super::matmul::MatmulTuning::MeasureF16x3`]).

use super::adapter::{available, report, shared_bytes, tile, width, WIDTHS};
use super::matmul::TcVariant;
use super::matmul_cube::{launch_blocked, Layout};
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use std::fmt::Write;

/// Whether `v` runs on the device margan set up: the product is [`available`] and the
/// device's workgroup memory holds `v`'s staging.
pub(crate) fn fits(v: TcVariant) -> bool {
    available() && most_shared_bytes(v) <= shared_bytes()
}

/// `v`'s workgroup memory in the layout that needs the most: A row-major and B transposed,
/// both staged in rows of the slice's depth.
fn most_shared_bytes(v: TcVariant) -> u32 {
    let largest = Layout {
        b_nfast: false,
        ..Layout::plain()
    };
    shader(v, largest, width(), tile()).shared_bytes()
}

fn shader(variant: TcVariant, layout: Layout, width: u32, tile: u32) -> TcShader {
    TcShader {
        variant,
        layout,
        width,
        tile,
    }
}

/// The padding of the staging rows (f16 values).
const PAD: u32 = 8;

/// `shaders/tc_matmul.wgsl` for one variant, one layout of the operands, one subgroup width and
/// one side of the cooperative matrices.
pub(crate) struct TcShader {
    pub variant: TcVariant,
    /// The operands' layouts; each is read as vec4 where its layout allows.
    pub layout: Layout,
    pub width: u32,
    /// 16 or 8.
    pub tile: u32,
}

impl TcShader {
    fn block(&self) -> u32 {
        self.variant.block as u32
    }

    /// The depth of one staged slice of K: 32, or 16 for an f16×3 128 block (whose two parts
    /// of each operand would not fit in 48 KB of workgroup memory 32 deep).
    fn depth(&self) -> u32 {
        if self.variant.split && self.block() == 128 {
            16
        } else {
            32
        }
    }

    /// Values of each operand one invocation stages per slice: BLOCK · depth / invocations
    /// (16, or 32 for a 128 block of 128 invocations, 8 for an f16×3 128 block).
    fn loads(&self) -> u32 {
        self.block() * self.depth() / self.variant.invocations()
    }

    /// Loads of one operand per invocation and slice, and the name's suffix of the load and
    /// stash functions: a quarter of [`Self::loads`] as vec4 (`load_a4`), or all as f32.
    fn operand_loads(&self, vec4: bool) -> (u32, &'static str) {
        if vec4 {
            (self.loads() / 4, "4")
        } else {
            (self.loads(), "")
        }
    }

    /// Tiles of one subgroup's region, down and across: the block's (block / tile)² tiles
    /// shared among its invocations / width subgroups.
    fn region(&self) -> (u32, u32) {
        assert!(
            WIDTHS.contains(&self.width)
                && matches!(self.tile, 8 | 16)
                && matches!(self.block(), 64 | 128)
            && matches!(self.variant.invocations(), 128 | 256)
            && self.variant.invocations() <= 2 * self.block(),
            "tensor-core shader: subgroup width {} (one of {WIDTHS:?}), tile {} (8 or 16), block {} (64 or 128), {} invocations (128, or 256 for a 128 block)",
            self.width,
            self.tile,
            self.block(),
            self.variant.invocations()
        );
        let per_subgroup =
            (self.block() / self.tile).pow(2) * self.width / self.variant.invocations();
        let tm = 1 << (per_subgroup.trailing_zeros() / 2);
        (tm, per_subgroup / tm)
    }

    /// Lengths of the staging arrays (f16, f16, f32): A, B, and the edge stores' slots. Each
    /// operand is staged with its contiguous index contiguous: rows of the slice's depth (A's
    /// [m][k], B's [n][k]) or of the block's side ([k][m], [k][n]), padded.
    fn staging(&self) -> [u32; 3] {
        let b = self.block();
        let bk = self.depth();
        let (along_k, along_block) = (b * (bk + PAD), bk * (b + PAD));
        let l = self.layout;
        [
            if l.a_kfast { along_k } else { along_block },
            if l.b_nfast { along_block } else { along_k },
            self.variant.invocations() / self.width * self.tile * self.tile,
        ]
    }

    /// Workgroup memory in bytes.
    fn shared_bytes(&self) -> u32 {
        let [a, b, c] = self.staging();
        2 * (a + b) + 4 * c + super::matmul_split::extra_shared_bytes(self.variant.split, [a, b])
    }

    /// `[prologue, stage]`: with prefetch, the loads of the first slice before the loop, and in
    /// it the stores of the loaded slice followed by the next slice's loads; without, the loads
    /// of the current slice followed by their stores. Each invocation stages values
    /// `lid + invocations · r` of each operand.
    fn staging_code(&self) -> [String; 2] {
        let inv = self.variant.invocations();
        let ops = [
            ("a", self.operand_loads(self.layout.a_vec4)),
            ("b", self.operand_loads(self.layout.b_vec4)),
        ];
        let load = |k: &str, keyword: &str, indent: &str| {
            let mut s = String::new();
            for (x, (count, f)) in ops {
                for r in 0..count {
                    let e = inv * r;
                    let _ = writeln!(
                        s,
                        "{indent}{keyword}v{x}{r} = load_{x}{f}(d, {k}, lid + {e}u);"
                    );
                }
            }
            s
        };
        let mut stash = String::new();
        for (x, (count, f)) in ops {
            for r in 0..count {
                let e = inv * r;
                let _ = writeln!(stash, "        stash_{x}{f}(lid + {e}u, v{x}{r});");
            }
        }
        let [prologue, stage] = if self.variant.prefetch {
            [
                load("k_begin", "var ", "    "),
                stash + &load("k0 + BK", "", "        "),
            ]
        } else {
            [String::new(), load("k0", "let ", "        ") + &stash]
        };
        [prologue, stage]
    }

    /// `[declare, multiply, combine, store_direct, store_edge]`: the accumulators, one step of
    /// `tile` along K, for f16×3 the sums' combination and scaling, the stores of an inner block
    /// straight to `out`, those of an edge block through the subgroup's staging slot.
    fn body(&self) -> [String; 5] {
        let (tm, tn) = self.region();
        let t = self.tile;
        let split = self.variant.split;
        let mut declare = String::new();
        let mut multiply = String::new();
        let mut combine = String::new();
        let mut direct = String::new();
        let mut edge = String::new();
        let ind = "            ";
        // Row-major staging is read by `coopLoadT`, column-major by `coopLoad`.
        let l = self.layout;
        for i in 0..tm {
            let (load, at) = if l.a_kfast {
                ("coopLoadT", format!("(qm + {}u) * ROW_A + kk", t * i))
            } else {
                ("coopLoad", format!("kk * ROW_A + qm + {}u", t * i))
            };
            let _ = writeln!(
                multiply,
                "{ind}let a{i} = {load}<coop_mat{t}x{t}<f16, A>>(&a_s[{at}], ROW_A);"
            );
            if split {
                let _ = writeln!(
                    multiply,
                    "{ind}let al{i} = {load}<coop_mat{t}x{t}<f16, A>>(&a_lo[{at}], ROW_A);"
                );
            }
        }
        for j in 0..tn {
            let (load, at) = if l.b_nfast {
                ("coopLoadT", format!("kk * ROW_B + qn + {}u", t * j))
            } else {
                ("coopLoad", format!("(qn + {}u) * ROW_B + kk", t * j))
            };
            let _ = writeln!(
                multiply,
                "{ind}let b{j} = {load}<coop_mat{t}x{t}<f16, B>>(&b_s[{at}], ROW_B);"
            );
            if split {
                let _ = writeln!(
                    multiply,
                    "{ind}let bl{j} = {load}<coop_mat{t}x{t}<f16, B>>(&b_lo[{at}], ROW_B);"
                );
            }
        }
        for i in 0..tm {
            for j in 0..tn {
                let (r, c) = (
                    format!("m0 + qm + {}u", t * i),
                    format!("n0 + qn + {}u", t * j),
                );
                let _ = writeln!(declare, "    var c{i}_{j} = coop_mat{t}x{t}<f32, C>();");
                let _ = writeln!(
                    multiply,
                    "{ind}c{i}_{j} = coopMultiplyAdd(a{i}, b{j}, c{i}_{j});"
                );
                if split {
                    // The cross terms in accumulators of their own (2¹¹ times larger).
                    let _ = writeln!(declare, "    var e{i}_{j} = coop_mat{t}x{t}<f32, C>();");
                    let _ = writeln!(
                        multiply,
                        "{ind}e{i}_{j} = coopMultiplyAdd(a{i}, bl{j}, e{i}_{j});\n\
                         {ind}e{i}_{j} = coopMultiplyAdd(al{i}, b{j}, e{i}_{j});"
                    );
                    let _ = writeln!(
                        combine,
                        "    c{i}_{j} = (c{i}_{j} + (1.0 / LO) * e{i}_{j}) * c_scale_1 * c_scale_2;"
                    );
                }
                // The offset as a `let` of its own: naga 30's SPIR-V writer fails on a
                // cooperative store whose storage-buffer index is computed in place.
                let _ = writeln!(
                    direct,
                    "        let o{i}_{j} = base + ({r}) * n_size + {c};\n        \
                     coopStoreT(c{i}_{j}, &out[o{i}_{j}], n_size);"
                );
                let _ = writeln!(
                    edge,
                    "        coopStoreT(c{i}_{j}, &c_s[s * TILE * TILE], TILE);\n        \
                     workgroupBarrier();\n        \
                     edge_copy(base, {r}, {c}, s, lane, width, m_size, n_size);\n        \
                     workgroupBarrier();"
                );
            }
        }
        [declare, multiply, combine, direct, edge]
    }
}

impl KernelSource for TcShader {
    fn source(&self) -> SourceTemplate {
        let (tm, tn) = self.region();
        let [declare, multiply, combine, direct, edge] = self.body();
        let [prologue, stage] = self.staging_code();
        let [a_len, b_len, staging] = self.staging();
        let l = self.layout;
        let split = self.variant.split;
        let inv = self.variant.invocations();
        let scales = if split {
            "    set_scales(lid, s, lane, width);"
        } else {
            ""
        };
        SourceTemplate::new(include_str!("../../shaders/tc_matmul.wgsl"))
            .register("loads", include_str!("../../shaders/matmul_loads.wgsl"))
            .register(
                "vec_loads",
                include_str!("../../shaders/matmul_loads_vec4.wgsl"),
            )
            .register("a_elem", super::matmul_shader::elem(l.a_vec4))
            .register("b_elem", super::matmul_shader::elem(l.b_vec4))
            .register(
                "access",
                super::matmul_shader::access("a", l.a_vec4)
                    + "\n"
                    + &super::matmul_shader::access("b", l.b_vec4),
            )
            .register("block", self.block().to_string())
            .register("depth", self.depth().to_string())
            .register("invocations", self.variant.invocations().to_string())
            .register("a_len", a_len.to_string())
            .register("b_len", b_len.to_string())
            .register("staging", staging.to_string())
            .register(
                "split_decl",
                super::matmul_split::declarations(split, [a_len, b_len], inv).trim_end(),
            )
            .register("scales", scales)
            .register("combine", combine.trim_end())
            .register("prologue", prologue.trim_end())
            .register("stage", stage.trim_end())
            .register("a_kfast", l.a_kfast.to_string())
            .register("b_nfast", l.b_nfast.to_string())
            .register("tile", self.tile.to_string())
            .register("tiles_m", tm.to_string())
            .register("tiles_n", tn.to_string())
            .register("regions_n", (self.block() / self.tile / tn).to_string())
            .register("declare", declare.trim_end())
            .register("multiply", multiply.trim_end())
            .register("store_direct", direct.trim_end())
            .register("store_edge", edge.trim_end())
    }
    fn id(&self) -> KernelId {
        super::launch::kernel_id::<Self, _>((
            "tc_matmul",
            self.variant.block,
            self.variant.invocations,
            self.variant.prefetch,
            self.variant.split,
            [
                self.layout.a_kfast,
                self.layout.b_nfast,
                self.layout.a_vec4,
                self.layout.b_vec4,
            ],
            self.width,
            self.tile,
        ))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `a · b` on tensor cores by `variant` (and the split sum when K is split).
///
/// # Panics
/// When the device does not offer the product ([`available`]) or its workgroup memory cannot
/// hold `variant`.
pub(crate) fn launch(a: CubeTensor, b: CubeTensor, variant: TcVariant) -> CubeTensor {
    let (width, tile) = (width(), tile());
    assert!(
        width != 0,
        "f16 tensor-core products need a wgpu adapter with 16×16×16 (or 8×8×8) f16 cooperative matrices and \
         subgroups of one fixed width (an NVIDIA GPU through Vulkan), set up by \
         margan::device::wgpu; this one has {}: use the f32 products (MatmulTuning::Measure)",
        report()
    );
    assert!(
        fits(variant),
        "tensor-core product {}: needs {} bytes of workgroup memory, the device has {}; use f16 \
         (64×64 blocks) or measure-f16",
        variant.name(),
        most_shared_bytes(variant),
        shared_bytes()
    );
    let block = variant.block;
    let b = super::launch::unaliased(b, &[&a]);
    let maxima = variant
        .split
        .then(|| super::matmul_split::operand_maxima(&a, &b));
    launch_blocked(a, b, [block, block], variant.invocations(), maxima, |l| {
        super::matmul_cube::count_launch(l.a_vec4, l.b_vec4);
        shader(variant, l, width, tile)
    })
}

/// The shader's complete WGSL for one variant, layout (both operands read as vec4 if `vec4`),
/// subgroup width and tile (tests validate it with naga on machines whose adapter has no
/// cooperative matrices).
pub fn wgsl(
    variant: TcVariant,
    [a_kfast, b_nfast]: [bool; 2],
    vec4: bool,
    width: u32,
    tile: u32,
) -> String {
    let layout = Layout {
        a_kfast,
        b_nfast,
        a_vec4: vec4,
        b_vec4: vec4,
    };
    shader(variant, layout, width, tile).source().complete()
}
