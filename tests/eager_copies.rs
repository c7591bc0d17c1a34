//! Eager slices, permutes and concatenations copy row by row from their operand's elements
//! (a counter over the leading axes, a contiguous row as one slice copy). Each result is
//! checked element for element against ndarray's own slicing, axis permutation and
//! concatenation of the same data: negative steps, dropped axes, empty ranges, every order of
//! four axes, and every axis of a join.

use cranegrad::prelude::*;
use ndarray::{s, ArrayD, IxDyn};

fn data(shape: &[usize], seed: usize) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let values = (0..n).map(|i| ((i * 7919 + seed * 131) % 1009) as f64 - 504.5).collect();
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn same(got: &DlArray, want: ArrayD<f64>, what: &str) {
    let got = got.extractdata::<f64>().unwrap();
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (g, w): (Vec<f64>, Vec<f64>) = (got.iter().copied().collect(), want.iter().copied().collect());
    assert_eq!(g, w, "{what}: elements");
}

#[test]
fn eager_slices_match_ndarray_slices() {
    let a = data(&[5, 6, 7], 3);
    let x = DlArray::from(a.clone());
    let a3 = a.view().into_dimensionality::<ndarray::Ix3>().unwrap();
    same(&x.slice(s![1..4, .., 2..]), a3.slice(s![1..4, .., 2..]).into_dyn().to_owned(), "ranges");
    same(&x.slice(s![..;-1, 1..;2, ..;-3]), a3.slice(s![..;-1, 1..;2, ..;-3]).into_dyn().to_owned(), "steps");
    same(&x.slice(s![2, .., 3..5]), a3.slice(s![2, .., 3..5]).into_dyn().to_owned(), "dropped axis");
    same(&x.slice(s![.., 4, ..;-2]), a3.slice(s![.., 4, ..;-2]).into_dyn().to_owned(), "middle index");
    same(&x.slice(s![.., 3..3, ..]), a3.slice(s![.., 3..3, ..]).into_dyn().to_owned(), "empty");
    same(&x.slice(s![4, 5, 6]), a3.slice(s![4, 5, 6]).into_dyn().to_owned(), "one element");
}

#[test]
fn eager_permutes_match_ndarray_for_every_order_of_four_axes() {
    let a = data(&[2, 3, 4, 5], 7);
    let x = DlArray::from(a.clone());
    let mut orders = 0;
    for p in 0..256usize {
        let axes = [p & 3, (p >> 2) & 3, (p >> 4) & 3, (p >> 6) & 3];
        if (0..4).any(|k| !axes.contains(&k)) {
            continue;
        }
        orders += 1;
        let want = a.view().permuted_axes(IxDyn(&axes)).to_owned();
        same(&x.permute(&axes), want.clone(), &format!("{axes:?}"));
        // A permute of a slice: the copy starts inside its operand.
        let sliced = x.slice(s![.., 1.., ..;-1, 1..4]).permute(&axes);
        let a4 = a.view().into_dimensionality::<ndarray::Ix4>().unwrap();
        let want = a4.slice(s![.., 1.., ..;-1, 1..4]).into_dyn().permuted_axes(IxDyn(&axes)).to_owned();
        same(&sliced, want, &format!("sliced, {axes:?}"));
    }
    assert_eq!(orders, 24);
}

#[test]
fn eager_concatenations_match_ndarray_along_every_axis() {
    for axis in 0..3 {
        let shape = |n: usize| {
            let mut s = vec![3, 4, 5];
            s[axis] = n;
            s
        };
        let parts: Vec<ArrayD<f64>> = [2, 1, 3, 0].iter().enumerate().map(|(k, &n)| data(&shape(n), k)).collect();
        let arrays: Vec<DlArray> = parts.iter().map(|p| DlArray::from(p.clone())).collect();
        let refs: Vec<&DlArray> = arrays.iter().collect();
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let want = ndarray::concatenate(ndarray::Axis(axis), &views).unwrap();
        same(&concat(&refs, axis), want, &format!("axis {axis}"));
    }
}
