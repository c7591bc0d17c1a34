#!/usr/bin/env python3
"""The benchmark workloads W1 to W5, the loop rows L1 to L3, the linear-algebra rows and the
clustering rows (GMM, k-means) of `cargo bench --bench workloads`, in JAX.

Same functions, sizes, input data (the same xorshift generator) and timing rule (medians of
adaptive samples after one warm-up call) as benches/workloads/*.rs; JAX runs on the CPU in
float64. Columns: "eager" is JAX op by op (no jit), "accelerated" is `jit(value_and_grad(f))`
(`jit(grad(...))` for W4, which returns only the gradient, as the Rust workload does). The
table has the layout of `cargo bench --bench workloads`, so the two can be put side by side.
The loop rows (benches/workloads/loops.rs) use `lax.while_loop`, `lax.fori_loop` and `lax.scan`;
their "eager" is "-" where the Rust row has none, and L1's is the same function without `jit`
(JAX still traces and compiles a `while_loop` then; op by op under `jax.disable_jit()` it takes
tens of seconds a call).

    pip install jax
    python3 benches/compare_jax.py            # QUICK=1 for a short run
    python3 benches/compare_jax.py loops      # only L1, L1b, L2, L3, as `cargo bench ... -- loops`
    python3 benches/compare_jax.py GP LSE     # only the rows whose names contain a word given

Run it on the machine and in the hour you run `cargo bench --bench workloads`, with nothing
else heavy running; compare ratios between the two tables, never digits across machines.
"""

import math
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

try:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax
except ImportError:  # pragma: no cover - a message instead of a traceback
    sys.exit("compare_jax.py needs JAX: pip install jax")

jax.config.update("jax_enable_x64", True)

QUICK = "QUICK" in os.environ
BUDGET = 0.150 if QUICK else 1.5  # seconds per measurement, as benches/workloads/main.rs


