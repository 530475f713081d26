"""The `hfinfer` command: `hfinfer batch METHOD INPUT OUTPUT …` and `hfinfer run METHOD … ARG…`.

One subcommand per task method under each, with options generated from the operations table
(`_options.py`). `run` prints the result as JSON (images and audio as base64, or into a file
with --save); `batch` runs a resumable job (`hfinfer.batch`), on this process or on Ray Data
(`--engine ray`). Exit status: 0 done (rows that failed are in the output), 1 a fatal condition
or a call that failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hfinfer._cli import _options
from hfinfer._operation import Operation

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _client_options(parser: argparse.ArgumentParser, providers: Sequence[str]) -> None:
    group = parser.add_argument_group("client")
    group.add_argument("--model", help="Model id on the Hub, or the URL of a server/endpoint.")
    group.add_argument(
        "--provider",
        choices=providers,
        metavar="PROVIDER",
        help="An Inference Provider (one of: %(choices)s); default: as the client decides "
        "(the endpoint of a URL model, else auto).",
    )
    group.add_argument("--token", help="Token to send (default: HF_TOKEN or the token file).")
    group.add_argument("--timeout", type=float, help="Seconds per call, retries included.")
    group.add_argument(
        "--max-retries", type=int, help="Retries of connection errors and 408/429/5xx per call."
    )


def _batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", type=Path, metavar="INPUT", help="OpenAI Batch JSONL, JSONL, CSV or Parquet."
    )
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="Output .jsonl or .parquet.")
    group = parser.add_argument_group("batch")
    group.add_argument("--concurrency", type=int, default=32, help="Rows in flight (default 32).")
    group.add_argument("--rps", type=float, help="At most this many rows started per second.")
    group.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Processes that send, each with a share of --concurrency and --rps (default 1): "
        "more when one core's CPU is the bound.",
    )
    group.add_argument("--resume", action="store_true", help="Continue the job in OUTPUT.")
    group.add_argument(
        "--retry-failed",
        action="store_true",
        help="With --resume: run again the rows whose record has an error (the new one replaces it).",
    )
    group.add_argument(
        "--id", dest="id_column", help="Column that keys rows (default: row number)."
    )
    group.add_argument(
        "--input-format",
        choices=["openai", "jsonl", "csv", "parquet"],
        help="Default: by extension.",
    )
    group.add_argument(
        "--ignore-column", action="append", default=[], help="A column that is not an argument."
    )
    group.add_argument(
        "--binary",
        choices=["files", "base64"],
        default="files",
        help="Images and audio: files in OUTPUT.files/ (default) or base64 in the record.",
    )
    group.add_argument(
        "--fsync",
        choices=["none", "group", "every"],
        default="group",
        help="fdatasync the output per group of rows (default), per row, or never.",
    )
    group.add_argument(
        "--fatal-after",
        type=float,
        default=30.0,
        help="Stop when the server has been unreachable this many seconds (default 30).",
    )
    group.add_argument("--quiet", action="store_true", help="No progress and no summary.")
    group.add_argument(
        "--progress", choices=["auto", "bar", "lines"], default="auto", help="Progress display."
    )
    ray = parser.add_argument_group("ray")
    ray.add_argument("--engine", choices=["local", "ray"], default="local", help="Where to run.")
    ray.add_argument("--ray-address", help="ray.init(address=…); default: a local Ray.")
    ray.add_argument("--ray-actors", type=int, default=2, help="Actors in the pool (default 2).")
    ray.add_argument("--batch-size", type=int, default=64, help="Rows per Ray batch (default 64).")


def build_parser(ops: dict[str, Operation] | None = None) -> argparse.ArgumentParser:
    """The full parser: `batch` and `run`, each with one subcommand per task method."""
    from hfinfer.batch import operations_by_method

    ops = ops or operations_by_method()
    providers = provider_choices()
    parser = argparse.ArgumentParser(prog="hfinfer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    batch = commands.add_parser("batch", help="Run a task method over a file of rows.")
    run = commands.add_parser("run", help="One call; prints the result as JSON.")
    batch_methods = batch.add_subparsers(dest="method", required=True, metavar="METHOD")
    run_methods = run.add_subparsers(dest="method", required=True, metavar="METHOD")
    for method, op in sorted(ops.items()):
        summary, help_for = _options.descriptions(op)
        aliases = [op.task] if op.task != method else []
        sub = batch_methods.add_parser(method, aliases=aliases, help=summary, description=summary)
        _batch_options(sub)
        _client_options(sub, providers)
        _options.add_arguments(sub, op, help_for, positional=False)
        sub.set_defaults(op=op, positionals=[])
        one = run_methods.add_parser(method, aliases=aliases, help=summary, description=summary)
        _client_options(one, providers)
        one.add_argument("--save", type=Path, help="Write an image or audio result to this file.")
        positionals = _options.add_arguments(one, op, help_for, positional=True)
        one.set_defaults(op=op, positionals=positionals)
    return parser


def provider_choices() -> tuple[str, ...]:
    """The values `--provider` takes: those of the clients' `Provider` type (generated)."""
    from typing import get_args

    from hfinfer._generated.providers import Provider

    return tuple(get_args(Provider))


