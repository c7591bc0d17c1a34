#!/usr/bin/env python3
"""The benchmark workloads W1 to W5 of `cargo bench --bench workloads`, in JAX.

Same functions, sizes, input data (the same xorshift generator) and timing rule (medians of
adaptive samples after one warm-up call) as benches/workloads/*.rs; JAX runs on the CPU in
float64. Columns: "eager" is JAX op by op (no jit), "accelerated" is `jit(value_and_grad(f))`
(`jit(grad(...))` for W4, which returns only the gradient, as the Rust workload does). The
table has the layout of `cargo bench --bench workloads`, so the two can be put side by side.

    pip install jax
    python3 benches/compare_jax.py            # QUICK=1 for a short run; name rows to run only those: W2 LSE

Run it on the machine and in the hour you run `cargo bench --bench workloads`, with nothing
else heavy running; compare ratios between the two tables, never digits across machines.
"""

import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

try:
    import jax
    import jax.numpy as jnp
    import numpy as np
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


def want(tag):
    """Rows to run: the command's arguments, each the start of a row's name (all when none)."""
    only = sys.argv[1:]
    return not only or any(tag.startswith(o) or o.startswith(tag) for o in only)


def main():
    rows = []

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

    print()
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, x64; eager = op by op, accelerated = jit")
    print("| workload | eager (dlfeval) | accelerated | hand-written | eager / accelerated | accelerated / hand | note |")
    print("|---|---|---|---|---|---|---|")
    for workload, eager, accelerated, note in rows:
        print(f"| {workload} | {show(eager)} | {show(accelerated)} | - | {eager / accelerated:.2f}x | - | {note} |")


if __name__ == "__main__":
    main()
