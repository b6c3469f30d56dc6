"""Unpickle untrusted CIFAR batches: plain containers and small integer numpy arrays only.

numpy's own `_reconstruct` and `ndarray.__setstate__` trust the pickle: an object
dtype makes numpy read pointers out of the data, and a shape that does not match
the data makes it allocate by the declared shape (both crash the process). So
numpy is never called while unpickling: the three numpy globals a CIFAR batch
names resolve to stand-ins below, which check the dtype against a short list of
integer types and the declared shape against the data length, and only then
build the array with `np.frombuffer` (no allocation beyond the data itself).
"""

import io
import math
import pickle

import numpy as np

from cifar_compare.messages import clip, one_line

# The integer types a CIFAR batch may hold: uint8 pixels, and labels as int32/int64
# arrays where a copy stored them as arrays instead of lists.
ALLOWED_DTYPES = {"u1": np.uint8, "i4": np.int32, "i8": np.int64}
LITTLE_OR_NATIVE = {"<", "|", "="}
MAX_DIMENSIONS = 2  # images (N, 3072) and labels (N,)


class UnsafePickleError(ValueError):
    pass


def _text(value):
    return value.decode("latin1") if isinstance(value, bytes | bytearray) else value


def _short(value, limit=40):
    return clip(repr(value), limit)


NDARRAY = object()  # stands for `numpy.ndarray` while unpickling: only `_reconstruct` takes it


class SafeDtype:
    """Stands for `numpy.dtype(spec, align, copy)`; `__setstate__` gets numpy's dtype state."""

    def __init__(self, spec, align=False, copy=False):
        spec = _text(spec)
        if not isinstance(spec, str) or spec not in ALLOWED_DTYPES:
            raise UnsafePickleError(
                f"refusing dtype {_short(spec)}: only {', '.join(ALLOWED_DTYPES)} "
                "(the integer types of CIFAR batches) are allowed"
            )
        self.dtype = np.dtype(ALLOWED_DTYPES[spec])

    def __setstate__(self, state):
        # (version, byte order, subarray, names, fields, itemsize, alignment, flags)
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            raise UnsafePickleError(f"malformed dtype state {_short(state)}")
        if _text(state[1]) not in LITTLE_OR_NATIVE or state[2:5] != (None, None, None):
            raise UnsafePickleError(
                f"refusing dtype {self.dtype} with byte order or fields {_short(state[1:5])}"
            )


class SafeArray:
    """Stands for an ndarray; `__setstate__` validates numpy's array state, then builds it."""

    array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise UnsafePickleError(f"malformed array state {_short(state)}")
        _version, shape, dtype, fortran, data = state
        if not isinstance(dtype, SafeDtype):
            raise UnsafePickleError(f"array dtype must be a pickled dtype, found {_short(dtype)}")
        if not isinstance(data, bytes | bytearray):
            raise UnsafePickleError(
                f"array data must be raw bytes, found {type(data).__name__} "
                "(object arrays are refused)"
            )
        # The declared shape must match the data length exactly, before anything is built.
        if (
            not isinstance(shape, tuple)
            or len(shape) > MAX_DIMENSIONS
            or not all(type(side) is int and side >= 0 for side in shape)
        ):
            raise UnsafePickleError(f"refusing array shape {_short(shape)}")
        declared = math.prod(shape) * dtype.dtype.itemsize
        if declared != len(data):
            raise UnsafePickleError(
                f"array declares shape {_short(shape)} {dtype.dtype} ({declared} bytes) "
                f"but holds {len(data)} bytes of data"
            )
        flat = np.frombuffer(data, dtype=dtype.dtype)
        self.array = flat.reshape(shape, order="F" if fortran is True else "C")


def _reconstruct(cls, shape, typecode):
    """Stands for numpy's `_reconstruct(ndarray, (0,), b'b')`, the first step of every array."""
    if cls is not NDARRAY or shape != (0,) or _text(typecode) != "b":
        raise UnsafePickleError(f"refusing array reconstruction {_short((shape, typecode))}")
    return SafeArray()


def _latin1_encode(text, encoding="latin1"):
    """Stands for `_codecs.encode`: Python 3 pickles bytes as encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"refusing _codecs.encode of {type(text).__name__}")
    return text.encode("latin1")


STAND_INS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): SafeDtype,
    ("_codecs", "encode"): _latin1_encode,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        stand_in = STAND_INS.get((module, name))
        if stand_in is None:
            raise UnsafePickleError(
                f"refusing to unpickle {clip(module, 60)}.{clip(name, 60)}: "
                "CIFAR batches may only contain numpy arrays, lists, dicts and strings"
            )
        return stand_in

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing a persistent id")


def unwrap(value):
    """The numpy array behind a SafeArray; anything else unchanged."""
    if isinstance(value, SafeArray):
        if value.array is None:
            raise UnsafePickleError("an array without data")
        return value.array
    return value


def load(raw):
    """Unpickle `raw`; raises UnsafePickleError with a one-line reason."""
    try:
        return NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except UnsafePickleError:
        raise
    except Exception as error:  # any other malformed pickle
        reason = one_line(f"{type(error).__name__}: {error}", 120)
        raise UnsafePickleError(f"not a valid CIFAR batch pickle ({reason})") from None
