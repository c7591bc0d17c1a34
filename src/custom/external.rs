//! `external`: the user's own Rust code inside a traced function. Its forward is a closure
//! on f64 arrays that tracing cannot see; each output is a `call` node whose target runs it
//! (the interpreter's kernel, and one step of a compiled program's run), and whose reverse-mode
//! rule is the user's closure written with ops. Errors and panics come back as an `Err` naming
//! the function and the line of its call.

use super::trees::{input_cotangents, one_hot_cotangents};
use crate::array::{DType, Data};
use crate::autodiff::{CallBackward, CallVjp};
use crate::error::{Error, Result};
use crate::ir::{Call, CallTarget, Op};
use crate::trace::{emit_outputs, panic_message, DlArray};
use ndarray::ArrayD;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::{Arc, Mutex, Weak};

/// The output shapes and dtypes of an external function from its inputs'.
type Spec = dyn Fn(&[&[usize]], &[DType]) -> Result<Vec<(Vec<usize>, DType)>> + Send + Sync;
/// An external function's forward, on f64 arrays.
type Forward = dyn Fn(&[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>> + Send + Sync;
/// An external function's rule: `(inputs, outputs, output cotangents) -> input cotangents`.
type Vjp = dyn Fn(&[DlArray], &[DlArray], &[DlArray]) -> Result<Vec<DlArray>> + Send + Sync;

/// The user's three closures and the function's name.
struct Closures {
    name: String,
    spec: Box<Spec>,
    forward: Box<Forward>,
    vjp: Box<Vjp>,
}

/// User Rust code callable from traced functions, made by [`external`].
#[derive(Clone)]
pub struct ExternalFunction {
    closures: Arc<Closures>,
}

/// An external function (JAX's `pure_callback` with a `custom_vjp`): `forward` runs the user's
/// code on f64 arrays (f32 inputs are converted), `spec` gives the outputs' shapes and dtypes
/// (real) from the inputs', and `vjp(inputs, outputs, output_cotangents)` returns the inputs'
/// cotangents, written with ops (it may call external functions itself), so forward mode and
/// higher derivatives go through it. Inside an accelerated function the compiled program calls
/// `forward` directly, with no retrace; an `Err` or a panic of any closure comes back from the
/// call (or from `af.call`) as an `Err` naming the function and the line of the call.
pub fn external<S, F, V>(name: &str, spec: S, forward: F, vjp: V) -> ExternalFunction
where
    S: Fn(&[&[usize]], &[DType]) -> Result<Vec<(Vec<usize>, DType)>> + Send + Sync + 'static,
    F: Fn(&[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>> + Send + Sync + 'static,
    V: Fn(&[DlArray], &[DlArray], &[DlArray]) -> Result<Vec<DlArray>> + Send + Sync + 'static,
{
    let closures =
        Closures { name: name.to_string(), spec: Box::new(spec), forward: Box::new(forward), vjp: Box::new(vjp) };
    ExternalFunction { closures: Arc::new(closures) }
}

/// `f()`, with a panic turned into an `Err` and every error naming `function`.
fn guarded<T>(function: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let wrap = |cause: String| Error::External { function: function.to_string(), cause };
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Error::External { function, cause })) => Err(Error::External { function, cause }),
        Ok(Err(e)) => Err(wrap(e.to_string())),
        Err(p) => Err(wrap(format!("panicked: {}", panic_message(p)))),
    }
}

impl ExternalFunction {
    /// Calls the function on `args`: its outputs, traced when an argument is.
    #[track_caller]
    pub fn call(&self, args: &[&DlArray]) -> Result<Vec<DlArray>> {
        let here = Location::caller();
        let function = format!("{} at {}:{}", self.closures.name, here.file(), here.line());
        let mut inputs = Vec::with_capacity(args.len());
        for a in args {
            let (dtype, shape) = a.meta()?;
            if !matches!(dtype, DType::F32 | DType::F64) {
                return Err(Error::dtype(format!("external {function}"), &[dtype], "inputs must be real floats"));
            }
            inputs.push((dtype, shape.to_vec()));
        }
        let shapes: Vec<&[usize]> = inputs.iter().map(|(_, s)| s.as_slice()).collect();
        let dtypes: Vec<DType> = inputs.iter().map(|(d, _)| *d).collect();
        let outputs = guarded(&function, || (self.closures.spec)(&shapes, &dtypes))?;
        let outputs: Vec<(DType, Vec<usize>)> = outputs.into_iter().map(|(s, d)| (d, s)).collect();
        if let Some((d, _)) = outputs.iter().find(|(d, _)| !matches!(d, DType::F32 | DType::F64)) {
            return Err(Error::dtype(format!("external {function}"), &[*d], "spec: outputs must be real floats"));
        }
        let target = Arc::new_cyclic(|me: &Weak<ExternalTarget>| ExternalTarget {
            closures: self.closures.clone(),
            function,
            inputs,
            outputs,
            backward: CallBackward(Arc::new(ExternalVjp { target: me.clone() })),
            scratch: Mutex::new(Vec::new()),
        });
        target.emit(args)
    }
}

/// One call site's external function with its signature: the target of its `call` nodes.
struct ExternalTarget {
    closures: Arc<Closures>,
    /// The name and the call's line.
    function: String,
    inputs: Vec<(DType, Vec<usize>)>,
    outputs: Vec<(DType, Vec<usize>)>,
    backward: CallBackward,
    /// Input arrays kept between compiled calls (`run_f64` copies into them: no allocation).
    scratch: Mutex<Vec<ArrayD<f64>>>,
}

impl ExternalTarget {
    /// The target's outputs on `args` (one `call` node each in a trace).
    fn emit(self: &Arc<Self>, args: &[&DlArray]) -> Result<Vec<DlArray>> {
        let target: Arc<dyn CallTarget> = self.clone();
        let ops = (0..self.outputs.len()).map(|output| Op::Call(Call { target: target.clone(), output })).collect();
        emit_outputs(ops, args, |datas| self.run(datas))
    }
}

impl ExternalTarget {
    /// The user's forward on `arrays`, its outputs checked against `spec`'s.
    fn forward(&self, arrays: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>> {
        let results = guarded(&self.function, || (self.closures.forward)(arrays))?;
        let broken = |cause: String| Err(Error::External { function: self.function.clone(), cause });
        if results.len() != self.outputs.len() {
            return broken(format!("returned {} arrays, but spec says {}", results.len(), self.outputs.len()));
        }
        for (r, (_, shape)) in results.iter().zip(&self.outputs) {
            if r.shape() != shape.as_slice() {
                return broken(format!("returned an array of shape {:?}, but spec says {shape:?}", r.shape()));
            }
        }
        Ok(results)
    }
}

impl CallTarget for ExternalTarget {
    fn name(&self) -> &str {
        &self.closures.name
    }
    fn input_types(&self) -> &[(DType, Vec<usize>)] {
        &self.inputs
    }
    fn output_types(&self) -> &[(DType, Vec<usize>)] {
        &self.outputs
    }
    fn run(&self, inputs: &[Arc<Data>]) -> Result<Vec<Arc<Data>>> {
        let arrays: Vec<ArrayD<f64>> = inputs
            .iter()
            .map(|d| match &**d {
                Data::F64(a) => Ok(a.clone()),
                Data::F32(a) => Ok(a.mapv(f64::from)),
                other => Err(Error::dtype(format!("external {}", self.function), &[other.dtype()], "a real input")),
            })
            .collect::<Result<_>>()?;
        let results = self.forward(&arrays)?;
        let data = results.into_iter().zip(&self.outputs).map(|(r, (dtype, _))| match dtype {
            DType::F32 => Data::F32(r.mapv(|v| v as f32)),
            _ => Data::F64(r),
        });
        Ok(data.map(Arc::new).collect())
    }
    fn run_f64(&self, inputs: &[&[f64]], write: &mut dyn FnMut(usize, &[f64])) -> Option<Result<()>> {
        // Another thread's call holds the scratch: this one allocates its own.
        let mut held = self.scratch.try_lock().ok();
        let mut own = Vec::new();
        let arrays = held.as_deref_mut().unwrap_or(&mut own);
        if arrays.len() != self.inputs.len() {
            *arrays = self.inputs.iter().map(|(_, s)| ArrayD::zeros(ndarray::IxDyn(s))).collect();
        }
        for (a, src) in arrays.iter_mut().zip(inputs) {
            match a.as_slice_mut() {
                Some(dst) if dst.len() == src.len() => dst.copy_from_slice(src),
                _ => return Some(Err(Error::Jit(format!("external {}: an input of another size", self.function)))),
            }
        }
        Some(self.forward(arrays).map(|results| {
            for (k, r) in results.iter().enumerate() {
                match r.as_slice() {
                    Some(values) => write(k, values),
                    None => write(k, &r.iter().copied().collect::<Vec<f64>>()),
                }
            }
        }))
    }
    fn backward_rule(&self) -> &(dyn Any + Send + Sync) {
        &self.backward
    }
}

/// The reverse-mode rule of a target: the user's `vjp` at the target's outputs, recomputed
/// from the inputs as `call` nodes of the same target (merged with the forward's by CSE).
struct ExternalVjp {
    target: Weak<ExternalTarget>,
}

impl CallVjp for ExternalVjp {
    fn vjp(&self, output: usize, inputs: &[DlArray], ct: &DlArray) -> Result<Vec<DlArray>> {
        let target =
            self.target.upgrade().ok_or_else(|| Error::Gradient("internal: an external target is gone".into()))?;
        let refs: Vec<&DlArray> = inputs.iter().collect();
        let outputs = target.emit(&refs)?;
        let cts = one_hot_cotangents(&outputs, output, ct)?;
        let grads = guarded(&target.function, || (target.closures.vjp)(inputs, &outputs, &cts))?;
        input_cotangents(&format!("external {}", target.function), inputs, grads)
    }
}
