//! `ParamTable::save` / `ParamTable::load`: exact round trips and clear errors for bad files.

use cranegrad::prelude::*;
use ndarray::{array, ArrayD};
use num_complex::{Complex32, Complex64};
use std::path::PathBuf;

/// A fresh path in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        TempFile(std::env::temp_dir().join(format!("cranegrad_test_{}_{name}.safetensors", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

fn assert_same_tables(a: &ParamTable, b: &ParamTable) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x.layer, &x.parameter), (&y.layer, &y.parameter));
        assert_eq!(x.value.dtype(), y.value.dtype(), "{}/{}", x.layer, x.parameter);
        assert_eq!(x.value.shape(), y.value.shape(), "{}/{}", x.layer, x.parameter);
        assert_eq!(x.value.data().unwrap(), y.value.data().unwrap(), "{}/{}", x.layer, x.parameter);
    }
}

fn every_dtype_table() -> ParamTable {
    let mut t = ParamTable::new();
    // not in alphabetical order, to check that the order is kept
    t.push("fc2", "Weights", DlArray::from(array![[1.5f32, -2.25, 3.0], [0.1, f32::MAX, f32::MIN_POSITIVE]]));
    t.push("fc1", "Weights", DlArray::from(array![[std::f64::consts::PI, -0.0], [1e-300, f64::INFINITY]]));
    t.push("fc1", "Bias", DlArray::scalar(-7.125));
    t.push("mask", "Keep", DlArray::from(array![[true, false], [false, true]]));
    t.push("cplx", "Single", DlArray::from(array![Complex32::new(1.0, -2.0), Complex32::new(0.5, 0.25)]));
    t.push(
        "cplx",
        "Double",
        DlArray::from(array![[Complex64::new(3.0, 4.0)], [Complex64::new(-1e-10, 1e10)], [Complex64::new(0.0, -0.0)]]),
    );
    t.push("empty", "Rows", DlArray::from(ArrayD::<f64>::zeros(vec![0, 3])));
    t
}

#[test]
fn every_dtype_round_trips_exactly_in_order() {
    let file = TempFile::new("dtypes");
    let t = every_dtype_table();
    t.save(&file.0).unwrap();
    let back = ParamTable::load(&file.0).unwrap();
    assert_same_tables(&t, &back);
    let order: Vec<&str> = back.iter().map(|r| r.layer.as_str()).collect();
    assert_eq!(order, ["fc2", "fc1", "fc1", "mask", "cplx", "cplx", "empty"]);
}

#[test]
fn nan_round_trips_bit_for_bit() {
    let file = TempFile::new("nan");
    let mut t = ParamTable::new();
    let payload_nan = f64::from_bits(0x7ff8_0000_0000_1234);
    t.push("l", "p", DlArray::from(array![payload_nan, -0.0, 1.0]));
    t.save(&file.0).unwrap();
    let back = ParamTable::load(&file.0).unwrap();
    let v = back.get("l", "p").unwrap().extractdata::<f64>().unwrap();
    let bits: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
    assert_eq!(bits, [0x7ff8_0000_0000_1234, (-0.0f64).to_bits(), 1.0f64.to_bits()]);
}

#[test]
fn awkward_names_round_trip() {
    let file = TempFile::new("names");
    let names = [
        ("a/b", "c"),
        ("a", "b/c"),
        ("a%2Fb", "c"),
        ("", ""),
        ("x", "%"),
        ("line\nbreak", "p"),
        ("émoji 🦀", "Weights.0"),
        ("/", "//"),
    ];
    let mut t = ParamTable::new();
    for (k, (layer, parameter)) in names.iter().enumerate() {
        t.push(*layer, *parameter, DlArray::scalar(k as f64));
    }
    assert_eq!(t.len(), names.len());
    t.save(&file.0).unwrap();
    let back = ParamTable::load(&file.0).unwrap();
    assert_same_tables(&t, &back);
}

#[test]
fn tensor_names_are_layer_slash_parameter() {
    let file = TempFile::new("tensor_names");
    let mut t = ParamTable::new();
    t.push("fc1", "Weights", DlArray::from(array![1.0f32, 2.0]));
    t.save(&file.0).unwrap();
    let bytes = std::fs::read(&file.0).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(header.contains("\"fc1/Weights\""), "{header}");
    assert!(header.contains("\"F32\""), "{header}");
}

