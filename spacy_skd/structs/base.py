"""The verbs every structured distribution shares."""

from __future__ import annotations

from torch import Tensor


class StructuredDistribution:
    """A distribution `P(y) = exp(score(y)) / Z` over the structures of each
    sentence in a batch, with a score that sums over sub-structures.

    Subclasses set `lengths [B]` and provide `log_partition`, `marginals`,
    `argmax`, `score(y)` and `expected_score(dist)`; the information-theoretic
    quantities below follow from those.
    """

    lengths: Tensor

    @property
    def log_partition(self) -> Tensor:
        """`[B]` log Z."""
        raise NotImplementedError

    @property
    def marginals(self) -> Tensor:
        """Marginal probability of each sub-structure."""
        raise NotImplementedError

    @property
    def argmax(self) -> Tensor:
        """The highest-scoring structure of each sentence."""
        raise NotImplementedError

    def score(self, structure: Tensor) -> Tensor:
        """`[B]` unnormalised score of `structure`."""
        raise NotImplementedError

    def expected_score(self, dist: StructuredDistribution) -> Tensor:
        """`[B]` expectation of this distribution's score under `dist`, computed
        from `dist`'s marginals over this distribution's sub-structures."""
        raise NotImplementedError

    def tempered(self, temperature: float) -> StructuredDistribution:
        """The same kind of distribution with every score divided by `temperature`."""
        raise NotImplementedError

    def with_log_partition(self, log_partition: Tensor) -> StructuredDistribution:
        """This distribution with its `log_partition [B]` given: the caller has
        computed it for the same scores (in a larger batch, with a graph of its
        own), so it is not computed again. For subclasses whose `log_partition`
        is a `functools.cached_property`."""
        self.__dict__["log_partition"] = log_partition
        return self

    def log_prob(self, structure: Tensor) -> Tensor:
        """`[B]` log P(structure)."""
        return self.score(structure) - self.log_partition

    @property
    def entropy(self) -> Tensor:
        """`[B]` -sum_y P(y) log P(y)."""
        return self.log_partition - self.expected_score(self)

    def cross_entropy(self, other: StructuredDistribution) -> Tensor:
        """`[B]` -sum_y P_self(y) log P_other(y): needs only this distribution's
        marginals over `other`'s sub-structures and `other`'s log partition
        (the structural KD objective of Wang et al. 2021, self the teacher)."""
        return other.log_partition - other.expected_score(self)

    def kl(self, other: StructuredDistribution) -> Tensor:
        """`[B]` KL(self || other)."""
        return self.cross_entropy(other) - self.entropy
