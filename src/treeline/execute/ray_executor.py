"""`--executor ray`: each cell a Ray task on a cluster started with `ray start`.

The task asks for its runner's CPUs (its thread count) and, for a CUDA runner, one GPU; inside
it runs the cell exactly as this machine would (supervise.execute: a worker process with its
deadline, forked from the node's warm worker) and hands back the result and the cell's log.
Claims and records stay with the run on this machine, so the store, resume and the report do not
know which executor ran a cell. A task is never retried: a cell whose worker or Ray worker dies
is recorded `failed`; a lost cluster (its head gone, a node dead) stops the run with the cells
in flight unrecorded, to run again. A cell that needs a resource no node has is `skipped` with
the reason, not queued for ever. Cancelling the run cancels its tasks with force, so their
processes go too. Ray is an optional extra (`pip install -e ".[ray]"`), imported only here.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from treeline.config.runner_profile import RunnerProfile
from treeline.errors import TreelineError, first_line
from treeline.execute.cell import Cell
from treeline.execute.predictions import path_beside
from treeline.execute.result import CellResult

LOST_POLL = 2.0  # seconds between checks that the cluster's head still answers
# Ray's errors for a task whose node died (a lost cluster, not the cell's failure).
NODE_LOST = (
    "NodeDiedError",
    "LocalRayletDiedError",
    "RaySystemError",
    "ObjectLostError",
    "OwnerDiedError",
)


class ClusterLost(TreelineError):
    """The Ray cluster went away mid-run: the run stops, the cells in flight are not recorded."""


# What a worker on another node needs of this process's environment.
_FORWARDED = ("TREELINE_CACHE", "TREELINE_WARM_WORKERS", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


_FOLDER_PREFIX = "treeline-cell-"


def run_cell_task(
    cell_json: dict[str, Any], profile: RunnerProfile, preload: list[str] | None
) -> tuple[dict[str, Any], str, bytes | None]:
    """The task's body, on a node: the cell's result, its log's text and its predictions."""
    import tempfile

    from treeline.execute.supervise import execute

    _remove_orphaned_folders(Path(tempfile.gettempdir()))
    cell = Cell.from_json(cell_json)
    with tempfile.TemporaryDirectory(prefix=f"{_FOLDER_PREFIX}{os.getpid()}-") as tmp:
        log = Path(tmp) / "cell.log"
        result = execute(cell, profile, log, preload=preload)
        text = log.read_text(errors="replace") if log.exists() else ""
        predictions = result.predictions.read_bytes() if result.predictions else None
    result.log_path = result.predictions = None  # paths on the node; their bytes travel
    return result.to_json(), text, predictions


