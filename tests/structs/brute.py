"""Brute-force oracles for ``spacy_skd.structs``.

Everything here is written from the specification only, by explicit
enumeration of every structure of a (tiny) distribution.  Each batch element
becomes an :class:`Enumerated` object holding a LongTensor describing every
structure and a (differentiable) tensor with the unnormalised score of each.
All statistics (log-partition, marginals, entropy, ...) are then computed
from the explicit list with plain ``logsumexp`` / ``softmax``.
"""

from __future__ import annotations

import itertools
from functools import cache

import torch
import torch.nn.functional as F

F64 = torch.float64
SCHEMES = ("BIO", "BILUO")


# --------------------------------------------------------------------------
# Generic enumerated distribution
# --------------------------------------------------------------------------
class Enumerated:
    """One batch element's distribution, by explicit enumeration.

    ``structs``: LongTensor [S, ...] (one row per structure).
    ``scores``: Tensor [S], the unnormalised score of each structure.
    """

    def __init__(self, structs: torch.Tensor, scores: torch.Tensor, **extra):
        assert structs.shape[0] == scores.shape[0] > 0
        self.structs = structs
        self.scores = scores
        self.extra = extra

    @property
    def size(self) -> int:
        return int(self.scores.shape[0])

    @property
    def log_partition(self) -> torch.Tensor:
        return torch.logsumexp(self.scores, 0)

    @property
    def log_probs(self) -> torch.Tensor:
        return torch.log_softmax(self.scores, 0)

    @property
    def probs(self) -> torch.Tensor:
        return torch.softmax(self.scores, 0)

    @property
    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.log_probs).sum()

    def cross_entropy(self, other: Enumerated) -> torch.Tensor:
        assert torch.equal(self.structs, other.structs)
        return -(self.probs * other.log_probs).sum()

    def kl(self, other: Enumerated) -> torch.Tensor:
        assert torch.equal(self.structs, other.structs)
        return (self.probs * (self.log_probs - other.log_probs)).sum()

    @property
    def max_score(self) -> torch.Tensor:
        return self.scores.max()

    @property
    def best(self) -> torch.Tensor:
        return self.structs[int(self.scores.argmax())]

    def index_of(self, struct) -> int:
        struct = torch.as_tensor(struct, dtype=torch.long, device=self.structs.device)
        hits = self.structs == struct.reshape(1, *self.structs.shape[1:])
        hits = hits.reshape(self.size, -1).all(1).nonzero()
        return int(hits[0, 0]) if hits.numel() else -1


def stack_stat(enums, name):
    return torch.stack([getattr(e, name) for e in enums])


def stack_pair(enums, others, name):
    return torch.stack([getattr(e, name)(o) for e, o in zip(enums, others)])


# --------------------------------------------------------------------------
# Random inputs
# --------------------------------------------------------------------------
def rand_scores(gen: torch.Generator, *shape, scale: float = 3.0, dtype=F64, device="cpu"):
    """Uniform scores in [-scale, scale]."""
    x = (torch.rand(*shape, generator=gen, dtype=F64) * 2.0 - 1.0) * scale
    return x.to(dtype=dtype, device=device)


def as_lengths(lengths, device="cpu") -> torch.Tensor:
    return torch.tensor(list(lengths), dtype=torch.long, device=device)


# --------------------------------------------------------------------------
# Tag sequences: LinearChainCRF and TokenSoftmax
# --------------------------------------------------------------------------
@cache
def _tag_sequences(n: int, L: int) -> torch.Tensor:
    rows = list(itertools.product(range(L), repeat=n))
    return torch.tensor(rows, dtype=torch.long).reshape(len(rows), n)


def _per_batch(x, B, tail, like):
    if x is None:
        return torch.zeros(B, *tail, dtype=like.dtype, device=like.device)
    if x.dim() == len(tail):
        return x.unsqueeze(0).expand(B, *tail)
    return x


def chain_score(emissions, transitions, tags, start=None, end=None):
    """Score of tag sequences ``tags`` [S, n] for ONE sentence (emissions [n, L])."""
    n = tags.shape[1]
    pos = torch.arange(n, device=tags.device).unsqueeze(0)
    s = emissions[pos, tags].sum(1)
    if start is not None:
        s = s + start[tags[:, 0]]
    if end is not None:
        s = s + end[tags[:, -1]]
    if n > 1:
        s = s + transitions[tags[:, :-1], tags[:, 1:]].sum(1)
    return s


