"""`shapeproof predict`: chunked scoring in one process and on a local Dask cluster of 2 worker processes,
compared with one `net(x)` on the whole input; resuming; a worker killed mid-run; bad inputs."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

from shapeproof.analyzer.errors import ShapeproofError

import shapeproof
import shapeproof.scoring as engine
from shapeproof import cli

SPEC = """\
model M(batch):
    input (batch, 8)
    Dense(4, activation="relu")
    Dense(2)

model Wide(batch):
    input (batch, 8)
    Dense(512, activation="relu")
    Dense(512, activation="relu")
    Dense(2)
"""
ROWS = 1000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The spec, weights of both models, an input of ROWS rows, and the reference outputs of one net(x)."""
    root = tmp_path_factory.mktemp("predict")
    (root / "m.nn").write_text(SPEC)
    program = shapeproof.load(root / "m.nn")
    x = np.random.default_rng(0).normal(size=(ROWS, 8)).astype(np.float32)
    np.save(root / "x.npy", x)
    expected = {}
    for name in ("M", "Wide"):
        net = shapeproof.build(program.models[name])
        net.random_weights(seed=1)
        net.save_weights(root / f"{name}.npz")
        expected[name] = net(x)
    return root, x, expected


@pytest.fixture(scope="module")
def client():
    client, _ = engine.local_client(2, threads=1, dashboard=":0")
    yield client
    cluster = client.cluster
    client.close()
    cluster.close()


def run(data, out, name="M", **options):
    root, _, _ = data
    return shapeproof.predict(root / "m.nn", root / f"{name}.npz", root / "x.npy", out, model_name=name, **options)


def test_streaming_to_npy_and_zarr_equals_one_call(data, tmp_path):
    expected = data[2]
    y = run(data, tmp_path / "y.npy", chunk=300)  # the last chunk is short
    assert y.dtype == np.float32 and np.array_equal(y, expected["M"])
    z = run(data, tmp_path / "y.zarr", chunk=300)
    assert np.array_equal(z[:], expected["M"]) and z.chunks == (300, 2)
    group = zarr.open_group(tmp_path / "y.zarr", mode="r")
    assert group.attrs["model"] == "M" and group.attrs["shapeproof"] == shapeproof.__version__
    assert group.attrs["weights_sha256"] == z.attrs["weights_sha256"] and len(z.attrs["weights_sha256"]) == 64
    assert group[engine.DONE][:].tolist() == [True] * 4
    assert not (tmp_path / "y.npy.partial").exists()


def test_glob_of_npy_files_and_zarr_input(data, tmp_path):
    root, x, expected = data
    for i, part in enumerate(np.split(x, [100, 700])):  # parts of unequal lengths, chunks across their ends
        np.save(tmp_path / f"part{i}.npy", part)
    y = shapeproof.predict(root / "m.nn", root / "M.npz", str(tmp_path / "part*.npy"), tmp_path / "y.npy",
                           model_name="M", chunk=256)
    assert np.array_equal(y, expected["M"])
    zarr.create_array(str(tmp_path / "x.zarr"), data=x, chunks=(250, 8))
    z = shapeproof.predict(root / "m.nn", root / "M.npz", str(tmp_path / "x.zarr"), tmp_path / "y.zarr",
                           model_name="M")
    assert z.chunks == (250, 2)  # chunked like the input
    assert np.array_equal(z[:], expected["M"])


def test_lazy_dask_array(data):
    lazy = run(data, None, chunk=400)
    assert type(lazy).__name__ == "Array" and lazy.chunks == ((400, 400, 200), (2,))
    assert np.array_equal(lazy.compute(scheduler="sync"), data[2]["M"])


def test_cluster_of_two_processes_equals_one_call(data, client, tmp_path):
    y = run(data, tmp_path / "y.npy", chunk=100, client=client)
    assert np.array_equal(y, data[2]["M"])
    z = run(data, tmp_path / "y.zarr", chunk=100, client=client)
    assert np.array_equal(z[:], data[2]["M"])
    assert len(client.run(os.getpid)) == 2  # two worker processes


def test_cli_on_a_running_scheduler_prints_plain_progress(data, client, tmp_path, capsys):
    root, _, expected = data
    out = tmp_path / "y.zarr"
    rc = cli.main(["predict", str(root / "m.nn"), "--model", "M", "--weights", str(root / "M.npz"),
                   "--data", str(root / "x.npy"), "--out", str(out), "--chunk", "250",
                   "--scheduler", client.scheduler.address])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert np.array_equal(zarr.open_array(out / "dense_1", mode="r")[:], expected["M"])
    assert "Dask dashboard:" in err and "1,000/1,000 rows" in err and "rows/s" in err


