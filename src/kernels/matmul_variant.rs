//! The configurations of margan's matrix-product kernels: [`MatmulVariant`] for the f32 tiled
//! kernel (`shaders/tiled_matmul.wgsl`), [`TcVariant`] for the f16 tensor-core one
//! (`shaders/tc_matmul.wgsl`). [`super::matmul::MatmulTuning`] picks among them.

use super::matmul::DEPTH;

/// One configuration of the tiled kernel. Every variant has 256 invocations per workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulVariant {
    /// Rows of C per invocation, 4 or 8: blocks of 16·`tm` rows.
    pub tm: usize,
    /// Columns of C per invocation, 4 or 8: blocks of 16·`tn` columns.
    pub tn: usize,
    /// Whether the loads of the next 16-deep slice of K are issued before the current slice is
    /// multiplied (their latency then hides behind the arithmetic, for `tm + tn` registers).
    pub prefetch: bool,
    /// Vector staging (always with prefetch): each operand read 4 values per load where its
    /// layout allows (its contiguous index a multiple of 4 long, its other stride a multiple
    /// of 4), and two staging buffers in workgroup memory, so that a slice is stored while the
    /// one before is multiplied, with one barrier per slice instead of two. The staging rows are
    /// not padded but swizzled (twice the memory of the plain variant, without the padding).
    pub vec4: bool,
}

impl MatmulVariant {
    /// Every variant, the default first.
    pub const ALL: [MatmulVariant; 12] = [
        MatmulVariant::new(4, 4, true),
        MatmulVariant::new(4, 4, false),
        MatmulVariant::new(8, 4, true),
        MatmulVariant::new(4, 8, true),
        MatmulVariant::new(8, 8, true),
        MatmulVariant::new(8, 4, false),
        MatmulVariant::new(4, 8, false),
        MatmulVariant::new(8, 8, false),
        MatmulVariant::vectorised(4, 4),
        MatmulVariant::vectorised(8, 4),
        MatmulVariant::vectorised(4, 8),
        MatmulVariant::vectorised(8, 8),
    ];
    /// 64×64 blocks with prefetch: what [`MatmulTuning::Heuristic`] takes.
    pub const DEFAULT: MatmulVariant = MatmulVariant::ALL[0];

    pub const fn new(tm: usize, tn: usize, prefetch: bool) -> Self {
        MatmulVariant {
            tm,
            tn,
            prefetch,
            vec4: false,
        }
    }

    /// The variant of `tm × tn` values per invocation with vector staging ([`Self::vec4`]).
    pub const fn vectorised(tm: usize, tn: usize) -> Self {
        MatmulVariant {
            tm,
            tn,
            prefetch: true,
            vec4: true,
        }
    }

    /// Rows and columns of C per workgroup.
    pub fn block(self) -> [usize; 2] {
        [16 * self.tm, 16 * self.tn]
    }

    /// e.g. `64x64+pf` (prefetch), `128x64`, or `128x128+vec` (vector staging).
    pub fn name(self) -> String {
        let [bm, bn] = self.block();
        let staging = match (self.vec4, self.prefetch) {
            (true, _) => "+vec",
            (false, true) => "+pf",
            (false, false) => "",
        };
        format!("{bm}x{bn}{staging}")
    }

    /// Workgroup memory the variant stages its slices in, in bytes.
    pub fn shared_bytes(self) -> usize {
        let [bm, bn] = self.block();
        let (buffers, pad) = if self.vec4 { (2, 0) } else { (1, 1) };
        buffers * DEPTH * (bm / 4 + pad + bn / 4 + pad) * 16
    }
}

/// One configuration of the optional f16 tensor-core kernel (`shaders/tc_matmul.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcVariant {
    /// Rows and columns of C per workgroup: 64 or 128.
    pub block: usize,
    /// Invocations per workgroup: 128, or 256 for a 128 block. On NVIDIA (subgroups of 32,
    /// 16×16 tiles) a 64 block of 128 gives each subgroup 2×2 tiles, a 128 block of 256 2×4,
    /// one of 128 4×4: fewer cooperative loads from workgroup memory per multiply-add, and more
    /// accumulators (registers) per invocation.
    pub invocations: usize,
    /// Whether the next 32-deep slice of K is loaded while the current one is multiplied.
    pub prefetch: bool,
    /// f16×3: f32's precision from three f16 products — each operand scaled by a power of two
    /// into f16's range (a launch of its own finds the scales) and staged as a high and a low
    /// f16 part, `C = AₕBₕ + AₕB_l + A_lBₕ` in f32 accumulators. Three times the tensor-core
    /// work and twice the staging of the plain f16 kernel, whose operands keep 11 bits.
    pub split: bool,
}

impl TcVariant {
    /// Every variant, the default first (the one `f16` names).
    pub const ALL: [TcVariant; 5] = [
        TcVariant::new(64, 128, false),
        TcVariant::new(64, 128, true),
        TcVariant::new(128, 256, false),
        TcVariant::new(128, 256, true),
        TcVariant::new(128, 128, false),
    ];
    pub const DEFAULT: TcVariant = TcVariant::ALL[0];
    /// The f16×3 variants ([`Self::split`]), the default first (the one `f16x3` names). No
    /// 128 block of 128 invocations: its 4×4 tiles would take 32 accumulators per subgroup.
    pub const SPLIT: [TcVariant; 3] = [
        TcVariant::new(64, 128, false).f16x3(),
        TcVariant::new(64, 128, true).f16x3(),
        TcVariant::new(128, 256, false).f16x3(),
    ];

    pub const fn new(block: usize, invocations: usize, prefetch: bool) -> Self {
        TcVariant {
            block,
            invocations,
            prefetch,
            split: false,
        }
    }

    /// The same blocks as f16×3 ([`Self::split`]).
    pub const fn f16x3(self) -> Self {
        TcVariant {
            split: true,
            ..self
        }
    }

    /// [`Self::ALL`] then [`Self::SPLIT`].
    pub fn every() -> impl Iterator<Item = TcVariant> {
        Self::ALL.into_iter().chain(Self::SPLIT)
    }

    /// Invocations per workgroup.
    pub fn invocations(self) -> u32 {
        self.invocations as u32
    }

    /// e.g. `f16-64x64`, `f16-128x128+pf`, or `f16-128x128-128inv` where the invocations are
    /// not twice the block's side; `f16x3-64x64` for f16×3.
    pub fn name(self) -> String {
        let b = self.block;
        let inv = if self.invocations == 2 * b {
            String::new()
        } else {
            format!("-{}inv", self.invocations)
        };
        let kind = if self.split { "f16x3" } else { "f16" };
        let pf = if self.prefetch { "+pf" } else { "" };
        format!("{kind}-{b}x{b}{inv}{pf}")
    }
}
