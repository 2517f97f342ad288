"""Structured output distributions in pure PyTorch: batched, padded, log-space.

Every class shares the verbs of `StructuredDistribution`: `log_partition`,
`marginals`, `argmax`, `score`, `log_prob`, `entropy`, `cross_entropy`, `kl`.
"""

from .base import StructuredDistribution
from .dependency import DependencyCRF
from .head_selection import HeadSelection
from .linear_chain import LinearChainCRF
from .mst import chu_liu_edmonds, mst
from .semi_markov import SemiMarkovCRF
from .token_softmax import TokenSoftmax

__all__ = [
    "StructuredDistribution",
    "LinearChainCRF",
    "TokenSoftmax",
    "DependencyCRF",
    "HeadSelection",
    "SemiMarkovCRF",
    "mst",
    "chu_liu_edmonds",
]
