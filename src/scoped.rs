//! Per-thread overrides of process-wide settings (the convolution path, how matrix products are
//! picked): tests compare settings side by side on parallel threads this way.

use std::cell::Cell;
use std::thread::LocalKey;

/// Runs `f` with `slot` (a thread-local override) set to `value`; the previous override is
/// restored afterwards, also when `f` panics.
pub(crate) fn with_override<T: Copy + 'static, R>(
    slot: &'static LocalKey<Cell<Option<T>>>,
    value: T,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore<T: Copy + 'static>(&'static LocalKey<Cell<Option<T>>>, Option<T>);
    impl<T: Copy + 'static> Drop for Restore<T> {
        fn drop(&mut self) {
            let previous = self.1;
            self.0.with(|s| s.set(previous));
        }
    }
    let _restore = Restore(slot, slot.with(|s| s.replace(Some(value))));
    f()
}
