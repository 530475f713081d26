"""The batch engine as a Ray Data stage (`pip install 'hfinfer[ray]'`).

    from ray.data import ActorPoolStrategy
    from hfinfer.ray import HfInference
    ds = ds.map_batches(HfInference("feature_extraction", model="http://127.0.0.1:8080"),
                        compute=ActorPoolStrategy(size=2), num_cpus=0.25, batch_size=64)

`HfInference(...)` checks its arguments at once (before any request) and returns a callable
*class*, which Ray instantiates once per actor: each actor builds its own
`AsyncInferenceClient` (aiohttp engine) lazily on its event loop and runs every batch through
`hfinfer.batch.run_rows` with the concurrency asked for. Columns named for the method's
arguments become its arguments; the others pass through. Two columns are added: `output` (plain
JSON: lists, dicts; images and audio as base64) and `error` (null or the error as a dict, with
`attempts`). A row never fails the task: a raised exception would make Ray retry the block and
re-send all its requests.

`inference_stage()` sets the actor pool and fractional `num_cpus` so that the actors never hold
every CPU (which deadlocks the read tasks); `enable_checkpoint()` sets Ray's
`CheckpointConfig(id_column=…)` the safe way (the checkpoint kept on success, so that a re-run
does not append everything twice; outputs written in APPEND mode, since OVERWRITE on a resume
deletes committed rows). `run_job_on_ray()` is `hfinfer batch --engine ray`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from hfinfer.batch._convert import to_plain
from hfinfer.batch._engine import (
    DEFAULT_CONCURRENCY,
    EngineOptions,
    ErrorInfo,
    FatalError,
    RowResult,
    run_rows,
)
from hfinfer.batch._inputs import Mapper
from hfinfer.batch._job import BatchJob, find_operation
from hfinfer.errors import InferenceInputError

__all__ = [
    "HfInference",
    "HfInferenceStage",
    "enable_checkpoint",
    "inference_stage",
    "run_job_on_ray",
]


class HfInferenceStage:
    """The per-actor callable Ray Data calls with each batch (made by `HfInference`)."""

    method: ClassVar[str]
    model: ClassVar[str | None]
    options: ClassVar[EngineOptions]
    client_options: ClassVar[Mapping[str, Any]]
    output_column: ClassVar[str] = "output"
    error_column: ClassVar[str] = "error"

    def __init__(self) -> None:
        self._op = find_operation(self.method)
        self._mapper = Mapper(self._op)
        self._client: Any = None

    def _ensure_client(self) -> Any:
        if self._client is None:
            import httpx

            from hfinfer import AsyncInferenceClient

            size = max(self.options.concurrency, 100)
            limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
            options = {"limits": limits, "engine": "aiohttp", **self.client_options}
            self._client = AsyncInferenceClient(self.model, **options)
        return self._client

    async def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        client = self._ensure_client()
        size = len(next(iter(batch.values()))) if batch else 0
        names = [name for name in batch if name in self._mapper.args]
        rows = [
            self._mapper.plain({n: _python(batch[n][i]) for n in names}, i, f"batch row {i}")
            for i in range(size)
        ]
        results: list[RowResult | None] = [None] * size

        def keep(result: RowResult) -> None:
            results[result.id] = result

        fatal: ErrorInfo | None = None
        try:
            await run_rows(client, self.method, rows, keep, self.options)
        except FatalError as exc:
            fatal = ErrorInfo(type="FatalError", message=str(exc))
        outputs = np.empty(size, dtype=object)
        errors = np.empty(size, dtype=object)
        for i, result in enumerate(results):
            if result is None:
                outputs[i], errors[i] = None, {**(fatal or _unfinished()).to_dict(), "attempts": 0}
            elif result.error is not None:
                outputs[i] = None
                errors[i] = {**result.error.to_dict(), "attempts": result.attempts}
            else:
                outputs[i], errors[i] = to_plain(result.output), None
        out = dict(batch)
        out[self.output_column] = outputs
        out[self.error_column] = errors
        return out


def _unfinished() -> ErrorInfo:
    return ErrorInfo(type="FatalError", message="the stage stopped before this row")


def _python(value: Any) -> Any:
    """A numpy cell as a plain Python value (what the client's argument checks expect)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def HfInference(
    method: str,
    *,
    model: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rps: float | None = None,
    params: Mapping[str, Any] | None = None,
    client_options: Mapping[str, Any] | None = None,
    output_column: str = "output",
    error_column: str = "error",
) -> type[HfInferenceStage]:
    """A callable class for `Dataset.map_batches` running `method` on every row (see module doc).

    `rps` limits each actor; the whole stage starts at most `actors × rps` rows per second.
    """
    op = find_operation(method)
    options = EngineOptions(concurrency, rps, params=dict(params or {}))
    options.check()
    mapper = Mapper(op)
    for name in options.params:
        if name not in mapper.args:
            raise InferenceInputError(method, name, f"is not an argument of {method}")
    attributes = {
        "method": method,
        "model": model,
        "options": options,
        "client_options": dict(client_options or {}),
        "output_column": output_column,
        "error_column": error_column,
    }
    return type(f"HfInference_{method}", (HfInferenceStage,), attributes)


