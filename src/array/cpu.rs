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

/// Clears the upper halves of the vector registers (`vzeroupper`) where the CPU has AVX; does
/// nothing elsewhere. faer's hand-written AVX-512 kernels leave them dirty, on the calling
/// thread and on every pool thread that ran a part of a product, and so may a caller's own
/// code. On Intel cores each legacy SSE instruction after dirty upper state then pays a
/// transition, and Cranelift's x86-64 code mixes legacy SSE encodings (`movdqu`, `movsd`) with
/// VEX ones: a compiled log-sum-exp over the rows of `[512, 10000]` with its gradient took
/// 1.57 s a call after a product's gradient instead of 12 ms. `vzeroupper` costs about a
/// cycle; the JIT's runtime calls this before generated code runs, and the linear-algebra
/// routines after faer, so a caller's own code does not pay either. (The interpreter's loops
/// are compiled with VEX encodings, `with_cpu_features`, and pay nothing.)
#[inline]
pub(crate) fn clear_upper_vector_state() {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if let Some(avx) = pulp::core_arch::x86::Avx::try_new() {
        avx._mm256_zeroupper();
    }
}
