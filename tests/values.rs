//! Values (docs/API.md section 1): construction from every element type and rank, accessors,
//! extraction, casts, display, and MATLAB type promotion and numpy broadcasting through the
//! operators.

use cranegrad::prelude::*;
use ndarray::{arr0, array, Array, ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};

#[test]
fn from_every_element_type_and_rank() {
    let b = DlArray::from(array![[true, false, true], [false, false, true]]);
    assert_eq!((b.dtype(), b.shape(), b.ndim(), b.numel()), (DType::Bool, &[2usize, 3][..], 2, 6));
    let f = DlArray::from(array![1.5f32, -2.0]);
    assert_eq!((f.dtype(), f.shape()), (DType::F32, &[2usize][..]));
    let d = DlArray::from(Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f64));
    assert_eq!((d.dtype(), d.shape(), d.ndim(), d.numel()), (DType::F64, &[2usize, 3, 4][..], 3, 24));
    let c = DlArray::from(array![Complex32::new(1.0, 2.0)]);
    assert_eq!(c.dtype(), DType::C64);
    let z = DlArray::from(Array::from_elem((1, 2, 1, 2, 1), Complex64::new(0.0, -1.0)));
    assert_eq!((z.dtype(), z.ndim(), z.numel()), (DType::C128, 5, 4));
    let zero_d = DlArray::from(arr0(4.0f32));
    assert_eq!((zero_d.shape(), zero_d.ndim(), zero_d.numel()), (&[][..], 0, 1));
    let dynamic = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[3, 0, 2])));
    assert_eq!((dynamic.shape(), dynamic.numel()), (&[3usize, 0, 2][..], 0));
    // The data round-trips exactly.
    assert_eq!(
        d.extractdata::<f64>().unwrap(),
        Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f64).into_dyn()
    );
    assert_eq!(b.extractdata::<bool>().unwrap(), array![[true, false, true], [false, false, true]].into_dyn());
    assert_eq!(c.extractdata::<Complex32>().unwrap(), array![Complex32::new(1.0, 2.0)].into_dyn());
}

#[test]
fn column_major_input_reads_in_row_major_order() {
    let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].reversed_axes(); // [[1,4],[2,5],[3,6]], F layout
    let x = DlArray::from(a.clone());
    assert_eq!(x.shape(), &[3, 2]);
    assert_eq!(x.extractdata::<f64>().unwrap(), a.clone().into_dyn());
    assert_eq!(x.at(1).to_scalar::<f64>().unwrap(), 4.0);
    let flat = x.reshape(&[6]).extractdata::<f64>().unwrap();
    assert_eq!(flat.iter().copied().collect::<Vec<_>>(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

#[test]
fn scalar_is_an_f64_of_shape_empty() {
    let s = DlArray::scalar(2.5);
    assert_eq!((s.dtype(), s.shape(), s.ndim(), s.numel()), (DType::F64, &[][..], 0, 1));
    assert_eq!(s.to_scalar::<f64>().unwrap(), 2.5);
    assert_eq!(s.extractdata::<f64>().unwrap(), arr0(2.5).into_dyn());
}

#[test]
fn extractdata_refuses_the_wrong_type() {
    let x = DlArray::from(array![1.0, 2.0]);
    let e = x.extractdata::<f32>().unwrap_err().to_string().to_lowercase();
    assert!(e.contains("extractdata") && e.contains("f64") && e.contains("f32"), "{e}");
    assert!(x.extractdata::<Complex64>().is_err());
    assert!(x.extractdata::<bool>().is_err());
    assert!(DlArray::from(array![1.0f32]).extractdata::<f64>().is_err());
    assert!(DlArray::from(array![Complex32::new(1.0, 0.0)]).extractdata::<Complex64>().is_err());
}

#[test]
fn to_scalar_needs_one_element_of_the_right_type() {
    let x = DlArray::from(array![1.0, 2.0]);
    let e = x.to_scalar::<f64>().unwrap_err();
    assert!(e.to_string().contains("2 elements"), "{e}");
    assert!(DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0]))).to_scalar::<f64>().is_err());
    assert!(DlArray::scalar(1.0).to_scalar::<f32>().is_err());
    assert_eq!(DlArray::from(array![[[7.0f32]]]).to_scalar::<f32>().unwrap(), 7.0);
    assert_eq!(
        DlArray::from(array![Complex64::new(1.0, -1.0)]).to_scalar::<Complex64>().unwrap(),
        Complex64::new(1.0, -1.0)
    );
}