def median(budget, f):
    """The median time of one call of `f` (benches/workloads/measure.rs's rule): one warm-up
    call, then samples of enough calls to last about budget / 10 each, at least 5 samples, at
    most `budget` in all (and 51 samples)."""
    start = time.perf_counter()
    f()
    once = max(time.perf_counter() - start, 20e-9)
    per_sample = max(budget / 10, 200e-6)
    iters = min(max(int(per_sample / once), 1), 1_000_000)
    samples = []
    deadline = time.perf_counter() + budget
    while len(samples) < 5 or (time.perf_counter() < deadline and len(samples) < 51):
        t = time.perf_counter()
        for _ in range(iters):
            f()
        samples.append((time.perf_counter() - t) / iters)
    samples.sort()
    return samples[len(samples) // 2]


def show(s):
    """`1.23 us`, `4.56 ms`, as measure.rs's `show`."""
    if s < 1e-6:
        return f"{s * 1e9:.1f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


MASK = (1 << 64) - 1


def _step(s):
    """One xorshift64 step (models.rs's `data`)."""
    s ^= (s << 13) & MASK
    s ^= s >> 7
    s ^= (s << 17) & MASK
    return s


def _apply(cols, v):
    """The GF(2)-linear map with column images `cols` applied to the 64-bit integer `v`."""
    r, j = 0, 0
    while v:
        if v & 1:
            r ^= cols[j]
        v >>= 1
        j += 1
    return r


def _states(n, seed):
    """The first n xorshift64 states after `seed`'s start, as uint64. The step is linear over
    GF(2), so after a short sequential start each doubling of the sequence is one jump-ahead
    matrix applied to every state so far, vectorized."""
    s = (seed * 6364136223846793005 + 1442695040888963407) & MASK
    block = min(n, 4096)
    first = []
    for _ in range(block):
        s = _step(s)
        first.append(s)
    out = np.empty(n, dtype=np.uint64)
    out[:block] = np.array(first, dtype=np.uint64)
    jump = [1 << j for j in range(64)]
    for _ in range(block):
        jump = [_step(c) for c in jump]
    have = block
    while have < n:
        take = min(have, n - have)
        v, r = out[:take], np.zeros(take, dtype=np.uint64)
        for k in range(8):  # byte k of every state selects the XOR of 8 columns
            table = [0] * 256
            for b in range(1, 256):
                low = (b & -b).bit_length() - 1
                table[b] = table[b & (b - 1)] ^ jump[8 * k + low]
            byte = ((v >> np.uint64(8 * k)) & np.uint64(255)).astype(np.intp)
            r ^= np.array(table, dtype=np.uint64)[byte]
        out[have : have + take] = r
        have += take
        jump = [_apply(jump, c) for c in jump]  # the jump by `have` states
    return out


def data(n, seed):
    """models.rs's `data`: deterministic pseudo-random numbers in [-1, 1), the same values."""
    return (_states(n, seed) >> np.uint64(11)).astype(np.float64) / float(1 << 53) * 2.0 - 1.0


# --- the functions (benches/workloads/models.rs) -------------------------------------------


def rosenbrock(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2


def extended_rosenbrock(x):
    head, tail = x[:-1], x[1:]
    return jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2)


def gradient_norm(x):
    g = jax.grad(extended_rosenbrock)(x)
    return jnp.sum(g**2)


def mlp_loss(p, x, t):
    w1, b1, w2, b2 = p
    hidden = jnp.tanh(x @ w1 + b1)
    logits = hidden @ w2 + b2
    shifted = logits - jnp.max(logits, axis=1, keepdims=True)
    log_probs = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
    return -jnp.sum(t * log_probs) / x.shape[0]


def complex_loss(z):
    y = jnp.real((2.0 + 3.0j) * z)
    return jnp.sum(y), y


def matrix(rows, cols, seed, scale):
    return jnp.asarray((data(rows * cols, seed) * scale).reshape(rows, cols))


def mlp_args(b, d, h, c):
    targets = np.zeros((b, c))
    for i in range(b):
        targets[i, (i * 7 + 3) % c] = 1.0
    params = (
        matrix(d, h, 1, 1.0 / np.sqrt(d)),
        jnp.asarray(data(h, 2)),
        matrix(h, c, 3, 1.0 / np.sqrt(h)),
        jnp.asarray(data(c, 4)),
    )
    return params, matrix(b, d, 5, 1.0), jnp.asarray(targets)


def gp_data(n):
    """benches/workloads/linalg.rs's `gp_data`: inputs in [-3, 3], targets sin(2x) + noise."""
    x = 3.0 * data(n, 21)
    y = np.sin(2.0 * x) + 0.1 * data(n, 22)
    p = np.log(np.array([0.5, 1.0, 0.01]))
    return jnp.asarray(p), jnp.asarray(x), jnp.asarray(y)


def gp_nll(p, x, y):
    """The negative log marginal likelihood of a GP with an RBF kernel (log lengthscale, log
    signal variance, log noise variance), by a Cholesky factor (linalg.rs's `gp_nll`)."""
    n = x.shape[0]
    l2, sf2, sn2 = jnp.exp(2.0 * p[0]), jnp.exp(p[1]), jnp.exp(p[2])
    d2 = (x[:, None] - x[None, :]) ** 2
    k = sf2 * jnp.exp(-0.5 * d2 / l2) + sn2 * jnp.eye(n)
    c, lower = jax.scipy.linalg.cho_factor(k, lower=True)
    alpha = jax.scipy.linalg.cho_solve((c, lower), y)
    return 0.5 * jnp.dot(y, alpha) + jnp.sum(jnp.log(jnp.diag(c))) + 0.5 * n * np.log(2.0 * np.pi)


def batched_args(count):
    """linalg.rs's `batched_args`: a [count, 3, 3] (random plus 3 I), b [count, 3, 1]."""
    a = data(count * 9, 31).reshape(count, 3, 3) + 3.0 * np.eye(3)
    b = data(count * 3, 32).reshape(count, 3, 1)
    return jnp.asarray(a), jnp.asarray(b)


def batched_solve(a, b):
    return jnp.sum(jnp.linalg.solve(a, b) ** 2)


def gmm_args(d, k, n):
    """clustering.rs's `gmm_args`: alphas [K], means [K, d], icf [K, d + d(d-1)/2], x [n, d]."""
    t = d + d * (d - 1) // 2
    return (jnp.asarray(data(k, 41)), jnp.asarray(data(k * d, 42).reshape(k, d)),
            jnp.asarray(data(k * t, 43).reshape(k, t)), jnp.asarray(data(n * d, 44).reshape(n, d)))


def gmm_objective(alphas, means, icf, x):
    """ADBench's GMM objective with its Wishart prior (gamma = 1, m = 0), as GradBench's JAX
    tool writes it: each component's inverse covariance is L L', L lower triangular with
    exp(icf[:, :d]) on its diagonal and icf[:, d:] below it (column by column)."""
    n, d = x.shape
    k = means.shape[0]
    gamma, m = 1.0, 0.0
    qdiags = jnp.exp(icf[:, :d])
    sum_qs = jnp.sum(icf[:, :d], axis=1)
    rows, cols = np.tril_indices(d, -1)
    order = np.lexsort((rows, cols))  # column by column, as ADBench stores them
    ls = jnp.zeros((k, d, d)).at[:, rows[order], cols[order]].set(icf[:, d:])
    xc = x[:, None, :] - means[None, :, :]
    lxc = qdiags[None] * xc + jnp.einsum("kij,nkj->nki", ls, xc)
    inner = alphas + sum_qs - 0.5 * jnp.sum(lxc**2, axis=2)
    slse = jnp.sum(jax.nn.logsumexp(inner, axis=1))
    nw = d + m + 1.0
    multigammaln = 0.25 * d * (d - 1) * np.log(np.pi) + sum(math.lgamma(0.5 * nw - 0.5 * j) for j in range(d))
    c = nw * d * (np.log(gamma) - 0.5 * np.log(2.0)) - multigammaln
    prior = jnp.sum(0.5 * gamma**2 * (jnp.sum(qdiags**2, axis=1) + jnp.sum(icf[:, d:] ** 2, axis=1)) - m * sum_qs)
    constant = -n * d * 0.5 * np.log(2.0 * np.pi)
    return constant + slse - n * jax.nn.logsumexp(alphas) + prior - k * c


def kmeans_cost(x, c):
    """clustering.rs's `kmeans_cost`: the squared distance to the nearest centroid, summed, by
    |x|^2 - 2 x c' + |c|^2."""
    d2 = jnp.sum(x**2, axis=1, keepdims=True) - 2.0 * x @ c.T + jnp.sum(c**2, axis=1)[None, :]
    return jnp.sum(jnp.min(d2, axis=1))


def cross_entropy(h, w, t):
    """cross_entropy.rs's loss: the softmax cross-entropy of the logits h W against one-hot t."""
    return -jnp.sum(jax.nn.log_softmax(h @ w, axis=1) * t) / h.shape[0]


def least_squares(x, c):
    """least_squares.rs's `loss`: the squared residuals of a product against 1/4, summed."""
    return jnp.sum((x @ c.T - 0.25) ** 2)


def complex_grid(n):
    t = np.linspace(-2.0, 2.0, n)
    return jnp.asarray(t[None, :] + 1j * t[:, None])


# --- the table -------------------------------------------------------------------------------


def ready(out):
    """Waits for every array of an output tree (JAX dispatches asynchronously)."""
    return jax.block_until_ready(out)


def row(workload, eager, accelerated, note=""):
    return (workload, eager, accelerated, note)


def measure(eager_fn, jit_fn, args, budget=BUDGET):
    ready(jit_fn(*args))  # compile outside the timing
    eager = median(budget, lambda: ready(eager_fn(*args)))
    accelerated = median(budget, lambda: ready(jit_fn(*args)))
    return eager, accelerated


# --- the loop rows (benches/workloads/loops.rs) ----------------------------------------------


def nested_descent(f):
    """The saddle-point solve of `f(x, y)` from (1, 1), (1, 1): gradient descent on x of
    max_y f(x, y), the inner maximum by gradient ascent, both with step 0.1 until the norm of
    the gradient of the last step is at most 1e-5. `lax.while_loop` has no reverse mode, so the
    outer gradient goes through the inner loop in forward mode (`jacfwd` on the 2-vector x), as
    GradBench's JAX saddle (the Rust rows take it in reverse mode)."""

    def solve(start):
        def small(carry):
            return carry[1] > 1e-5

        def norm(g):
            return jnp.sqrt(jnp.sum(g**2))

        def inner(x):
            def ascend(carry):
                y, _ = carry
                g = jax.grad(f, argnums=1)(x, y)
                return y + 0.1 * g, norm(g)

            y, _ = lax.while_loop(small, ascend, (start, jnp.asarray(1.0)))
            return y

        def descend(carry):
            x, _ = carry
            g = jax.jacfwd(lambda x: f(x, inner(x)))(x)
            return x - 0.1 * g, norm(g)

        x, _ = lax.while_loop(small, descend, (start, jnp.asarray(1.0)))
        return x

    return solve


# f(x, y) = |x|^2 - |y|^2: y*(x) does not depend on x, so the gradient does not need the inner
# loop's value, and XLA removes the inner loop as dead code (the row's note counts the while
# loops left in the compiled program).
saddle = nested_descent(lambda x, y: jnp.sum(x**2) - jnp.sum(y**2))

# The coupled f(x, y) = |x|^2 - |y|^2 + x . y: y*(x) = x / 2 depends on x, so the outer
# gradient needs the inner loop.
coupled_saddle = nested_descent(lambda x, y: jnp.sum(x**2) - jnp.sum(y**2) + jnp.sum(x * y))


def saddle_by_hand(start):
    """`saddle` with the gradients by hand (d/dy = -2y, d/dx = 2x), in plain Python."""
    norm = lambda g: (g[0] * g[0] + g[1] * g[1]) ** 0.5
    x, gx_norm = list(start), 1.0
    while gx_norm > 1e-5:
        y, gy_norm = list(start), 1.0
        while gy_norm > 1e-5:
            g = [-2.0 * y[0], -2.0 * y[1]]
            y = [y[0] + 0.1 * g[0], y[1] + 0.1 * g[1]]
            gy_norm = norm(g)
        g = [2.0 * x[0], 2.0 * x[1]]
        x = [x[0] - 0.1 * g[0], x[1] - 0.1 * g[1]]
        gx_norm = norm(g)
    return x


def rk4_loss(x, steps, h):
    """y_i' = x_i y_{i-1} (y_{-1} = 1) integrated by RK4 with step h over `steps` steps from
    y = 0 (`lax.fori_loop`, a static trip count, so reverse mode runs it as a scan), and
    sum(y^2)."""
    n = x.shape[0]
    one = jnp.ones(1, dtype=x.dtype)

    def f(y):
        return x * jnp.concatenate([one, y[: n - 1]])

    def step(_, y):
        k1 = f(y)
        k2 = f(y + h / 2.0 * k1)
        k3 = f(y + h / 2.0 * k2)
        k4 = f(y + h * k3)
        return y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    y = lax.fori_loop(0, steps, step, jnp.zeros(n, dtype=x.dtype))
    return jnp.sum(y**2)


def lstm_inputs(b, c):
    """Deterministic LSTM inputs, 2 layers, b wide, c characters: the 8 weights and 8 biases
    (as one list), the 3 extra vectors, the 4 state vectors and the one-hot sequence."""

    def v(k):
        return jnp.asarray([((i * 7 + k * 3) % 11) * 0.05 - 0.25 for i in range(b)])

    one_hot = np.zeros((c, b))
    for t in range(c):
        one_hot[t, (t * 5 + 3) % b] = 1.0
    params = [v(k) for k in range(0, 16)]
    extra = [v(k) for k in range(16, 19)]
    state = [v(k) for k in range(19, 23)]
    return params, extra, state, jnp.asarray(one_hot)


def lstm_cell(w, b, hidden, cell, input):
    """One LSTM layer step (ADBench's `lstm_model`): the new (hidden, cell)."""
    forget = jax.nn.sigmoid(input * w[0] + b[0])
    ingate = jax.nn.sigmoid(hidden * w[1] + b[1])
    outgate = jax.nn.sigmoid(input * w[2] + b[2])
    change = jnp.tanh(hidden * w[3] + b[3])
    cell = cell * forget + ingate * change
    return outgate * jnp.tanh(cell), cell


def lstm_step(p, e, state, x, next):
    """One character: the new state and sum(next * log_softmax(prediction))."""
    w, b = p[:8], p[8:]
    h1, c1 = lstm_cell(w[:4], b[:4], state[0], state[1], x * e[0])
    h2, c2 = lstm_cell(w[4:], b[4:], state[2], state[3], h1)
    y = h2 * e[1] + e[2]
    normalized = y - jnp.log(jnp.sum(jnp.exp(y)))
    return [h1, c1, h2, c2], jnp.sum(next * normalized)


def lstm_scan(p, e, state, seq):
    """The objective with `lax.scan` over the characters; differentiate it with respect to p
    (weights and biases) and e (extra vectors)."""
    c = seq.shape[0]

    def body(carry, xs):
        s, total = carry
        s, term = lstm_step(p, e, s, *xs)
        return (s, total + term), None

    (_, total), _ = lax.scan(body, (list(state), jnp.asarray(0.0)), (seq[: c - 1], seq[1:]))
    return -total / ((c - 1) * seq.shape[1])


def loop_rows():
    rows = []

    # L1: the saddle point by nested while loops.
    start = jnp.asarray([1.0, 1.0])
    solve = jax.jit(saddle)
    x = [float(v) for v in np.asarray(ready(solve(start)))]
    by_hand = saddle_by_hand([1.0, 1.0])
    assert np.allclose(x, by_hand, rtol=1e-12, atol=0.0), (x, by_hand)
    eager, accelerated = measure(saddle, solve, (start,))
    whiles = sum(" while(" in line for line in solve.lower(start).compile().as_text().splitlines())
    note = f"x = {x} (by hand {by_hand}); {whiles} of 2 while loops left after XLA"
    rows.append(row("L1 saddle point, nested while_loop", eager, accelerated, note))
    solve = jax.jit(coupled_saddle)
    x = [float(v) for v in np.asarray(ready(solve(start)))]
    eager, accelerated = measure(coupled_saddle, solve, (start,))
    note = f"x = {x}; the outer gradient through the inner while_loop by forward mode"
    rows.append(row("L1b coupled saddle, reverse through while_loop", eager, accelerated, note))

    # L2: RK4 by fori_loop, value + gradient; first calls (trace, compile, run) at two trip counts.
    n, h = 1000, 1e-3
    x = jnp.asarray([((i * 13) % 17) * 0.05 - 0.4 for i in range(n)])

    def rk4_value_and_grad(steps):
        return jax.jit(jax.value_and_grad(lambda x: rk4_loss(x, steps, h)))

    def first_call(steps):
        vg = rk4_value_and_grad(steps)
        t = time.perf_counter()
        ready(vg(x))
        return time.perf_counter() - t

    short, long = first_call(10), first_call(10_000)
    steps = 100
    vg = rk4_value_and_grad(steps)
    ready(vg(x))
    accelerated = median(BUDGET, lambda: ready(vg(x)))
    note = f"first call s=10: {short * 1e3:.1f} ms, s=10,000: {long * 1e3:.1f} ms ({long / short:.2f}x)"
    rows.append(row(f"L2 RK4 fori_loop n={n} s={steps}, gradient", None, accelerated, note))
    primal = jax.jit(lambda x: rk4_loss(x, steps, h))
    value = float(ready(primal(x)))
    accelerated = median(BUDGET, lambda: ready(primal(x)))
    rows.append(row(f"L2p RK4 fori_loop n={n} s={steps}, primal", None, accelerated, f"value {value:.15e}"))

    # L3: ADBench's two-layer LSTM by scan, value + gradient of the weights, biases and extra.
    args = lstm_inputs(14, 1024)
    vg = jax.jit(jax.value_and_grad(lstm_scan, argnums=(0, 1)))
    t = time.perf_counter()
    ready(vg(*args))
    first = time.perf_counter() - t
    accelerated = median(BUDGET, lambda: ready(vg(*args)))
    rows.append(row("L3 LSTM 2 layers, 1,024 chars, scan", None, accelerated, f"first call: scan {first * 1e3:.0f} ms"))
    return rows


def print_table(rows):
    cell = lambda s: "-" if s is None else show(s)
    ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.2f}x"
    print()
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, x64; eager = op by op, accelerated = jit")
    print("| workload | eager (dlfeval) | accelerated | hand-written | eager / accelerated | accelerated / hand | note |")
    print("|---|---|---|---|---|---|---|")
    for workload, eager, accelerated, note in rows:
        print(f"| {workload} | {cell(eager)} | {cell(accelerated)} | - | {ratio(eager, accelerated)} | - | {note} |")


