"""Generated CPU kernels of EinsumDense vs the NumPy reference: the GEMM form (Dense's kernel on reshaped
views; a bias over two axes, a softmax over the last of two kernel axes, rows from an ellipsis) and the
loop form (per-position weights, a summed input axis, a transposed output, the right ellipsis); T symbolic."""
from codegen_harness import check_generated

EINSUM = """
model E(batch, T):
    x = input (batch, T, 6)
    a = EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", activation="softmax")(x)
    b = EinsumDense("abcd,cde->abe", output_shape=(None, 4), activation="relu")(a)
    c = EinsumDense("...b,bc->...c", output_shape=3, bias_axes="c")(x)
    d = EinsumDense("abc,cd->adb", output_shape=(4, None), bias_axes="d", activation="log_softmax")(x)
    s = input (batch, 3, T)
    e = EinsumDense("ab...,bc->ac...", output_shape=(2,), bias_axes="c")(s)
    f = EinsumDense("abc,d->abd", output_shape=(None, 2), activation="tanh")(x)
    output b, c, d, e, f
"""


def test_einsum_dense_gemm_and_loop_forms():
    check_generated(EINSUM, sizes=[{"batch": 1, "T": 3}, {"batch": 2, "T": 5}])
