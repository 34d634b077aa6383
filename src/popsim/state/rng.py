"""One seed per run, one named random stream per random process, keyed by person.

Two kinds of randomness, both derived from the run's seed and a process name
(never from the order in which processes run):

* **Keyed draws** for decisions about persons and households. The uniform a
  person gets from process ``name`` in month ``t`` is a hash of (seed, name,
  the person's key, t): a counter-based generator. It depends on nothing else,
  so a person's draws are the same whoever else exists, in whatever row, and
  whatever other levers do. Every person and household carries a 64-bit key:
  initial persons get it from their id, a newborn from the mother's key and
  birth order, a bride from outside from her groom's key. Two scenarios run with
  one seed therefore share every draw of every process a lever did not touch:
  common random numbers that keep paired scenario differences precise.
* **Sequential streams** (``streams[name]``, a numpy Generator) for draws that
  are not about an existing person: the initial population, counts of
  in-migrants, their attributes.

The hash is the SplitMix64 finaliser (Steele, Lea & Flood 2014), applied to
``key + t * golden + stream salt``; its 53 top bits make the uniform. The draws run in
compiled kernels (:mod:`popsim.state.splitmix`, imported at the first draw), and so does
:func:`derive`; :func:`mix` is the same hash in numpy, for the streams' salts.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection of uint64 with full avalanche.

    In numpy, for the streams' salts (a few values per run); the draws use the compiled
    kernels of :mod:`popsim.state.splitmix`.
    """
    z = np.array(z, dtype=np.uint64, ndmin=1)  # arrays wrap; scalars would warn
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def derive(keys: np.ndarray, tag: int | np.ndarray) -> np.ndarray:
    """New keys from parent keys and a tag (birth order, a role): distinct tags, distinct keys.

    ``mix(keys + mix(tag))``, in one compiled pass; ``tag``: one for all keys, or one per key.
    """
    keys = np.ascontiguousarray(keys, dtype=np.uint64).reshape(-1)
    tags = np.ascontiguousarray(tag, dtype=np.uint64).reshape(-1)
    if tags.size not in (1, keys.size):
        raise ValueError(f"derive: {tags.size} tags for {keys.size} keys; give one, or one each")
    return _kernels().derive(keys, tags)


def _name_key(name: str) -> int:
    """A stable 32-bit key for a stream name (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """The random streams of one run.

    Args:
        seed: the run's seed (a non-negative integer).
    """

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.seed = int(seed)
        self._generators: dict[str, np.random.Generator] = {}
        self._salts: dict[str, int] = {}
        self._seed_salt = int(mix((self.seed + int(_GOLDEN)) % (1 << 64))[0])

    def __getitem__(self, name: str) -> np.random.Generator:
        """The sequential generator of process ``name``, created on first use."""
        gen = self._generators.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(_name_key(name),))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._generators[name] = gen
        return gen

    def _counter(self, name: str, t: int) -> int:
        """The value added to every key for process ``name`` in month ``t`` (mod 2**64)."""
        salt = self._salts.get(name)
        if salt is None:
            salt = int(mix(self._seed_salt ^ _name_key(name))[0])
            self._salts[name] = salt
        return (t * int(_GOLDEN) + salt) % (1 << 64)

    def keyed(self, name: str, keys: np.ndarray, t: int) -> np.ndarray:
        """Uniforms in [0, 1) for ``keys`` from process ``name`` in month ``t``."""
        if (
            type(keys) is np.ndarray
            and keys.dtype == np.uint64
            and keys.ndim == 1
            and keys.flags.c_contiguous
        ):
            return _kernels().keyed_unit(keys, self._counter(name, t))
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        return self.keyed(name, keys.reshape(-1), t).reshape(keys.shape)

    def keyed_below(
        self,
        name: str,
        keys: np.ndarray,
        t: int,
        *,
        p: np.ndarray,
        cell: np.ndarray,
        where: np.ndarray,
    ) -> np.ndarray:
        """``where & (keyed(name, keys, t) < p[cell])`` in one pass, the same bits.

        ``p``: a table of probabilities; ``cell``: each key's index into it (not checked);
        ``where``: which keys count (False for the rest). One pass instead of five: it pays
        for draws over the whole person table.
        """
        if not np.shape(keys) == np.shape(cell) == np.shape(where) or np.ndim(keys) != 1:
            raise ValueError("keyed_below: keys, cell and where must be 1-d, of one length")
        c = np.ascontiguousarray
        return _kernels().keyed_below(
            c(keys, dtype=np.uint64),
            self._counter(name, t),
            c(p, dtype=np.float64).reshape(-1),
            c(cell, dtype=np.intp),
            c(where, dtype=np.bool_),
        )

    def keyed_many(self, draws: tuple[tuple[str, int], ...], keys: np.ndarray) -> np.ndarray:
        """:meth:`keyed` of several (process, month) pairs, one row each.

        ``keys``: the keys of every pair, or one row of keys per pair.

        One call for all the pairs: a call's fixed cost dominates for the few keys most
        draws have.
        """
        counters = np.array([self._counter(name, t) for name, t in draws], dtype=np.uint64)
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        if keys.ndim == 1:
            keys = keys[None, :]
        elif keys.ndim != 2 or keys.shape[0] not in (1, len(draws)):
            raise ValueError(
                f"keyed_many: keys of shape {keys.shape} for {len(draws)} draws; give one row "
                "of keys for all, or one row per draw"
            )
        return _kernels().keyed_unit_rows(keys, counters)


_KERNELS = None


def _kernels():
    """:mod:`popsim.state.splitmix`, imported at the first draw (numba costs ~0.3 CPU-s)."""
    global _KERNELS
    if _KERNELS is None:
        from popsim.state import splitmix

        _KERNELS = splitmix
    return _KERNELS
