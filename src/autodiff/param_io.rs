//! `ParamTable::save` and `ParamTable::load`: the safetensors format.
//!
//! Each row is one tensor named `"{layer}/{parameter}"`, with `%`, `/` and newline in the names
//! written as `%25`, `%2F` and `%0A` so that every name is unique and splits back exactly.
//! Real and logical values are stored as `F32`, `F64` and `BOOL` tensors. A complex value is
//! stored as a real tensor of the same precision with one more trailing axis of length 2 (real
//! part, imaginary part), as PyTorch's `view_as_real`, and its name is listed in the
//! `cranegrad.complex` metadata entry. The row order is the `cranegrad.rows` metadata entry
//! (tensor names, one per line). Files without that entry (written by other programs) load in
//! file order, each name split at its last `/` into layer and parameter (layer `""` when there
//! is none).

use super::param_table::ParamTable;
use crate::array::Data;
use crate::error::{Error, Result};
use crate::trace::DlArray;
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// The metadata key holding the row order.
const ROWS_KEY: &str = "cranegrad.rows";
/// The metadata key listing the tensors that hold complex values.
const COMPLEX_KEY: &str = "cranegrad.complex";
/// The metadata key naming the writer and format version.
const FORMAT_KEY: &str = "format";
/// The format value this module writes.
const FORMAT: &str = "cranegrad.ParamTable.v1";

/// `name` with `%`, `/` and newline percent-encoded.
fn escape(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F").replace('\n', "%0A")
}

/// The inverse of [`escape`]; other `%` sequences are kept as they are.
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(k) = rest.find('%') {
        out.push_str(&rest[..k]);
        let code = rest.get(k..k + 3).unwrap_or("");
        match code {
            "%25" => out.push('%'),
            "%2F" | "%2f" => out.push('/'),
            "%0A" | "%0a" => out.push('\n'),
            _ => {
                out.push('%');
                rest = &rest[k + 1..];
                continue;
            }
        }
        rest = &rest[k + 3..];
    }
    out.push_str(rest);
    out
}

/// Little-endian bytes of the elements of `a`, row-major.
fn bytes_of<T: Copy, const N: usize>(a: &ArrayD<T>, to_bytes: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    a.iter().flat_map(|&v| to_bytes(v)).collect()
}

/// A row's value as a safetensors dtype, shape and bytes, and whether it is complex.
fn encode(data: &Data) -> (Dtype, Vec<usize>, Vec<u8>, bool) {
    let with_pair = |shape: &[usize]| shape.iter().copied().chain([2]).collect::<Vec<_>>();
    match data {
        Data::Bool(a) => (Dtype::BOOL, a.shape().to_vec(), a.iter().map(|&v| v as u8).collect(), false),
        Data::F32(a) => (Dtype::F32, a.shape().to_vec(), bytes_of(a, f32::to_le_bytes), false),
        Data::F64(a) => (Dtype::F64, a.shape().to_vec(), bytes_of(a, f64::to_le_bytes), false),
        Data::C64(a) => {
            let bytes = a.iter().flat_map(|v| [v.re.to_le_bytes(), v.im.to_le_bytes()]).flatten().collect();
            (Dtype::F32, with_pair(a.shape()), bytes, true)
        }
        Data::C128(a) => {
            let bytes = a.iter().flat_map(|v| [v.re.to_le_bytes(), v.im.to_le_bytes()]).flatten().collect();
            (Dtype::F64, with_pair(a.shape()), bytes, true)
        }
    }
}

/// The elements of `bytes`, read `N` at a time.
fn elements<T, const N: usize>(bytes: &[u8], from_bytes: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes.chunks_exact(N).map(|c| from_bytes(c.try_into().unwrap_or([0; N]))).collect()
}

/// An `ArrayD` of `shape` from row-major `values`.
fn array<T>(what: &str, shape: &[usize], values: Vec<T>) -> Result<ArrayD<T>> {
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map_err(|e| Error::Io(format!("ParamTable::load: tensor {what:?} has a bad shape {shape:?}: {e}")))
}

/// Pairs of reals `[.., 2]` as complex numbers of shape `[..]`.
fn complex_shape(name: &str, shape: &[usize]) -> Result<Vec<usize>> {
    match shape.split_last() {
        Some((2, rest)) => Ok(rest.to_vec()),
        _ => Err(Error::Io(format!(
            "ParamTable::load: tensor {name:?} is listed as complex but its shape {shape:?} does not end in 2"
        ))),
    }
}

/// A stored tensor as array data.
fn decode(name: &str, view: &TensorView<'_>, complex: bool) -> Result<Data> {
    let (shape, bytes) = (view.shape(), view.data());
    let data = match (view.dtype(), complex) {
        (Dtype::BOOL, false) => Data::Bool(array(name, shape, bytes.iter().map(|&b| b != 0).collect())?),
        (Dtype::F32, false) => Data::F32(array(name, shape, elements(bytes, f32::from_le_bytes))?),
        (Dtype::F64, false) => Data::F64(array(name, shape, elements(bytes, f64::from_le_bytes))?),
        (Dtype::F32, true) => {
            let v: Vec<f32> = elements(bytes, f32::from_le_bytes);
            let z = v.chunks_exact(2).map(|c| Complex32::new(c[0], c[1])).collect();
            Data::C64(array(name, &complex_shape(name, shape)?, z)?)
        }
        (Dtype::F64, true) => {
            let v: Vec<f64> = elements(bytes, f64::from_le_bytes);
            let z = v.chunks_exact(2).map(|c| Complex64::new(c[0], c[1])).collect();
            Data::C128(array(name, &complex_shape(name, shape)?, z)?)
        }
        (dtype, _) => {
            return Err(Error::Io(format!(
                "ParamTable::load: tensor {name:?} has dtype {dtype:?}; cranegrad reads F32, F64 and BOOL tensors \
                 (complex values as F32 or F64 pairs)"
            )))
        }
    };
    Ok(data)
}

