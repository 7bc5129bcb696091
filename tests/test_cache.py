"""The kernel cache: a damaged or half-written entry is rebuilt with one warning; build, cache info/clear, threads."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from shapeproof import analyzer, codegen
from shapeproof.cli import main

SPEC = "model Tiny(batch):\n    input (batch, 4)\n    Dense(3, activation=\"relu\")\n"
X = np.arange(8, dtype=np.float32).reshape(2, 4) / 8 - 0.3


def expected(weights):
    kernel, bias = weights
    return np.maximum(X @ kernel + bias, 0)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHAPEPROOF_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    return tmp_path / "cache"


def build(monkeypatch, parallel=False):
    """A fresh build in this process (the module is imported again from the cache folder)."""
    model = analyzer.loads(SPEC).models["Tiny"]
    source = codegen.generate(model, parallel=parallel)
    for name in [n for n in sys.modules if n.startswith("shapeproof_")]:
        monkeypatch.delitem(sys.modules, name)
    net = codegen.build(model, parallel=parallel)
    assert net.source == source
    return net


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One entry compiled once: every damage case starts from a copy of it."""
    folder = tmp_path_factory.mktemp("built") / "cache"
    script = ("from shapeproof import analyzer, codegen\n"
              f"net = codegen.build(analyzer.loads({SPEC!r}).models['Tiny'], parallel=False)\n"
              "assert net.compile() == 2\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    subprocess.run([sys.executable, "-c", script], env={**env, "SHAPEPROOF_CACHE": str(folder)}, check=True)
    return folder


def files(folder, pattern):
    found = sorted(folder.rglob(pattern))
    assert found, f"no {pattern} in the cache"
    return found


def truncate(path):
    path.write_bytes(path.read_bytes()[: max(path.stat().st_size // 3, 1)])


def flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(data)


def drop_sums(folder):
    for p in folder.glob("*.sums"):
        p.unlink()


DAMAGE = {
    "module truncated": lambda c: truncate(files(c, "shapeproof_*.py")[0]),
    "forward index truncated": lambda c: truncate(files(c, "*.forward-*.nbi")[0]),
    "forward data truncated": lambda c: truncate(files(c, "*.forward-*.nbc")[0]),
    "kernel data, one byte changed": lambda c: flip(files(c, "*.k_dense-*.nbc")[0]),
    "sums garbage": lambda c: files(c, "*.sums")[0].write_text("{not json"),
    # no sums record (an entry written by an older shapeproof, or a crash before it): Numba's load fails
    "index empty, no sums": lambda c: (drop_sums(c), files(c, "*.forward-*.nbi")[0].write_bytes(b"")),
    "data zero-filled, no sums": lambda c: (drop_sums(c), [p.write_bytes(bytes(p.stat().st_size))
                                                          for p in files(c, "*.nbc")]),
    "kernel index cut, forward not cached, no sums": lambda c: (
        drop_sums(c), [p.unlink() for p in files(c, "*.forward-*")], truncate(files(c, "*.k_dense-*.nbi")[0])),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_entry_is_rebuilt_with_one_warning(case, built, cache, monkeypatch, capsys):
    shutil.copytree(built, cache)
    DAMAGE[case](cache)
    net = build(monkeypatch)
    weights = net.random_weights(1)
    y = net(X)
    np.testing.assert_allclose(y, expected(weights), rtol=1e-5, atol=1e-6)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("shapeproof: warning: damaged kernel cache entry"), err
    if case in ("forward data truncated", "index empty, no sums"):  # repaired for good: the next start is clean
        again = build(monkeypatch)
        again.set_weights(weights)
        assert np.array_equal(again(X), y) and again.compile() == 0
        assert capsys.readouterr().err == ""


def test_files_left_by_a_killed_build_are_removed_with_one_warning(built, cache, monkeypatch, capsys):
    shutil.copytree(built, cache)
    nbc = files(cache, "*.forward-*.nbc")[0]
    name = nbc.name.split(".")[0]
    leftovers = [nbc.with_name(nbc.name + ".tmp.0123456789abcdef"), cache / f"{name}.py.4242.tmp"]
    for p in leftovers:
        p.write_bytes(nbc.read_bytes()[:100])  # half a file, as a writer killed mid-write leaves it
        os.utime(p, (time.time() - 3600,) * 2)
    net = build(monkeypatch)
    weights = net.random_weights(2)
    np.testing.assert_allclose(net(X), expected(weights), rtol=1e-5, atol=1e-6)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unfinished file(s)" in err[0] and not any(p.exists() for p in leftovers)


@pytest.mark.full
def test_a_build_killed_while_compiling_leaves_a_cache_that_works(cache, tmp_path):
    script = ("from shapeproof import analyzer, codegen\n"
              f"codegen.build(analyzer.loads({SPEC!r}).models['Tiny']).compile()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    for delay in (0.8, 1.6, 2.4):  # while importing, compiling, writing
        shutil.rmtree(cache, ignore_errors=True)
        proc = subprocess.Popen([sys.executable, "-c", script], env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run = subprocess.run([sys.executable, "-m", "shapeproof", "run", str(_spec(tmp_path)), "--repeat", "1",
                              "--json"], check=False, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "error" not in run.stderr


def _spec(tmp_path):
    path = tmp_path / "tiny.nn"
    path.write_text(SPEC)
    return path


def test_build_warms_the_cache_and_cache_info_and_clear(cache, tmp_path, capsys):
    spec = _spec(tmp_path)
    assert main(["build", str(spec), "--model", "Tiny"]) == 0
    err = capsys.readouterr().err
    # piped (not a terminal): one plain line per stage on stderr
    assert "compiling kernel 1 of 2: dense: Dense(3, activation=\"relu\")" in err, err
    assert "compiling kernel 2 of 2: forward" in err and "built, 2 kernels compiled" in err
    assert main(["build", str(spec)]) == 0
    assert "kernels loaded from the cache" in capsys.readouterr().err
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out and "entries: 1 built model" in out and "compiled-kernel files" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 6 files" in capsys.readouterr().out
    assert main(["cache", "info", "--json"]) == 0
    assert '"entries": 0' in capsys.readouterr().out and not list(cache.rglob("shapeproof_*"))


def test_threads(cache, tmp_path, monkeypatch, capsys):
    import numba

    net = codegen.build(analyzer.loads(SPEC).models["Tiny"], threads=1)
    weights = net.random_weights(3)
    np.testing.assert_allclose(net(X), expected(weights), rtol=1e-5, atol=1e-6)
    assert numba.get_num_threads() == 1
    with pytest.raises(ValueError, match="threads=999: between 1 and"):
        codegen.build(analyzer.loads(SPEC).models["Tiny"], threads=999)
    assert main(["run", str(_spec(tmp_path)), "--threads", "999"]) == 2
    assert "threads=999" in capsys.readouterr().err
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_progress_bar_on_a_terminal():
    import io

    from shapeproof.progress import BuildProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    with BuildProgress(analyzer.loads(SPEC).models["Tiny"], "cpu", stream=screen) as progress:
        assert progress.bar is not None
        progress.stage("generating the kernels")
        progress.kernel("k_dense", 1, 2)
        assert progress.bar.tasks[0].description == 'compiling dense: Dense(3, activation="relu")'
        assert (progress.bar.tasks[0].completed, progress.bar.tasks[0].total) == (0, 2)
        progress.kernel("forward", 2, 2)
    assert "built Tiny (cpu): 2 kernels compiled in" in screen.getvalue()


ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "softplus", "selu")
MANY = "model Many(batch):\n    input (batch, 4)\n" + "".join(f'    Activation("{a}")\n' for a in ACTIVATIONS)


def test_a_cold_build_compiles_kernels_in_several_processes(cache, monkeypatch):
    """Six kernels, two processes: a child compiles its share into Numba's cache, and this process's
    forward loads them from there instead of compiling them again; the outputs are right."""
    from numba.core import event

    from shapeproof.analyzer.reference import forward
    from shapeproof.codegen import net as nets

    monkeypatch.setattr(nets, "COMPILE_PROCESSES", 2)
    monkeypatch.setattr(nets, "MIN_SHARE", 3)
    children, original = [], nets.compile_ahead

    def spy(module, names):
        children.extend(original(module, names))
        return children

    monkeypatch.setattr(nets, "compile_ahead", spy)
    model = analyzer.loads(MANY).models["Many"]
    net = codegen.build(model, parallel=False)
    here = []

    class Seen(event.Listener):
        def on_start(self, ev):
            here.append(ev.data["dispatcher"].py_func.__name__)

        def on_end(self, ev):
            pass

    with event.install_listener("numba:compile", Seen()):
        assert net.compile() >= len(ACTIVATIONS)
    assert len(children) >= 2 and not set(children) & set(here)  # compiled there, loaded here
    net.set_weights([])
    assert np.allclose(net(X), forward(model, [], X), atol=1e-6)
