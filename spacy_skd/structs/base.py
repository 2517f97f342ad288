"""The verbs every structured distribution shares."""

from __future__ import annotations

from functools import cached_property

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

    @cached_property
    def transition_counts(self) -> Tensor:
        """`[B, L, L]` for distributions over label sequences: the expected count
        of each label bigram (a, c), the sum over positions of `pair_marginals`.
        A CRF student's expected transition score needs only these."""
        return self.pair_marginals.sum(1)

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
        return self.knowing(1.0, log_partition=log_partition)

    def knowing(self, temperature: float, **values: Tensor) -> StructuredDistribution:
        """This distribution, given the values of cached properties (`marginals`,
        `transition_counts`) that were computed before for the same
        scores divided by `temperature` (1: these scores): the properties, and
        those of `tempered(temperature)`, return them instead of computing them.
        For subclasses whose properties are `functools.cached_property` and
        whose `tempered` passes them on (`_pass_known`)."""
        known = self.__dict__.setdefault("_known", {})
        known.setdefault(float(temperature), {}).update(values)
        if float(temperature) == 1.0:
            self.__dict__.update(values)
        return self

    def _pass_known(self, temperature: float, tempered: StructuredDistribution):
        tempered.__dict__.update(self.__dict__.get("_known", {}).get(float(temperature), {}))
        return tempered

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
