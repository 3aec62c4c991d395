//! GAN losses as `d_*` / `g_*` pairs on critic logits `real = C(x_r)`, `fake = C(x_f)` (`[N]`).
//!
//! Definitions follow the relativistic-GAN / maximum-margin papers' code: SGAN is the
//! non-saturating cross-entropy GAN, LSGAN uses targets 1 (real) and 0 (fake), relativistic
//! paired (Rp) losses use `C(x_r) − C(x_f)` on pairs (the D loss carries the factor 2 of the
//! reference code, so its scale matches the two-term losses), relativistic average (Ra) losses
//! use `C(x_r) − mean C(x_f)` and `C(x_f) − mean C(x_r)`.

use burn::tensor::{activation::relu, activation::softplus, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::MarganError;
use crate::kernels::mean_terms::{mean_terms, MeanTerm, MeanTerms, Phi};
use crate::kernels::runs_f32_kernels;

/// `−log σ(x)` (cross-entropy with target 1).
fn bce_one(x: Tensor<1>) -> Tensor<1> {
    softplus(x.neg(), 1.0).mean()
}

/// `−log(1 − σ(x))` (cross-entropy with target 0).
fn bce_zero(x: Tensor<1>) -> Tensor<1> {
    softplus(x, 1.0).mean()
}

fn mean_sq(x: Tensor<1>) -> Tensor<1> {
    x.square().mean()
}

/// `mean max(0, 1 − x)`.
fn hinge(x: Tensor<1>) -> Tensor<1> {
    relu(x.neg().add_scalar(1.0)).mean()
}

fn centred(a: Tensor<1>, b: Tensor<1>) -> Tensor<1> {
    a - b.mean()
}

pub fn d_sgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    bce_one(real) + bce_zero(fake)
}
pub fn g_sgan(_real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    bce_one(fake)
}
pub fn d_lsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    mean_sq(real.sub_scalar(1.0)) + mean_sq(fake)
}
pub fn g_lsgan(_real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    mean_sq(fake.sub_scalar(1.0))
}
pub fn d_hinge(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    hinge(real) + hinge(fake.neg())
}
pub fn g_hinge(_real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    fake.mean().neg()
}
pub fn d_wgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    fake.mean() - real.mean()
}
pub fn g_wgan(_real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    fake.mean().neg()
}
pub fn d_rpsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    bce_one(real - fake).mul_scalar(2.0)
}
pub fn g_rpsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    bce_one(fake - real)
}
pub fn d_rplsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    mean_sq((real - fake).sub_scalar(1.0)).mul_scalar(2.0)
}
pub fn g_rplsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    mean_sq((fake - real).sub_scalar(1.0))
}
pub fn d_rphinge(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    hinge(real - fake).mul_scalar(2.0)
}
pub fn g_rphinge(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    hinge(fake - real)
}
pub fn d_rasgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    bce_one(centred(real.clone(), fake.clone())) + bce_zero(centred(fake, real))
}
pub fn g_rasgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    bce_zero(centred(real.clone(), fake.clone())) + bce_one(centred(fake, real))
}
pub fn d_ralsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    mean_sq(centred(real.clone(), fake.clone()).sub_scalar(1.0))
        + mean_sq(centred(fake, real).add_scalar(1.0))
}
pub fn g_ralsgan(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    mean_sq(centred(real.clone(), fake.clone()).add_scalar(1.0))
        + mean_sq(centred(fake, real).sub_scalar(1.0))
}
pub fn d_rahinge(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    hinge(centred(real.clone(), fake.clone())) + hinge(centred(fake, real).neg())
}
pub fn g_rahinge(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    hinge(centred(real.clone(), fake.clone()).neg()) + hinge(centred(fake, real))
}

/// The GAN loss families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GanLoss {
    Sgan,
    Lsgan,
    Hinge,
    Wgan,
    RpSgan,
    RpLsgan,
    RpHinge,
    RaSgan,
    RaLsgan,
    RaHinge,
}

impl GanLoss {
    pub const ALL: [GanLoss; 10] = [
        GanLoss::Sgan,
        GanLoss::Lsgan,
        GanLoss::Hinge,
        GanLoss::Wgan,
        GanLoss::RpSgan,
        GanLoss::RpLsgan,
        GanLoss::RpHinge,
        GanLoss::RaSgan,
        GanLoss::RaLsgan,
        GanLoss::RaHinge,
    ];

    /// The critic's loss (to minimise).
    pub fn d_loss(self, real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
        let f = match self {
            GanLoss::Sgan => d_sgan,
            GanLoss::Lsgan => d_lsgan,
            GanLoss::Hinge => d_hinge,
            GanLoss::Wgan => d_wgan,
            GanLoss::RpSgan => d_rpsgan,
            GanLoss::RpLsgan => d_rplsgan,
            GanLoss::RpHinge => d_rphinge,
            GanLoss::RaSgan => d_rasgan,
            GanLoss::RaLsgan => d_ralsgan,
            GanLoss::RaHinge => d_rahinge,
        };
        f(real, fake)
    }

