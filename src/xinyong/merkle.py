"""Merkle trees of RFC 9162 (Certificate Transparency 2.0), SHA-256: roots, compact ranges,
inclusion and consistency proofs. Pure: no IO.

Every function below except `leaf_hash` works on leaf hashes, never on raw entries, so callers
hash each entry once and may keep the hashes instead of the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
# RFC 9162 §2.1.1: MTH({}) = HASH(), the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
# Distinct prefixes keep a leaf from ever being passed off as an inner node (second preimages).
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) without copying the slice first."""
    if end <= start:
        return EMPTY_ROOT
    sha = _sha256
    # Pairing neighbours level by level, carrying an odd last node up unchanged, gives the
    # same tree as RFC 9162's split at the largest power of two: the left part always has an
    # even number of nodes until it is a single one, so pairs never straddle the split.
    level = [sha(_NODE + leaves[i] + leaves[i + 1]).digest() for i in range(start, end - 1, 2)]
    if (end - start) & 1:
        level.append(leaves[end - 1])
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        # strict=False: an odd last node has no partner here; it is carried just below.
        pairs = zip(level[0::2], level[1::2], strict=False)
        level = [sha(_NODE + a + b).digest() for a, b in pairs]
        if odd is not None:
            level.append(odd)
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH (RFC 9162 §2.1.1) over leaf hashes; EMPTY_ROOT for no leaves."""
    return _mth(leaves, 0, len(leaves))


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size), largest first.

    One hash per set bit of size, so O(log n) memory; enough to append and to compute the root.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Resume from `state()`; rejects a hash count that does not match size."""
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"size {size} needs {size.bit_count()} hashes, got {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"every hash must be {HASH_SIZE} bytes")
        cr = cls()
        cr._size = size
        cr._hashes = [bytes(h) for h in hashes]
        return cr

    @property
    def size(self) -> int:
        """Number of leaves appended."""
        return self._size

    def state(self) -> tuple[int, list[bytes]]:
        """(size, subtree roots largest first): a checkpoint for `from_state`."""
        return self._size, list(self._hashes)

    def append(self, h: bytes) -> None:
        """Append one leaf hash."""
        hashes = self._hashes
        hashes.append(h)
        # Each trailing 1 bit of the old size is a subtree as large as the one just completed,
        # so they merge like a binary carry.
        n = self._size
        while n & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            n >>= 1
        self._size += 1

    def extend(self, hs: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for h in hs:
            self.append(h)

    def root(self) -> bytes:
        """MTH of all leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        # Smaller subtrees sit to the right, so fold from the right: the RFC's right-hand
        # MTH(D[k:n]) is itself the fold of the remaining smaller subtrees.
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1, leaf-side sibling first."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"index {index} outside tree of size {n}")
    siblings: list[bytes] = []
    start, end, m = 0, n, index
    # Walk down from the root; the siblings come out root-first, the reverse of PATH's order.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            siblings.append(_mth(leaves, start + k, end))
            end = start + k
        else:
            siblings.append(_mth(leaves, start, start + k))
            start, m = start + k, m - k
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or n."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} outside 0..{n}")
    if old_size in (0, n):
        return []
    siblings: list[bytes] = []
    start, end, m, complete = 0, n, old_size, True
    # SUBPROOF(m, D[start:end], complete) unrolled: each step appends one sibling after the
    # inner proof, so collect root-first and reverse at the end.
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            siblings.append(_mth(leaves, start + k, end))
            end = start + k
        else:
            siblings.append(_mth(leaves, start, start + k))
            start, m, complete = start + k, m - k, False
    # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old root is not a node the verifier has.
    if not complete:
        siblings.append(_mth(leaves, start, end))
    siblings.reverse()
    return siblings


def _all_hashes(*hs: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hs)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` put leaf hash `leaf` at `index` of the tree `root`?"""
    # 1. An index outside the tree proves nothing.
    if not 0 <= index < size:
        return False
    # Not in the RFC's steps, but a SHA-256 tree has 32-byte nodes only; without this an
    # empty leaf and an empty root would "verify" for size 1.
    if not _all_hashes(leaf, root, *proof):
        return False
    # 2-3.
    fn, sn = index, size - 1
    r = leaf
    # 4.
    for p in proof:
        if sn == 0:  # a. more proof than tree height
            return False
        if fn & 1 or fn == sn:  # b. we are a right child, or the last node of the level
            r = node_hash(p, r)
            if not fn & 1:
                # The last node of a level may be carried up several levels without a sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # c.
        sn >>= 1
    # 5. sn == 0 also rejects a proof too short to reach the root.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree `new_root` of `new_size` an append-only extension of
    `old_root` of `old_size`?"""
    if not 0 <= old_size <= new_size:
        return False
    if not _all_hashes(old_root, new_root, *proof):
        return False
    # The RFC's algorithm covers 0 < first < second; the two trivial cases need no proof, and
    # any proof offered for them is malformed.
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
    if old_size == new_size:
        return not proof and old_root == new_root
    # 1.
    if not proof:
        return False
    path = list(proof)
    # 2. The old root of a power-of-two tree is a node of the new tree, so it is left out of
    # the proof and the verifier supplies it.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3.
    fn, sn = old_size - 1, new_size - 1
    # 4. Skip the levels where the old tree's last node is a right child already covered by
    # the first proof element.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # c.
        sn >>= 1
    # 7.
    return sn == 0 and fr == old_root and sr == new_root
