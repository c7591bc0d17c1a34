//! One type-and-shape rule per primitive.

use super::{AxisSlice, BinaryOp, Call, CmpOp, LinalgOp, Op, Shape, UnaryOp};
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

/// [`infer`] without the size check: the arity, then the op's own rule.
fn infer_unchecked(op: &Op, inputs: &[(DType, &[usize])]) -> Result<(DType, Shape)> {
    if let Some(arity) = arity(op) {
        if inputs.len() != arity {
            return Err(Error::argument(op.name(), format!("takes {arity} operands, got {}", inputs.len())));
        }
    }
    let operands = OperandTypes::new(op, inputs);
    // One arm per variant and no wildcard: a new op does not compile without its rule.
    match op {
        Op::Input(_) => Err(Error::argument("input", "an input's type comes from the graph's signature")),
        Op::Constant(data) => Ok((data.dtype(), Shape::from_slice(data.shape()))),
        Op::Unary(u) => operands.unary(*u),
        Op::Binary(b) => operands.binary(*b),
        Op::Compare(c) => operands.compare(*c),
        Op::Select => operands.select(),
        Op::Cast(d) => Ok((*d, Shape::from_slice(operands.shapes[0]))),
        Op::Broadcast(to) => operands.broadcast(to),
        Op::Reshape(to) => operands.reshape(to),
        Op::Permute(axes) => operands.permute(axes),
        Op::Slice(slices) => operands.slice(slices),
        Op::Pad { shape, slices } => operands.pad(shape, slices),
        Op::Concat(axis) => operands.concat(*axis),
        Op::ReduceSum(axes) => operands.reduce(axes, false),
        Op::ReduceMax(axes) | Op::ReduceMin(axes) => operands.reduce(axes, true),
        Op::MatMul => operands.matmul(),
        Op::Linalg(l) => operands.linalg(*l),
        Op::Call(c) => operands.call(c),
        Op::CustomVjp(_) => Ok((operands.dtypes[0], Shape::from_slice(operands.shapes[0]))),
    }
}

/// The number of operands `op` takes; `None` for any number (`concat`).
fn arity(op: &Op) -> Option<usize> {
    Some(match op {
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
        Op::Concat(_) | Op::CustomVjp(_) => return None,
        Op::Call(c) => c.target.input_types().len(),
        Op::Linalg(l) => l.arity(),
    })
}

/// The operands of one node being typed, their dtypes and shapes side by side, with the op
/// whose name the errors carry. The rules below are its methods, by family of ops.
struct OperandTypes<'a> {
    op: &'a Op,
    inputs: &'a [(DType, &'a [usize])],
    dtypes: SmallVec<[DType; 4]>,
    shapes: SmallVec<[&'a [usize]; 4]>,
}