    /// The generator's loss (to minimise); `real` is ignored unless [`Self::is_relativistic`].
    pub fn g_loss(self, real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
        let f = match self {
            GanLoss::Sgan => g_sgan,
            GanLoss::Lsgan => g_lsgan,
            GanLoss::Hinge => g_hinge,
            GanLoss::Wgan => g_wgan,
            GanLoss::RpSgan => g_rpsgan,
            GanLoss::RpLsgan => g_rplsgan,
            GanLoss::RpHinge => g_rphinge,
            GanLoss::RaSgan => g_rasgan,
            GanLoss::RaLsgan => g_ralsgan,
            GanLoss::RaHinge => g_rahinge,
        };
        f(real, fake)
    }

    /// The critic's loss as [`MeanTerm`]s over a critic pass whose group 0 is the real batch
    /// and group 1 the fake one (the relativistic average losses, whose terms centre on a
    /// batch mean, have none): what [`GanLoss::d_loss_in_pass`] hands to the kernel.
    pub fn d_terms(self) -> Option<Vec<MeanTerm>> {
        use Phi::*;
        let (r, f) = (0, 1);
        Some(match self {
            GanLoss::Sgan => vec![
                MeanTerm::new(1.0, Softplus, r, -1.0, 0.0),
                MeanTerm::new(1.0, Softplus, f, 1.0, 0.0),
            ],
            GanLoss::Lsgan => vec![
                MeanTerm::new(1.0, Square, r, 1.0, -1.0),
                MeanTerm::new(1.0, Square, f, 1.0, 0.0),
            ],
            GanLoss::Hinge => vec![
                MeanTerm::new(1.0, Relu, r, -1.0, 1.0),
                MeanTerm::new(1.0, Relu, f, 1.0, 1.0),
            ],
            GanLoss::Wgan => vec![
                MeanTerm::new(1.0, Identity, f, 1.0, 0.0),
                MeanTerm::new(-1.0, Identity, r, 1.0, 0.0),
            ],
            GanLoss::RpSgan => vec![MeanTerm::paired(2.0, Softplus, (r, -1.0), (f, 1.0), 0.0)],
            GanLoss::RpLsgan => vec![MeanTerm::paired(2.0, Square, (r, 1.0), (f, -1.0), -1.0)],
            GanLoss::RpHinge => vec![MeanTerm::paired(2.0, Relu, (r, -1.0), (f, 1.0), 1.0)],
            GanLoss::RaSgan | GanLoss::RaLsgan | GanLoss::RaHinge => return None,
        })
    }

    /// The generator's loss as [`MeanTerm`]s over the critic's values at fake samples (group 0);
    /// `None` for the relativistic losses, which also read the real ones.
    pub fn g_terms(self) -> Option<Vec<MeanTerm>> {
        use Phi::*;
        Some(match self {
            GanLoss::Sgan => vec![MeanTerm::new(1.0, Softplus, 0, -1.0, 0.0)],
            GanLoss::Lsgan => vec![MeanTerm::new(1.0, Square, 0, 1.0, -1.0)],
            GanLoss::Hinge | GanLoss::Wgan => vec![MeanTerm::new(-1.0, Identity, 0, 1.0, 0.0)],
            _ => return None,
        })
    }

    /// [`GanLoss::d_loss`] over one critic pass `out = [real; fake; …]` of `groups` equal
    /// groups: one kernel launch on wgpu where [`GanLoss::d_terms`] has the loss, the slices and
    /// tensor ops elsewhere.
    pub fn d_loss_in_pass(self, out: Tensor<1>, groups: usize) -> Tensor<1> {
        if let Some(terms) = self.d_terms().filter(|_| runs_f32_kernels(&out)) {
            return mean_terms(out, &MeanTerms { groups, terms });
        }
        let n = out.dims()[0] / groups;
        self.d_loss(out.clone().slice(0..n), out.slice(n..2 * n))
    }

    /// The generator's loss from the critic's values at fake samples alone (not relativistic):
    /// one kernel launch on wgpu, the tensor ops elsewhere. `None` for a relativistic loss.
    pub fn g_loss_from_fake(self, fake: Tensor<1>) -> Option<Tensor<1>> {
        let terms = self.g_terms()?;
        Some(if runs_f32_kernels(&fake) {
            mean_terms(fake, &MeanTerms { groups: 1, terms })
        } else {
            // Not relativistic: the real values are never read.
            self.g_loss(fake.clone(), fake)
        })
    }

    /// Whether the generator's loss needs the critic's values at real samples.
    pub fn is_relativistic(self) -> bool {
        !matches!(
            self,
            GanLoss::Sgan | GanLoss::Lsgan | GanLoss::Hinge | GanLoss::Wgan
        )
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::Sgan => "sgan",
            GanLoss::Lsgan => "lsgan",
            GanLoss::Hinge => "hinge",
            GanLoss::Wgan => "wgan",
            GanLoss::RpSgan => "rpsgan",
            GanLoss::RpLsgan => "rplsgan",
            GanLoss::RpHinge => "rphinge",
            GanLoss::RaSgan => "rasgan",
            GanLoss::RaLsgan => "ralsgan",
            GanLoss::RaHinge => "rahinge",
        }
    }
}

impl std::str::FromStr for GanLoss {
    type Err = MarganError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.to_ascii_lowercase().replace(['-', '_'], "");
        let s = if s == "hingegan" {
            "hinge".to_string()
        } else {
            s
        };
        GanLoss::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| MarganError::Config {
                field: "loss".into(),
                problem: format!(
                    "unknown loss `{s}`; expected one of {}",
                    GanLoss::ALL.map(|l| l.name()).join(", ")
                ),
            })
    }
}
