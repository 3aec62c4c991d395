//! The phases of a training iteration, for timing breakdowns ([`crate::gan::Gan::phase_hook`]).

/// Where a training iteration's time goes. The critic step runs `DFakes` … `DAdam`, the
/// generator step `GForward` … `GAdam`; the hook is called as each phase *ends*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Generating the critic step's fake batch (G forward, no graph kept).
    DFakes,
    /// The critic on real and fake samples, and its loss.
    DForward,
    /// Building the gradient penalty: the critic's differentiable backward to its inputs
    /// (interpolates, norms). Its own backward runs inside `DBackward`.
    Penalty,
    /// Backward of loss + penalty to the critic's parameters (the penalty's double backward).
    DBackward,
    /// The critic's Adam update.
    DAdam,
    /// Generator forward and the critic on its samples, and the generator loss.
    GForward,
    /// Backward of the generator loss through the critic and the generator.
    GBackward,
    /// The generator's Adam update.
    GAdam,
}

impl Phase {
    /// Every phase, in the order an iteration runs them.
    pub const ALL: [Phase; 8] = [
        Phase::DFakes,
        Phase::DForward,
        Phase::Penalty,
        Phase::DBackward,
        Phase::DAdam,
        Phase::GForward,
        Phase::GBackward,
        Phase::GAdam,
    ];

    /// A short label for table columns.
    pub fn name(self) -> &'static str {
        match self {
            Phase::DFakes => "D fakes",
            Phase::DForward => "D fwd",
            Phase::Penalty => "D pen",
            Phase::DBackward => "D bwd",
            Phase::DAdam => "D Adam",
            Phase::GForward => "G fwd",
            Phase::GBackward => "G bwd",
            Phase::GAdam => "G Adam",
        }
    }
}