/// Checks shared by the rules.
impl<'a> OperandTypes<'a> {
    /// The operands of `op`, split into dtypes and shapes.
    fn new(op: &'a Op, inputs: &'a [(DType, &'a [usize])]) -> Self {
        // Pushed one by one: smallvec's `collect` costs more than the rule for one or two operands.
        let mut dtypes: SmallVec<[DType; 4]> = SmallVec::new();
        let mut shapes: SmallVec<[&[usize]; 4]> = SmallVec::new();
        for &(d, s) in inputs {
            dtypes.push(d);
            shapes.push(s);
        }
        OperandTypes { op, inputs, dtypes, shapes }
    }

    /// The operands' one dtype; an error when they differ.
    fn same_dtypes(&self) -> Result<DType> {
        if self.dtypes.windows(2).all(|w| w[0] == w[1]) {
            Ok(self.dtypes[0])
        } else {
            Err(Error::dtype(self.op.name(), &self.dtypes, "operands must have one dtype"))
        }
    }

    /// The numpy broadcast of all the operands' shapes.
    fn broadcast_all(&self) -> Result<Shape> {
        let shapes = &self.shapes[..];
        if shapes.iter().all(|s| *s == shapes[0]) {
            return Ok(Shape::from_slice(shapes[0]));
        }
        let mut out = Shape::new();
        for s in shapes {
            out = broadcast_pair(&out, s)
                .ok_or_else(|| Error::shape(self.op.name(), shapes, "they do not broadcast (numpy rules)"))?;
        }
        Ok(out)
    }

    /// An error unless `d` is numeric, and real too when `real_only`.
    fn numeric(&self, d: DType, real_only: bool) -> Result<()> {
        if d == DType::Bool {
            Err(Error::dtype(self.op.name(), &self.dtypes, "logical operands must be cast to a numeric type"))
        } else if real_only && d.is_complex() {
            Err(Error::dtype(self.op.name(), &self.dtypes, "defined for real operands only"))
        } else {
            Ok(())
        }
    }
}

/// Elementwise ops: the operands' broadcast shape.
impl OperandTypes<'_> {
    /// A unary function: the operand's shape; a real dtype for `abs`, `real`, `imag`.
    fn unary(&self, u: UnaryOp) -> Result<(DType, Shape)> {
        self.numeric(self.dtypes[0], u.real_only())?;
        let d = if u.to_real() { self.dtypes[0].real() } else { self.dtypes[0] };
        Ok((d, Shape::from_slice(self.shapes[0])))
    }

    /// A binary function of operands of one dtype; a complex dtype for `complex`.
    fn binary(&self, b: BinaryOp) -> Result<(DType, Shape)> {
        let d = self.same_dtypes()?;
        self.numeric(d, b.real_only())?;
        let d = if b == BinaryOp::Complex { d.complex() } else { d };
        Ok((d, self.broadcast_all()?))
    }

    /// A comparison: logical; the ordering ones of real operands only.
    fn compare(&self, c: CmpOp) -> Result<(DType, Shape)> {
        let d = self.same_dtypes()?;
        if c.ordering() && d.is_complex() {
            return Err(Error::dtype(self.op.name(), &self.dtypes, "ordering is defined for real operands only"));
        }
        Ok((DType::Bool, self.broadcast_all()?))
    }

    /// `select`: a logical condition and two branches of one dtype.
    fn select(&self) -> Result<(DType, Shape)> {
        let dtypes = &self.dtypes;
        if dtypes[0] != DType::Bool || dtypes[1] != dtypes[2] {
            return Err(Error::dtype(
                self.op.name(),
                dtypes,
                "needs a logical condition and two operands of one dtype",
            ));
        }
        Ok((dtypes[1], self.broadcast_all()?))
    }
}

/// Layout ops: the same elements moved, the operand's dtype.
impl OperandTypes<'_> {
    /// `broadcast` to `to`, which the operand must broadcast to.
    fn broadcast(&self, to: &[usize]) -> Result<(DType, Shape)> {
        if broadcasts_to(self.shapes[0], to) {
            Ok((self.dtypes[0], Shape::from_slice(to)))
        } else {
            Err(Error::shape(self.op.name(), &[self.shapes[0], to], "the first does not broadcast to the second"))
        }
    }

    /// `reshape` to `to`, of the operand's element count.
    fn reshape(&self, to: &[usize]) -> Result<(DType, Shape)> {
        match (element_count(to), element_count(self.shapes[0])) {
            (Some(a), Some(b)) if a == b => Ok((self.dtypes[0], Shape::from_slice(to))),
            (None, _) => Err(Error::shape(self.op.name(), &[self.shapes[0], to], "the new shape is too large")),
            _ => Err(Error::shape(self.op.name(), &[self.shapes[0], to], "element counts differ")),
        }
    }

    /// `permute` by `axes`, which must name every axis once.
    fn permute(&self, axes: &[usize]) -> Result<(DType, Shape)> {
        let shape = self.shapes[0];
        check_axes(self.op, axes, shape)?;
        if axes.len() != shape.len() {
            return Err(Error::shape(self.op.name(), &[shape], format!("permutation {axes:?} must name every axis")));
        }
        Ok((self.dtypes[0], axes.iter().map(|&a| shape[a]).collect()))
    }

    /// `slice` by `slices`, which must fit the operand's shape.
    fn slice(&self, slices: &[AxisSlice]) -> Result<(DType, Shape)> {
        check_slices(self.op, slices, self.shapes[0])?;
        Ok((self.dtypes[0], slices.iter().map(|s| s.len).collect()))
    }

    /// `pad` into `shape` at `slices`, which must fit `shape` and have the operand's shape.
    fn pad(&self, shape: &[usize], slices: &[AxisSlice]) -> Result<(DType, Shape)> {
        check_slices(self.op, slices, shape)?;
        let lens: Shape = slices.iter().map(|s| s.len).collect();
        if lens.as_slice() != self.shapes[0] {
            return Err(Error::shape(self.op.name(), &[self.shapes[0], &lens], "operand must have the slice's shape"));
        }
        Ok((self.dtypes[0], Shape::from_slice(shape)))
    }

