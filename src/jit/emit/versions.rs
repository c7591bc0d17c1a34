//! A kernel whose algorithms have rare paths (`Lanes::when_any`: `exp` near overflow, `pow` of
//! a negative base, ...) is emitted twice. The first version takes the common path in every
//! lane and, at each rare path's condition, leaves the kernel for the second version when some
//! lane needs the rare path; the second version, with the rare paths under their branches, runs
//! the whole kernel from the start and writes over what the first one wrote. The loop that
//! almost always runs then has no cold block inside it, whose register demand would otherwise
//! push the hot loop's constants and accumulators onto the stack; the exit's target is outside
//! the loop, where none of the loop's values is live. The results are the second version's
//! whenever it runs, the first's otherwise, so the bits are the interpreter's either way.
//!
//! Running a kernel again is sound because a kernel's output slot is not one of its inputs
//! (`plan/slots.rs` gives every node its own) and every accumulator starts in the kernel. A
//! kernel that writes over an operand (`plan/in_place.rs`) is emitted once, its rare paths
//! under their branches inside the loop.

use super::emitter::{KernelEmitter, RareLanes};
use crate::error::Result;
use crate::ir::NodeId;
use cranelift_codegen::ir::{InstBuilder, Value};

impl KernelEmitter<'_, '_> {
    /// Emits the kernels `roots` with `emit`: once with every rare path's condition a way out,
    /// then, if they have any, again (the way out's target) with the rare paths. Kernels that
    /// write over an operand are emitted once, with their rare paths.
    pub(crate) fn with_rare_paths_apart(
        &mut self,
        roots: &[NodeId],
        mut emit: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        if self.rare_lanes.is_some() || roots.iter().any(|&r| self.plan.in_place[r]) {
            return emit(self);
        }
        let again = self.b.create_block();
        self.b.set_cold_block(again);
        self.rare_lanes = Some(RareLanes { again, met: false });
        let first = emit(self);
        let lanes = self.rare_lanes.take().expect("set above");
        first?;
        if !lanes.met {
            // No way out was made: `again` stays outside the function's layout.
            return Ok(());
        }
        let done = self.b.create_block();
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(again);
        // Values of the first version do not dominate this block.
        self.ptrs.clear();
        self.memo.clear();
        emit(self)?;
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.ptrs.clear();
        self.memo.clear();
        Ok(())
    }

    /// In a kernel's first version, leaves for the second when some lane of mask `m` (a rare
    /// path's condition) holds, and returns true: the caller then takes the common path in
    /// every lane. False otherwise.
    pub(crate) fn note_rare_lanes(&mut self, m: Value) -> bool {
        let Some(lanes) = self.rare_lanes.as_mut() else { return false };
        lanes.met = true;
        let again = lanes.again;
        let any = if self.b.func.dfg.value_type(m).is_vector() { self.b.ins().vany_true(m) } else { m };
        let on = self.b.create_block();
        self.b.ins().brif(any, again, &[], on, &[]);
        self.b.switch_to_block(on);
        true
    }
}
