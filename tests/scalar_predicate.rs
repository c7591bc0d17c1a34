//! A while loop whose predicate is one comparison of two real scalars is compared in the
//! loop's native driver, without a call of the predicate's kernel: every comparison, `f64`
//! and `f32`, the constant on either side or a traced limit, NaN, and a predicate of another
//! form, each with the interpreter's steps and bits.

use cranegrad::prelude::*;

type Carry = (DlArray, DlArray);

/// The comparisons, by name.
const COMPARISONS: [&str; 6] = ["lt", "le", "gt", "ge", "eq", "ne"];

fn compare(name: &str, a: &DlArray, b: &DlArray) -> DlArray {
    match name {
        "lt" => a.lt(b),
        "le" => a.le(b),
        "gt" => a.gt(b),
        "ge" => a.ge(b),
        "eq" => a.eq_elem(b),
        _ => a.ne_elem(b),
    }
}

/// Where the other side of the comparison comes from.
#[derive(Clone, Copy, Debug)]
enum Other {
    /// A constant on the right: `x cmp c`.
    Right,
    /// A constant on the left: `c cmp x`.
    Left,
    /// A traced operand of the function, captured by the loop: `x cmp limit`.
    Captured,
}

/// Steps `x -> x / 2 + 1` (from `x0`, towards 2) while `x cmp 1.75` holds (or the other way
/// round), counting the steps, at most 40: the carry at the end, or the `Err`.
fn halving(x0: &DlArray, limit: &DlArray, name: &str, other: Other) -> Result<Vec<DlArray>> {
    let options = LoopOptions { max_iterations: Some(40), ..Default::default() };
    let dtype = x0.dtype();
    let (x, steps) = while_loop_with(
        (x0.clone(), DlArray::scalar(0.0).cast(dtype)),
        |(x, _): &Carry| {
            Ok(match other {
                Other::Right => compare(name, x, &DlArray::scalar(1.75).cast(dtype)),
                Other::Left => compare(name, &DlArray::scalar(1.75).cast(dtype), x),
                Other::Captured => compare(name, x, limit),
            })
        },
        |(x, n): Carry| Ok((x * 0.5 + 1.0, n + 1.0)),
        options,
    )?;
    Ok(vec![x, steps])
}

fn bits(values: &[DlArray]) -> Vec<u64> {
    values
        .iter()
        .map(|v| match v.dtype() {
            DType::F32 => v.extractdata::<f32>().unwrap().iter().next().unwrap().to_bits() as u64,
            _ => first(v).to_bits(),
        })
        .collect()
}

/// The one value of a real f64 scalar.
fn first(v: &DlArray) -> f64 {
    v.extractdata::<f64>().unwrap().iter().next().copied().unwrap()
}

/// `f` at `x` accelerated, with its results' bits checked against the interpreter's.
fn compiled_as_interpreted<F>(f: F, x: DlArray) -> (AcceleratedFunction<DlArray, Vec<DlArray>>, Vec<DlArray>)
where
    F: Fn(DlArray) -> Result<Vec<DlArray>> + Copy + Send + Sync + 'static,
{
    let want = dlfeval(f, x.clone()).unwrap();
    let af = accelerate(f);
    let got = af.call(x).unwrap();
    assert_eq!(bits(&got), bits(&want));
    (af, got)
}

/// The driver texts of the native dump.
fn drivers(dump: &str) -> Vec<&str> {
    dump.split("\n; ").filter(|part| part.starts_with("driver of")).collect()
}

