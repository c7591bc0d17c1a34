//! What `dlgradient` differentiates with respect to: a reference to any [`Tree`], or a tuple
//! of those.

use crate::error::Result;
use crate::trace::{DlArray, Tree};

/// What `dlgradient` can differentiate with respect to: `&x` for any [`Tree`] `x` (its
/// gradient has the same structure), or a tuple of up to 8 of those.
pub trait Differentiable {
    /// The gradient's type: the variables' structure, owned.
    type Grad;
    /// The variables, in order.
    fn variables<'a>(&'a self, out: &mut Vec<&'a DlArray>);
    /// The gradient, taking one array per variable from `grads` in order.
    fn assemble(&self, grads: &mut dyn Iterator<Item = DlArray>) -> Result<Self::Grad>;
}

impl<T: Tree> Differentiable for &T {
    type Grad = T;
    fn variables<'a>(&'a self, out: &mut Vec<&'a DlArray>) {
        out.extend((**self).arrays());
    }
    fn assemble(&self, grads: &mut dyn Iterator<Item = DlArray>) -> Result<T> {
        self.map_arrays(&mut |_| {
            grads.next().ok_or_else(|| crate::Error::Gradient("internal: fewer gradients than variables".into()))
        })
    }
}

macro_rules! differentiable_tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Differentiable),+> Differentiable for ($($name,)+) {
            type Grad = ($($name::Grad,)+);
            fn variables<'a>(&'a self, out: &mut Vec<&'a DlArray>) {
                $(self.$idx.variables(out);)+
            }
            fn assemble(&self, grads: &mut dyn Iterator<Item = DlArray>) -> Result<Self::Grad> {
                Ok(($(self.$idx.assemble(grads)?,)+))
            }
        }
    };
}

differentiable_tuple!(A 0);
differentiable_tuple!(A 0, B 1);
differentiable_tuple!(A 0, B 1, C 2);
differentiable_tuple!(A 0, B 1, C 2, D 3);
differentiable_tuple!(A 0, B 1, C 2, D 3, E 4);
differentiable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
differentiable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
differentiable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
