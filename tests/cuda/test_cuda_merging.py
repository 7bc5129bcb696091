"""CUDA kernels of the merging layers vs the NumPy reference (tiny shapes: the simulator is slow).

Element-wise merges of equal shapes (one flat index), Keras broadcasting across ranks and over size-1
axes (on one input or on both), three inputs, after a Dense; Concatenate on the last, a middle, a
negative and the batch axis, of two and three inputs.
"""
import pytest
from cuda_harness import check_case


def model(*lines: str, sizes: str = "batch, T") -> str:
    return f"model M({sizes}):\n" + "".join(f"    {line}\n" for line in lines)


X, Y = "x = input (batch, T, 4)", "y = input (batch, T, 4)"
V, O, U = "v = input (batch, 4)", "o = input (batch, 1, 4)", "u = input (batch, T, 1)"
T2, T1 = [{"T": 2}], [{"T": 2}, {"batch": 1, "T": 1}]

KERNEL_CASES = {  # name: (whole model, "", --set, bindings of the free sizes): see cuda_harness
    "add_equal_shapes": (model(X, Y, "a = Add()([x, y])", "output a"), "", {}, T1),
    "add_after_dense": (model("x = input (batch, 3, 2)", "a = Dense(2)(x)", "b = Dense(2)(x)",
                              "y = Add()([a, b, x])", "output y", sizes="batch"), "", {}, [{}]),
    "add_size_one_axis": (model("x = input (batch, 3, 1)", "y = input (batch, 3, 2)", "a = Add()([x, y])",
                                "output a", sizes="batch"), "", {}, [{}]),
    "subtract_lower_rank": (model(X, V, "b = Subtract()([x, v])", "output b"), "", {}, T2),
    "multiply_three": (model(X, V, O, "c = Multiply()([o, x, v])", "output c"), "", {}, T2),
    "average_three_broadcast": (model(X, Y, U, "d = Average()([x, u, y])", "output d"), "", {}, T2),
    "average_equal_shapes": (model(X, Y, "g = Average()([x, y])", "output g"), "", {}, T2),
    "maximum_both_broadcast": (model(V, U, "e = Maximum()([v, u])", "output e"), "", {}, T2),
    "minimum_three": (model(X, Y, O, "f = Minimum()([x, y, o])", "output f"), "", {}, T2),
    "max_min_rank_two": (model("a = input (batch, 3)", "s = input (batch, 1)", "m = Maximum()([a, s])",
                               "n = Minimum()([s, a])", "output m, n", sizes="batch"), "", {}, [{}]),
    "concatenate_last_axis": (model(X, Y, U, "h = Concatenate()([x, y, u])", "output h"), "", {}, T1),
    "concatenate_middle_axis": (model(X, O, Y, "i = Concatenate(axis=1)([x, o, y])", "output i"), "", {}, T2),
    "concatenate_negative_axis": (model(O, X, "k = Concatenate(axis=-2)([o, x])", "output k"), "", {}, T2),
    "concatenate_batch_axis": (model(X, Y, "j = Concatenate(axis=-3)([x, y])", "output j"), "", {}, T2),
    "concatenate_rank_two": (model("a = input (batch, 3)", "b = input (batch, 2)", "c = Concatenate()([a, b])",
                                   "output c", sizes="batch"), "", {}, [{}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])