def chain_enumerations(emissions, transitions, lengths, start=None, end=None):
    """List (over the batch) of Enumerated distributions over tag sequences."""
    B, N, L = emissions.shape
    if transitions is None:
        transitions = torch.zeros(L, L, dtype=emissions.dtype, device=emissions.device)
    trans = _per_batch(transitions, B, (L, L), emissions)
    st = _per_batch(start, B, (L,), emissions)
    en = _per_batch(end, B, (L,), emissions)
    out = []
    for b in range(B):
        n = int(lengths[b])
        seqs = _tag_sequences(n, L).to(emissions.device)
        scores = chain_score(emissions[b, :n], trans[b], seqs, st[b], en[b])
        out.append(Enumerated(seqs, scores))
    return out


def softmax_enumerations(logits, lengths):
    return chain_enumerations(logits, None, lengths)


def chain_marginals(enums, N, L):
    """Unary marginals [B, N, L] (0 at padding)."""
    out = []
    for e in enums:
        n = e.structs.shape[1]
        oh = F.one_hot(e.structs, L).to(e.scores.dtype)
        m = torch.einsum("s,snl->nl", e.probs, oh)
        out.append(F.pad(m, (0, 0, 0, N - n)))
    return torch.stack(out)


def chain_pair_marginals(enums, N, L):
    """Pair marginals [B, N-1, L, L] (0 where i+1 >= n)."""
    out = []
    for e in enums:
        n = e.structs.shape[1]
        dtype, dev = e.scores.dtype, e.scores.device
        if n > 1:
            idx = e.structs[:, :-1] * L + e.structs[:, 1:]
            oh = F.one_hot(idx, L * L).to(dtype)
            m = torch.einsum("s,snk->nk", e.probs, oh).reshape(n - 1, L, L)
        else:
            m = torch.zeros(0, L, L, dtype=dtype, device=dev)
        out.append(F.pad(m, (0, 0, 0, 0, 0, (N - 1) - (n - 1))))
    return torch.stack(out)


def pad_tags(enums, chosen, N, fill=-1, gen=None, L=None):
    """Build a [B, N] tag tensor from chosen structure indices; padding = ``fill``.

    ``fill='random'`` fills padding with random labels in [0, L).
    """
    B = len(enums)
    out = torch.full((B, N), -1, dtype=torch.long)
    for b, (e, k) in enumerate(zip(enums, chosen)):
        row = e.structs[k].cpu()
        n = row.shape[0]
        out[b, :n] = row
        if n < N:
            if fill == "random":
                out[b, n:] = torch.randint(0, L, (N - n,), generator=gen)
            else:
                out[b, n:] = fill
    return out


# --------------------------------------------------------------------------
# Dependency trees and head vectors
# --------------------------------------------------------------------------
def is_tree(heads) -> bool:
    """``heads``: sequence of length n+1, heads[0] ignored, words 1..n."""
    n = len(heads) - 1
    for d in range(1, n + 1):
        h = heads[d]
        if not (0 <= h <= n) or h == d:
            return False
    for d in range(1, n + 1):
        seen = set()
        x = d
        while x != 0:
            if x in seen:
                return False
            seen.add(x)
            x = heads[x]
    return True


def root_children(heads) -> int:
    return sum(1 for d in range(1, len(heads)) if heads[d] == 0)


def arcs_cross(a, b) -> bool:
    (l1, r1), (l2, r2) = sorted(a), sorted(b)
    return (l1 < l2 < r1 < r2) or (l2 < l1 < r2 < r1)


def is_projective(heads) -> bool:
    arcs = [(heads[d], d) for d in range(1, len(heads))]
    return not any(arcs_cross(a, b) for a, b in itertools.combinations(arcs, 2))


def in_tree_space(heads, projective: bool, single_root: bool) -> bool:
    if not is_tree(heads):
        return False
    if single_root and root_children(heads) != 1:
        return False
    if projective and not is_projective(heads):
        return False
    return True


@cache
def _head_vectors(n: int, space) -> torch.Tensor:
    """All head vectors for words 1..n, as LongTensor [S, n] (column d-1 = head of d).

    ``space`` is "all" (every head vector with h != d) or a pair
    (projective, single_root) selecting well-formed trees.
    """
    rows = []
    for combo in itertools.product(range(n + 1), repeat=n):
        heads = (-1,) + combo
        if any(heads[d] == d for d in range(1, n + 1)):
            continue
        if space != "all" and not in_tree_space(heads, *space):
            continue
        rows.append(combo)
    return torch.tensor(rows, dtype=torch.long).reshape(len(rows), n)


def arc_score(arc, heads):
    """Score of head vectors ``heads`` [S, n] under ONE arc matrix [N+1, N+1]."""
    n = heads.shape[1]
    deps = torch.arange(1, n + 1, device=heads.device).unsqueeze(0)
    return arc[heads, deps].sum(1)


def dependency_enumerations(arc_scores, lengths, space):
    out = []
    for b in range(arc_scores.shape[0]):
        n = int(lengths[b])
        hv = _head_vectors(n, space).to(arc_scores.device)
        out.append(Enumerated(hv, arc_score(arc_scores[b], hv)))
    return out