def main():
    rows = []
    filters = [a for a in sys.argv[1:] if not a.startswith("--")]

    def wanted(name):
        return not filters or any(f in name for f in filters)

    # Words of row names select rows (`loops` the loop rows); no words: every row.
    want = wanted

    if want("W1"):
        # W1: seed Rosenbrock, value + gradient at [-1, 2].
        x0 = jnp.asarray([-1.0, 2.0])
        vg = jax.value_and_grad(rosenbrock)
        f, g = ready(jax.jit(vg)(x0))
        assert float(f) == 104.0 and list(np.asarray(g)) == [396.0, 200.0], (f, g)
        rows.append(row("W1 rosenbrock [-1, 2]", *measure(vg, jax.jit(vg), (x0,))))

    if want("W2"):
        # W2: extended Rosenbrock value + gradient.
        sizes = [1_000, 100_000] if QUICK else [1_000, 100_000, 1_000_000, 10_000_000]
        vg = jax.value_and_grad(extended_rosenbrock)
        for n in sizes:
            x = jnp.asarray(data(n, 7))
            budget = max(BUDGET, 3.0) if n >= 10_000_000 else BUDGET
            rows.append(row(f"W2 ext. rosenbrock n={n:.0e}".replace("e+0", "e").replace("e+", "e") + " f64",
                            *measure(vg, jax.jit(vg), (x,), budget)))
        if not QUICK:
            x = jnp.asarray(data(1_000_000, 7)).astype(jnp.float32)
            rows.append(row("W2 ext. rosenbrock n=1e6 f32", *measure(vg, jax.jit(vg), (x,))))

    if want("W3"):
        # W3: two-layer MLP, log-softmax cross-entropy, value + gradients of the parameters.
        shapes = [(128, 64, 128, 10)] if QUICK else [(128, 64, 128, 10), (256, 784, 256, 10)]
        vg = jax.value_and_grad(mlp_loss)
        for b, d, h, c in shapes:
            args = mlp_args(b, d, h, c)
            rows.append(row(f"W3 mlp ({b}, {d}, {h}, {c})", *measure(vg, jax.jit(vg), args)))

    if want("W4"):
        # W4: second order on W2 (n = 1e5): the gradient of sum(grad(x)^2).
        x = jnp.asarray(data(100_000, 3))
        g2 = jax.grad(gradient_norm)
        rows.append(row("W4 d/dx sum(grad^2), n=1e5", *measure(g2, jax.jit(g2), (x,))))

    if want("W5"):
        # W5: the seed's complex example on a 100 x 100 grid: y and the gradient of sum(y).
        z = complex_grid(100)
        vg = jax.value_and_grad(complex_loss, has_aux=True)
        (_, y), g = ready(jax.jit(vg)(z))
        # JAX's gradient of a real function of z = a + ib is dy/da - i dy/db; MATLAB's (and
        # cranegrad's) is its conjugate, 2 - 3i here. Same cost either way.
        assert np.allclose(np.conj(np.asarray(g)), 2.0 - 3.0j), g.ravel()[:2]
        rows.append(row("W5 complex gradient 100x100", *measure(vg, jax.jit(vg), (z,))))

    if want("LSE"):
        # LSE: log-sum-exp over 1.28M elements, value + gradient (jax.nn.logsumexp: the maximum
        # under stop_gradient, as benches/workloads/models.rs writes it).
        x = 4.0 * jnp.asarray(data(1_280_000, 11))
        vg = jax.value_and_grad(jax.nn.logsumexp)
        rows.append(row("LSE log-sum-exp n=1.28e6, value + gradient", *measure(vg, jax.jit(vg), (x,))))

    if wanted("loops: L1 saddle point, L1b coupled saddle, L2 RK4 fori_loop, L3 LSTM scan"):
        rows.extend(loop_rows())
    linalg_rows(rows, wanted)
    clustering_rows(rows, wanted)
    print_table(rows)