def _remove_orphaned_folders(tmp: Path) -> None:
    """A task killed with its cell in flight (a cancelled run, a killed Ray worker) cannot remove
    its folder; the next task on the node does, once the process that made it is gone."""
    import shutil

    for folder in tmp.glob(f"{_FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(_FOLDER_PREFIX).split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            if _zombie(int(pid)):  # killed, its parent (a dead raylet) not reaping it
                shutil.rmtree(folder, ignore_errors=True)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _reachable(host: str, port: int, address: str) -> None:
    """Ray retries an address that does not answer for minutes: fail in seconds instead."""
    import socket

    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise TreelineError(
            f"no Ray cluster answers at {address} ({exc}): start one with `ray start --head`"
        ) from None


class RayExecutor:
    def __init__(self, address: str | None, cells: list[Cell]):
        self.address = address or os.environ.get("RAY_ADDRESS") or "auto"
        host, _, port = self.address.rpartition(":")
        if host in ("127.0.0.1", "localhost"):
            # A cluster on loopback (`ray start --head` on one machine): the driver must use
            # loopback too, or Ray dials this machine's outward address and waits for minutes.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        if host and port.isdigit():
            _reachable(host, int(port), self.address)
        try:
            import ray
        except ImportError:
            raise TreelineError(
                "--executor ray needs Ray: pip install -e '.[ray]' (or pip install 'ray[default]')"
            ) from None
        from treeline.execute import warm

        self.ray = ray
        env = {k: os.environ[k] for k in _FORWARDED if k in os.environ}
        try:
            ray.init(
                address=self.address,
                logging_level="WARNING",
                log_to_driver=False,
                runtime_env={"env_vars": env} if env else None,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = "on this machine" if self.address == "auto" else f"at {self.address}"
            raise TreelineError(
                f"no Ray cluster {where} ({str(exc).splitlines()[0][:200]}): start one with "
                "`ray start --head`, or give its address with --address HOST:PORT"
            ) from None
        self.nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        self.capacity = {
            "CPU": sum(n.get("CPU", 0) for n in self.nodes),
            "GPU": sum(n.get("GPU", 0) for n in self.nodes),
        }
        self.used = {"CPU": 0.0, "GPU": 0.0}
        self.task = ray.remote(max_retries=0, retry_exceptions=False)(run_cell_task)
        self.refs: dict[str, Any] = {}  # cell id -> ObjectRef of the task in flight
        self.waiting: dict[str, Future[CellResult]] = {}  # cell id -> its result, in flight
        self.lost: str | None = None  # why the cluster is gone, once it is
        self._watch_cluster(ray.get_runtime_context().gcs_address)
        self.preload = warm.preload_for(cells) if warm.enabled() else None
        self.extra_notes: list[str] = []

    def _needs(self, cell: Cell) -> dict[str, float]:
        return {"CPU": float(cell.threads), "GPU": 1.0 if cell.device == "cuda" else 0.0}

    def notes(self) -> list[str]:
        return [
            f"Ray cluster {self.address}: {len(self.nodes)} node(s), "
            f"{self.capacity['CPU']:g} CPUs, {self.capacity['GPU']:g} GPUs",
            *self.extra_notes,
        ]

    def never_fits(self, cell: Cell) -> str | None:
        needs = self._needs(cell)
        if not any(all(n.get(k, 0) >= v for k, v in needs.items() if v) for n in self.nodes):
            what = " and ".join(f"{v:g} {k}" for k, v in needs.items() if v)
            have = "; ".join(
                f"{n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU" for n in self.nodes
            )
            return (
                f"no node of the Ray cluster {self.address} has {what} for runner "
                f"'{cell.runner}' (nodes: {have or 'none'})"
            )
        return None

    def fits(self, cell: Cell) -> bool:
        # Claim no more cells than the cluster can start now: queued tasks would hold claims.
        needs = self._needs(cell)
        if not self.refs:
            return True
        return all(self.used[k] + v <= self.capacity[k] for k, v in needs.items() if v)

    def submit(self, cell: Cell, profile: RunnerProfile, log_path: Path) -> Future[CellResult]:
        needs = self._needs(cell)
        for k, v in needs.items():
            self.used[k] += v
        ref = self.task.options(num_cpus=needs["CPU"], num_gpus=needs["GPU"], name=cell.id).remote(
            cell.to_json(), profile, self.preload
        )
        self.refs[cell.id] = ref
        out: Future[CellResult] = Future()

        def finished(done: Future) -> None:
            if out.done():  # the cluster was found lost first
                return
            try:
                result_json, text, predictions = done.result()
            except Exception as exc:  # the task itself died: recorded, never retried
                if type(exc).__name__ in NODE_LOST:
                    self._cluster_lost(f"{type(exc).__name__}: {first_line(exc, 160)}")
                    return
                out.set_result(self._lost(cell, exc))
                return
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(text)
            result = CellResult.from_json(result_json)
            result.log_path = log_path
            if predictions is not None:
                result.predictions = path_beside(log_path)
                result.predictions.write_bytes(predictions)
            out.set_result(result)

        self.waiting[cell.id] = out
        ref.future().add_done_callback(finished)
        return out

    def _watch_cluster(self, gcs: str) -> None:
        """A lost cluster ends every cell in flight with ClusterLost (the run stops, nothing
        recorded) within seconds: Ray itself reports a task on a dead node as a failure of
        the cell, and ends a driver whose head node is gone after a minute, without a word."""
        import socket
        import threading

        host, _, port = gcs.rpartition(":")

        def watch() -> None:
            misses = 0
            while self.lost is None:
                time.sleep(LOST_POLL)
                try:
                    socket.create_connection((host, int(port)), timeout=2).close()
                    misses = 0
                except OSError as exc:
                    misses += 1
                    if misses >= 2:
                        self._cluster_lost(f"its head at {gcs} does not answer: {exc}")

        threading.Thread(target=watch, daemon=True, name="ray-cluster-watch").start()

    def _cluster_lost(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
        for cell_id, out in list(self.waiting.items()):
            if not out.done():
                out.set_exception(
                    ClusterLost(
                        f"the Ray cluster {self.address} was lost while {cell_id} ran ({why}): "
                        "the cell was not recorded and runs again when you run the same "
                        "command with the cluster back"
                    )
                )

    def _lost(self, cell: Cell, exc: BaseException) -> CellResult:
        name = type(exc).__name__
        first = first_line(exc)
        if name == "TaskCancelledError":
            return CellResult(cell, "failed", error="cancelled: the run was stopped")
        return CellResult(
            cell,
            "failed",
            error=f"the Ray task running the cell ended without a result ({name}: {first}); "
            "not retried",
        )

    def done(self, cell: Cell) -> None:
        self.refs.pop(cell.id, None)
        self.waiting.pop(cell.id, None)
        for k, v in self._needs(cell).items():
            self.used[k] -= v

    def close(self, cancel: bool = False) -> None:
        if self.lost is not None:
            # Nothing to cancel through a cluster that is gone; a task's folder on this
            # machine is removed here, one elsewhere by the next task on its node.
            import tempfile

            time.sleep(1)  # the dead tasks' processes are reaped
            _remove_orphaned_folders(Path(tempfile.gettempdir()))
            return
        if cancel:
            for ref in self.refs.values():
                try:
                    self.ray.cancel(ref, force=True)  # force: the task's processes go too
                except Exception as exc:  # a task that just finished cannot be cancelled
                    print(f"could not cancel a Ray task: {exc}")
        self.ray.shutdown()