def tree_enumerations(arc_scores, lengths, projective=False, single_root=True):
    return dependency_enumerations(arc_scores, lengths, (bool(projective), bool(single_root)))


def head_selection_enumerations(arc_scores, lengths):
    return dependency_enumerations(arc_scores, lengths, "all")


def arc_marginals(enums, N):
    """marginals [B, N+1, N+1] with m[b, h, d] = P(head(d) = h)."""
    out = []
    for e in enums:
        n = e.structs.shape[1]
        oh = F.one_hot(e.structs, n + 1).to(e.scores.dtype)  # [S, n(d), n+1(h)]
        m = torch.einsum("s,sdh->hd", e.probs, oh)  # [n+1, n]
        out.append(F.pad(m, (1, N - n, 0, N - n)))
    return torch.stack(out)


def pad_heads(enums, chosen, N, fill=-1, gen=None):
    """[B, N+1] head tensor; entry 0 and padding = ``fill`` ('random' = garbage)."""
    B = len(enums)
    out = torch.full((B, N + 1), -1, dtype=torch.long)
    for b, (e, k) in enumerate(zip(enums, chosen)):
        row = e.structs[k].cpu()
        n = row.shape[0]
        out[b, 1 : n + 1] = row
        if fill == "random":
            out[b, 0] = int(torch.randint(0, N + 1, (1,), generator=gen))
            if n < N:
                out[b, n + 1 :] = torch.randint(0, N + 1, (N - n,), generator=gen)
        else:
            out[b, 0] = fill
            out[b, n + 1 :] = fill
    return out


def catalan_like_counts(n: int, projective: bool, single_root: bool) -> int:
    """Closed-form number of trees over n words (independent sanity check)."""
    from math import comb

    if not projective:
        return n ** (n - 1) if single_root else (n + 1) ** (n - 1)
    if single_root:  # A006013(n-1) = C(3m+1, m)/(m+1), m = n-1
        m = n - 1
        return comb(3 * m + 1, m) // (m + 1)
    return comb(3 * n, n) // (2 * n + 1)


def garbage_in_ignored_arcs(arc, lengths, gen, value=1e3):
    """Overwrite diagonal, column 0 and padded rows/columns with noise of size ``value``."""
    out = arc.clone()
    N = arc.shape[-1] - 1
    for b, n in enumerate(lengths.tolist()):
        noise = rand_scores(gen, N + 1, N + 1, scale=value)
        mask = torch.zeros(N + 1, N + 1, dtype=torch.bool)
        mask[:, 0] = True
        mask[torch.arange(N + 1), torch.arange(N + 1)] = True
        mask[n + 1 :, :] = True
        mask[:, n + 1 :] = True
        out[b][mask] = noise[mask]
    return out


# --------------------------------------------------------------------------
# Semi-Markov segmentations and tag schemes
# --------------------------------------------------------------------------
def num_tags(scheme: str, E: int) -> int:
    return 1 + (2 if scheme == "BIO" else 4) * E


def span_to_tags(scheme: str, w: int, e: int):
    if scheme == "BIO":
        return [1 + 2 * e] + [2 + 2 * e] * (w - 1)
    if w == 1:
        return [4 + 4 * e]
    return [1 + 4 * e] + [2 + 4 * e] * (w - 2) + [3 + 4 * e]


def segments_to_tags(scheme, segments, n):
    tags = [None] * n
    for seg in segments:
        if seg[0] == "O":
            tags[seg[1]] = 0
        else:
            i, w, e = seg
            tags[i : i + w] = span_to_tags(scheme, w, e)
    assert None not in tags
    return tags


def decode_tags(tags, scheme: str, E: int):
    """Decode a tag list into segments [('O', i) | (i, w, e)], or None if invalid."""
    tags = [int(t) for t in tags]
    n = len(tags)
    T = num_tags(scheme, E)
    if any(not (0 <= t < T) for t in tags):
        return None
    segs, i = [], 0
    while i < n:
        t = tags[i]
        if t == 0:
            segs.append(("O", i))
            i += 1
            continue
        if scheme == "BIO":
            e, kind = (t - 1) // 2, (t - 1) % 2  # 0 = B, 1 = I
            if kind != 0:
                return None
            j = i + 1
            while j < n and tags[j] == 2 + 2 * e:
                j += 1
            segs.append((i, j - i, e))
            i = j
        else:
            e, kind = (t - 1) // 4, (t - 1) % 4  # 0 B, 1 I, 2 L, 3 U
            if kind == 3:
                segs.append((i, 1, e))
                i += 1
                continue
            if kind != 0:
                return None
            j = i + 1
            while j < n and tags[j] == 2 + 4 * e:
                j += 1
            if j >= n or tags[j] != 3 + 4 * e:
                return None
            segs.append((i, j - i + 1, e))
            i = j + 1
    return segs


