//! One type-and-shape rule per primitive.

use super::{AxisSlice, Op, Shape};
use crate::array::DType;
use crate::error::{Error, Result};
use smallvec::SmallVec;

/// numpy's broadcast of two shapes, or `None` when they do not fit.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    broadcast_pair(a, b).map(|s| s.to_vec())
}

/// [`broadcast_shapes`] into an inline shape (no heap memory up to two axes).
fn broadcast_pair(a: &[usize], b: &[usize]) -> Option<Shape> {
    let n = a.len().max(b.len());
    let mut out = Shape::new();
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out.push(match (da, db) {
            _ if da == db => da,
            (1, d) | (d, 1) => d,
            _ => return None,
        });
    }
    Some(out)
}

/// True when `from` broadcasts to exactly `to` (numpy rules): each trailing axis of `from` is
/// 1 or the length of `to`'s axis there.
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len() && from.iter().rev().zip(to.iter().rev()).all(|(&f, &t)| f == t || f == 1)
}

fn check_axes(op: &Op, axes: &[usize], shape: &[usize]) -> Result<()> {
    let mut seen: SmallVec<[bool; 8]> = smallvec::smallvec![false; shape.len()];
    for &a in axes {
        if a >= shape.len() || seen[a] {
            return Err(Error::shape(
                op.name(),
                &[shape],
                format!("axes {axes:?} must be distinct and below the rank {}", shape.len()),
            ));
        }
        seen[a] = true;
    }
    Ok(())
}

fn check_slices(op: &Op, slices: &[AxisSlice], shape: &[usize]) -> Result<()> {
    let fits = slices.len() == shape.len()
        && slices.iter().zip(shape).all(|(s, &n)| {
            s.step != 0
                && (s.len == 0
                    || (s.start < n && {
                        let last = s.start as isize + (s.len as isize - 1) * s.step;
                        last >= 0 && (last as usize) < n
                    }))
        });
    if fits {
        Ok(())
    } else {
        Err(Error::shape(op.name(), &[shape], format!("slice {slices:?} does not fit the shape")))
    }
}

/// The dtype and shape of `op` applied to inputs of the given dtypes and shapes. A result
/// whose element count or byte size does not fit in `isize` (as ndarray and the allocator
/// require) is an error naming the op and the shapes, never an overflow.
pub fn infer(op: &Op, inputs: &[(DType, &[usize])]) -> Result<(DType, Shape)> {
    let (dtype, shape) = infer_unchecked(op, inputs)?;
    let fits = element_count(&shape)
        .and_then(|n| n.checked_mul(dtype.size_of()))
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    if !fits {
        let mut shapes: Vec<&[usize]> = inputs.iter().map(|i| i.1).collect();
        shapes.push(&shape);
        return Err(Error::shape(
            op.name(),
            &shapes,
            format!("the result {dtype:?}{shape:?} is too large to be allocated"),
        ));
    }
    Ok((dtype, shape))
}

