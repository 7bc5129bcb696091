"""CUDA kernels of MultiHeadAttention and GroupQueryAttention vs the NumPy reference, tiny feature sizes
(the simulator is slow). The core is tiled (codegen/cuda/attention.py): blocks of 64 query rows, key
tiles of 64 rows at these head sizes. Short cases (one tile): plain self-attention with a free length,
causal cross-attention with a key input, a broadcast attention_mask and the scores output; grouped
heads (2 and 1 key/value heads); sliding windows with and without the causal mask. Long cases (T =
150: three query tiles and three key tiles, the last ragged): the tile loop and the block-wide key
bounds of causal and windowed attention, which skip whole tiles, with the scores output's second
sweep. One case has heads too wide for shared memory: the global-memory core."""
import pytest
from cuda_harness import check_case, source_of

from shapeproof import analyzer, codegen
from shapeproof.codegen.cuda.attention import key_tile

KERNEL_CASES = {  # name: (whole model, "", --set, bindings of the free sizes): see cuda_harness
    "self_attention": ("""
model M(batch, T):
    x = input (batch, T, 3)
    output MultiHeadAttention(2, 2)(x, x)
""", "", {}, [{"T": 3}]),
    "masked_causal_scores": ("""
model M(batch):
    q = input (batch, 3, 2)
    v = input (batch, 3, 3)
    k = input (batch, 3, 2)
    m = input (batch, 1, 3) int32
    y, s = MultiHeadAttention(2, 2, value_dim=1, use_bias=False)(q, v, k, attention_mask=m, use_causal_mask=True, return_attention_scores=True)
    output y, s
""", "", {}, [{"batch": 2}]),
    "grouped_two_kv_heads": ("""
model M(batch, T):
    x = input (batch, T, 3)
    output GroupQueryAttention(2, 4, 2)(x, x)
""", "", {}, [{"T": 3}]),
    "grouped_one_kv_head_scores": ("""
model M(batch):
    q = input (batch, 3, 2)
    v = input (batch, 4, 2)
    k = input (batch, 4, 3)
    m = input (batch, 3, 4) int32
    y, s = GroupQueryAttention(2, 3, 1, use_bias=False)(q, v, k, attention_mask=m, return_attention_scores=True)
    output y, s
""", "", {}, [{"batch": 2}]),
    "sliding_window": ("""
model M(batch, T):
    x = input (batch, T, 2)
    output MultiHeadAttention(2, 2, sliding_window=2)(x, x)
""", "", {}, [{"T": 5}]),
    "sliding_window_causal_grouped_scores": ("""
model M(batch):
    x = input (batch, 5, 2)
    y, s = GroupQueryAttention(2, 2, 1, sliding_window=3)(x, x, use_causal_mask=True, return_attention_scores=True)
    output y, s
""", "", {}, [{"batch": 1}]),
    "long_grouped_window_masked": ("""
model M(batch, T):
    x = input (batch, T, 2)
    m = input (batch, 1, T) int32
    output GroupQueryAttention(1, 2, 1, sliding_window=20)(x, x, attention_mask=m)
""", "", {}, [{"batch": 1, "T": 150}]),
    "long_causal_window_scores": ("""
model M(batch, T):
    x = input (batch, T, 2)
    y, s = MultiHeadAttention(1, 1, sliding_window=70, use_bias=False)(x, x, use_causal_mask=True, return_attention_scores=True)
    output y, s
""", "", {}, [{"batch": 1, "T": 150}]),
    "long_scores": ("""
model M(batch, T):
    x = input (batch, T, 1)
    y, s = MultiHeadAttention(1, 1)(x, x, return_attention_scores=True)
    output y, s
""", "", {}, [{"batch": 1, "T": 150}]),
    "wide_heads_global_memory": ("""
model M(batch, T):
    x = input (batch, T, 1)
    output MultiHeadAttention(1, 400, value_dim=400, use_bias=False)(x, x, use_causal_mask=True)
""", "", {}, [{"batch": 1, "T": 2}]),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_attention_kernels_match_the_reference(name):
    check_case(KERNEL_CASES[name])


def test_key_tiles_fit_in_48_kb_of_shared_memory():
    assert key_tile(2, 2) == 64
    assert key_tile(64, 64) == 64  # 32 KB of float32 K and V rows
    assert key_tile(128, 128) == 32
    assert key_tile(256, 256) == 16
    assert key_tile(400, 400) is None  # 16 rows would take 51 KB: the global-memory core
    for kd in range(1, 800, 7):
        tile = key_tile(kd, kd)
        assert tile is None or tile * 2 * kd * 4 <= 48 * 1024


@pytest.mark.parametrize("name, tiled", [("long_scores", True), ("wide_heads_global_memory", False)])
def test_the_core_is_tiled_unless_the_heads_are_too_wide(name, tiled):
    model = next(iter(analyzer.loads(source_of(KERNEL_CASES[name])).models.values()))
    text = codegen.generate(model, target="cuda")
    assert ("cuda.shared.array" in text and "cuda.syncthreads()" in text) == tiled