    /// `concat` along `axis`: at least one operand, one dtype, all other axes equal.
    fn concat(&self, axis: usize) -> Result<(DType, Shape)> {
        if self.inputs.is_empty() {
            return Err(Error::argument("concat", "needs at least one operand"));
        }
        let d = self.same_dtypes()?;
        let (name, shapes) = (self.op.name(), &self.shapes[..]);
        let first = shapes[0];
        if axis >= first.len() {
            return Err(Error::shape(name, shapes, format!("axis {axis} is not below the rank {}", first.len())));
        }
        let mut out: Shape = first.into();
        out[axis] = 0;
        for s in shapes {
            let fits = s.len() == first.len() && s.iter().zip(first).enumerate().all(|(i, (a, b))| i == axis || a == b);
            if !fits {
                return Err(Error::shape(name, shapes, format!("all axes but {axis} must agree")));
            }
            out[axis] =
                out[axis].checked_add(s[axis]).ok_or_else(|| Error::shape(name, shapes, "the result is too large"))?;
        }
        Ok((d, out))
    }
}

/// Reductions, products and calls.
impl OperandTypes<'_> {
    /// A reduction over `axes` (removed); `real_only` for the maximum and minimum.
    fn reduce(&self, axes: &[usize], real_only: bool) -> Result<(DType, Shape)> {
        self.numeric(self.dtypes[0], real_only)?;
        check_axes(self.op, axes, self.shapes[0])?;
        let out = self.shapes[0].iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect();
        Ok((self.dtypes[0], out))
    }

    /// `matmul` of `[.., m, k]` and `[.., k, n]` of one numeric dtype: `[.., m, n]`.
    fn matmul(&self) -> Result<(DType, Shape)> {
        let d = self.same_dtypes()?;
        self.numeric(d, false)?;
        let (a, b) = (self.shapes[0], self.shapes[1]);
        let fits = a.len() >= 2
            && a.len() == b.len()
            && a[..a.len() - 2] == b[..b.len() - 2]
            && a[a.len() - 1] == b[b.len() - 2];
        if !fits {
            return Err(Error::shape(
                self.op.name(),
                &self.shapes,
                "needs [.., m, k] and [.., k, n] with equal leading axes",
            ));
        }
        let mut out: Shape = a.into();
        *out.last_mut().unwrap_or(&mut 0) = b[b.len() - 1];
        Ok((d, out))
    }

    /// A factorization or solve (`linalg.rs`): real matrices of one dtype, equal leading axes,
    /// square where the op needs it; `Solve` reads `a [.., m, n]` (or its transpose) and
    /// `b [.., m, k]`.
    fn linalg(&self, l: LinalgOp) -> Result<(DType, Shape)> {
        let d = self.same_dtypes()?;
        if d == DType::Bool || d.is_complex() {
            return Err(Error::dtype(
                self.op.name(),
                &self.dtypes,
                "linear algebra is defined for real matrices (f32, f64) only",
            ));
        }
        let a = self.shapes[0];
        let bad = |detail: &str| Err(Error::shape(self.op.name(), &self.shapes, detail));
        if a.len() < 2 {
            return bad("needs matrices [.., m, n]");
        }
        let r = a.len();
        let (rows, cols) = (a[r - 2], a[r - 1]);
        let lead = &a[..r - 2];
        let square = rows == cols;
        let mut out: Shape = a.into();
        match l {
            LinalgOp::Solve { trans } => {
                let (m, n) = if trans { (cols, rows) } else { (rows, cols) };
                let b = self.shapes[1];
                if b.len() != r || &b[..r - 2] != lead || b[r - 2] != m {
                    return bad("needs a [.., m, n] and b [.., m, k] with equal leading axes");
                }
                out[r - 2] = n;
                out[r - 1] = b[r - 1];
            }
            LinalgOp::TriSolve { triangular_rhs, .. } => {
                let b = self.shapes[1];
                if !square || b.len() != r || &b[..r - 2] != lead || b[r - 2] != rows {
                    return bad("needs a square a [.., n, n] and b [.., n, k] with equal leading axes");
                }
                if triangular_rhs && b[r - 1] != rows {
                    return bad("needs a square b [.., n, n] for a triangular right-hand side");
                }
                out[r - 1] = b[r - 1];
            }
            LinalgOp::TriMatmul { .. } => {
                if !square || self.shapes[1] != a {
                    return bad("needs two square matrices [.., n, n] of one shape");
                }
            }
            _ if !square => return bad("needs square matrices [.., n, n]"),
            LinalgOp::Chol { .. } | LinalgOp::Inv => {}
            LinalgOp::Det | LinalgOp::LogDet => out.truncate(r - 2),
            LinalgOp::EigSym => out[r - 2] = rows + 1,
        }
        Ok((d, out))
    }

    /// One output of a call: the operands must match the target's signature exactly.
    fn call(&self, c: &Call) -> Result<(DType, Shape)> {
        let (inputs, expected) = (self.inputs, c.target.input_types());
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
