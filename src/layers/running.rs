//! [`Running`]: a tensor a layer moves in its forward pass without training it — BatchNorm's
//! running statistics, spectral normalisation's singular-vector estimates.
//!
//! burn's `RunningState` does the same job for models trained on several threads at once: each
//! thread's update is kept aside, and the next read averages them (a `div_scalar` by the number
//! of threads). margan trains on one thread, so that division is a GPU launch that divides by 1:
//! two per BatchNorm forward and two per spectral power iteration, 20 per DCGAN-32 iteration.
//! [`Running`] holds one value, replaced by each update and read as it is.
//!
//! It is seen by visitors and mappers exactly as `RunningState` is (one float tensor under its
//! id, never requiring a gradient), so checkpoints written with either load with the other.
//! Clones share the value, as `RunningState`'s do: a copy of a network (the critic the
//! generator's step runs through) moves the original's statistics.

use burn::module::{
    Content, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor, Param,
    ParamId,
};
use burn::tensor::{Device, Tensor};
use std::sync::{Arc, Mutex, MutexGuard};

/// A non-trained tensor updated by forward passes; see the module documentation.
#[derive(Clone, Debug)]
pub struct Running<const D: usize> {
    id: ParamId,
    value: Arc<Mutex<Tensor<D>>>,
}

impl<const D: usize> Running<D> {
    /// A state holding `value`, under `id` (the name checkpoints know it by).
    pub fn new(id: ParamId, value: Tensor<D>) -> Self {
        Self {
            id,
            value: Arc::new(Mutex::new(value)),
        }
    }

    /// The id checkpoints know this state by.
    pub fn id(&self) -> ParamId {
        self.id
    }

    fn lock(&self) -> MutexGuard<'_, Tensor<D>> {
        // A panic while the lock was held cannot leave a half-written tensor behind (a tensor
        // is replaced whole), so a poisoned lock still holds a valid value.
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current value (no copy of the data, no launch).
    pub fn value(&self) -> Tensor<D> {
        self.lock().clone()
    }

    /// Replaces the value; every clone of this state sees the new one.
    pub fn update(&self, value: Tensor<D>) {
        *self.lock() = value;
    }

    /// A state of its own (not shared with `self`'s clones) holding `value`.
    fn detached_copy(&self, value: Tensor<D>) -> Self {
        Self::new(self.id, value)
    }
}

impl<const D: usize> core::fmt::Display for Running<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "Running(id={})", self.id)
    }
}

impl<const D: usize> ModuleDisplayDefault for Running<D> {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&"Running".to_string()).optional()
    }
}

impl<const D: usize> ModuleDisplay for Running<D> {}

impl<const D: usize> Module for Running<D> {
    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        visitor.visit_float(&Param::initialized(self.id, self.value()));
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let (_, mapped, _) = mapper
            .map_float(Param::initialized(self.id, self.value()))
            .consume();
        // A mapper may change the value (load a record, move it) but never makes it trainable.
        self.update(mapped.set_require_grad(false));
        self
    }

    fn to_device(self, device: &Device) -> Self {
        let moved = self.value().to_device(device);
        self.update(moved);
        self
    }

    fn fork(self, device: &Device) -> Self {
        // Nothing here is tracked by autodiff, so forking is moving.
        self.to_device(device)
    }

    fn collect_devices(&self, mut devices: Vec<Device>) -> Vec<Device> {
        let device = self.value().device();
        if !devices.contains(&device) {
            devices.push(device);
        }
        devices
    }

    fn materialize(self) -> Self {
        self
    }

    fn valid(&self) -> Self {
        self.detached_copy(self.value().without_autodiff())
    }

    fn train(self) -> Self {
        let value = Tensor::from_inner(self.value());
        self.detached_copy(value)
    }
}
