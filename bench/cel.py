"""CEL costs (api/cel.py on cel-python): compile, and evaluation of typical admission rules.

Prints microseconds per compile (cold, then cached) and per evaluation, and the operations per
second the interpreter reaches (what the runtime cost limit, PER_CALL_LIMIT, is measured in).
Run: PYTHONPATH=src python bench/cel.py
"""

from __future__ import annotations

import time

from kubeling.api import cel

DEPLOYMENT = {"metadata": {"name": "web", "labels": {"app": "web"}},
              "spec": {"replicas": 3, "template": {"spec": {"containers": [
                  {"name": f"c{i}", "image": f"registry.local/app:{i}", "ports": [{"containerPort": 8000 + i}]}
                  for i in range(5)]}}}}
EXPRESSIONS = {
    "replicas <= 5": "object.spec.replicas <= 5",
    "has + labels": "has(object.metadata.labels) && 'app' in object.metadata.labels",
    "containers.all(image)": "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
    "nested ports": "object.spec.template.spec.containers.all(c, c.ports.all(p, p.containerPort > 1024))",
}


def per_call(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    act = {"object": cel.to_cel(DEPLOYMENT)}
    print(f"to_cel(Deployment with 5 containers): {per_call(lambda: cel.to_cel(DEPLOYMENT), 500):8.1f} us")
    for label, expr in EXPRESSIONS.items():
        cel._compile.cache_clear()
        cold = per_call(lambda: cel.compile(expr, ["object"]), 1)
        warm = per_call(lambda: cel.compile(expr, ["object"]), 2000)
        prog = cel.compile(expr, ["object"])
        ev = per_call(lambda: prog.evaluate(act), 200)
        budget = [cel.REQUEST_LIMIT]
        prog.evaluate(act, budget)
        ops = cel.REQUEST_LIMIT - budget[0]
        print(f"{label:24s} compile {cold:8.1f} us (cached {warm:5.2f} us)  evaluate {ev:8.1f} us  "
              f"{ops:4d} ops  {ops / ev * 1e6:10.0f} ops/s")


if __name__ == "__main__":
    main()
