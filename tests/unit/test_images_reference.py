"""Image references (distribution/reference normalize tests) and pull policy (kubelet)."""

from __future__ import annotations

import pytest

from kubeling.api.goduration import seconds_duration
from kubeling.kubelet.images import policy
from kubeling.kubelet.images.reference import ReferenceError, normalize, parse, parse_image_name

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("raw,want", [
    ("nginx", "docker.io/library/nginx"),
    ("nginx:1.14.2", "docker.io/library/nginx:1.14.2"),
    ("nginx:1.161", "docker.io/library/nginx:1.161"),
    ("docker.io/nginx", "docker.io/library/nginx"),
    ("index.docker.io/nginx:latest", "docker.io/library/nginx:latest"),
    ("library/redis", "docker.io/library/redis"),
    ("foo/bar", "docker.io/foo/bar"),
    ("foo/bar/baz:v1", "docker.io/foo/bar/baz:v1"),
    ("localhost/foo", "localhost/foo"),
    ("localhost:5000/x/y", "localhost:5000/x/y"),
    ("127.0.0.1:5000/x/y:tag", "127.0.0.1:5000/x/y:tag"),
    (f"127.0.0.1:5000/x/y@{D}", f"127.0.0.1:5000/x/y@{D}"),
    (f"nginx:1.14.2@{D}", f"docker.io/library/nginx:1.14.2@{D}"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("[::1]:5000/foo", "[::1]:5000/foo"),
    ("Foo/bar", "Foo/bar"),  # an uppercase first component is a host, as upstream
    ("a__b/c-d.e_f", "docker.io/a__b/c-d.e_f"),
])
def test_parse_normalized(raw: str, want: str) -> None:
    assert str(parse(raw)) == want


@pytest.mark.parametrize("raw,msg", [
    ("NGINX", "invalid reference format: repository name (library/NGINX) must be lowercase"),
    ("foo/Bar", "invalid reference format: repository name (foo/Bar) must be lowercase"),
    ("nginx:", "invalid reference format"),
    ("nginx@sha256:abc", "invalid reference format"),
    ("nginx@sha256:" + "a" * 63, "invalid checksum digest format"),
    ("nginx@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("-nginx", "invalid reference format"),
    ("nginx:" + "x" * 129, "invalid reference format"),
    ("x/" + "a" * 250, "repository name must not be more than 255 characters"),
    ("", "invalid reference format"),
])
def test_parse_errors(raw: str, msg: str) -> None:
    with pytest.raises(ReferenceError) as e:
        parse(raw)
    assert str(e.value) == msg


def test_parts_and_forms() -> None:
    r = parse(f"localhost:5000/team/app:v1@{D}")
    assert (r.domain, r.path, r.tag, r.digest) == ("localhost:5000", "team/app", "v1", D)
    assert r.object == D  # the digest wins when fetching
    assert str(normalize("nginx")) == "docker.io/library/nginx:latest"
    assert str(normalize(f"nginx@{D}")) == f"docker.io/library/nginx@{D}"  # no tag added to a digest
    assert str(normalize("nginx:1.14.2").with_digest(D)) == f"docker.io/library/nginx@{D}"
    assert normalize("nginx").familiar() == "nginx:latest"
    assert normalize("foo/bar:v1").familiar() == "foo/bar:v1"
    assert normalize("localhost:5000/x").familiar() == "localhost:5000/x:latest"


def test_parse_image_name() -> None:
    assert parse_image_name("nginx") == ("docker.io/library/nginx", "latest", "")
    assert parse_image_name(f"nginx@{D}") == ("docker.io/library/nginx", "", D)
    with pytest.raises(ReferenceError, match=r'couldn\'t parse image name "NGINX": invalid reference format'):
        parse_image_name("NGINX")


@pytest.mark.parametrize("image,want", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("docker.io/library/nginx:latest", "Always"),
    ("nginx:1.14.2", "IfNotPresent"),
    (f"nginx@{D}", "IfNotPresent"),
    (f"nginx:latest@{D}", "Always"),
    ("localhost:5000/x", "Always"),
    ("NGINX", "IfNotPresent"),
])
def test_default_pull_policy(image: str, want: str) -> None:
    assert policy.default_pull_policy(image) == want


@pytest.mark.parametrize("pol,present,want", [
    ("Always", True, True), ("Always", False, True),
    ("IfNotPresent", True, False), ("IfNotPresent", False, True),
    ("Never", True, False), ("Never", False, False),
])
def test_needs_pull(pol: str, present: bool, want: bool) -> None:
    assert policy.needs_pull(pol, present) is want


@pytest.mark.parametrize("secs,want", [
    (0, "0s"), (0.0005, "0s"), (0.523, "523ms"), (1.2, "1.2s"), (1.234, "1.234s"), (10, "10s"),
    (60, "1m0s"), (62.5, "1m2.5s"), (3725.1, "1h2m5.1s"),
])
def test_go_duration(secs: float, want: str) -> None:
    assert seconds_duration(secs, truncate=True) == want


def test_messages() -> None:
    assert policy.msg_pulled("redis", 1.2345, 1.5, 8360000) == (
        'Successfully pulled image "redis" in 1.234s (1.5s including waiting). Image size: 8360000 bytes.')
    assert policy.msg_present("nginx:1.14.2") == 'Container image "nginx:1.14.2" already present on machine'
    assert policy.msg_never_pull("x") == 'Container image "x" is not present with pull policy of Never'
    assert policy.msg_pulling("nginx") == 'Pulling image "nginx"'
    assert policy.msg_backoff("nginx:1.161") == 'Back-off pulling image "nginx:1.161"'
