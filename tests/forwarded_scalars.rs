//! A one-element real result that later kernels of the same compiled function read (a norm, a
//! sum of exponentials) reaches them as a value, not through a reload of its buffer: the bits
//! are the interpreter's, and a `sqrt` of it used by two kernels is computed once.

use cranegrad::prelude::*;

fn bits(values: &[DlArray]) -> Vec<u64> {
    values
        .iter()
        .flat_map(|v| v.cast(DType::F64).extractdata::<f64>().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        .collect()
}

/// The machine code of the kernels of the dump's first signature.
fn machine_code(dump: &str) -> &str {
    let code = dump.split("-- machine code --").nth(1).unwrap_or("");
    code.split("\naccelerated ").next().unwrap_or("")
}

/// `x / |x|` and `(x' + 1) / |x|`: two kernels after the one that sums the squares.
fn normalized(x: DlArray) -> Result<Vec<DlArray>> {
    let norm = x.square().sum_all().sqrt();
    let a = &x / &norm;
    let b = (x.reshape(&[2, 1]) + 1.0) / &norm;
    Ok(vec![a, b])
}

#[test]
fn a_norm_read_by_two_kernels_has_the_interpreters_bits_and_one_sqrt() {
    let af = accelerate(normalized);
    let cases = [[3.0, 4.0], [0.0, -0.0], [1e-200, 1e-200], [1e200, -1e200], [f64::NAN, 1.0], [f64::INFINITY, 2.0]];
    for dtype in [DType::F64, DType::F32] {
        for case in cases {
            let x = DlArray::from(ndarray::arr1(&case)).cast(dtype);
            let want = dlfeval(normalized, x.clone()).unwrap();
            let got = af.call(x).unwrap();
            assert_eq!(bits(&got), bits(&want), "{case:?} {dtype:?}");
        }
    }
    let one = accelerate(normalized);
    one.call(DlArray::from(ndarray::arr1(&[3.0, 4.0]))).unwrap();
    let dump = one.native_dump();
    let code = machine_code(&dump);
    assert!(!code.is_empty(), "{dump}");
    let sqrts = code.lines().filter(|l| l.contains("sqrt")).count();
    assert_eq!(sqrts, 1, "the norm's sqrt in each kernel that reads it:\n{code}");
}

/// `x / s` and `(x' + 1) / s` for `s = sum(exp(x))`: the sum's kernel has a rare path
/// (`exp` near overflow), so it is emitted twice and the value reaches the later kernels from
/// whichever version ran.
fn softmax_twice(x: DlArray) -> Result<Vec<DlArray>> {
    let s = x.exp().sum_all();
    let n = x.shape()[0];
    Ok(vec![&x / &s, (x.reshape(&[n, 1]) + 1.0) / &s])
}

#[test]
fn a_sum_with_rare_paths_reaches_later_kernels_from_either_version() {
    let af = accelerate(softmax_twice);
    for rare in [None, Some(1000.0), Some(-1000.0), Some(f64::NAN), Some(710.0)] {
        for at in [0, 5, 16] {
            let mut v: Vec<f64> = (0..17).map(|i| 0.25 + 0.1 * i as f64).collect();
            if let Some(r) = rare {
                v[at] = r;
            }
            let x = DlArray::from(ndarray::Array1::from_vec(v));
            let want = dlfeval(softmax_twice, x.clone()).unwrap();
            let got = af.call(x).unwrap();
            assert_eq!(bits(&got), bits(&want), "{rare:?} at {at}");
        }
    }
    assert_eq!(af.misses(), 1);
}
