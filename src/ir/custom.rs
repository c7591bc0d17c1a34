//! `Op::CustomVjp`: one output of a function with a derivative rule of the user's
//! (`custom_vjp`). Its operands are that output as the traced forward computed it, then every
//! output, then every input of the function; its value is the first operand. Reverse mode
//! does not go through the forward's own ops: the rule, which the layer that differentiates
//! (`autodiff`) recognizes opaquely here, gives the inputs' cotangents. Once the trace is
//! differentiated the node is its first operand (the optimizer removes it).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Output `output` of `outputs` outputs of a function with the derivative rule `rule`.
#[derive(Clone)]
pub struct CustomVjp {
    /// The function's name, for the IR text.
    pub name: Arc<str>,
    /// The derivative rule, opaque here (autodiff's `CustomRule`).
    pub rule: Arc<dyn Any + Send + Sync>,
    /// Which output this node is.
    pub output: usize,
    /// How many outputs the function has (operands `1..=outputs` of the node).
    pub outputs: usize,
}

impl fmt::Debug for CustomVjp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomVjp({}, output {} of {})", self.name, self.output, self.outputs)
    }
}

/// Two custom nodes are the same op when they share the rule (by identity) and the output.
impl PartialEq for CustomVjp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.rule, &other.rule) && self.output == other.output
    }
}

impl Eq for CustomVjp {}

impl std::hash::Hash for CustomVjp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.rule) as *const () as usize).hash(state);
        self.output.hash(state);
    }
}
