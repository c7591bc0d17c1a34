//! `ParamTable`: rows of (layer name, parameter name, value), like MATLAB's learnables table.

use crate::error::Result;
use crate::trace::DlArray;
use crate::trace::{Leaf, Tree};

/// One row of a [`ParamTable`].
#[derive(Clone, Debug)]
pub struct ParamRow {
    /// The layer's name (`"fc1"`).
    pub layer: String,
    /// The parameter's name (`"Weights"`).
    pub parameter: String,
    /// The value.
    pub value: DlArray,
}

/// A table of learnable parameters, one row per (layer, parameter), in insertion order. It is
/// a [`Tree`], so it can be a `dlgradient` variable (the gradient is a table of the same rows)
/// and an optimizer's parameters.
///
/// ```
/// use cranegrad::prelude::*;
/// let mut t = ParamTable::new();
/// t.push("fc1", "Weights", DlArray::scalar(1.0));
/// assert_eq!(t.get("fc1", "Weights").unwrap().to_scalar::<f64>().unwrap(), 1.0);
/// assert_eq!(t.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ParamTable {
    rows: Vec<ParamRow>,
}

impl ParamTable {
    /// An empty table.
    pub fn new() -> Self {
        ParamTable::default()
    }

    /// Appends a row; a row with the same layer and parameter is replaced in place.
    pub fn push(&mut self, layer: impl Into<String>, parameter: impl Into<String>, value: DlArray) {
        let (layer, parameter) = (layer.into(), parameter.into());
        match self.rows.iter_mut().find(|r| r.layer == layer && r.parameter == parameter) {
            Some(r) => r.value = value,
            None => self.rows.push(ParamRow { layer, parameter, value }),
        }
    }

    /// The value of a row.
    pub fn get(&self, layer: &str, parameter: &str) -> Option<&DlArray> {
        self.rows.iter().find(|r| r.layer == layer && r.parameter == parameter).map(|r| &r.value)
    }

    /// The rows, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ParamRow> {
        self.rows.iter()
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl<'a> IntoIterator for &'a ParamTable {
    type Item = &'a ParamRow;
    type IntoIter = std::slice::Iter<'a, ParamRow>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl Tree for ParamTable {
    fn map_arrays(&self, f: &mut dyn FnMut(&DlArray) -> Result<DlArray>) -> Result<Self> {
        let rows = self
            .rows
            .iter()
            .map(|r| Ok(ParamRow { layer: r.layer.clone(), parameter: r.parameter.clone(), value: f(&r.value)? }))
            .collect::<Result<_>>()?;
        Ok(ParamTable { rows })
    }
    fn visit<'a>(&'a self, v: &mut dyn FnMut(Leaf<'a>)) {
        v(Leaf::Open("ParamTable", self.rows.len()));
        for r in &self.rows {
            v(Leaf::Str(&r.layer));
            v(Leaf::Str(&r.parameter));
            v(Leaf::Array(&r.value));
        }
        v(Leaf::Close);
    }
}