IO_TASK_CPUS = 0.25
"""CPUs a read or write task of `run_job_on_ray` reserves (they wait on files, not compute)."""
CHECKPOINT_FILTER_CPUS = 1.0
"""What Ray's CheckpointFilter actor reserves on a resumed job (fixed by Ray 2.60)."""


def stage_cpus(actors: int, total_cpus: float, reserve: float = 1.0) -> float:
    """CPUs each actor reserves, leaving `reserve` CPUs free for reads, writes and filters.

    Actors that hold every CPU deadlock the pipeline: the read tasks are never scheduled.
    """
    if actors < 1:
        raise ValueError(f"`actors` must be at least 1, not {actors}")
    return max(0.05, min(0.5, (total_cpus - reserve) / actors))


def inference_stage(
    ds: Any, method: str, *, actors: int = 2, batch_size: int = 64, num_cpus: float | None = None,
    reserve: float = 1.0, **stage: Any,
) -> Any:  # fmt: skip
    """`ds.map_batches(HfInference(method, **stage))` on a pool of `actors` actors.

    Each actor reserves `num_cpus`, by default a fraction that leaves `reserve` CPUs free.
    """
    import ray
    from ray.data import ActorPoolStrategy

    udf = HfInference(method, **stage)
    if num_cpus is None:
        num_cpus = stage_cpus(actors, float(ray.cluster_resources().get("CPU", 1.0)), reserve)
    return ds.map_batches(
        udf, compute=ActorPoolStrategy(size=actors), batch_size=batch_size, num_cpus=num_cpus
    )


def enable_checkpoint(id_column: str, path: str | Path) -> Any:
    """Set Ray Data's row-id checkpoint on the current context, kept on success; returns it."""
    from ray.data import DataContext
    from ray.data.checkpoint import CheckpointConfig

    config = CheckpointConfig(
        id_column=id_column, checkpoint_path=str(path), delete_checkpoint_on_success=False
    )
    DataContext.get_current().checkpoint_config = config
    return config


def run_job_on_ray(
    job: BatchJob, *, address: str | None = None, actors: int = 2, batch_size: int = 64
) -> None:
    """`hfinfer batch --engine ray`: read INPUT with Ray Data, run the stage, write OUTPUT/.

    The output is a folder of Parquet or JSONL files (one per block); the job resumes through
    Ray's row-id checkpoint in `OUTPUT.hfinfer/ray-checkpoint`, so it needs `id_column`.
    """
    import ray
    import ray.data

    from hfinfer.batch._inputs import detect_format

    fmt = detect_format(Path(job.input), job.input_format)
    if job.retry_failed:
        raise InferenceInputError(
            "batch",
            "retry_failed",
            "the Ray engine resumes by Ray's checkpoint, which keeps "
            "failed rows as done: run --retry-failed on the local engine",
        )
    if job.workers != 1:
        raise InferenceInputError(
            "batch", "workers", "the Ray engine runs on its actors: give --ray-actors instead"
        )
    if fmt == "openai":
        raise InferenceInputError(
            "batch", "engine", "the Ray engine reads plain JSONL, CSV or Parquet inputs"
        )
    if job.id_column is None:
        raise InferenceInputError(
            "batch", "id_column", "the Ray engine needs --id (Ray's checkpoint keys rows by it)"
        )
    output = Path(job.output)
    if output.suffix not in (".parquet", ".jsonl"):
        raise InferenceInputError("batch", "output", "name the output folder .parquet or .jsonl")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False) if address else ray.init(
            num_cpus=4, include_dashboard=False
        )
    enable_checkpoint(job.id_column, output.with_name(output.name + ".hfinfer") / "ray-checkpoint")
    source = str(job.input)
    read = {"jsonl": ray.data.read_json, "csv": ray.data.read_csv, "parquet": ray.data.read_parquet}
    io_args = {"num_cpus": IO_TASK_CPUS}
    ds = read[fmt](source, override_num_blocks=max(actors * 4, 4), ray_remote_args=io_args)
    ds = inference_stage(
        ds, job.method, actors=actors, batch_size=batch_size, model=job.model,
        reserve=2 * IO_TASK_CPUS + CHECKPOINT_FILTER_CPUS,
        concurrency=job.concurrency, rps=job.rps, params=job.params,
        client_options=job.client_options,
    )  # fmt: skip
    if output.suffix == ".parquet":
        ds.write_parquet(str(output), mode="append", ray_remote_args=io_args)
    else:
        ds.write_json(str(output), mode="append", ray_remote_args=io_args)
