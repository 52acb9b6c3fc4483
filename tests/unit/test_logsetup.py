"""`kubeling up` logging: warnings on stderr, everything in DATA/kubeling.log (rotated), each line
tagged with its component, nothing written twice when stderr is the log file; progress lines."""

from __future__ import annotations

import io
import logging
import os
from typing import Any, Iterator

import pytest

from kubeling import logsetup


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_stderr_warnings_file_everything_component_tagged(tmp_path: Any) -> None:
    err = io.StringIO()
    path = logsetup.setup(str(tmp_path / "data"), 0, stderr=err)
    assert path == str(tmp_path / "data" / "kubeling.log")
    logging.getLogger("kubeling.kubelet.network").warning("bridge %s is gone", "kubeling0")
    logging.getLogger("kubeling.scheduler").info("bound")
    logging.getLogger("kubeling.store").debug("noise")
    assert err.getvalue().count("\n") == 1
    assert "WARNING [kubelet.network] bridge kubeling0 is gone" in err.getvalue()
    text = open(path).read()
    assert "WARNING [kubelet.network] bridge kubeling0 is gone" in text and "INFO [scheduler] bound" in text
    assert "noise" not in text
    handler = next(h for h in logging.getLogger().handlers if hasattr(h, "maxBytes"))
    assert (handler.maxBytes, handler.backupCount) == (logsetup.MAX_BYTES, logsetup.BACKUPS)  # type: ignore


def test_verbose_levels(tmp_path: Any) -> None:
    err = io.StringIO()
    logsetup.setup(str(tmp_path), 2, stderr=err)
    logging.getLogger("kubeling.store").debug("noise")
    assert "DEBUG [store] noise" in err.getvalue()
    assert "DEBUG [store] noise" in open(tmp_path / "kubeling.log").read()
    assert [logsetup.stderr_level(v) for v in (0, 1, 2, 5)] == [logging.WARNING, logging.INFO, logging.DEBUG,
                                                              logging.DEBUG]


def test_stderr_redirected_to_the_log_file_writes_once(tmp_path: Any) -> None:
    path = tmp_path / "kubeling.log"
    with open(path, "a") as stderr:
        logsetup.setup(str(tmp_path), 1, stderr=stderr)
        logging.getLogger("kubeling").warning("once")
        for h in logging.getLogger().handlers:
            h.flush()
    assert open(path).read().count("once") == 1
    assert len(logging.getLogger().handlers) == 1


def test_step_progress_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with logsetup.step("Preparing images") as detail:
        detail.append("busybox nginx redis")
    with pytest.raises(OSError):
        with logsetup.step("Starting the local registry"):
            raise OSError("no docker-registry")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == " • Preparing images ..."
    assert out[1].startswith(" ✓ Preparing images (busybox nginx redis, ") and out[1].endswith("s)")
    assert out[2:] == [" • Starting the local registry ...", " ✗ Starting the local registry: no docker-registry"]