def segmentation_score(span_scores, outside, segments):
    """Score of a segmentation for ONE sentence (span_scores [N, K, E], outside [N] or None)."""
    s = span_scores.new_zeros(())
    for seg in segments:
        if seg[0] == "O":
            if outside is not None:
                s = s + outside[seg[1]]
        else:
            i, w, e = seg
            s = s + span_scores[i, w - 1, e]
    return s


@cache
def _segmentations(n: int, K: int, E: int, scheme: str):
    """(tags [S, n], span indicator [S, n, K, E] bool, outside indicator [S, n] bool)."""
    segs_all = []

    def rec(i, acc):
        if i == n:
            segs_all.append(list(acc))
            return
        acc.append(("O", i))
        rec(i + 1, acc)
        acc.pop()
        for w in range(1, min(K, n - i) + 1):
            for e in range(E):
                acc.append((i, w, e))
                rec(i + w, acc)
                acc.pop()

    rec(0, [])
    S = len(segs_all)
    tags = torch.zeros(S, n, dtype=torch.long)
    span_ind = torch.zeros(S, n, K, E, dtype=torch.bool)
    out_ind = torch.zeros(S, n, dtype=torch.bool)
    for s, segs in enumerate(segs_all):
        tags[s] = torch.tensor(segments_to_tags(scheme, segs, n))
        for seg in segs:
            if seg[0] == "O":
                out_ind[s, seg[1]] = True
            else:
                i, w, e = seg
                span_ind[s, i, w - 1, e] = True
    return tags, span_ind, out_ind


def count_segmentations(n: int, K: int, E: int) -> int:
    """Independent recurrence for the number of segmentations."""
    f = [0] * (n + 1)
    f[n] = 1
    for i in range(n - 1, -1, -1):
        f[i] = f[i + 1] + E * sum(f[i + w] for w in range(1, min(K, n - i) + 1))
    return f[0]


def semimarkov_enumerations(span_scores, lengths, outside=None, scheme="BIO"):
    B, N, K, E = span_scores.shape
    dev, dtype = span_scores.device, span_scores.dtype
    out = []
    for b in range(B):
        n = int(lengths[b])
        tags, span_ind, out_ind = _segmentations(n, K, E, scheme)
        span_ind = span_ind.to(device=dev, dtype=dtype)
        out_ind = out_ind.to(device=dev, dtype=dtype)
        scores = (span_ind * span_scores[b, :n].unsqueeze(0)).sum((1, 2, 3))
        if outside is not None:
            scores = scores + out_ind @ outside[b, :n]
        out.append(Enumerated(tags.to(dev), scores, span_ind=span_ind, out_ind=out_ind))
    return out


def span_marginals(enums, N):
    out = []
    for e in enums:
        si = e.extra["span_ind"]
        n = si.shape[1]
        m = torch.einsum("s,snke->nke", e.probs, si)
        out.append(F.pad(m, (0, 0, 0, 0, 0, N - n)))
    return torch.stack(out)


def tag_marginals(enums, N, T):
    return chain_marginals(enums, N, T)


def tag_pair_marginals(enums, N, T):
    return chain_pair_marginals(enums, N, T)


# --------------------------------------------------------------------------
# Structural checks used by the fuzz tests (no enumeration)
# --------------------------------------------------------------------------
def check_tree(heads_row, n, projective, single_root):
    """Return an error string for a [N+1] head row, or None if well formed."""
    row = [int(h) for h in heads_row]
    if row[0] != -1:
        return f"entry 0 is {row[0]}, expected -1"
    if any(h != -1 for h in row[n + 1 :]):
        return f"padding {row[n + 1 :]} not -1"
    heads = row[: n + 1]
    if not is_tree(heads):
        return f"not a tree: {heads}"
    if single_root and root_children(heads) != 1:
        return f"{root_children(heads)} root children: {heads}"
    if projective and not is_projective(heads):
        return f"not projective: {heads}"
    return None


# --------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------
def assert_close(actual, expected, atol=1e-6, rtol=1e-7, msg=""):
    actual = torch.as_tensor(actual)
    expected = torch.as_tensor(expected)
    assert actual.shape == expected.shape, (
        f"{msg} shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    )
    a = actual.detach().to("cpu", F64)
    e = expected.detach().to("cpu", F64)
    assert torch.isfinite(a).all(), f"{msg} non-finite values:\n{a}"
    torch.testing.assert_close(
        a, e, atol=atol, rtol=rtol, msg=lambda m: f"{msg}\n{m}\ngot:\n{a}\nexpected:\n{e}"
    )
