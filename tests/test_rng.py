"""Keyed draws: the compiled kernels against a plain-numpy SplitMix64, bit for bit.

A different bit in any uniform would change some decision and so every paired scenario
comparison (and the golden set); the reference below is written from the published
algorithm, independently of ``popsim.state.rng``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from popsim.state.rng import Streams, derive, mix

EDGE_KEYS = np.array(
    [0, 1, 2, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1],
    dtype=np.uint64,
)


def splitmix_unit(keys: np.ndarray, counter: int) -> np.ndarray:
    """Reference: SplitMix64's finaliser of ``keys + counter`` (mod 2**64), top 53 bits / 2**53."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + np.uint64(counter)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53


def random_keys(n: int, seed: int = 0) -> np.ndarray:
    keys = np.random.default_rng(seed).integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    return np.concatenate([EDGE_KEYS, keys])


def same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    return (
        got.dtype == np.float64
        and got.shape == want.shape
        and np.array_equal(got.view(np.uint64), want.view(np.uint64))
    )


# counters that wrap (t * golden + salt past 2**64) and one below 2**63, where a signed
# conversion would still agree
@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
@pytest.mark.parametrize("t", [-120, 0, 1, 359, 2**31])
def test_keyed_is_splitmix64_bit_for_bit(seed, t):
    streams, keys = Streams(seed), random_keys(50_000, seed=seed % 1000)
    for name in ("mortality", "labour_migration", "a stream nobody uses"):
        want = splitmix_unit(keys, streams._counter(name, t))
        assert same_bits(streams.keyed(name, keys, t), want), name
        assert same_bits(streams.keyed(name, keys[::-3], t), want[::-3]), "strided keys"


def test_keyed_takes_any_shape_and_no_keys():
    streams, keys = Streams(3), random_keys(1_000)[:1_000]
    want = splitmix_unit(keys, streams._counter("x", 5))
    assert same_bits(streams.keyed("x", keys.reshape(10, 100), 5), want.reshape(10, 100))
    assert streams.keyed("x", keys[:0], 5).shape == (0,)


@pytest.mark.parametrize("seed", [0, 11])
def test_keyed_many_shares_one_row_of_keys(seed):
    streams, keys = Streams(seed), random_keys(20_000, seed=seed)
    draws = (("method_uptake", 4), ("method_choice", 4), ("larc_refusal", 0), ("x", -7))
    want = np.stack([splitmix_unit(keys, streams._counter(n, t)) for n, t in draws])
    assert same_bits(streams.keyed_many(draws, keys), want)
    assert same_bits(streams.keyed_many(draws, keys[None, :]), want)
    assert same_bits(streams.keyed_many(draws[:1], keys), want[:1])


@pytest.mark.parametrize("seed", [0, 11])
def test_keyed_many_takes_one_row_of_keys_per_draw(seed):
    streams = Streams(seed)
    keys = random_keys(3 * 9_000, seed=seed)[: 3 * 9_000].reshape(3, -1)
    draws = (("bride_joins", 12), ("wants_at_marriage", 12), ("y", 2**31))
    want = np.stack(
        [splitmix_unit(k, streams._counter(n, t)) for k, (n, t) in zip(keys, draws, strict=True)]
    )
    assert same_bits(streams.keyed_many(draws, keys), want)
    assert same_bits(streams.keyed_many(draws, keys[:, ::-1]), want[:, ::-1]), "strided keys"
    # a keyed_many row is the keyed draw of that row's keys
    assert same_bits(
        streams.keyed_many(draws, keys)[1], streams.keyed("wants_at_marriage", keys[1], 12)
    )
    with pytest.raises(ValueError, match="one row of keys"):
        streams.keyed_many(draws, keys[:2])


def splitmix_mix(z: np.ndarray) -> np.ndarray:
    """Reference: SplitMix64's finaliser (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(z, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def test_mix_is_splitmix64():
    keys = random_keys(10_000)
    z = splitmix_mix(keys)
    assert np.array_equal(mix(keys), z)
    assert int(mix(0)[0]) == 0 and int(mix(2**64 - 1)[0]) == int(z[len(EDGE_KEYS) - 1])


def test_derive_is_mix_of_key_plus_mixed_tag():
    keys = random_keys(10_000)
    tags = np.random.default_rng(2).integers(0, 2**64 - 1, keys.size, dtype=np.uint64)
    tags[: EDGE_KEYS.size] = EDGE_KEYS[::-1]
    with np.errstate(over="ignore"):
        for tag in (1, 2**32 + 3, 2**64 - 1):
            want = splitmix_mix(keys + splitmix_mix(np.uint64(tag)))
            assert np.array_equal(derive(keys, tag), want), tag
        assert np.array_equal(derive(keys, tags), splitmix_mix(keys + splitmix_mix(tags)))
    assert derive(keys[:0], 4).shape == (0,)
    with pytest.raises(ValueError, match="tags"):
        derive(keys, tags[:2])


@pytest.mark.parametrize("seed", [0, 5])
def test_keyed_below_is_the_draw_compared_with_the_cell_probability(seed):
    streams, keys = Streams(seed), random_keys(30_000, seed=seed)
    rs = np.random.default_rng(seed)
    p = rs.random((2, 101))  # large probabilities: many keys on each side
    cell = rs.integers(0, p.size, keys.size)
    where = rs.random(keys.size) < 0.7
    u = splitmix_unit(keys, streams._counter("mortality", 9))
    want = where & (u < p.reshape(-1)[cell])
    got = streams.keyed_below("mortality", keys, 9, p=p, cell=cell, where=where)
    assert got.dtype == np.bool_ and np.array_equal(got, want)
    # a probability equal to the uniform is not below it
    at = streams.keyed_below(
        "mortality", keys[:50], 9, p=u[:50], cell=np.arange(50), where=np.ones(50, dtype=bool)
    )
    assert not at.any()


def test_a_fresh_process_loads_the_kernels_from_the_disk_cache(tmp_path):
    # Dask workers, papermill kernels and batch runs each import popsim afresh: only the
    # first process may compile the kernels (over a second), the others load them
    code = (
        "import numba.core.dispatcher as d, popsim.state.splitmix as s; "
        "ks = [v for v in vars(s).values() if isinstance(v, d.Dispatcher)]; "
        "print(len(ks), sum(sum(k.stats.cache_hits.values()) for k in ks), "
        "sum(sum(k.stats.cache_misses.values()) for k in ks))"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        runs.append(tuple(int(x) for x in done.stdout.split()))
    (n, hits, misses), (n2, hits2, misses2) = runs
    assert n == n2 >= 4 and hits == 0 and misses == n, "the first process compiles every kernel"
    assert hits2 == n and misses2 == 0, "a second process must load every kernel from the cache"