fn infer_unchecked(op: &Op, inputs: &[(DType, &[usize])]) -> Result<(DType, Shape)> {
    let arity = match op {
        Op::Input(_) | Op::Constant(_) => 0,
        Op::Unary(_)
        | Op::Cast(_)
        | Op::Broadcast(_)
        | Op::Reshape(_)
        | Op::Permute(_)
        | Op::Slice(_)
        | Op::Pad { .. }
        | Op::ReduceSum(_)
        | Op::ReduceMax(_)
        | Op::ReduceMin(_) => 1,
        Op::Binary(_) | Op::Compare(_) | Op::MatMul => 2,
        Op::Select => 3,
        Op::Concat(_) => usize::MAX,
        Op::Call(c) => c.target.input_types().len(),
    };
    if arity != usize::MAX && inputs.len() != arity {
        return Err(Error::argument(op.name(), format!("takes {arity} operands, got {}", inputs.len())));
    }
    // Pushed one by one: smallvec's `collect` costs more than the rule for one or two operands.
    let mut dtypes: SmallVec<[DType; 4]> = SmallVec::new();
    let mut shapes: SmallVec<[&[usize]; 4]> = SmallVec::new();
    for &(d, s) in inputs {
        dtypes.push(d);
        shapes.push(s);
    }
    let same_dtypes = || -> Result<DType> {
        if dtypes.windows(2).all(|w| w[0] == w[1]) {
            Ok(dtypes[0])
        } else {
            Err(Error::dtype(op.name(), &dtypes, "operands must have one dtype"))
        }
    };
    let broadcast_all = |shapes: &[&[usize]]| -> Result<Shape> {
        if shapes.iter().all(|s| *s == shapes[0]) {
            return Ok(Shape::from_slice(shapes[0]));
        }
        let mut out = Shape::new();
        for s in shapes {
            out = broadcast_pair(&out, s)
                .ok_or_else(|| Error::shape(op.name(), shapes, "they do not broadcast (numpy rules)"))?;
        }
        Ok(out)
    };
    let numeric = |d: DType, real_only: bool| -> Result<()> {
        if d == DType::Bool {
            Err(Error::dtype(op.name(), &dtypes, "logical operands must be cast to a numeric type"))
        } else if real_only && d.is_complex() {
            Err(Error::dtype(op.name(), &dtypes, "defined for real operands only"))
        } else {
            Ok(())
        }
    };
    match op {
        Op::Input(_) => Err(Error::argument("input", "an input's type comes from the graph's signature")),
        Op::Constant(data) => Ok((data.dtype(), Shape::from_slice(data.shape()))),
        Op::Unary(u) => {
            numeric(dtypes[0], u.real_only())?;
            let d = if u.to_real() { dtypes[0].real() } else { dtypes[0] };
            Ok((d, Shape::from_slice(shapes[0])))
        }
        Op::Binary(b) => {
            let d = same_dtypes()?;
            numeric(d, b.real_only())?;
            let d = if *b == super::BinaryOp::Complex { d.complex() } else { d };
            Ok((d, broadcast_all(&shapes)?))
        }
        Op::Compare(c) => {
            let d = same_dtypes()?;
            if c.ordering() && d.is_complex() {
                return Err(Error::dtype(op.name(), &dtypes, "ordering is defined for real operands only"));
            }
            Ok((DType::Bool, broadcast_all(&shapes)?))
        }
        Op::Select => {
            if dtypes[0] != DType::Bool || dtypes[1] != dtypes[2] {
                return Err(Error::dtype(
                    op.name(),
                    &dtypes,
                    "needs a logical condition and two operands of one dtype",
                ));
            }
            Ok((dtypes[1], broadcast_all(&shapes)?))
        }
        Op::Cast(d) => Ok((*d, Shape::from_slice(shapes[0]))),
        Op::Broadcast(to) => {
            if broadcasts_to(shapes[0], to) {
                Ok((dtypes[0], Shape::from_slice(to)))
            } else {
                Err(Error::shape(op.name(), &[shapes[0], to], "the first does not broadcast to the second"))
            }
        }
        Op::Reshape(to) => match (element_count(to), element_count(shapes[0])) {
            (Some(a), Some(b)) if a == b => Ok((dtypes[0], Shape::from_slice(to))),
            (None, _) => Err(Error::shape(op.name(), &[shapes[0], to], "the new shape is too large")),
            _ => Err(Error::shape(op.name(), &[shapes[0], to], "element counts differ")),
        },
        Op::Permute(axes) => {
            check_axes(op, axes, shapes[0])?;
            if axes.len() != shapes[0].len() {
                return Err(Error::shape(
                    op.name(),
                    &[shapes[0]],
                    format!("permutation {axes:?} must name every axis"),
                ));
            }
            Ok((dtypes[0], axes.iter().map(|&a| shapes[0][a]).collect()))
        }
        Op::Slice(slices) => {
            check_slices(op, slices, shapes[0])?;
            Ok((dtypes[0], slices.iter().map(|s| s.len).collect()))
        }
        Op::Pad { shape, slices } => {
            check_slices(op, slices, shape)?;
            let lens: Shape = slices.iter().map(|s| s.len).collect();
            if lens.as_slice() != shapes[0] {
                return Err(Error::shape(op.name(), &[shapes[0], &lens], "operand must have the slice's shape"));
            }
            Ok((dtypes[0], Shape::from_slice(shape)))
        }
        Op::Concat(axis) => {
            if inputs.is_empty() {
                return Err(Error::argument("concat", "needs at least one operand"));
            }
            let d = same_dtypes()?;
            let first = shapes[0];
            if *axis >= first.len() {
                return Err(Error::shape(
                    op.name(),
                    &shapes,
                    format!("axis {axis} is not below the rank {}", first.len()),
                ));
            }
            let mut out: Shape = first.into();
            out[*axis] = 0;
            for s in &shapes {
                let fits =
                    s.len() == first.len() && s.iter().zip(first).enumerate().all(|(i, (a, b))| i == *axis || a == b);
                if !fits {
                    return Err(Error::shape(op.name(), &shapes, format!("all axes but {axis} must agree")));
                }
                out[*axis] = out[*axis]
                    .checked_add(s[*axis])
                    .ok_or_else(|| Error::shape(op.name(), &shapes, "the result is too large"))?;
            }
            Ok((d, out))
        }
        Op::ReduceSum(axes) | Op::ReduceMax(axes) | Op::ReduceMin(axes) => {
            numeric(dtypes[0], !matches!(op, Op::ReduceSum(_)))?;
            check_axes(op, axes, shapes[0])?;
            let out = shapes[0].iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect();
            Ok((dtypes[0], out))
        }
        Op::Call(c) => {
            let expected = c.target.input_types();
            if expected.iter().zip(inputs).any(|((d, s), (d2, s2))| d != d2 || s.as_slice() != *s2) {
                return Err(Error::argument(
                    format!("call {}", c.target.name()),
                    format!("operands {inputs:?} do not match the signature {expected:?}"),
                ));
            }
            c.target
                .output_types()
                .get(c.output)
                .map(|(d, s)| (*d, Shape::from_slice(s)))
                .ok_or_else(|| Error::argument("call", format!("output {} does not exist", c.output)))
        }
        Op::MatMul => {
            let d = same_dtypes()?;
            numeric(d, false)?;
            let (a, b) = (shapes[0], shapes[1]);
            let fits = a.len() >= 2
                && a.len() == b.len()
                && a[..a.len() - 2] == b[..b.len() - 2]
                && a[a.len() - 1] == b[b.len() - 2];
            if !fits {
                return Err(Error::shape(
                    op.name(),
                    &shapes,
                    "needs [.., m, k] and [.., k, n] with equal leading axes",
                ));
            }
            let mut out: Shape = a.into();
            *out.last_mut().unwrap_or(&mut 0) = b[b.len() - 1];
            Ok((d, out))
        }
    }
}

/// The number of elements of `shape`, or `None` when the shape is too large for an array (the
/// product of its nonzero lengths must fit in `isize`, as ndarray requires).
fn element_count(shape: &[usize]) -> Option<usize> {
    let nonzero = shape.iter().filter(|&&d| d != 0).try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    if nonzero > isize::MAX as usize {
        return None;
    }
    Some(if shape.contains(&0) { 0 } else { nonzero })
}