#[test]
fn casts_between_every_pair_of_dtypes() {
    use DType::*;
    let all = [Bool, F32, F64, C64, C128];
    let x = DlArray::from(array![0.0, 1.0, -2.5]);
    for from in all {
        let src = x.cast(from);
        assert_eq!(src.dtype(), from);
        for to in all {
            let y = src.cast(to);
            assert_eq!(y.dtype(), to, "{from:?} -> {to:?}");
            assert_eq!(y.shape(), &[3]);
            let values = y.cast(C128).extractdata::<Complex64>().unwrap();
            let expected: Vec<f64> = match (from, to) {
                (Bool, _) | (_, Bool) => vec![0.0, 1.0, 1.0],
                _ => vec![0.0, 1.0, -2.5],
            };
            let got: Vec<f64> = values.iter().map(|c| c.re).collect();
            assert_eq!(got, expected, "{from:?} -> {to:?}");
            assert!(values.iter().all(|c| c.im == 0.0));
        }
    }
    // Complex to real keeps the real part.
    let z = DlArray::from(array![Complex64::new(1.5, -3.0)]);
    assert_eq!(z.cast(F64).extractdata::<f64>().unwrap(), array![1.5].into_dyn());
    assert_eq!(z.cast(C64).extractdata::<Complex32>().unwrap(), array![Complex32::new(1.5, -3.0)].into_dyn());
    // Single precision rounds.
    let third = DlArray::scalar(1.0 / 3.0).cast(F32).to_scalar::<f32>().unwrap();
    assert_eq!(third, 1.0f32 / 3.0);
}

#[test]
fn display_looks_like_matlab() {
    let x = DlArray::from(array![[1.0, 2.0]]);
    let text = format!("{x}");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("  1x2 f64 dlarray"), "{text}");
    assert_eq!(lines.next(), Some(""), "{text}");
    let values = lines.next().unwrap_or_default();
    assert!(values.contains('1') && values.contains('2'), "{text}");
    assert!(values.find('1') < values.find('2'), "{text}");

    let v = DlArray::from(array![1.5f32, -0.25]);
    let text = format!("{v}");
    assert!(text.starts_with("  1x2 f32 dlarray\n\n"), "{text}");
    assert!(text.contains("1.5000") && text.contains("-0.2500"), "{text}");

    let m = DlArray::from(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let text = format!("{m}");
    assert!(text.starts_with("  2x3 f64 dlarray\n\n"), "{text}");
    let rows: Vec<&str> = text.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0].split_whitespace().collect::<Vec<_>>(), ["1", "2", "3"], "{text}");
    assert_eq!(rows[1].split_whitespace().collect::<Vec<_>>(), ["4", "5", "6"], "{text}");

    let s = DlArray::scalar(3.0);
    assert!(format!("{s}").starts_with("  1x1 f64 dlarray\n\n"), "{s}");

    let z = DlArray::from(array![Complex64::new(1.0, -2.0)]);
    let text = format!("{z}");
    assert!(text.starts_with("  1x1 c128 dlarray\n\n"), "{text}");
    assert!(text.contains("1 - 2i"), "{text}");

    let t = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[2, 2, 2])));
    let text = format!("{t}");
    assert!(text.starts_with("  2x2x2 f64 dlarray"), "{text}");
    assert!(text.contains("[0, :, :]") && text.contains("[1, :, :]"), "{text}");

    let b = DlArray::from(array![true, false]);
    assert!(format!("{b}").starts_with("  1x2 bool dlarray\n\n"), "{b}");
}

/// A binary operator under test.
type Operator = fn(&DlArray, &DlArray) -> DlArray;

fn dtype_of(f: impl Fn(&DlArray, &DlArray) -> DlArray, a: DType, b: DType) -> DType {
    let x = DlArray::from(array![1.0, 2.0]).cast(a);
    let y = DlArray::from(array![1.0, 1.0]).cast(b);
    let r = f(&x, &y);
    r.data().unwrap();
    r.dtype()
}

#[test]
fn matlab_type_promotion_through_every_operator() {
    use DType::*;
    let ops: [(&str, Operator); 5] =
        [("+", |a, b| a + b), ("-", |a, b| a - b), ("*", |a, b| a * b), ("/", |a, b| a / b), ("pow", |a, b| a.pow(b))];
    let table = [
        (F32, F64, F32),
        (F64, F32, F32),
        (Bool, F32, F32),
        (F64, Bool, F64),
        (Bool, C64, C64),
        (Bool, Bool, F64),
        (F64, C128, C128),
        (C128, F64, C128),
        (F32, C128, C64),
        (C128, F32, C64),
        (F64, C64, C64),
        (C64, C128, C64),
        (F64, F64, F64),
        (F32, F32, F32),
        (C128, C128, C128),
    ];
    for (name, op) in ops {
        for (a, b, want) in table {
            assert_eq!(dtype_of(op, a, b), want, "{a:?} {name} {b:?}");
        }
    }
}

