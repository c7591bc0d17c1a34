//! One-element real results passed from kernel to kernel of one function as values: a later
//! kernel reads `%10 = reduce_sum []` from the register the earlier one stored, not from
//! memory. The store stays (other functions and the caller read the buffer); the reload goes,
//! and with it the wait for the store to reach the load, and repeated uses of the value (a
//! `sqrt` of it in two kernels) become one value Cranelift computes once.
//!
//! Every store of such a node defines a variable (`cranelift_frontend` joins the definitions
//! of a kernel's two versions, `versions.rs`), and kernels read it only once the kernel that
//! stores it is complete, so the variable holds what memory holds at every read.

use super::emitter::{Elem, KernelEmitter};
use super::lanes::Lane;
use crate::array::DType;
use crate::ir::NodeId;
use cranelift_codegen::ir::{InstBuilder, Value};

impl KernelEmitter<'_, '_> {
    /// Records `v`, just stored as the one element of `n`, when `n` is a real scalar result.
    pub(super) fn remember_stored(&mut self, n: NodeId, v: &Elem) {
        let node = &self.g.nodes[n];
        let Elem::Scalar(x) = *v else { return };
        if !matches!(node.dtype, DType::F64 | DType::F32)
            || node.shape.iter().product::<usize>() != 1
            || self.b.func.dfg.value_type(x).is_vector()
        {
            return;
        }
        let ty = self.b.func.dfg.value_type(x);
        let var = match self.stored.get(&n) {
            Some(&(var, _)) => var,
            None => {
                let var = self.b.declare_var(ty);
                self.stored.insert(n, (var, false));
                var
            }
        };
        self.b.def_var(var, x);
    }

    /// Marks the results of `roots`, whose kernels are complete, as readable from their values.
    pub(super) fn forward_results(&mut self, roots: &[NodeId]) {
        for r in roots {
            if let Some(entry) = self.stored.get_mut(r) {
                entry.1 = true;
            }
        }
    }

    /// The value of `n` read at `lane`, when an earlier kernel of this function stored it:
    /// the stored scalar, splat in vector mode.
    pub(super) fn forwarded(&mut self, n: NodeId, lane: Lane) -> Option<Value> {
        let &(var, true) = self.stored.get(&n)? else { return None };
        match self.vec {
            None => Some(self.b.use_var(var)),
            Some(v) if lane == Lane::Fixed => {
                let x = self.b.use_var(var);
                Some(self.b.ins().splat(v, x))
            }
            Some(_) => None,
        }
    }
}
