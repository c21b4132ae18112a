"""Training of the built-in model's network: one ReLU hidden layer, softmax output, minibatch Adam.

The input is sparse (a text touches a few hundred of ~70k columns), so each step updates only the
first-layer rows its batch touches ("lazy" Adam: moments of untouched rows wait until their row
is seen again). A step then costs the batch's non-zeros instead of the vocabulary size, which is
what keeps `redline train` well inside its time budget on a loaded 2-core machine. Deterministic:
one seeded generator for initialization and shuffling, and float64 arithmetic in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


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


class _Adam:
    """Adam state for one parameter array; `update` may address a subset of rows."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)

    def step(self, param: np.ndarray, grad: np.ndarray, lr_t: float, rows: np.ndarray | None = None) -> None:
        if rows is None:
            self.m *= _BETA1
            self.m += (1 - _BETA1) * grad
            self.v *= _BETA2
            self.v += (1 - _BETA2) * grad * grad
            param -= lr_t * self.m / (np.sqrt(self.v) + _EPS)
            return
        m = _BETA1 * self.m[rows] + (1 - _BETA1) * grad
        v = _BETA2 * self.v[rows] + (1 - _BETA2) * grad * grad
        self.m[rows], self.v[rows] = m, v
        param[rows] -= lr_t * m / (np.sqrt(v) + _EPS)


def fit(x: sparse.csr_matrix, y: np.ndarray, sample_weight: np.ndarray, n_classes: int, settings: Settings = Settings()) -> Weights:
    """Minimize the sample-weighted cross-entropy (+ L2) of `y` (class indices) given rows of `x`."""
    rng = np.random.RandomState(settings.seed)
    n, d = x.shape
    h = settings.hidden
    # Glorot-uniform initialization, as for any ReLU network of this shape.
    lim1, lim2 = np.sqrt(6 / (d + h)), np.sqrt(12 / (h + n_classes))
    wts = Weights(
        w1=rng.uniform(-lim1, lim1, (d, h)),
        b1=rng.uniform(-lim1, lim1, h),
        w2=rng.uniform(-lim2, lim2, (h, n_classes)),
        b2=rng.uniform(-lim2, lim2, n_classes),
    )
    opt = {name: _Adam(getattr(wts, name).shape) for name in ("w1", "b1", "w2", "b2")}
    onehot = np.eye(n_classes)[y]
    x = x.tocsr()
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
            w1r = wts.w1[rows]
            a1 = xc @ w1r + wts.b1
            hid = np.maximum(a1, 0.0)
            dz = (_softmax(hid @ wts.w2 + wts.b2) - onehot[idx]) * (sample_weight[idx] / nb)[:, None]
            dh = dz @ wts.w2.T
            dh[a1 <= 0] = 0.0
            step += 1
            lr_t = settings.learning_rate * np.sqrt(1 - _BETA2**step) / (1 - _BETA1**step)
            opt["w2"].step(wts.w2, hid.T @ dz + settings.alpha * wts.w2 / nb, lr_t)
            opt["b2"].step(wts.b2, dz.sum(axis=0), lr_t)
            opt["b1"].step(wts.b1, dh.sum(axis=0), lr_t)
            opt["w1"].step(wts.w1, xc.T @ dh + settings.alpha * w1r / nb, lr_t, rows)
    return wts