#[test]
fn scalars_on_either_side_of_every_operator() {
    let x = DlArray::from(array![1.0, 2.0]);
    let v = |a: DlArray| a.extractdata::<f64>().unwrap().iter().copied().collect::<Vec<_>>();
    assert_eq!(v(3.0 * &x), vec![3.0, 6.0]);
    assert_eq!(v(&x * 3.0), vec![3.0, 6.0]);
    assert_eq!(v(1.0 - &x), vec![0.0, -1.0]);
    assert_eq!(v(&x - 1.0), vec![0.0, 1.0]);
    assert_eq!(v(2.0 / &x), vec![2.0, 1.0]);
    assert_eq!(v(&x / 2.0), vec![0.5, 1.0]);
    assert_eq!(v(10.0 + x.clone()), vec![11.0, 12.0]);
    assert_eq!(v(x.clone() + 10.0), vec![11.0, 12.0]);
    assert_eq!(v(-&x), vec![-1.0, -2.0]);
    assert_eq!(v(-x.clone()), vec![-1.0, -2.0]);
    let c = Complex64::new(1.0, 2.0);
    let z = &x - c;
    assert_eq!(z.dtype(), DType::C128);
    assert_eq!(
        z.extractdata::<Complex64>().unwrap(),
        array![Complex64::new(0.0, -2.0), Complex64::new(1.0, -2.0)].into_dyn()
    );
    let w = c * &x;
    assert_eq!(
        w.extractdata::<Complex64>().unwrap(),
        array![Complex64::new(1.0, 2.0), Complex64::new(2.0, 4.0)].into_dyn()
    );
    assert_eq!((c / x.clone()).extractdata::<Complex64>().unwrap()[[1]], Complex64::new(0.5, 1.0));
    assert_eq!((x.clone() + c).dtype(), DType::C128);
    // A double scalar does not widen a single array (MATLAB: single wins).
    let s = DlArray::from(array![1.0f32, 2.0]);
    assert_eq!((3.0 * &s).dtype(), DType::F32);
    assert_eq!((&s - c).dtype(), DType::C64);
    // A logical array becomes double next to a double scalar.
    let b = DlArray::from(array![true, false]);
    assert_eq!(v(&b + 1.0), vec![2.0, 1.0]);
    assert_eq!(v(-&b), vec![-1.0, -0.0]);
}

#[test]
fn numpy_broadcasting_through_operators() {
    let col = DlArray::from(array![[1.0], [2.0], [3.0]]);
    let row = DlArray::from(array![10.0, 20.0]);
    let sum = &col + &row;
    assert_eq!(sum.shape(), &[3, 2]);
    assert_eq!(sum.extractdata::<f64>().unwrap(), array![[11.0, 21.0], [12.0, 22.0], [13.0, 23.0]].into_dyn());
    let t = DlArray::from(Array::from_shape_fn((2, 1, 3), |(i, _, k)| (i * 3 + k) as f64));
    let u = DlArray::from(Array::from_shape_fn((4, 1), |(j, _)| j as f64 * 100.0));
    let p = &t * &u;
    assert_eq!(p.shape(), &[2, 4, 3]);
    let got = p.extractdata::<f64>().unwrap();
    for i in 0..2 {
        for j in 0..4 {
            for k in 0..3 {
                assert_eq!(got[[i, j, k]], (i * 3 + k) as f64 * j as f64 * 100.0);
            }
        }
    }
    let s = DlArray::from(arr0(2.0));
    assert_eq!((&s - &col).shape(), &[3, 1]);
    let empty = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0, 3])));
    assert_eq!((&empty + &DlArray::from(array![1.0, 2.0, 3.0])).shape(), &[0, 3]);
}

#[test]
fn cloning_shares_the_value_and_arrays_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DlArray>();
    let x = DlArray::from(array![1.0, 2.0]);
    let y = x.clone();
    let handle = std::thread::spawn(move || (&y * 2.0).sum_all().to_scalar::<f64>().unwrap());
    assert_eq!(handle.join().unwrap(), 6.0);
    assert_eq!(x.sum_all().to_scalar::<f64>().unwrap(), 3.0);
}
