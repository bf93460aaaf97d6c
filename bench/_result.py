"""The one machine-readable line every benchmark prints: ``RESULT {json}`` (read by bench/run_all.py).

A result names the benchmark and the measurement, gives each side (``ours`` and, where there is
one, the ``peer`` doing the same work) as wall seconds, CPU seconds and peak RSS in MiB (any of
them may be ``null`` where a script does not measure it), the ratio ours / peer (CPU time where
both sides have it, else wall time) and the target with whether it was met.
"""

from __future__ import annotations

import json
import math
import resource
import sys
from typing import Any, Literal

Metric = Literal["ratio", "wall_s", "cpu_s", "peak_rss_mb"]


def side(wall_s: float | None, cpu_s: float | None = None, peak_rss_mb: float | None = None) -> dict[str, float | None]:
    """One side of a measurement (seconds, MiB)."""
    return {"wall_s": _round(wall_s), "cpu_s": _round(cpu_s), "peak_rss_mb": _round(peak_rss_mb)}


def peak_rss_mb() -> float:
    """This process's true peak resident memory (the kernel's high-water mark), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(bench: str, name: str, ours: dict[str, float | None], peer: dict[str, float | None] | None = None, *,
         peer_name: str = "", target: tuple[Metric, float] | None = None, note: str = "") -> dict[str, Any]:
    """Print (and return) the ``RESULT`` line of one measurement.

    ``target`` is ``("ratio", 1.0)`` for "ours at most 1.0x the peer", or a bound on one of ours'
    figures: ``("cpu_s", 2.0)``, ``("wall_s", 0.5)``, ``("peak_rss_mb", 1536)``.
    """
    ratio, ratio_of = None, None
    if peer is not None:
        ratio_of = "cpu" if ours.get("cpu_s") and peer.get("cpu_s") else "wall"
        a, b = ours.get(f"{ratio_of}_s"), peer.get(f"{ratio_of}_s")
        ratio = _round(a / b) if a is not None and b else None
    passed = None
    if target is not None:
        metric, bound = target
        value = ratio if metric == "ratio" else ours.get(metric)
        passed = None if value is None else bool(value <= bound)
    result = {"bench": bench, "name": name, "ours": ours, "peer": peer, "peer_name": peer_name, "ratio": ratio,
              "ratio_of": ratio_of, "target": None if target is None else {"metric": target[0], "max": target[1]},
              "pass": passed, "note": note}
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    sys.stdout.flush()
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)

def same_answer(a, b, rel: float = 1e-9) -> bool:
    """Equal answers, floats within ``rel`` of each other (the engines sum in different orders), as
    the engine contract tests compare them (bench/scale_out.py, bench/cli.py)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_answer(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_answer(x, y, rel) for x, y in zip(a, b))
    return a == b