def _client_kwargs(ns: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if ns.provider is not None:
        kwargs["provider"] = ns.provider
    if ns.token is not None:
        kwargs["token"] = ns.token
    if ns.timeout is not None:
        kwargs["timeout"] = ns.timeout
    if ns.max_retries is not None:
        kwargs["max_retries"] = ns.max_retries
    return kwargs


def _run(ns: argparse.Namespace) -> int:
    from hfinfer import InferenceClient
    from hfinfer.batch import to_plain
    from hfinfer.errors import InferenceError

    op: Operation = ns.op
    values = _options.positional_values(ns, ns.positionals)
    params = _options.collected(ns, op)
    with InferenceClient(ns.model, **_client_kwargs(ns)) as client:
        try:
            result = getattr(client, op.method)(*values, **params)
        except InferenceError as exc:
            from hfinfer.batch import ErrorInfo

            print(json.dumps({"error": ErrorInfo.from_exception(exc).to_dict()}), file=sys.stderr)
            return EXIT_FAILED
    if ns.save is not None and isinstance(plain := to_plain(result), dict) and "base64" in plain:
        import base64

        ns.save.write_bytes(base64.b64decode(plain["base64"]))
        print(json.dumps({"file": str(ns.save), "media_type": plain["media_type"]}))
        return EXIT_OK
    print(json.dumps(to_plain(result), ensure_ascii=False))
    return EXIT_OK


def _batch(ns: argparse.Namespace) -> int:
    from hfinfer.batch import BatchJob, FatalError, InputFileError, JobStateError, run_job

    job = BatchJob(
        method=ns.op.method,
        input=ns.input,
        output=ns.output,
        model=ns.model,
        params=_options.collected(ns, ns.op),
        concurrency=ns.concurrency,
        rps=ns.rps,
        workers=ns.workers,
        fatal_after=ns.fatal_after,
        id_column=ns.id_column,
        input_format=ns.input_format,
        ignore_columns=tuple(ns.ignore_column),
        binary=ns.binary,
        fsync=ns.fsync,
        resume=ns.resume,
        retry_failed=ns.retry_failed,
        progress="quiet" if ns.quiet else ns.progress,
        client_options=_client_kwargs(ns),
    )
    try:
        if ns.engine == "ray":
            from hfinfer.ray import run_job_on_ray

            run_job_on_ray(
                job, address=ns.ray_address, actors=ns.ray_actors, batch_size=ns.batch_size
            )
        else:
            run_job(job)
    except (FatalError, InputFileError, JobStateError) as exc:
        print(f"hfinfer batch: stopped: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hfinfer` console script."""
    from hfinfer.errors import InferenceInputError

    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return _batch(ns) if ns.command == "batch" else _run(ns)
    except (InferenceInputError, ValueError) as exc:
        print(f"hfinfer {ns.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