/// The layer and parameter names of a tensor name: split at the last `/`, then unescaped.
fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once('/') {
        Some((layer, parameter)) => (unescape(layer), unescape(parameter)),
        None => (String::new(), unescape(name)),
    }
}

impl ParamTable {
    /// Writes the table to `path` in the safetensors format: one tensor per row named
    /// `"{layer}/{parameter}"` (with `%`, `/` and newline in names percent-encoded), the row
    /// order in the metadata, complex values as real tensors with a trailing axis of 2 (real,
    /// imaginary). [`ParamTable::load`] reads it back exactly: names, order, dtypes, shapes and
    /// values. Returns `Error::Io` when the file cannot be written, or the error a row's value
    /// carries.
    ///
    /// ```
    /// use cranegrad::prelude::*;
    /// use ndarray::array;
    /// let mut t = ParamTable::new();
    /// t.push("fc1", "Weights", DlArray::from(array![[1.0f32, 2.0], [3.0, 4.0]]));
    /// t.push("fc1", "Bias", DlArray::from(array![0.5f32, -0.5]));
    /// let path = std::env::temp_dir().join("cranegrad_doc_param_table.safetensors");
    /// t.save(&path).unwrap();
    /// let back = ParamTable::load(&path).unwrap();
    /// assert_eq!(back.iter().map(|r| r.parameter.as_str()).collect::<Vec<_>>(), ["Weights", "Bias"]);
    /// assert_eq!(back.get("fc1", "Bias").unwrap().extractdata::<f32>().unwrap(), array![0.5f32, -0.5].into_dyn());
    /// # std::fs::remove_file(&path).ok();
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut encoded = Vec::with_capacity(self.len());
        let (mut rows, mut complex) = (Vec::new(), Vec::new());
        for row in self {
            let name = format!("{}/{}", escape(&row.layer), escape(&row.parameter));
            let (dtype, shape, bytes, is_complex) = encode(row.value.data()?);
            if is_complex {
                complex.push(name.clone());
            }
            rows.push(name.clone());
            encoded.push((name, dtype, shape, bytes));
        }
        let mut views = Vec::with_capacity(encoded.len());
        for (name, dtype, shape, bytes) in &encoded {
            let view = TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| Error::Io(format!("ParamTable::save: tensor {name:?}: {e}")))?;
            views.push((name.as_str(), view));
        }
        let metadata = HashMap::from([
            (FORMAT_KEY.to_string(), FORMAT.to_string()),
            (ROWS_KEY.to_string(), rows.join("\n")),
            (COMPLEX_KEY.to_string(), complex.join("\n")),
        ]);
        let buffer = safetensors::serialize(views, Some(metadata))
            .map_err(|e| Error::Io(format!("ParamTable::save: cannot encode {}: {e}", path.display())))?;
        std::fs::write(path, buffer)
            .map_err(|e| Error::Io(format!("ParamTable::save: cannot write {}: {e}", path.display())))
    }

    /// Reads a table written by [`ParamTable::save`] (or any safetensors file of `F32`, `F64`
    /// and `BOOL` tensors: without cranegrad's metadata the rows come in file order, each
    /// tensor name split at its last `/` into layer and parameter). A missing or unreadable
    /// file, a truncated file, a corrupt header, or an unsupported dtype is `Error::Io` with a
    /// message naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<ParamTable> {
        let path = path.as_ref();
        let buffer = std::fs::read(path)
            .map_err(|e| Error::Io(format!("ParamTable::load: cannot read {}: {e}", path.display())))?;
        let invalid = |e: safetensors::SafeTensorError| {
            Error::Io(format!("ParamTable::load: {} is not a valid safetensors file: {e}", path.display()))
        };
        let (_, header) = SafeTensors::read_metadata(&buffer).map_err(invalid)?;
        let tensors = SafeTensors::deserialize(&buffer).map_err(invalid)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let names: Vec<String> = match metadata.get(ROWS_KEY) {
            Some(rows) if rows.is_empty() => Vec::new(),
            Some(rows) => rows.split('\n').map(str::to_string).collect(),
            None => {
                let mut names: Vec<(usize, String)> = tensors
                    .names()
                    .into_iter()
                    .map(|n| (header.info(n).map_or(0, |i| i.data_offsets.0), n.to_string()))
                    .collect();
                names.sort();
                names.into_iter().map(|(_, n)| n).collect()
            }
        };
        let complex: Vec<&str> = metadata.get(COMPLEX_KEY).map_or(Vec::new(), |c| c.split('\n').collect());
        let mut table = ParamTable::new();
        for name in &names {
            let view = tensors.tensor(name).map_err(|e| {
                Error::Io(format!(
                    "ParamTable::load: {} lists row {name:?} in its metadata but has no such tensor: {e}",
                    path.display()
                ))
            })?;
            let data = decode(name, &view, complex.contains(&name.as_str()))?;
            let (layer, parameter) = split_name(name);
            table.push(layer, parameter, DlArray::from_data(std::sync::Arc::new(data)));
        }
        if table.len() != names.len() {
            return Err(Error::Io(format!("ParamTable::load: {} lists a row twice", path.display())));
        }
        Ok(table)
    }
}
