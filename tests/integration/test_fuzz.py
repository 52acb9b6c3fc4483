"""A short, deterministic fuzz run against a real `kubeling up` (issue 7's acceptance).

The fuzzer (tests/integration/fuzzing) knows only what the cluster serves: its OpenAPI v3
documents give every write (create, update, 3 patch types, apply, delete, subresources) and the
schemas it generates valid-ish and hostile bodies from; a checker written here, not kubeling's,
type-checks every answer and every stored object. The run happens once per module; each test
below asserts one oracle, so a failure names the broken guarantee and shows examples.
`bench/fuzz.py` runs the same fuzzer for longer and prints the counts.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from .conftest import Cluster, free_port
from .fuzzing import oracles
from .fuzzing.harness import Fuzzer, run
from .fuzzing.oracles import Tally

EXAMPLES = int(os.environ.get("KUBELING_FUZZ_EXAMPLES", "4000"))  # ~40-60 s on 2 busy cores
RSS_LIMIT_MIB = 512  # idle is ~80 MiB; the short run stays far below unless something balloons


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fuzzer, Tally, str]]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-fuzz")), free_port(), extra_args=("--sim-nodes", "1"))
    c.start()
    try:
        assert c.proc is not None
        fuzzer = Fuzzer(c.url, c.session(), c.proc.pid, c.log_path, bomb=(4, 4))
        tally = run(fuzzer, EXAMPLES, derandomize=True)
        controllers = fuzzer.controllers_work()
        print("\n" + tally.summary())
        yield fuzzer, tally, controllers
    finally:
        c.stop()


def _none(tally: Tally, category: str) -> None:
    found = [(sig, n) for (cat, sig), n in tally.counts.items() if cat == category]
    if found:
        lines = [f"{n} x {sig}\n    request: {tally.examples[(category, sig)].request[:300]!r}\n"
                 f"    response: {tally.examples[(category, sig)].response[:300]!r}" for sig, n in found[:15]]
        pytest.fail(f"{sum(n for _, n in found)} {category} ({len(found)} kinds):\n" + "\n".join(lines))


def test_the_fuzzer_covered_every_kind_of_case(fuzzed) -> None:
    _, tally, _ = fuzzed
    for case in ("create", "update", "json-patch", "merge-patch", "strategic-merge-patch", "apply", "delete",
                 "raw-json", "raw-yaml", "raw-bytes", "query", "auth", "list-check"):
        assert tally.by_case[case] > 0, case
    assert tally.stored_checked > 0 and tally.by_status[201] > 0 and tally.by_status[200] > 0


# one test per guarantee, named after it; each fails with up to 15 example requests and answers
GUARANTEES = {
    "no_unhandled_errors": (oracles.UNHANDLED,),
    "5xx_only_where_upstream_answers_5xx": (oracles.UNEXPECTED_5XX,),
    "every_error_is_a_status_and_every_success_an_object": (oracles.NOT_STATUS, oracles.NOT_OBJECT),
    "no_wrongly_typed_object_stored": (oracles.TYPED_STORED,),
    "no_wrongly_typed_object_returned": (oracles.TYPED_RETURNED,),
    "warning_headers_are_bounded": (oracles.BIG_WARNINGS,),
    "valid_selectors_and_paging_answer_200": (oracles.VALID_QUERY_REFUSED,),
    "bad_credentials_are_refused": (oracles.BAD_CREDENTIALS,),
    "watch_streams_are_events": (oracles.BAD_WATCH_EVENT,),
}


@pytest.mark.parametrize("categories", GUARANTEES.values(), ids=GUARANTEES.keys())
def test_guarantee(fuzzed, categories: tuple[str, ...]) -> None:
    for category in categories:
        _none(fuzzed[1], category)


def test_every_request_was_answered_and_rss_bounded(fuzzed) -> None:
    fuzzer, tally, _ = fuzzed
    for category in (oracles.SERVER_DIED, oracles.NO_ANSWER, oracles.RSS_JUMP):
        _none(tally, category)
    assert tally.peak_rss_kib // 1024 < RSS_LIMIT_MIB
    assert fuzzer.s.get(f"{fuzzer.url}/readyz", timeout=10).status_code == 200


def test_server_log_has_no_tracebacks(fuzzed) -> None:
    _, tally, _ = fuzzed
    assert tally.log_tracebacks == 0, f"{tally.log_tracebacks} tracebacks in the server log ({tally.log_bytes} bytes written)"


def test_controllers_still_work_after_fuzzing(fuzzed) -> None:
    assert fuzzed[2] == ""
