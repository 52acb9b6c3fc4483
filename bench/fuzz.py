"""Long fuzz run: the fuzzer of tests/integration/test_fuzz.py, for many more cases, with counts.

Starts its own `kubeling up --sim-nodes 1` on a free port with a temporary data dir, sends
`--cases` fuzz cases (hypothesis, random seed unless --seed), then prints the counts by category:
requests, answers by status code, unhandled errors, 5xx upstream would not send, wrongly typed
objects returned and stored, peak RSS, server log growth and tracebacks, and whether the
controllers still work; `--findings FILE` writes every finding group with one example.

    .venv/bin/python bench/fuzz.py [--cases 12000] [--big] [--bomb 6x6] [--rss-limit-mib 2048]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.integration.conftest import Cluster, free_port  # noqa: E402
from tests.integration.fuzzing.harness import Fuzzer, rss_kib, run  # noqa: E402
from tests.integration.fuzzing import oracles  # noqa: E402
from tests.integration.fuzzing.oracles import markdown  # noqa: E402


def guard(pid: int, limit_mib: int, stop: threading.Event) -> None:
    """Kill the server we started if it balloons (the machine is shared): a finding, not a hang."""
    while not stop.wait(0.5):
        try:
            if rss_kib(pid) // 1024 > limit_mib:
                print(f"!! server RSS above {limit_mib} MiB: killing it", flush=True)
                os.kill(pid, 9)
                return
        except OSError:
            return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=12000, help="fuzz cases (about 1.3 requests each)")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    ap.add_argument("--big", action="store_true", help="1 MB strings and 200 KB field names")
    ap.add_argument("--bomb", default="5x5", help="YAML alias bomb LEVELSxWIDTH (width**(levels-1) leaves)")
    ap.add_argument("--batch", type=int, default=300, help="cases between stored-object checks")
    ap.add_argument("--rss-limit-mib", type=int, default=2048)
    ap.add_argument("--findings", default="", help="write the findings as Markdown (one example per group) here")
    ap.add_argument("--only", default="", help="comma-separated case kinds (create, update, query, ...)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    args = ap.parse_args()
    levels, width = (int(x) for x in args.bomb.split("x"))

    c = Cluster(tempfile.mkdtemp(prefix="kubeling-fuzz-"), free_port(), extra_args=("--sim-nodes", "1"))
    c.start()
    assert c.proc is not None
    stop = threading.Event()
    threading.Thread(target=guard, args=(c.proc.pid, args.rss_limit_mib, stop), daemon=True).start()
    t0 = time.monotonic()
    try:
        fuzzer = Fuzzer(c.url, c.session(), c.proc.pid, c.log_path, big=args.big, bomb=(levels, width), batch=args.batch)
        tally = run(fuzzer, args.cases, derandomize=False, seed=args.seed, progress=1000,
                    kinds=tuple(k for k in args.only.split(",") if k))
        elapsed = time.monotonic() - t0
        alive = c.proc.poll() is None
        controllers = fuzzer.controllers_work() if alive else "server is gone"
        cats = tally.by_category()
        head = "\n".join([
            f"cases: {args.cases} in {elapsed:.0f} s ({tally.requests / elapsed:.0f} requests/s)",
            f"unhandled errors: {cats[oracles.UNHANDLED]}",
            f"5xx upstream would not send: {cats[oracles.UNEXPECTED_5XX]}",
            f"wrongly typed objects returned: {cats[oracles.TYPED_RETURNED]}",
            f"server alive: {alive}; controllers after fuzzing: {controllers or 'OK'}",
            tally.summary(groups=False)])
        print(head)
        print(tally.summary())
        if args.findings:
            with open(args.findings, "w") as f:
                f.write("```\n" + head + "\n```\n\n" + markdown(tally))
    finally:
        stop.set()
        c.stop()
        if not args.keep:
            shutil.rmtree(c.data_dir, ignore_errors=True)
            shutil.rmtree(c.cache_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
