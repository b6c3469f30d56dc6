"""The numpy stand-ins of the batch unpickler, called as the unpickler calls them, with the
states numpy's own pickles hold (`np.dtype("u1").__reduce__()` gives
`(3, '|', None, None, None, -1, -1, 0)`, an array `(1, shape, dtype, fortran, data)`)."""

import pickle

import numpy as np
import pytest
from cifar_compare.data import numpy_pickle
from cifar_compare.data.numpy_pickle import SafeArray, SafeDtype, UnsafePickleError

DTYPE_STATE = (3, "|", None, None, None, -1, -1, 0)


def dtype(spec, state=DTYPE_STATE):
    safe = SafeDtype(spec, False, True)
    safe.__setstate__(state)
    return safe


def array(shape, spec, data, fortran=False):
    safe = numpy_pickle._reconstruct(numpy_pickle.NDARRAY, (0,), b"b")
    safe.__setstate__((1, shape, dtype(spec), fortran, data))
    return numpy_pickle.unwrap(safe)


def refused(call, *args):
    with pytest.raises(UnsafePickleError) as error:
        call(*args)
    return str(error.value)


def test_the_three_integer_dtypes_are_allowed_in_either_byte_order_notation():
    assert [dtype(spec).dtype for spec in ("u1", b"i4", "i8")] == [np.uint8, np.int32, np.int64]
    for order in ("<", "=", b"<"):
        assert dtype("i8", (3, order, None, None, None, -1, -1, 0)).dtype == np.int64
    assert dtype("u1", (*DTYPE_STATE, "extra")).dtype == np.uint8  # numpy's 9-field state


def test_other_dtypes_byte_orders_fields_and_states_are_refused_by_name():
    allowed = "only u1, i4, i8 (the integer types of CIFAR batches) are allowed"
    assert refused(SafeDtype, "f8") == f"refusing dtype 'f8': {allowed}"
    assert refused(SafeDtype, 8) == f"refusing dtype 8: {allowed}"
    assert refused(SafeDtype, "x" * 50) == f"refusing dtype '{'x' * 36}...: {allowed}"
    big = (3, ">", None, None, None, -1, -1, 0)
    assert refused(dtype, "i8", big) == (
        "refusing dtype int64 with byte order or fields ('>', None, None, None)"
    )
    fields = (3, "|", None, ("a",), None, -1, -1, 0)
    assert refused(dtype, "u1", fields).startswith("refusing dtype uint8 with byte order")
    assert refused(dtype, "u1", DTYPE_STATE[:7]) == (
        "malformed dtype state (3, '|', None, None, None, -1, -1)"
    )
    assert refused(dtype, "u1", list(DTYPE_STATE)).startswith("malformed dtype state [3, ")


def test_an_array_is_built_from_its_bytes_in_c_or_fortran_order():
    data = bytes(range(6))
    assert array((2, 3), "u1", data).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert array((2, 3), "u1", data, True).tolist() == [[0, 2, 4], [1, 3, 5]]
    assert array((2, 3), "u1", data, 1).tolist() == [[0, 1, 2], [3, 4, 5]]  # only True is F
    labels = array((2,), "i4", bytearray(b"\x03\0\0\0\x07\0\0\0"))
    assert labels.tolist() == [3, 7] and labels.dtype == np.int32
    assert array((0,), "i8", b"").shape == (0,)


def test_a_shape_that_does_not_match_the_data_is_refused_before_anything_is_built():
    assert refused(array, (2, 3), "u1", bytes(5)) == (
        "array declares shape (2, 3) uint8 (6 bytes) but holds 5 bytes of data"
    )
    assert refused(array, (2,), "i8", bytes(8)) == (
        "array declares shape (2,) int64 (16 bytes) but holds 8 bytes of data"
    )
    for shape in [(1, 1, 1), (-1,), (True,), (2.0,), [2]]:
        assert refused(array, shape, "u1", bytes(2)) == f"refusing array shape {shape!r}"