#[test]
fn empty_table_round_trips() {
    let file = TempFile::new("empty");
    ParamTable::new().save(&file.0).unwrap();
    assert!(ParamTable::load(&file.0).unwrap().is_empty());
}

#[test]
fn missing_file_is_an_io_error() {
    let e = ParamTable::load("/nonexistent/dir/params.safetensors").unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(e.to_string().contains("cannot read"), "{e}");
    let e = every_dtype_table().save("/nonexistent/dir/params.safetensors").unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
}

#[test]
fn truncated_files_are_io_errors() {
    let file = TempFile::new("truncated");
    every_dtype_table().save(&file.0).unwrap();
    let bytes = std::fs::read(&file.0).unwrap();
    // every proper prefix, from the empty file to one byte short
    for n in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        std::fs::write(&file.0, &bytes[..n]).unwrap();
        let e = ParamTable::load(&file.0).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "prefix {n}: {e:?}");
        assert!(e.to_string().contains("not a valid safetensors file"), "prefix {n}: {e}");
    }
}

#[test]
fn corrupt_headers_are_io_errors() {
    let file = TempFile::new("corrupt");
    every_dtype_table().save(&file.0).unwrap();
    let good = std::fs::read(&file.0).unwrap();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // a huge header length
    let mut bad = good.clone();
    bad[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    // garbage JSON
    let mut garbage = good.clone();
    for b in &mut garbage[8..8 + header_len.min(40)] {
        *b = b'#';
    }
    // invalid UTF-8
    let mut not_utf8 = good.clone();
    not_utf8[9] = 0xff;
    for (what, bytes) in [("length", bad), ("json", garbage), ("utf8", not_utf8)] {
        std::fs::write(&file.0, &bytes).unwrap();
        let e = ParamTable::load(&file.0).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{what}: {e:?}");
    }
    // random bytes at every position of the header must never panic
    for k in (0..8 + header_len).step_by(3) {
        let mut b = good.clone();
        b[k] ^= 0x5a;
        std::fs::write(&file.0, &b).unwrap();
        let _ = ParamTable::load(&file.0);
    }
}

#[test]
fn files_from_other_writers_load_in_file_order() {
    // a safetensors file with no metadata, as another program might write it
    let header = r#"{"encoder/dense/kernel":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"bias":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}"#;
    let mut header = header.as_bytes().to_vec();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(&header);
    bytes.extend(1.0f32.to_le_bytes());
    bytes.extend(2.0f32.to_le_bytes());
    bytes.extend(0.5f64.to_le_bytes());
    let file = TempFile::new("foreign");
    std::fs::write(&file.0, &bytes).unwrap();
    let t = ParamTable::load(&file.0).unwrap();
    let rows: Vec<(&str, &str)> = t.iter().map(|r| (r.layer.as_str(), r.parameter.as_str())).collect();
    assert_eq!(rows, [("encoder/dense", "kernel"), ("", "bias")]);
    assert_eq!(t.get("encoder/dense", "kernel").unwrap().extractdata::<f32>().unwrap(), array![1.0f32, 2.0].into_dyn());
    assert_eq!(t.get("", "bias").unwrap().to_scalar::<f64>().unwrap(), 0.5);
}

#[test]
fn unsupported_dtypes_are_io_errors() {
    let header = r#"{"a/b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut header = header.as_bytes().to_vec();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(&header);
    bytes.extend(7i32.to_le_bytes());
    let file = TempFile::new("i32");
    std::fs::write(&file.0, &bytes).unwrap();
    let e = ParamTable::load(&file.0).unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(e.to_string().contains("I32"), "{e}");
}

#[test]
fn trained_parameters_round_trip_and_keep_training() {
    let file = TempFile::new("training");
    let mut t = ParamTable::new();
    t.push("fc", "Weights", DlArray::from(array![[0.5, -0.5]]));
    t.push("fc", "Bias", DlArray::from(array![0.1]));
    let grads = dlfeval(|p: ParamTable| dlgradient(&p.get("fc", "Weights").unwrap().square().sum_all(), &p), t.clone())
        .unwrap();
    let mut adam = AdamState::default();
    let t = adamupdate(&t, &grads, &mut adam, 1, &AdamOptions::default()).unwrap();
    t.save(&file.0).unwrap();
    let back = ParamTable::load(&file.0).unwrap();
    assert_same_tables(&t, &back);
    // the loaded table continues with the same optimizer state
    assert!(adamupdate(&back, &grads, &mut adam, 2, &AdamOptions::default()).is_ok());
}
