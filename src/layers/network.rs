//! A network is a list of layers; its forward pass can be traced so that the composed backward
//! passes give input and parameter gradients as differentiable tensor expressions.

use super::{BatchNorm, Layer, LayerKind, Mode, SnVectors};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// A sequential network of kit layers.
#[derive(Module, Debug)]
pub struct Network {
    pub layers: Vec<LayerKind>,
}

/// The activations of one forward pass: `acts[0]` is the input, `acts[i + 1]` the output of
/// layer `i` (except that of a BatchNorm whose activation ran fused into it, on wgpu or flex
/// in training mode: that slot holds the activation's output as well, see
/// [`BatchNorm::forward_act`]); `sn[i]`, the spectral-normalisation estimates layer `i` used
/// (training mode, layers with spectral normalisation), so that the backward passes take `σ`
/// where this pass did and not where later passes moved the power iteration. `groups`: how
/// many equal groups along N the batch holds, each normalised on its own
/// ([`Network::trace_groups`]; 1 for [`Network::trace`]).
#[derive(Clone, Debug)]
pub struct Trace {
    pub acts: Vec<Tensor<4>>,
    pub mode: Mode,
    pub sn: Vec<Option<SnVectors>>,
    pub groups: usize,
}

impl Trace {
    /// The network's output.
    pub fn output(&self) -> Tensor<4> {
        self.acts
            .last()
            .expect("a trace holds at least the input")
            .clone()
    }

    /// The pass over group `g` alone, as [`Network::trace`] of that group would have recorded
    /// it: every activation's rows of the group (views where the backend can slice without a
    /// copy; differentiable, so gradients taken through it reach the whole pass).
    pub fn group(&self, g: usize) -> Trace {
        assert!(
            g < self.groups,
            "group {g} of a pass over {} groups",
            self.groups
        );
        if self.groups == 1 {
            return self.clone();
        }
        let rows = |t: &Tensor<4>| {
            let n = t.dims()[0] / self.groups;
            t.clone().slice(g * n..(g + 1) * n)
        };
        Trace {
            acts: self.acts.iter().map(rows).collect(),
            mode: self.mode,
            sn: self.sn.clone(),
            groups: 1,
        }
    }
}

