//! Kernels compiled for the CPU they run on: `with_cpu_features` runs a closure inside pulp's
//! dispatch, which calls it from a function compiled with the widest vector and fused
//! multiply-add features the CPU has (AVX2 and FMA on x86-64). The transcendentals' `mul_add`
//! inlined there is one instruction instead of a call to libm's `fma`. The bits do not change:
//! a fused multiply-add is rounded once whichever way it is computed, and Rust never fuses or
//! reorders other float operations.

use std::sync::OnceLock;

/// `f()`, compiled with the CPU's features where it has them (detected once per process).
#[inline(always)]
pub(crate) fn with_cpu_features<R>(f: impl FnOnce() -> R) -> R {
    static ARCH: OnceLock<pulp::Arch> = OnceLock::new();
    ARCH.get_or_init(pulp::Arch::new).dispatch(f)
}