def test_malformed_array_states_are_refused():
    def state(value):
        SafeArray().__setstate__(value)

    assert refused(state, (1, (2,), dtype("u1"), False)).startswith("malformed array state (1, ")
    assert refused(state, [1, (2,), dtype("u1"), False, b"ab"]).startswith("malformed array")
    assert refused(state, (1, (2,), "u1", False, b"ab")) == (
        "array dtype must be a pickled dtype, found 'u1'"
    )
    assert refused(state, (1, (2,), dtype("u1"), False, [1, 2])) == (
        "array data must be raw bytes, found list (object arrays are refused)"
    )
    assert refused(numpy_pickle.unwrap, SafeArray()) == "an array without data"
    assert numpy_pickle.unwrap([1]) == [1]


def test_only_numpys_own_array_reconstruction_is_taken():
    for args in [(object, (0,), b"b"), (numpy_pickle.NDARRAY, (1,), b"b")]:
        assert refused(numpy_pickle._reconstruct, *args).startswith("refusing array reconstruction")
    assert refused(numpy_pickle._reconstruct, numpy_pickle.NDARRAY, (0,), "B") == (
        "refusing array reconstruction ((0,), 'B')"
    )
    assert isinstance(numpy_pickle._reconstruct(numpy_pickle.NDARRAY, (0,), "b"), SafeArray)


def test_bytes_pickled_by_python_3_are_encoded_as_latin1_only():
    assert numpy_pickle.load(pickle.dumps(b"\xe9t\xe9", 2)) == b"\xe9t\xe9"  # _codecs.encode
    assert numpy_pickle._latin1_encode("\xe9", "latin-1") == b"\xe9"
    assert numpy_pickle._latin1_encode("\xe9") == b"\xe9"
    assert refused(numpy_pickle._latin1_encode, "\xe9", "utf-8") == "refusing _codecs.encode of str"
    assert refused(numpy_pickle._latin1_encode, b"x") == "refusing _codecs.encode of bytes"


def test_python_2_strings_load_as_bytes_as_in_the_official_batches():
    """The official batches were pickled by Python 2: their keys are str of Python 2
    (opcode U), which load as bytes."""
    assert numpy_pickle.load(b"\x80\x02}q\x00U\x04dataq\x01K\x01s.") == {b"data": 1}


def test_numpy_arrays_pickled_by_numpy_load_as_the_same_arrays():
    images = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    labels = np.array([3, 7], np.int64)
    batch = numpy_pickle.load(pickle.dumps({b"data": images, b"labels": labels}, 2))
    assert np.array_equal(numpy_pickle.unwrap(batch[b"data"]), images)
    assert numpy_pickle.unwrap(batch[b"labels"]).tolist() == [3, 7]


def test_other_globals_persistent_ids_and_broken_pickles_are_refused_in_one_line():
    assert refused(numpy_pickle.load, pickle.dumps(np.float64, 2)) == (
        "refusing to unpickle numpy.float64: CIFAR batches may only contain numpy arrays, "
        "lists, dicts and strings"
    )
    long_name = b"\x80\x02c" + b"m" * 100 + b"\n" + b"n" * 100 + b"\n."
    assert refused(numpy_pickle.load, long_name).startswith(
        f"refusing to unpickle {'m' * 57}....{'n' * 57}...: CIFAR batches may only"
    )
    assert refused(numpy_pickle.load, b"\x80\x02P0\n.") == "refusing a persistent id"
    # the reason clipped to 120 characters
    assert refused(numpy_pickle.load, b"\x80\x02F" + b"x" * 200 + b"\n.") == (
        f"not a valid CIFAR batch pickle (ValueError: could not convert string to float: "
        f"'{'x' * 69}...)"
    )
    assert refused(numpy_pickle.load, b"\x80\x02]q\x00(K\x01") == (
        "not a valid CIFAR batch pickle (EOFError: Ran out of input)"
    )