def test_resume_runs_only_the_chunks_not_written(data, tmp_path, monkeypatch):
    out = tmp_path / "y.zarr"
    calls = []
    real = engine.run_chunk

    def interrupted(job, index):
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Ctrl-C during the fourth chunk
        calls.append(index)
        return real(job, index)

    monkeypatch.setattr(engine, "run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(data, out, chunk=100)
    assert zarr.open_group(out, mode="r")[engine.DONE][:].tolist() == [True] * 3 + [False] * 7
    with pytest.raises(ShapeproofError, match="cannot create the output store"):
        run(data, out, chunk=100)  # an existing store is never overwritten without --resume
    with pytest.raises(ShapeproofError, match="written by another run: its chunk is 100"):
        run(data, out, chunk=200, resume=True)

    calls.clear()
    monkeypatch.setattr(engine, "run_chunk", lambda job, index: calls.append(index) or real(job, index))
    z = run(data, out, chunk=100, resume=True)
    assert calls == list(range(3, 10))
    assert np.array_equal(z[:], data[2]["M"])


def write_bad(tmp_path, case):
    """The --data argument of a bad input, and the message expected."""
    if case == "shape":
        np.save(tmp_path / "bad.npy", np.zeros((10, 7), np.float32))
        return tmp_path / "bad.npy", "bad.npy: error: axis 1 has size 7, expected 8: M's input 'input' is (batch, 8)"
    if case == "rank":
        np.save(tmp_path / "bad.npy", np.zeros((10, 8, 1), np.float32))
        return tmp_path / "bad.npy", "bad.npy: error: has 3 axes (10, 8, 1); M's input 'input' is (batch, 8)"
    if case == "dtype":
        np.save(tmp_path / "bad.npy", np.zeros((10, 8), np.complex64))
        return tmp_path / "bad.npy", "bad.npy: error: dtype complex64: M's input 'input' takes real numbers"
    if case == "missing":
        return tmp_path / "missing.npy", "missing.npy: error: no such file"
    if case == "glob":
        return tmp_path / "none*.npy", "error: no file matches"
    if case == "zarr":
        (tmp_path / "bad.zarr").mkdir()
        (tmp_path / "bad.zarr" / "zarr.json").write_text("{not json")
        return tmp_path / "bad.zarr", "bad.zarr: error: not a readable Zarr array"
    raise AssertionError(case)


@pytest.mark.parametrize("out", ["y.npy", "y.zarr"])
@pytest.mark.parametrize("case", ["shape", "rank", "dtype", "missing", "glob", "zarr"])
def test_bad_inputs_exit_2_and_write_nothing(data, tmp_path, capsys, case, out):
    root = data[0]
    given, message = write_bad(tmp_path, case)
    rc = cli.main(["predict", str(root / "m.nn"), "--model", "M", "--weights", str(root / "M.npz"),
                   "--data", str(given), "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert not (tmp_path / out).exists() and not (tmp_path / f"{out}.partial").exists()


def test_report_imports_neither_dask_nor_zarr():
    code = ("import sys; from shapeproof import cli; cli.build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', 'zarr', 'numpy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.full
def test_cli_local_cluster(data, tmp_path, capsys):
    root, _, expected = data
    rc = cli.main(["predict", str(root / "m.nn"), "--model", "M", "--weights", str(root / "M.npz"),
                   "--data", str(root / "x.npy"), "--out", str(tmp_path / "y.npy"), "--chunk", "100", "--workers", "2"])
    assert rc == 0, capsys.readouterr().err
    assert np.array_equal(np.load(tmp_path / "y.npy"), expected["M"])


def test_a_worker_killed_mid_run_loses_no_rows(data, client, tmp_path):
    """Last in the file: the cluster's nanny restarts the killed worker, but later tests need not wait."""
    out = tmp_path / "y.zarr"
    n_chunks = ROWS // 20
    result, failure = [], []

    def score():
        try:
            result.append(run(data, out, name="Wide", chunk=20, client=client))
        except BaseException as e:  # noqa: BLE001 (reported by the assertions below)
            failure.append(e)

    worker = threading.Thread(target=score)
    worker.start()
    deadline = time.monotonic() + 60
    done = 0
    while done == 0 and time.monotonic() < deadline:  # some chunks written: the workers are running
        time.sleep(0.02)
        # The store is being written while we poll (the group before its flags array, a flag's
        # chunk file before its bytes): a read that finds it half made is retried.
        try:
            done = int(zarr.open_group(out, mode="r")[engine.DONE][:].sum())
        except (FileNotFoundError, KeyError, ValueError, OSError):
            continue
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    assert 0 < done < n_chunks and worker.is_alive(), "the kill must land during the run"
    worker.join(timeout=120)
    assert not failure, failure
    assert zarr.open_group(out, mode="r")[engine.DONE][:].all()
    assert np.array_equal(result[0][:], data[2]["Wide"])
