"""Compiled kernels of the keyed draws and of derived keys: one loop over the keys each.

A draw is key + counter, SplitMix64's finaliser, its top 53 bits over 2**53. In numpy that
takes about a dozen whole-array passes, each with a fixed cost that dominates for the few keys
most draws have. The results are bit-identical to the numpy version (:func:`popsim.state.rng.mix`
then the 53-bit conversion): uint64 arithmetic wraps the same in both, and a value below 2**53
converts to float64 exactly. The kernels do not check bounds: the wrappers in
:mod:`popsim.state.rng` check the shapes.

Importing this module imports numba and loads (or, the first time, compiles and stores) the
kernels; :mod:`popsim.state.rng` imports it at the first draw, so ``import popsim`` stays
light. The compiled code is cached on disk, so only the first process compiles (about 1.4
CPU-s) and later ones load it (about 0.4 CPU-s, plus 0.3 for importing numba): in
``__pycache__`` next to this file, or in the user's cache folder (``~/.cache/numba``) when the
package folder is read-only, or in ``NUMBA_CACHE_DIR`` if that is set.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / (1 << 53)


def kernel(signature: str) -> Callable[[Callable], Callable]:
    """``numba.njit`` with ``signature``, cached on disk if any cache folder is writable.

    An explicit signature compiles (or loads from the cache) once, when the kernel's module is
    imported, and never again for a new argument type. Without a writable folder numba refuses
    ``cache=True``; the kernels are then compiled in memory, in every process (about 1.4 CPU-s).
    """

    def compile_(func: Callable) -> Callable:
        try:
            return nb.njit(signature, cache=True, nogil=True)(func)
        except RuntimeError as err:
            if "no locator available" not in str(err):
                raise
            return nb.njit(signature, nogil=True)(func)

    return compile_


@kernel("uint64(uint64)")
def _mix(z: int) -> int:
    """SplitMix64's finaliser of one value (:func:`popsim.state.rng.mix`)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@kernel("float64(uint64)")
def _unit(z: int) -> float:
    """The uniform of one pre-mixed value: its hash's top 53 bits over 2**53."""
    return nb.float64(_mix(z) >> _S11) * _TO_UNIT


# The keys must be C-contiguous (the callers make them so): the loops then vectorise, twice as
# fast as over arrays of any layout at 14,000 keys.
@kernel("float64[::1](uint64[::1], uint64)")
def keyed_unit(keys: np.ndarray, counter: int) -> np.ndarray:
    """Uniforms in [0, 1) of ``keys + counter`` (mod 2**64)."""
    out = np.empty(keys.shape[0], dtype=np.float64)
    for i in range(keys.shape[0]):
        out[i] = _unit(keys[i] + counter)
    return out


@kernel("float64[:, ::1](uint64[:, ::1], uint64[::1])")
def keyed_unit_rows(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Row ``j``: the uniforms of ``keys[j] + counters[j]``; one row of ``keys`` serves all."""
    n_rows, n = counters.shape[0], keys.shape[1]
    shared = keys.shape[0] == 1
    out = np.empty((n_rows, n), dtype=np.float64)
    for j in range(n_rows):
        row = keys[0] if shared else keys[j]
        c = counters[j]
        for i in range(n):
            out[j, i] = _unit(row[i] + c)
    return out


@kernel("boolean[::1](uint64[::1], uint64, float64[::1], intp[::1], boolean[::1])")
def keyed_below(
    keys: np.ndarray, counter: int, p: np.ndarray, cell: np.ndarray, where: np.ndarray
) -> np.ndarray:
    """``where & (uniforms of keys + counter < p[cell])``, without storing the uniforms."""
    out = np.empty(keys.shape[0], dtype=np.bool_)
    for i in range(keys.shape[0]):
        out[i] = where[i] & (_unit(keys[i] + counter) < p[cell[i]])
    return out


@kernel("uint64[::1](uint64[::1], uint64[::1])")
def derive(keys: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """``mix(keys + mix(tags))``; one tag for all the keys, or one per key."""
    out = np.empty(keys.shape[0], dtype=np.uint64)
    if tags.shape[0] == 1:
        tag = _mix(tags[0])
        for i in range(keys.shape[0]):
            out[i] = _mix(keys[i] + tag)
    else:
        for i in range(keys.shape[0]):
            out[i] = _mix(keys[i] + _mix(tags[i]))
    return out
