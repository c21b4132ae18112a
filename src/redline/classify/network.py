"""Training of the built-in model's network: one ReLU hidden layer, softmax output, minibatch Adam.

The input is sparse (a text touches a few hundred of ~200k columns), so each step updates only the
first-layer rows its batch touches ("lazy" Adam: moments of untouched rows wait until their row
is seen again). A step then costs the batch's non-zeros instead of the vocabulary size, which is
what keeps `redline train` well inside its time budget on a loaded 2-core machine. Deterministic:
one seeded generator for initialization and shuffling, and float32 arithmetic in a fixed order
(the model is stored as float16, so float64 bought nothing but twice the memory traffic of the
row gathers and scatters that dominate a step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

adam_rows: Any
try:  # the compiled row update (`_adam.c`): the same bits, without the gathers and scatters
    from redline.classify._adam import adam_rows
except ImportError:  # pragma: no cover - exercised where no C compiler was available at install
    adam_rows = None


@dataclass(frozen=True)
class Settings:
    hidden: int = 64
    epochs: int = 40
    batch: int = 200
    learning_rate: float = 1e-3
    alpha: float = 1e-3  # L2 penalty, scaled per batch like the loss
    seed: int = 0


@dataclass
class Weights:
    w1: np.ndarray  # (n_inputs, hidden)
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden, n_classes)
    b2: np.ndarray  # (n_classes,)


_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def _softmax(z: np.ndarray) -> np.ndarray:
    p: np.ndarray = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p


def _adam(param: np.ndarray, m: np.ndarray, v: np.ndarray, grad: np.ndarray, lr_t: float) -> None:
    """One Adam update, in place (`grad` is consumed)."""
    m *= _BETA1
    m += (1 - _BETA1) * grad
    grad *= grad
    grad *= 1 - _BETA2
    v *= _BETA2
    v += grad
    step = np.sqrt(v)
    step += _EPS
    np.divide(m, step, out=step)
    step *= lr_t
    param -= step


class _Adam:
    """A parameter array updated whole, with its Adam moments."""

    def __init__(self, param: np.ndarray) -> None:
        self.param = param
        self.m = np.zeros_like(param)
        self.v = np.zeros_like(param)

    def step(self, grad: np.ndarray, lr_t: float) -> None:
        _adam(self.param, self.m, self.v, grad, lr_t)


class _LazyRows(_Adam):
    """The first layer, updated on the rows a batch touches (moments of untouched rows wait until
    their row is seen again). Gathers with `take` and in-place arithmetic: these gathers and
    scatters are most of a training step. (One interleaved array, gathered once, was measured
    slower: the update then runs on strided views.)"""

    def gather(self, rows: np.ndarray) -> np.ndarray:
        return np.take(self.param, rows, axis=0)

    def step_rows(self, rows: np.ndarray, w1r: np.ndarray, grad: np.ndarray, lr_t: float) -> None:
        """One Adam step on rows `rows` of the weights and their moments (`w1r`: those rows as
        `gather(rows)` returned them for this step; the Python path updates it and writes it back)."""
        if adam_rows is not None:
            adam_rows(self.param, self.m, self.v, rows.astype(np.int64, copy=False), grad, lr_t, _BETA1, _BETA2, _EPS)
            return
        m, v = np.take(self.m, rows, axis=0), np.take(self.v, rows, axis=0)
        _adam(w1r, m, v, grad, lr_t)
        self.param[rows], self.m[rows], self.v[rows] = w1r, m, v


def fit(x: sparse.csr_matrix, y: np.ndarray, sample_weight: np.ndarray, n_classes: int, settings: Settings = Settings()) -> Weights:
    """Minimize the sample-weighted cross-entropy (+ L2) of `y` (class indices) given rows of `x`."""
    rng = np.random.RandomState(settings.seed)
    n, d = x.shape
    h = settings.hidden
    # Glorot-uniform initialization, as for any ReLU network of this shape.
    lim1, lim2 = np.sqrt(6 / (d + h)), np.sqrt(12 / (h + n_classes))
    wts = Weights(
        w1=rng.uniform(-lim1, lim1, (d, h)).astype(np.float32),
        b1=rng.uniform(-lim1, lim1, h).astype(np.float32),
        w2=rng.uniform(-lim2, lim2, (h, n_classes)).astype(np.float32),
        b2=rng.uniform(-lim2, lim2, n_classes).astype(np.float32),
    )
    first = _LazyRows(wts.w1)
    w2, b1, b2 = _Adam(wts.w2), _Adam(wts.b1), _Adam(wts.b2)
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    sample_weight = sample_weight.astype(np.float32)
    x = x.tocsr().astype(np.float32)
    step = 0
    for _ in range(settings.epochs):
        order = rng.permutation(n)
        for start in range(0, n, settings.batch):
            idx = order[start : start + settings.batch]
            nb = len(idx)
            xb = x[idx]
            # Compact the batch to the columns it touches: the forward and backward passes then
            # read and write only those rows of w1.
            rows, local = np.unique(xb.indices, return_inverse=True)
            xc = sparse.csr_matrix((xb.data, local, xb.indptr), shape=(nb, len(rows)))
            w1r = first.gather(rows)
            a1 = xc @ w1r + b1.param
            hid = np.maximum(a1, 0.0)
            dz = (_softmax(hid @ w2.param + b2.param) - onehot[idx]) * (sample_weight[idx] / nb)[:, None]
            dh = dz @ w2.param.T
            dh[a1 <= 0] = 0.0
            step += 1
            lr_t = float(settings.learning_rate * np.sqrt(1 - _BETA2**step) / (1 - _BETA1**step))
            grad_w1 = xc.T @ dh + settings.alpha * w1r / nb
            w2.step(hid.T @ dz + settings.alpha * w2.param / nb, lr_t)
            b2.step(dz.sum(axis=0), lr_t)
            b1.step(dh.sum(axis=0), lr_t)
            first.step_rows(rows, w1r, grad_w1, lr_t)
    return wts
