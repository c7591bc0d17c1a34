//! `cranegrad::mpi` under MPI (`--features mpi`; no test harness): run the built binary with
//! `mpirun -n 3 target/debug/deps/mpi-<hash>` (any number of ranks, 1 included). Every check
//! makes its collective calls unconditionally and judges the results afterwards, so a failed
//! check never leaves ranks waiting; the tally is agreed over the ranks, and the process exits
//! non-zero on every rank when a check failed on any.

use cranegrad::mpi::rsmpi::topology::SimpleCommunicator;
use cranegrad::mpi::rsmpi::traits::*;
use cranegrad::mpi::{allreduce_sum, rsmpi, DataParallel};
use cranegrad::prelude::*;
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

type Check = std::result::Result<(), String>;
/// A named check, run on every rank.
type Named = (&'static str, fn(&SimpleCommunicator) -> Check);

/// Fails the check with a message when `cond` is false.
fn ensure(cond: bool, what: impl FnOnce() -> String) -> Check {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The dtype, shape and element bits of every array of `t`, in visiting order.
fn tree_bits<T: Tree>(t: &T) -> Vec<u64> {
    let mut out = Vec::new();
    for a in t.arrays() {
        out.push(a.dtype() as u64);
        out.push(a.ndim() as u64);
        out.extend(a.shape().iter().map(|&s| s as u64));
        out.extend(a.data().map(|d| d.element_bits()).unwrap_or_else(|_| vec![u64::MAX]));
    }
    out
}

/// True on every rank when `bits` are the same on every rank.
fn agree_everywhere(world: &SimpleCommunicator, bits: &[u64]) -> bool {
    let size = world.size() as usize;
    let n = bits.len() as u64;
    let mut lengths = vec![0u64; size];
    world.all_gather_into(&n, &mut lengths[..]);
    if lengths.iter().any(|&l| l != n) {
        return false;
    }
    if n == 0 {
        return true;
    }
    let mut all = vec![0u64; size * bits.len()];
    world.all_gather_into(bits, &mut all[..]);
    all.chunks_exact(bits.len()).all(|c| c == bits)
}

/// A value for rank `r` and element `i` that makes the order of addition matter: large
/// values that cancel, and small ones that rounding can lose.
fn value(r: usize, i: usize) -> f64 {
    let big = [1e16, -1e16, 1.0, 3.0][r % 4];
    big + (i as f64 + 1.0) * 0.1 + r as f64 * 1e-3
}

/// The tree rank `r` contributes to the dtype check.
type Mixed = (DlArray, DlArray, DlArray, DlArray, BTreeMap<String, Vec<DlArray>>, usize);

fn mixed_tree(r: usize) -> Mixed {
    let f64s = |n: usize| (0..n).map(|i| value(r, i)).collect::<Vec<_>>();
    let f32s = ArrayD::from_shape_vec(IxDyn(&[2, 2]), f64s(4).iter().map(|&v| v as f32).collect()).unwrap();
    let c64: Array1<Complex32> = (0..3).map(|i| Complex32::new(value(r, i) as f32, -value(r, i + 7) as f32)).collect();
    let c128: Array1<Complex64> = (0..3).map(|i| Complex64::new(value(r, i + 1), value(r, i + 2) * 0.5)).collect();
    let map =
        BTreeMap::from([("b".to_string(), vec![DlArray::from(Array1::from(f64s(5))), DlArray::scalar(value(r, 9))])]);
    (DlArray::from(f32s), DlArray::from(Array1::from(f64s(3))), DlArray::from(c64), DlArray::from(c128), map, 7)
}

/// `allreduce_sum` of arrays of every numeric dtype in a nested tree: the sums in rank order,
/// bit for bit, the same on every rank and in a second call; plain values kept.
fn sums_every_dtype_in_rank_order(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let first = allreduce_sum(&mixed_tree(rank), world);
    let second = allreduce_sum(&mixed_tree(rank), world);
    let bits = first.as_ref().map(tree_bits).unwrap_or_default();
    let same_everywhere = agree_everywhere(world, &bits);
    let sum = first.map_err(|e| e.to_string())?;
    ensure(same_everywhere, || "the sums differ across ranks".into())?;
    ensure(second.map(|s| tree_bits(&s)).ok() == Some(bits.clone()), || "a second call gave other bits".into())?;
    ensure(sum.5 == 7, || "the plain value changed".into())?;

    // The expected sums, added in rank order here.
    let trees: Vec<Mixed> = (0..size).map(mixed_tree).collect();
    let add = |pick: &dyn Fn(&Mixed) -> &DlArray| -> Vec<u64> {
        let d: Vec<_> = trees.iter().map(|t| pick(t).data().unwrap().clone()).collect();
        match &*d[0] {
            cranegrad::internals::Data::F32(_) => {
                let mut acc = pick(&trees[0]).extractdata::<f32>().unwrap();
                trees[1..].iter().for_each(|t| acc = &acc + &pick(t).extractdata::<f32>().unwrap());
                acc.iter().map(|v| v.to_bits() as u64).collect()
            }
            cranegrad::internals::Data::F64(_) => {
                let mut acc = pick(&trees[0]).extractdata::<f64>().unwrap();
                trees[1..].iter().for_each(|t| acc = &acc + &pick(t).extractdata::<f64>().unwrap());
                acc.iter().map(|v| v.to_bits()).collect()
            }
            cranegrad::internals::Data::C64(_) => {
                let mut acc = pick(&trees[0]).extractdata::<Complex32>().unwrap();
                trees[1..].iter().for_each(|t| acc = &acc + &pick(t).extractdata::<Complex32>().unwrap());
                acc.iter().flat_map(|v| [v.re.to_bits() as u64, v.im.to_bits() as u64]).collect()
            }
            cranegrad::internals::Data::C128(_) => {
                let mut acc = pick(&trees[0]).extractdata::<Complex64>().unwrap();
                trees[1..].iter().for_each(|t| acc = &acc + &pick(t).extractdata::<Complex64>().unwrap());
                acc.iter().flat_map(|v| [v.re.to_bits(), v.im.to_bits()]).collect()
            }
            cranegrad::internals::Data::Bool(_) => unreachable!(),
        }
    };
    let got = |a: &DlArray| a.data().unwrap().element_bits();
    ensure(got(&sum.0) == add(&|t| &t.0), || "f32 sums differ from the rank-order sums".into())?;
    ensure(got(&sum.1) == add(&|t| &t.1), || "f64 sums differ from the rank-order sums".into())?;
    ensure(got(&sum.2) == add(&|t| &t.2), || "c64 sums differ from the rank-order sums".into())?;
    ensure(got(&sum.3) == add(&|t| &t.3), || "c128 sums differ from the rank-order sums".into())?;
    ensure(got(&sum.4["b"][0]) == add(&|t| &t.4["b"][0]), || "the map's sums differ".into())?;
    ensure(got(&sum.4["b"][1]) == add(&|t| &t.4["b"][1]), || "the map's scalar sum differs".into())?;
    ensure(sum.0.shape() == [2, 2] && sum.0.dtype() == DType::F32, || "the f32 array's type changed".into())?;
    if size >= 3 {
        // (1e16 + -1e16) + 1.1 in rank order is 1.1; the other way round, 1.1 is lost to rounding.
        let reals = sum.1.extractdata::<f64>().unwrap();
        let other_order = trees.iter().rev().fold(0.0, |acc, t| acc + t.1.extractdata::<f64>().unwrap()[0]);
        ensure(reals[0].to_bits() != other_order.to_bits(), || "the data cannot tell the order apart".into())?;
    }
    Ok(())
}

/// Trees without arrays, and one rank's logical array: a plain tree is kept; a logical array
/// is an error on every rank, naming the rank.
fn logical_arrays_fail_every_rank(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let empty = allreduce_sum(&("name".to_string(), ()), world);
    ensure(empty.as_ref().map(|t| t.0.as_str()) == Ok("name"), || format!("an array-less tree gave {empty:?}"))?;
    let last = size - 1;
    let array = if rank == last {
        DlArray::from(Array1::from(vec![true, false]))
    } else {
        DlArray::from(Array1::from(vec![1.0, 2.0]))
    };
    let result = allreduce_sum(&vec![array], world);
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    ensure(message.contains(&format!("rank {last} of {size} failed")) && message.contains("logical"), || {
        format!("expected an error naming rank {last} and the logical array, got {message:?}")
    })
}

/// The least-squares loss of a line through a shard, and its gradient: `(loss, dloss/dw)`.
fn line_loss() -> AcceleratedFunction<(DlArray, DlArray, DlArray), (DlArray, DlArray)> {
    accelerate(|(w, x, y): (DlArray, DlArray, DlArray)| {
        let loss = (x.matmul(&w) - &y).square().sum_all() * 0.5;
        let g = dlgradient(&loss, &w)?;
        Ok((loss, g))
    })
}

/// Rank `r`'s shard of the line data (`size` ranks, `n` observations in all, the observations
/// `[r n / size, (r + 1) n / size)`: shards of different sizes), as `(x [m, 3], y [m])`.
fn line_shard(r: usize, size: usize, n: usize) -> (DlArray, DlArray) {
    let (lo, hi) = (r * n / size, (r + 1) * n / size);
    let rows = |range: std::ops::Range<usize>| {
        let x = Array2::from_shape_fn((range.len(), 3), |(i, j)| {
            let t = (range.start + i) as f64 / n as f64;
            [1.0, t, (3.0 * t).sin()][j]
        });
        let y = Array1::from_shape_fn(range.len(), |i| {
            let t = (range.start + i) as f64 / n as f64;
            0.5 - 2.0 * t + 0.25 * (3.0 * t).sin() + 0.01 * ((range.start + i) as f64 * 12.9898).sin()
        });
        (DlArray::from(x), DlArray::from(y))
    };
    rows(lo..hi)
}

/// Shards of different sizes: the sum of the ranks' losses and gradients is the whole data
/// set's (to rounding), the same bits on every rank.
fn shards_of_different_sizes_sum_to_the_whole(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let n = 1001;
    let dp = DataParallel::new(line_loss(), world.duplicate());
    let w = DlArray::from(Array1::from(vec![0.3, -0.2, 0.1]));
    let (x, y) = line_shard(rank, size, n);
    let result = dp.call((w.clone(), x, y));
    let bits = result.as_ref().map(tree_bits).unwrap_or_default();
    let same = agree_everywhere(world, &bits);
    let (loss, g) = result.map_err(|e| e.to_string())?;
    ensure(same, || "the sums differ across ranks".into())?;
    let (x1, y1) = line_shard(0, 1, n);
    let (loss1, g1) = line_loss().call((w, x1, y1)).map_err(|e| e.to_string())?;
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-300);
    let dl = rel(loss.to_scalar::<f64>().unwrap(), loss1.to_scalar::<f64>().unwrap());
    let gs = (g.extractdata::<f64>().unwrap(), g1.extractdata::<f64>().unwrap());
    let gmax = gs.1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let dg = gs.0.iter().zip(&gs.1).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / gmax;
    ensure(dl <= 1e-12 && dg <= 1e-12, || {
        format!("the sums differ from one process's by {dl:e} (loss), {dg:e} (gradient)")
    })
}

/// One rank's shard does not fit the function (a failed trace on that rank only): every rank
/// gets an error naming the rank and the shape error; the next call, with good shards, works.
fn a_failing_rank_fails_every_rank(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let bad = size - 1;
    let dp = DataParallel::new(line_loss(), world.duplicate());
    let w = DlArray::from(Array1::from(vec![0.3, -0.2, 0.1]));
    let (x, y) = line_shard(rank, size, 100);
    let x_bad = if rank == bad { DlArray::from(Array2::<f64>::zeros((4, 2))) } else { x.clone() };
    let failed = dp.call((w.clone(), x_bad, y.clone()));
    let recovered = dp.call((w, x, y));
    let message = failed.err().map(|e| e.to_string()).unwrap_or_default();
    ensure(
        message.contains(&format!("rank {bad} of {size} failed")) && message.contains("incompatible shapes"),
        || format!("expected an error naming rank {bad} and the shape error, got {message:?}"),
    )?;
    ensure(recovered.is_ok(), || format!("the call after the failure: {recovered:?}"))
}

/// Two ranks whose functions fail differently (an `Err` and a panic): both causes on every
/// rank.
fn every_failed_rank_is_named(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let f = accelerate(|(x, k): (DlArray, usize)| {
        if k == 1 {
            panic!("shard {k} is corrupt");
        }
        if k == 2 {
            return Err(Error::Argument { op: "reader".into(), detail: format!("shard {k} is missing") });
        }
        Ok(x.sum_all())
    });
    let dp = DataParallel::new(f, world.duplicate());
    let result = dp.call((DlArray::from(Array1::from(vec![1.0, 2.0])), rank));
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    match size {
        1 => ensure(message.is_empty(), || format!("one rank, no failure expected, got {message:?}")),
        2 => ensure(message.contains("rank 1 of 2 failed") && message.contains("shard 1 is corrupt"), || {
            format!("expected rank 1's panic, got {message:?}")
        }),
        _ => ensure(
            message.contains(&format!("ranks 1, 2 of {size} failed"))
                && message.contains("rank 1: the traced function panicked: shard 1 is corrupt")
                && message.contains("rank 2: reader: shard 2 is missing"),
            || format!("expected ranks 1 and 2 with their causes, got {message:?}"),
        ),
    }
}

/// Outputs that differ across ranks (a shard-sized output; a dtype that depends on the rank):
/// an error on every rank naming the differing rank, with its tree.
fn differing_outputs_fail_every_rank(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let shaped = DataParallel::new(accelerate(|x: DlArray| Ok((x.sum_all(), x.square()))), world.duplicate());
    let by_shape = shaped.call(DlArray::from(Array1::from(vec![1.0; 2 + rank])));
    let typed = DataParallel::new(
        accelerate(|(x, single): (DlArray, bool)| Ok(if single { x.cast(DType::F32) } else { x })),
        world.duplicate(),
    );
    let by_type = typed.call((DlArray::from(Array1::from(vec![1.0, 2.0])), rank == size - 1));
    if size == 1 {
        return ensure(by_shape.is_ok() && by_type.is_ok(), || "one rank: nothing can differ".into());
    }
    let shape_message = by_shape.err().map(|e| e.to_string()).unwrap_or_default();
    ensure(
        shape_message.contains("differ across ranks")
            && shape_message.contains("rank 0 has tuple/2(f64 [], f64 [2])")
            && shape_message.contains("rank 1 has tuple/2(f64 [], f64 [3])"),
        || format!("expected the shapes of ranks 0 and 1, got {shape_message:?}"),
    )?;
    let type_message = by_type.err().map(|e| e.to_string()).unwrap_or_default();
    ensure(type_message.contains("differ across ranks") && type_message.contains("f32 [2]"), || {
        format!("expected the dtypes to differ, got {type_message:?}")
    })
}

/// A logistic-regression shard: rank `r`'s observations `i = r, r + size, ...` of `n`, as
/// `(x [m, 3], t [m])` with labels in {0, 1}.
fn logistic_shard(r: usize, size: usize, n: usize) -> (DlArray, DlArray) {
    let idx: Vec<usize> = (r..n).step_by(size).collect();
    let x = Array2::from_shape_fn((idx.len(), 3), |(i, j)| {
        let k = idx[i] as f64;
        [1.0, (k * 0.37).sin(), (k * 0.11).cos()][j]
    });
    let t = Array1::from_shape_fn(idx.len(), |i| {
        let k = idx[i] as f64;
        let z = 0.3 + 1.5 * (k * 0.37).sin() - 2.0 * (k * 0.11).cos();
        let u = ((k * 78.233).sin() * 43758.5453).rem_euclid(1.0);
        if u < 1.0 / (1.0 + (-z).exp()) {
            1.0
        } else {
            0.0
        }
    });
    (DlArray::from(x), DlArray::from(t))
}

/// The logistic loss (cross-entropy of `sigmoid(x w)`) of a shard, summed, and its gradient.
fn logistic_loss() -> AcceleratedFunction<(DlArray, DlArray, DlArray), (DlArray, DlArray)> {
    accelerate(|(w, x, t): (DlArray, DlArray, DlArray)| {
        let p = x.matmul(&w).sigmoid();
        let loss = -(&t * p.log() + (1.0 - &t) * (1.0 - &p).log()).sum_all();
        let g = dlgradient(&loss, &w)?;
        Ok((loss, g))
    })
}

/// `lbfgsupdate` and `adamupdate` on a data-parallel loss: every rank holds the same parameter
/// bits after every step, and L-BFGS converges.
fn optimizers_keep_every_rank_in_lockstep(world: &SimpleCommunicator) -> Check {
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let dp = DataParallel::new(logistic_loss(), world.duplicate());
    let (x, t) = logistic_shard(rank, size, 3000);
    let loss = |w: &DlArray| dp.call((w.clone(), x.clone(), t.clone()));
    let mut w = DlArray::from(Array1::from(vec![0.0, 0.0, 0.0]));
    let mut state = LbfgsState::default();
    let mut lockstep = true;
    let mut failure = None;
    for _ in 0..25 {
        match lbfgsupdate(&w, loss, &mut state, &LbfgsOptions::default()) {
            Ok(next) => w = next,
            Err(e) => failure = failure.or(Some(e.to_string())),
        }
        lockstep &= agree_everywhere(world, &tree_bits(&w));
    }
    ensure(failure.is_none(), || format!("lbfgsupdate failed: {failure:?}"))?;
    ensure(lockstep, || "the L-BFGS parameters differ across ranks".into())?;
    ensure(state.gradients_norm < 1e-6, || format!("L-BFGS did not converge: gradient norm {}", state.gradients_norm))?;

    let mut params = BTreeMap::from([("w".to_string(), DlArray::from(Array1::from(vec![0.0, 0.0, 0.0])))]);
    let mut adam = AdamState::default();
    let options = AdamOptions { learn_rate: 0.05, ..Default::default() };
    let mut lockstep = true;
    for k in 1..=20 {
        let step = dp.call((params["w"].clone(), x.clone(), t.clone())).and_then(|(_, g)| {
            let grads = BTreeMap::from([("w".to_string(), g)]);
            adamupdate(&params, &grads, &mut adam, k, &options)
        });
        match step {
            Ok(next) => params = next,
            Err(e) => failure = failure.or(Some(e.to_string())),
        }
        lockstep &= agree_everywhere(world, &tree_bits(&params));
    }
    ensure(failure.is_none(), || format!("adamupdate failed: {failure:?}"))?;
    ensure(lockstep, || "the Adam parameters differ across ranks".into())
}

/// Records the parameters and the cost at every iteration of an argmin solver, as bits.
#[cfg(feature = "argmin")]
struct History(std::sync::Arc<std::sync::Mutex<Vec<u64>>>);

#[cfg(feature = "argmin")]
impl<I: ::argmin::core::State<Param = Vec<f64>, Float = f64>> ::argmin::core::observers::Observe<I> for History {
    fn observe_iter(&mut self, state: &I, _kv: &::argmin::core::KV) -> Result<(), ::argmin::core::Error> {
        let mut h = self.0.lock().unwrap();
        h.push(state.get_iter());
        h.extend(state.get_param().into_iter().flatten().map(|v| v.to_bits()));
        h.push(state.get_cost().to_bits());
        Ok(())
    }
}

/// argmin's L-BFGS (More-Thuente line search) through `cranegrad::argmin::ArgminProblem` on a
/// data-parallel loss (`DataParallel::world`, `Send + Sync`): every rank holds the same
/// parameter bits after every iteration and at the end, and the loss decreases.
#[cfg(feature = "argmin")]
fn argmin_keeps_every_rank_in_lockstep(world: &SimpleCommunicator) -> Check {
    use ::argmin::core::observers::ObserverMode;
    use ::argmin::core::{Executor, State};
    use ::argmin::solver::linesearch::MoreThuenteLineSearch;
    use ::argmin::solver::quasinewton::LBFGS;
    use cranegrad::argmin::ArgminProblem;
    use cranegrad::mpi::World;
    use std::sync::{Arc, Mutex};

    fn send_sync<T: Send + Sync>(_: &T) {}
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    // The least-squares loss: finite along every ray, as More-Thuente needs (it does not stop
    // on an infinite or NaN cost, and the logistic loss overflows at L-BFGS's first step).
    let dp: DataParallel<_, _, World> = DataParallel::world(line_loss());
    send_sync(&dp);
    let placed = (dp.rank(), dp.size()) == (rank, size);
    let (x, y) = line_shard(rank, size, 1001);
    let problem = ArgminProblem::from_fn(move |w| dp.call((w, x.clone(), y.clone())));
    let w0 = vec![0.0; 3];
    let initial = problem.value_and_gradient(&w0).map(|(f, _)| f);
    let history = Arc::new(Mutex::new(Vec::new()));
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5);
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(w0).max_iters(8))
        .add_observer(History(history.clone()), ObserverMode::Always)
        .run();
    let (final_bits, cost, iterations) = match &result {
        Ok(r) => {
            let w = r.state.get_best_param().cloned().unwrap_or_default();
            (w.iter().map(|v| v.to_bits()).collect(), r.state.get_best_cost(), r.state.get_iter())
        }
        Err(_) => (Vec::new(), f64::NAN, 0),
    };
    let history = history.lock().unwrap().clone();
    // Collective calls first, judged afterwards.
    let same_history = agree_everywhere(world, &history);
    let same_final = agree_everywhere(world, &final_bits);
    ensure(placed, || "DataParallel::world's rank and size are not the world's".into())?;
    let initial = initial.map_err(|e| e.to_string())?;
    result.map_err(|e| e.to_string())?;
    ensure(final_bits.len() == 3, || format!("final parameters {final_bits:?}"))?;
    ensure(iterations >= 2 && history.len() as u64 == iterations * 5, || {
        format!("{iterations} iterations, {} recorded words", history.len())
    })?;
    ensure(same_history, || "the parameters differ across ranks after some iteration".into())?;
    ensure(same_final, || "the final parameters differ across ranks".into())?;
    ensure(cost < 0.5 * initial, || format!("the loss went from {initial} to {cost} only"))
}

