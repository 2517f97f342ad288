"""`to_numpy`: model outputs of any device as numpy arrays on the CPU."""

import numpy
import pytest
import torch
from thinc.util import has_cupy_gpu

from spacy_skd.arrays import to_numpy


def test_a_numpy_array_comes_back_uncopied_unless_its_dtype_changes():
    array = numpy.arange(6, dtype="float32").reshape(2, 3)
    assert to_numpy(array) is array
    assert to_numpy(array, dtype="float32") is array
    as_float64 = to_numpy(array, dtype="float64")
    assert as_float64.dtype == numpy.float64
    numpy.testing.assert_array_equal(as_float64, array)
    assert to_numpy([[1, 2], [3, 4]], dtype="int64").tolist() == [[1, 2], [3, 4]]


def test_a_torch_tensor_that_needs_grad_becomes_numpy():
    tensor = torch.linspace(-1, 1, 6).reshape(3, 2).requires_grad_()
    array = to_numpy(tensor * 2, dtype="float64")
    assert isinstance(array, numpy.ndarray) and array.dtype == numpy.float64
    numpy.testing.assert_allclose(array, 2 * tensor.detach().numpy())


@pytest.mark.gpu
@pytest.mark.skipif(not has_cupy_gpu, reason="needs a CUDA device and CuPy")
def test_gpu_arrays_come_to_the_cpu():
    import cupy

    array = to_numpy(cupy.arange(6, dtype="float32").reshape(2, 3))
    assert isinstance(array, numpy.ndarray)
    numpy.testing.assert_array_equal(array, numpy.arange(6, dtype="float32").reshape(2, 3))
    tensor = to_numpy(torch.ones(2, 3, device="cuda"), dtype="float32")
    assert isinstance(tensor, numpy.ndarray) and tensor.sum() == 6