def linalg_rows(rows, wanted):
    """The GP rows at n = 500 and 2,000 and the batched solves (benches/workloads/linalg.rs)."""
    vg = jax.value_and_grad(gp_nll)
    for n in [500, 2_000]:
        name = f"GP nll + grad (RBF, 3 hyperparameters), n={n}"
        if wanted(name):
            rows.append(row(name, *measure(vg, jax.jit(vg), gp_data(n))))
    name = "10000 batched 3x3 solves + grad"
    if wanted(name):
        vg = jax.value_and_grad(batched_solve, argnums=(0, 1))
        rows.append(row(name, *measure(vg, jax.jit(vg), batched_args(10_000)), "d/da and d/db"))


def clustering_rows(rows, wanted):
    """ADBench's GMM objective and the k-means cost (benches/workloads/clustering.rs)."""
    name = "GMM objective + grad (ADBench), d=10 K=25 n=1000"
    if wanted(name):
        vg = jax.value_and_grad(gmm_objective, argnums=(0, 1, 2))
        rows.append(row(name, *measure(vg, jax.jit(vg), gmm_args(10, 25, 1_000))))
    n, k, d = 10_000, 1_000, 16
    args = (jnp.asarray(data(n * d, 51).reshape(n, d)), jnp.asarray(data(k * d, 52).reshape(k, d)))
    name = f"k-means cost, n={n} K={k} d={d}"
    if wanted(name):
        rows.append(row(name, *measure(kmeans_cost, jax.jit(kmeans_cost), args)))
    name = f"k-means cost + grad, n={n} K={k} d={d}"
    if wanted(name):
        vg = jax.value_and_grad(kmeans_cost, argnums=1)
        rows.append(row(name, *measure(vg, jax.jit(vg), args), "d/d centroids"))
    b, dh, classes = 512, 64, 10_000
    name = f"CE softmax cross-entropy of h W + grad, B={b} D={dh} C={classes}"
    if wanted(name):
        h = jnp.asarray(data(b * dh, 61).reshape(b, dh))
        w = jnp.asarray(data(dh * classes, 62).reshape(dh, classes))
        t = np.zeros((b, classes))
        t[np.arange(b), (7919 * np.arange(b)) % classes] = 1.0
        vg = jax.value_and_grad(cross_entropy, argnums=1)
        rows.append(row(name, *measure(vg, jax.jit(vg), (h, w, jnp.asarray(t))), "d/dW"))
    name = f"LS sum((x c' - 1/4)^2), n={n} K={k} d={d}"
    if wanted(name):
        rows.append(row(name, *measure(least_squares, jax.jit(least_squares), args), "value only"))


if __name__ == "__main__":
    main()
