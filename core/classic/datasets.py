"""Small seeded toy data sets for the classic-ML demos: 2-D classes and 1-D regression.

Each generator returns x: (n, D) float64 and y: (n,) (ints 0..K−1 for classes, floats for
regression); the same seed gives the same rows. Noise is a standard deviation in x's units.
"""

from __future__ import annotations

import numpy as np

CLASSIFICATION = ("moons", "circles", "blobs", "xor")
REGRESSION = ("sine", "step")


def moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles (as scikit-learn's make_moons), classes 0 and 1."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    x = np.concatenate([
        np.stack([np.cos(t0), np.sin(t0)], 1),
        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1),
    ])  # fmt: skip
    y = np.repeat([0, 1], [n0, n - n0])
    return _shuffled(x + noise * rng.normal(size=x.shape), y, rng)


def circles(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A ring of radius 1 (class 0) around one of radius 0.5 (class 1)."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(np.arange(n) < n0, 1.0, 0.5)
    x = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    y = (np.arange(n) >= n0).astype(np.int64)
    return _shuffled(x + noise * rng.normal(size=x.shape), y, rng)


def blobs(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs (classes 0, 1, 2) at the corners of a triangle, spread 0.3 + noise."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-1.0, -0.6], [1.0, -0.6], [0.0, 1.0]])
    y = np.arange(n) % 3
    x = centres[y] + (0.3 + noise) * rng.normal(size=(n, 2))
    return _shuffled(x, y, rng)


def xor(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [−1, 1]²; class 1 where x₁·x₂ > 0 (before the noise is added)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x + noise * rng.normal(size=x.shape), y


def regression_1d(
    shape: str, n: int, noise: float, seed: int, outlier: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in [0, 1] sorted, y = sin(2πx) or a step at 0.5 (−1 → 1), plus noise.

    outlier: added to y of the row nearest x = 0.3 (one outlier; 0 for none).
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, n))
    clean = np.sin(2 * np.pi * x) if shape == "sine" else np.where(x < 0.5, -1.0, 1.0)
    y = clean + noise * rng.normal(size=n)
    y[np.argmin(np.abs(x - 0.3))] += outlier
    return x[:, None], y


def make(
    name: str, n: int, noise: float, seed: int, outlier: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The data set called `name` (CLASSIFICATION or REGRESSION); `outlier` only for 1-D."""
    if n < 1:
        raise ValueError(f"n: at least 1, got {n}")
    if noise < 0:
        raise ValueError(f"noise: at least 0, got {noise}")
    if name in REGRESSION:
        return regression_1d(name, n, noise, seed, outlier)
    generators = {"moons": moons, "circles": circles, "blobs": blobs, "xor": xor}
    if name not in generators:
        raise ValueError(f"name: one of {CLASSIFICATION + REGRESSION}, got {name!r}")
    return generators[name](n, noise, seed)


def _shuffled(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return x[order], y[order]
