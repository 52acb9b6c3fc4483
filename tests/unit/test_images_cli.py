"""`kubeling images import | ls | rm` on a data dir."""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from kubeling import images_cli

from .test_images_store import BASE, add_to_tar, sha

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking layers needs root")


def test_import_ls_rm(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": [sha(BASE)]}}).encode()
    arc = str(tmp_path / "save.tar")
    with tarfile.open(arc, "w") as tf:
        add_to_tar(tf, "c.json", cfg)
        add_to_tar(tf, "l/layer.tar", BASE)
        add_to_tar(tf, "manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["busybox:1.35"],
                                                     "Layers": ["l/layer.tar"]}]).encode())
    data = str(tmp_path / "data")
    assert images_cli.main(["images", "--data-dir", data, "import", arc]) == 0
    assert "imported docker.io/library/busybox:1.35 (" + sha(cfg) + ")" in capsys.readouterr().out
    assert images_cli.main(["images", "--data-dir", data, "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert lines[1].split()[:3] == ["docker.io/library/busybox", "1.35", sha(cfg)[7:20]]
    assert images_cli.main(["images", "--data-dir", data, "ls", "-q"]) == 0
    assert capsys.readouterr().out == sha(cfg) + "\n"
    assert images_cli.main(["images", "--data-dir", data, "rm", "busybox:1.35", "nope:1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "Deleted: docker.io/library/busybox:1.35\n"
    assert "image 'nope:1': not found" in captured.err
    assert images_cli.main(["images", "--data-dir", data, "import", str(tmp_path / "missing.tar")]) == 1


@pytest.mark.parametrize("n,want", [(0, "0B"), (999, "999B"), (1000, "1kB"), (1036647, "1.037MB"),
                                    (8360000, "8.36MB"), (5.5e9, "5.5GB")])
def test_human_size(n: float, want: str) -> None:
    assert images_cli.human_size(n) == want