fn main() {
    let Some(universe) = rsmpi::initialize() else {
        eprintln!("mpi: MPI was initialized already");
        std::process::exit(2);
    };
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    let checks: Vec<Named> = vec![
        ("sums_every_dtype_in_rank_order", sums_every_dtype_in_rank_order),
        ("logical_arrays_fail_every_rank", logical_arrays_fail_every_rank),
        ("shards_of_different_sizes_sum_to_the_whole", shards_of_different_sizes_sum_to_the_whole),
        ("a_failing_rank_fails_every_rank", a_failing_rank_fails_every_rank),
        ("every_failed_rank_is_named", every_failed_rank_is_named),
        ("differing_outputs_fail_every_rank", differing_outputs_fail_every_rank),
        ("optimizers_keep_every_rank_in_lockstep", optimizers_keep_every_rank_in_lockstep),
        #[cfg(feature = "argmin")]
        ("argmin_keeps_every_rank_in_lockstep", argmin_keeps_every_rank_in_lockstep),
    ];
    // The panic of `every_failed_rank_is_named` is expected: keep it off stderr.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info.payload().downcast_ref::<String>().is_some_and(|m| m.contains("is corrupt"));
        if !expected {
            report(info)
        }
    }));
    let mut failed = 0u64;
    let total = checks.len() as u64;
    for (name, check) in checks {
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&world)))
            .unwrap_or_else(|_| Err("panicked (the ranks may no longer be in step)".into()));
        // The verdict of every rank, so that rank 0 reports a failure anywhere.
        let ok = outcome.is_ok() as u64;
        let mut oks = vec![0u64; size as usize];
        world.all_gather_into(&ok, &mut oks[..]);
        if let Err(why) = &outcome {
            eprintln!("mpi: rank {rank}: {name} FAILED: {why}");
        }
        if oks.contains(&0) {
            failed += 1;
        }
        if rank == 0 {
            let bad: Vec<String> = (0..size as usize).filter(|&r| oks[r] == 0).map(|r| r.to_string()).collect();
            if bad.is_empty() {
                println!("mpi: {name} ... ok ({size} ranks)");
            } else {
                println!("mpi: {name} ... FAILED on ranks {}", bad.join(", "));
            }
        }
    }
    if rank == 0 {
        println!("mpi: {} passed, {failed} failed", total - failed);
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