#[test]
fn every_scalar_comparison_is_compared_in_the_driver_with_the_interpreters_steps() {
    for dtype in [DType::F64, DType::F32] {
        for start in [0.0, 1.75, 3.0, f64::NAN] {
            for name in COMPARISONS {
                for other in [Other::Right, Other::Left, Other::Captured] {
                    let f = move |(x0, limit): (DlArray, DlArray)| halving(&x0, &limit, name, other);
                    let args = (DlArray::scalar(start).cast(dtype), DlArray::scalar(1.75).cast(dtype));
                    let case = format!("{name} {other:?} from {start} on {dtype:?}");
                    let want = dlfeval(f, args.clone());
                    let af = accelerate(f);
                    let got = af.call(args.clone());
                    match (&want, &got) {
                        (Ok(w), Ok(g)) => assert_eq!(bits(g), bits(w), "{case}"),
                        (Err(_), Err(e)) => {
                            // A first call that fails caches nothing: no dump to read.
                            assert!(e.to_string().contains("max_iterations"), "{case}: {e}");
                            continue;
                        }
                        _ => panic!("{case}: the interpreter gave {want:?}, the compiled loop {got:?}"),
                    }
                    let dump = af.native_dump();
                    let drivers = drivers(&dump);
                    assert_eq!(drivers.len(), 1, "{case}: {dump}");
                    assert!(drivers[0].contains("fcmp"), "{case}: the driver calls the predicate: {}", drivers[0]);
                }
            }
        }
    }
}

#[test]
fn a_predicate_of_another_form_runs_its_kernel_with_the_same_steps() {
    // `x > 1.75 and n < 3`: not one comparison, so the driver calls the predicate's kernel.
    let f = |x0: DlArray| {
        let (x, n) = while_loop(
            (x0, DlArray::scalar(0.0)),
            |(x, n): &Carry| Ok(x.gt(&DlArray::scalar(1.75)).and(&n.lt(&DlArray::scalar(3.0)))),
            |(x, n): Carry| Ok((x * 0.5 + 1.0, n + 1.0)),
        )?;
        Ok(vec![x, n])
    };
    let (af, got) = compiled_as_interpreted(f, DlArray::scalar(40.0));
    assert_eq!(first(&got[1]), 3.0);
    let dump = af.native_dump();
    let drivers = drivers(&dump);
    assert_eq!(drivers.len(), 1, "{dump}");
    assert!(!drivers[0].contains("fcmp"), "{}", drivers[0]);
}

#[test]
fn a_gradient_through_a_loop_with_a_scalar_predicate_matches_the_interpreter() {
    // Reverse mode through the loop: the forward run keeps its carries, predicate in line.
    let f = |a: DlArray| {
        let (y, _) = while_loop(
            (DlArray::scalar(1.0), DlArray::scalar(1.0)),
            |(_, step): &Carry| Ok(step.gt(&DlArray::scalar(1e-9))),
            |(y, _): Carry| {
                let next = (&y + &a / &y) * 0.5;
                let step = (&next - &y).abs();
                Ok((next, step))
            },
        )?;
        let g = dlgradient(&y, &a)?;
        Ok(vec![y, g])
    };
    let (af, got) = compiled_as_interpreted(f, DlArray::scalar(2.0));
    let sqrt2 = 2f64.sqrt();
    let (value, slope) = (first(&got[0]), first(&got[1]));
    assert!((value - sqrt2).abs() < 1e-12 && (slope - 0.5 / sqrt2).abs() < 1e-9, "{value} {slope}");
    assert!(drivers(&af.native_dump()).iter().any(|d| d.contains("fcmp")));
}

#[test]
fn a_loop_past_max_iterations_fails_in_the_driver_and_the_function_stays_usable() {
    let f = |(x0, limit): (DlArray, DlArray)| halving(&x0, &limit, "gt", Other::Captured);
    let af = accelerate(f);
    let (x0, ends, never) = (DlArray::scalar(3.0), DlArray::scalar(2.5), DlArray::scalar(1.75));
    let want = dlfeval(f, (x0.clone(), ends.clone())).unwrap();
    assert_eq!(bits(&af.call((x0.clone(), ends.clone())).unwrap()), bits(&want));
    assert!(drivers(&af.native_dump()).iter().any(|d| d.contains("fcmp")));
    // The same signature, a limit the iterates never reach: past max_iterations, natively.
    let e = af.call((x0.clone(), never)).unwrap_err();
    assert!(e.to_string().contains("max_iterations"), "{e}");
    assert_eq!(bits(&af.call((x0, ends)).unwrap()), bits(&want));
    assert_eq!(af.misses(), 1);
}