/// One step of a forward pass ([`Network::steps`]): a layer, or a BatchNorm with the
/// activation after it (that slope) fused in.
enum Step<'a> {
    Layer(&'a LayerKind),
    Fused(&'a BatchNorm, f64),
}

impl Network {
    pub fn new(layers: Vec<LayerKind>) -> Self {
        Network { layers }
    }

    /// `y = f(x)`.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let steps = self.steps(mode, &x);
        steps.into_iter().fold(x, |h, step| match step {
            Step::Layer(l) => l.forward(h, mode),
            Step::Fused(bn, slope) => bn.forward_act(h, 1, slope),
        })
    }

    /// How a pass over `x` runs the layers: one at a time, except that in training mode on
    /// wgpu or flex (f32) a BatchNorm followed by a ReLU / LeakyReLU runs as one
    /// ([`BatchNorm::forward_act`]), which saves a launch and a pass over the activation.
    fn steps(&self, mode: Mode, x: &Tensor<4>) -> Vec<Step<'_>> {
        let fuse = mode == Mode::Train && crate::kernels::runs_f32_ops(x);
        let mut steps = Vec::with_capacity(self.layers.len());
        let mut layers = self.layers.iter().peekable();
        while let Some(layer) = layers.next() {
            if let (LayerKind::BatchNorm(bn), true) = (layer, fuse) {
                if let Some(slope) = layers.peek().and_then(|next| next.fusable_slope()) {
                    steps.push(Step::Fused(bn, slope));
                    layers.next();
                    continue;
                }
            }
            steps.push(Step::Layer(layer));
        }
        steps
    }

    /// The forward pass, keeping every activation for the backward passes.
    pub fn trace(&self, x: Tensor<4>, mode: Mode) -> Trace {
        self.trace_with(x, mode, 1)
    }

    /// Whether [`Network::trace_groups`] can stand for separate passes: no layer has spectral
    /// normalisation (its power iteration would move once for all the groups).
    pub fn can_trace_groups(&self) -> bool {
        !self.layers.iter().any(LayerKind::has_spectral_norm)
    }

    /// One forward pass over a batch of `groups` equal groups along N (e.g. real, fake and
    /// penalty samples side by side), computing what [`Network::trace`] of each group in turn
    /// would: normalisation layers take statistics per group and update their running
    /// statistics once per group, in order. Every matrix product then runs once on the whole
    /// batch instead of once per group, which fills a GPU better and launches fewer kernels.
    /// [`Trace::group`] gives each group's pass.
    ///
    /// # Panics
    /// When N is not a multiple of `groups`, or when a layer has spectral normalisation
    /// ([`Network::can_trace_groups`]).
    pub fn trace_groups(&self, x: Tensor<4>, mode: Mode, groups: usize) -> Trace {
        let n = x.dims()[0];
        assert!(
            groups >= 1 && n.is_multiple_of(groups),
            "a batch of {n} does not split into {groups} equal groups"
        );
        assert!(
            groups == 1 || self.can_trace_groups(),
            "a network with spectral normalisation cannot trace groups in one pass: its power \
             iteration would move once instead of once per group"
        );
        self.trace_with(x, mode, groups)
    }

    fn trace_with(&self, x: Tensor<4>, mode: Mode, groups: usize) -> Trace {
        let mut acts = Vec::with_capacity(self.layers.len() + 1);
        let mut sn = Vec::with_capacity(self.layers.len());
        let steps = self.steps(mode, &x);
        acts.push(x);
        for step in steps {
            let x = acts.last().unwrap().clone();
            match step {
                Step::Layer(layer) => {
                    acts.push(layer.forward_groups(x, mode, groups));
                    // Evaluation mode leaves the estimates where they are: nothing to keep.
                    sn.push(match mode {
                        Mode::Train => layer.snapshot(),
                        Mode::Eval => None,
                    });
                }
                Step::Fused(bn, slope) => {
                    // The BatchNorm's own output is never written: its slot holds the
                    // activation's output too, which is all that the two layers' backward
                    // passes read there (BatchNorm's read its input; the activation's, the
                    // signs of its output).
                    let a = bn.forward_act(x, groups, slope);
                    acts.extend([a.clone(), a]);
                    sn.extend([None, None]);
                }
            }
        }
        Trace {
            acts,
            mode,
            sn,
            groups,
        }
    }

    /// `∂L/∂x` from `gy = ∂L/∂y` through the traced pass (differentiable).
    pub fn backward_input(&self, trace: &Trace, gy: Tensor<4>) -> Tensor<4> {
        if trace.groups > 1 {
            let gys = gy.chunk(trace.groups, 0);
            let gx = gys
                .into_iter()
                .enumerate()
                .map(|(g, gy)| self.backward_input(&trace.group(g), gy));
            return Tensor::cat(gx.collect(), 0);
        }
        let mut g = gy;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            g = layer.backward_input_at(
                &trace.acts[i],
                &trace.acts[i + 1],
                g,
                trace.mode,
                trace.sn[i].as_ref(),
            );
        }
        g
    }

    /// `∂L/∂θ` for every parameter (and `∂L/∂x`) from `gy = ∂L/∂y`, all differentiable: the
    /// parameter vector–Jacobian product needed by AdvAs and competitive gradient descent.
    pub fn backward_params(&self, trace: &Trace, gy: Tensor<4>) -> (GradientsParams, Tensor<4>) {
        let mut grads = GradientsParams::new();
        let gx = if trace.groups > 1 {
            // Parameter gradients add up over the groups (each layer accumulates its own).
            let gys = gy.chunk(trace.groups, 0).into_iter().enumerate();
            let gx = gys.map(|(g, gy)| self.backward_params_into(&trace.group(g), gy, &mut grads));
            Tensor::cat(gx.collect(), 0)
        } else {
            self.backward_params_into(trace, gy, &mut grads)
        };
        (grads, gx)
    }

    /// [`Network::backward_params`] of a one-group trace, adding to `grads`.
    fn backward_params_into(
        &self,
        trace: &Trace,
        gy: Tensor<4>,
        grads: &mut GradientsParams,
    ) -> Tensor<4> {
        let mut g = gy;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let (x, y, at) = (&trace.acts[i], &trace.acts[i + 1], trace.sn[i].as_ref());
            layer.backward_params_at(x, y, g.clone(), trace.mode, at, grads);
            g = layer.backward_input_at(x, y, g, trace.mode, at);
        }
        g
    }

    /// `(D(x), ∇ₓ Σ D(x))`: the output and the gradient of the summed output with respect to
    /// the input, as a tensor expression that autodiff can differentiate again.
    pub fn input_grad(&self, x: Tensor<4>, mode: Mode) -> (Tensor<4>, Tensor<4>) {
        let trace = self.trace(x, mode);
        let y = trace.output();
        let g = self.backward_input(&trace, y.ones_like());
        (y, g)
    }
}
