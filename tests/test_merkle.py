"""RFC 9162 Merkle trees: the published vectors, a reference straight from the RFC's recursive
definitions, and properties over random trees."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinyong.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- Published vectors -----------------------------------------------------------------------
# The 8-entry tree used by Google's RFC 6962 implementations, copied from transparency-dev/merkle:
#   testonly/constants.go    LeafInputs, NodeHashes, RootHashes, CompactTrees
#   testonly/reference_test.go    TestRefInclusionProof, TestRefConsistencyProof
#   proof/verify_test.go    inclusionProofs (1-based leaf numbers there), consistencyProofs
# RFC 9162 hashes exactly as RFC 6962 does, so the same values hold.

LEAF_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]


def h(s: str) -> bytes:
    return bytes.fromhex(s)


# NodeHashes: [level][index]; level 0 holds the leaf hashes.
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# RootHashes, indexed by tree size.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

_NH = NODE_HASHES
# CompactTrees, indexed by tree size: the perfect subtree roots, largest first.
COMPACT_TREES: list[list[bytes]] = [
    [],
    [_NH[0][0]],
    [_NH[1][0]],
    [_NH[1][0], _NH[0][2]],
    [_NH[2][0]],
    [_NH[2][0], _NH[0][4]],
    [_NH[2][0], _NH[1][2]],
    [_NH[2][0], _NH[1][2], _NH[0][6]],
    [_NH[3][0]],
]

# (0-based index, tree size, PATH)
INCLUSION_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (0, 2, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")]),
    (1, 2, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# (old size, new size, PROOF)
CONSISTENCY_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT == ROOTS[0]
    assert root([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


def test_leaf_hashes_match_vectors() -> None:
    assert [leaf_hash(d) for d in LEAF_INPUTS] == NODE_HASHES[0]


def test_node_hashes_match_vectors() -> None:
    for level in range(1, len(NODE_HASHES)):
        below = NODE_HASHES[level - 1]
        for i, want in enumerate(NODE_HASHES[level]):
            assert node_hash(below[2 * i], below[2 * i + 1]) == want


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_vectors(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]


def test_compact_range_matches_vectors() -> None:
    cr = CompactRange()
    for size in range(len(ROOTS)):
        assert cr.size == size
        assert cr.state() == (size, COMPACT_TREES[size])
        assert cr.root() == ROOTS[size]
        assert CompactRange.from_state(size, COMPACT_TREES[size]).root() == ROOTS[size]
        if size < len(LEAVES):
            cr.append(LEAVES[size])


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, path: list[bytes]) -> None:
    assert inclusion_proof(index, LEAVES[:size]) == path
    assert verify_inclusion(index, size, LEAVES[index], path, ROOTS[size])
    # The probes of transparency-dev/merkle's corruptInclusionProof.
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    bad: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index - 1, size, LEAVES[index], path, ROOTS[size]),
        (index + 1, size, LEAVES[index], path, ROOTS[size]),
        (index ^ 2, size, LEAVES[index], path, ROOTS[size]),
        (index, size * 2, LEAVES[index], path, ROOTS[size]),
        (index, size // 2, LEAVES[index], path, ROOTS[size]),
        (index, size, leaf_hash(b"WrongLeaf"), path, ROOTS[size]),
        (index, size, LEAVES[index], path, EMPTY_ROOT),
        (index, size, LEAVES[index], path, some),
        (index, size, LEAVES[index], [*path, b""], ROOTS[size]),
        (index, size, LEAVES[index], [*path, ROOTS[size]], ROOTS[size]),
        (index, size, LEAVES[index], [b"", *path], ROOTS[size]),
        (index, size, LEAVES[index], [ROOTS[size], *path], ROOTS[size]),
    ]
    if path:
        bad.append((index, size, LEAVES[index], path[:-1], ROOTS[size]))
    if len(path) > 1:
        bad.append((index, size, LEAVES[index], [path[0], some, *path[1:]], ROOTS[size]))
    for i in range(len(path)):
        wrong = list(path)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        bad.append((index, size, LEAVES[index], wrong, ROOTS[size]))
    for probe in bad:
        if probe[:2] == (index, size) and probe[2:] == (LEAVES[index], path, ROOTS[size]):
            continue  # index ^ 2 or size // 2 can land back on the valid case
        assert not verify_inclusion(*probe), probe[:2]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, LEAVES[:new]) == proof
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
    if not proof:
        return
    # The probes of transparency-dev/merkle's corruptConsistencyProof.
    r1, r2 = ROOTS[old], ROOTS[new]
    bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, leaf_hash(b"WrongRoot"), r2, proof),
        (old, new, r1, leaf_hash(b"WrongRoot"), proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        bad.append((old, new, r1, r2, wrong))
    for probe in bad:
        assert not verify_consistency(*probe), probe[:2]


def test_degenerate_inclusion() -> None:
    one = leaf_hash(b"data")
    assert verify_inclusion(0, 1, one, [], one)
    assert not verify_inclusion(0, 1, one, [], b"")
    assert not verify_inclusion(0, 1, b"", [], one)
    assert not verify_inclusion(0, 1, b"", [], b"")  # wrong hash size
    for index, size in [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)]:
        assert not verify_inclusion(index, size, one, [], one)
        assert not verify_inclusion(index, size, one, [], EMPTY_ROOT)
    with pytest.raises(ValueError):
        inclusion_proof(0, [])
    with pytest.raises(ValueError):
        inclusion_proof(3, LEAVES[:3])
    with pytest.raises(ValueError):
        inclusion_proof(-1, LEAVES[:3])


def test_degenerate_consistency() -> None:
    a, b = ROOTS[3], ROOTS[5]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, b, [])
    assert verify_consistency(3, 3, a, a, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, b, [])
    assert not verify_consistency(0, 5, a, b, [])  # old root of size 0 must be the empty root
    assert not verify_consistency(3, 3, a, b, [])
    assert not verify_consistency(3, 3, a, a, [EMPTY_ROOT])  # proof where none is due
    assert not verify_consistency(0, 5, EMPTY_ROOT, b, [EMPTY_ROOT])
    assert not verify_consistency(5, 3, b, a, consistency_proof(3, LEAVES[:5]))  # time travel
    assert not verify_consistency(-1, 3, a, a, [])
    assert not verify_consistency(3, 5, a, b, [])
    assert consistency_proof(0, LEAVES) == []
    assert consistency_proof(8, LEAVES) == []
    with pytest.raises(ValueError):
        consistency_proof(9, LEAVES)
    with pytest.raises(ValueError):
        consistency_proof(-1, LEAVES)


def test_from_state_rejects_bad_checkpoints() -> None:
    with pytest.raises(ValueError):
        CompactRange.from_state(3, [LEAVES[0]])  # 3 = 0b11 needs two subtree roots
    with pytest.raises(ValueError):
        CompactRange.from_state(1, [b"short"])
    with pytest.raises(ValueError):
        CompactRange.from_state(-1, [])


# --- Reference: the recursive definitions of RFC 9162 §2.1, transcribed literally -------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]  # d holds leaf hashes already
    k = _k(n)
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def test_reference_reproduces_vectors() -> None:
    for size in range(len(ROOTS)):
        assert ref_mth(LEAVES[:size]) == ROOTS[size]
    for index, size, path in INCLUSION_VECTORS:
        assert ref_path(index, LEAVES[:size]) == path
    for old, new, proof in CONSISTENCY_VECTORS:
        assert ref_subproof(old, LEAVES[:new], True) == proof


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_matches_reference_exhaustively_up_to_40() -> None:
    d = _leaves(40)
    for n in range(1, 41):
        tree = d[:n]
        assert root(tree) == ref_mth(tree)
        for m in range(n):
            assert inclusion_proof(m, tree) == ref_path(m, tree)
        for m in range(1, n + 1):
            assert consistency_proof(m, tree) == ref_subproof(m, tree, True)


# --- Properties ---------------------------------------------------------------------------------


def _flip(b: bytes, bit: int) -> bytes:
    i, j = divmod(bit % (8 * len(b)), 8)
    return b[:i] + bytes([b[i] ^ (1 << j)]) + b[i + 1 :]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200))
def test_every_inclusion_proof_verifies(n: int) -> None:
    d = _leaves(n)
    r = root(d)
    for i in range(n):
        proof = inclusion_proof(i, d)
        assert verify_inclusion(i, n, d[i], proof, r)
        if i:
            assert not verify_inclusion(i - 1, n, d[i], proof, r)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(1, 200))
def test_flipped_bit_fails_inclusion(data: st.DataObject, n: int) -> None:
    d = _leaves(n)
    r = root(d)
    i = data.draw(st.integers(0, n - 1), label="index")
    bit = data.draw(st.integers(0, 255), label="bit")
    proof = inclusion_proof(i, d)
    assert verify_inclusion(i, n, d[i], proof, r)
    assert not verify_inclusion(i, n, _flip(d[i], bit), proof, r)
    assert not verify_inclusion(i, n, d[i], proof, _flip(r, bit))
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        tampered = [*proof[:j], _flip(proof[j], bit), *proof[j + 1 :]]
        assert not verify_inclusion(i, n, d[i], tampered, r)
        assert not verify_inclusion(i, n, d[i], proof[:-1], r)
    assert not verify_inclusion(i, n, d[i], [*proof, r], r)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 200))
def test_compact_range_root_at_every_size(n: int) -> None:
    d = _leaves(n)
    cr = CompactRange()
    assert cr.root() == root([])
    for size in range(1, n + 1):
        cr.append(d[size - 1])
        assert cr.size == size
        assert cr.root() == root(d[:size])
        assert len(cr.state()[1]) == size.bit_count()


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n=st.integers(0, 200))
def test_compact_range_resumes_from_state(data: st.DataObject, n: int) -> None:
    d = _leaves(n)
    cut = data.draw(st.integers(0, n), label="cut")
    first = CompactRange()
    first.extend(d[:cut])
    size, hashes = first.state()
    resumed = CompactRange.from_state(size, hashes)
    resumed.extend(d[cut:])
    assert resumed.size == n
    assert resumed.root() == root(d)
    # state() hands out a copy: appending afterwards leaves the checkpoint alone.
    assert first.state() == (size, hashes)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(1, 200))
def test_consistency_proofs(data: st.DataObject, n: int) -> None:
    d = _leaves(n)
    old = data.draw(st.integers(1, n), label="old")
    bit = data.draw(st.integers(0, 255), label="bit")
    r_old, r_new = root(d[:old]), root(d)
    proof = consistency_proof(old, d)
    assert verify_consistency(old, n, r_old, r_new, proof)
    assert not verify_consistency(old, n, _flip(r_old, bit), r_new, proof)
    assert not verify_consistency(old, n, r_old, _flip(r_new, bit), proof)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        tampered = [*proof[:j], _flip(proof[j], bit), *proof[j + 1 :]]
        assert not verify_consistency(old, n, r_old, r_new, tampered)
        assert not verify_consistency(old, n, r_old, r_new, proof[:-1])
        assert not verify_consistency(old, n, r_old, r_new, [*proof, r_new])
    if old < n:
        # A different history of the same length must not pass as the old tree.
        forked = [*d[: old - 1], leaf_hash(b"fork")]
        assert not verify_consistency(old, n, root(forked), r_new, proof)


# --- Timing -------------------------------------------------------------------------------------


def test_root_of_200k_leaves_is_quick() -> None:
    d = _leaves(200_000)
    t0 = time.perf_counter()
    r = root(d)
    elapsed = time.perf_counter() - t0
    cr = CompactRange()
    cr.extend(d)
    assert cr.root() == r
    # Generous: a few tenths of a second on a laptop; this only catches an accidental O(n²).
    assert elapsed < 5.0, f"root of 200,000 leaves took {elapsed:.2f} s"
