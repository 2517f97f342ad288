"""Model outputs as numpy arrays on the CPU, whatever device made them: a thinc
model on a GPU returns CuPy arrays and a torch model CUDA tensors, which
`numpy.asarray` refuses."""

from __future__ import annotations

from typing import Any, Optional

import numpy
from thinc.util import is_cupy_array, is_torch_array


def to_numpy(array: Any, dtype: Optional[str] = None) -> numpy.ndarray:
    """`array` (a numpy or CuPy array, a torch tensor, or anything `numpy.asarray`
    takes) as a numpy array, of `dtype` where given; a numpy array of that dtype
    comes back as it is, not copied."""
    if is_torch_array(array):
        array = array.detach().cpu().numpy()
    elif is_cupy_array(array):
        array = array.get()
    return numpy.asarray(array, dtype=dtype)
