"""`shapeproof predict`: score a dataset with a model's kernels (shapeproof/scoring.py does the work)."""
from __future__ import annotations

import argparse
import sys

from shapeproof.options import add_command, parse_set


def cmd_predict(args) -> int:
    from shapeproof.scoring import local_client, predict

    client, threads = None, args.threads
    try:
        if args.workers:
            client, threads = local_client(args.workers, args.threads)
        elif args.scheduler:
            from distributed import Client

            client = Client(args.scheduler)
        predict(args.file, args.weights, args.data, args.out, client=client, chunk=args.chunk, model_name=args.model,
                set=parse_set(args.set), target=args.target, threads=threads, resume=args.resume, progress=True)
    finally:
        if client is not None:
            cluster = client.cluster if args.workers else None
            client.close()
            if cluster is not None:
                cluster.close()
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    """The `predict` subcommand, added to the CLI's subparsers."""
    p = add_command(sub, "predict", "run a model with trained weights over a dataset, chunk by chunk, in this "
                    "process or on a Dask cluster",
                    ["shapeproof predict model.nn --weights model.keras --data x.npy --out scores.zarr",
                     "shapeproof predict model.nn --weights w.npz --data 'parts/*.npy' --out y.npy --workers 2",
                     ("shapeproof predict model.nn --weights w.npz --data s3://bucket/x.zarr --out s3://bucket/y.zarr "
                      "--scheduler tcp://10.0.0.1:8786 --resume")])
    p.add_argument("file", help="a .nn file")
    p.add_argument("--model", help="the model (needed when the file has several)")
    p.add_argument("--weights", required=True, help="trained weights: .npz, Keras .keras, .weights.h5 or legacy .h5")
    p.add_argument("--data", action="append", required=True, metavar="INPUT",
                   help="a .npy (memory-mapped), a quoted glob of .npy files joined along the first axis, or a "
                   "Zarr array (path or fsspec URL); one per model input, in order")
    p.add_argument("--out", required=True, help="a Zarr store (one array per output; resumable) or a .npy")
    p.add_argument("--chunk", type=int, metavar="ROWS", help="rows per task (default: a Zarr input's chunks, "
                   "else about 128 MiB of activations)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="start a local Dask cluster of N processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask cluster (tcp://host:8786)")
    p.add_argument("--threads", type=int, metavar="T", help="kernel threads per process (default: all cores, "
                   "shared out among --workers)")
    p.add_argument("--target", default="cpu", choices=["cpu", "cuda"], help="where the kernels run")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run: skip the chunks already written")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a model parameter with an integer or a new symbol name")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    p.set_defaults(run=cmd_predict)
    return p
