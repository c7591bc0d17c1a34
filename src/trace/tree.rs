//! Trees: nested containers of arrays and plain values. `dlfeval` and `accelerate` take and
//! return them, `dlgradient` differentiates with respect to them, optimizers update them. They
//! live with tracing, the first layer that walks them (a trace's inputs are a tree's arrays).

use super::DlArray;
use crate::error::Result;
use std::collections::BTreeMap;

/// One visited piece of a tree: an array, a plain value, or a structure marker. The sequence
/// of leaves is a tree's cache key (arrays by shape and dtype, plain values by value).
#[derive(Clone, Copy, Debug)]
pub enum Leaf<'a> {
    /// An array.
    Array(&'a DlArray),
    /// A plain `f64`.
    F64(f64),
    /// A plain `f32`.
    F32(f32),
    /// A plain `i64`.
    I64(i64),
    /// A plain `usize`.
    Usize(usize),
    /// A plain `bool`.
    Bool(bool),
    /// A plain string, or a map key or table name.
    Str(&'a str),
    /// The start of a container: its kind and length.
    Open(&'static str, usize),
    /// The end of a container.
    Close,
}

/// A nesting of `DlArray`, plain values (`f64, f32, i64, usize, bool, String, ()`), `Vec<T>`,
/// `[T; N]`, `Option<T>`, `BTreeMap<String, T>`, [`ParamTable`](crate::ParamTable) and tuples
/// of up to 8 elements.
pub trait Tree: Sized + Clone {
    /// The same structure with every array replaced by `f(array)`; plain values are kept.
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self>;
    /// Visits every leaf and structure marker in a fixed order.
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>));

    /// The arrays of the tree, in visiting order.
    fn arrays(&self) -> Vec<&DlArray> {
        let mut out = Vec::new();
        self.visit(&mut |l| {
            if let Leaf::Array(a) = l {
                out.push(a);
            }
        });
        out
    }
}

impl Tree for DlArray {
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        f(self)
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Array(self))
    }
}

macro_rules! plain {
    ($($t:ty => $leaf:expr),* $(,)?) => {$(
        impl Tree for $t {
            fn map_arrays(&self, _f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
                Ok(self.clone())
            }
            #[allow(clippy::redundant_closure_call)]
            fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
                v(($leaf)(self))
            }
        }
    )*};
}

plain!(
    f64 => |x: &f64| Leaf::F64(*x),
    f32 => |x: &f32| Leaf::F32(*x),
    i64 => |x: &i64| Leaf::I64(*x),
    usize => |x: &usize| Leaf::Usize(*x),
    bool => |x: &bool| Leaf::Bool(*x),
    () => |_: &()| Leaf::Open("()", 0),
);

impl Tree for String {
    fn map_arrays(&self, _f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        Ok(self.clone())
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Str(self))
    }
}

impl<T: Tree> Tree for Vec<T> {
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        self.iter().map(|t| t.map_arrays(f)).collect()
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Open("Vec", self.len()));
        for t in self {
            t.visit(v);
        }
        v(Leaf::Close);
    }
}

impl<T: Tree> Tree for Option<T> {
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        self.as_ref().map(|t| t.map_arrays(f)).transpose()
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Open("Option", self.is_some() as usize));
        if let Some(t) = self {
            t.visit(v);
        }
        v(Leaf::Close);
    }
}

impl<T: Tree, const N: usize> Tree for [T; N] {
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        let v: Vec<T> = self.iter().map(|t| t.map_arrays(f)).collect::<Result<_>>()?;
        Ok(v.try_into().unwrap_or_else(|_| unreachable!("the length is N")))
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Open("array", N));
        for t in self {
            t.visit(v);
        }
        v(Leaf::Close);
    }
}

impl<T: Tree> Tree for BTreeMap<String, T> {
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        self.iter().map(|(k, t)| Ok((k.clone(), t.map_arrays(f)?))).collect()
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Open("BTreeMap", self.len()));
        for (k, t) in self {
            v(Leaf::Str(k));
            t.visit(v);
        }
        v(Leaf::Close);
    }
}

macro_rules! tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Tree),+> Tree for ($($name,)+) {
            fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
                Ok(($(self.$idx.map_arrays(f)?,)+))
            }
            fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
                v(Leaf::Open("tuple", [$($idx),+].len()));
                $(self.$idx.visit(v);)+
                v(Leaf::Close);
            }
        }
    };
}

tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
