"""Issue 7 §1 and §3: request bodies are read whole and every input is bounded (size, nesting,
YAML aliases, query parameters), each failure a Status with upstream's code, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from multidict import MultiDict, MultiDictProxy

from kubeling.api import bounds, errors, yamljson
from kubeling.api.patch.jsonpatch import json_patch
from kubeling.api.patch.merge import merge_patch
from kubeling.api.resources import lookup
from kubeling.apiserver import handlers, negotiation
from kubeling.apiserver.app import Authenticator
from kubeling.store.base import RequestTooLarge
from kubeling.store.sqlite import SQLiteStore

MiB = 1024 * 1024


def status_of(fn: Any, *args: Any) -> tuple[int, str, str]:
    with pytest.raises(errors.StatusError) as ei:
        fn(*args)
    return ei.value.code, ei.value.reason, ei.value.message


# ---- §1: the whole body, whatever the TCP reads --------------------------------------------------


class Trickle:
    """A request stream that hands out what "has arrived": a few bytes per read, like aiohttp's
    StreamReader.read(n) on a body that comes in many TCP segments."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.pos = data, step, 0

    async def read(self, n: int = -1) -> bytes:
        end = min(len(self.data), self.pos + self.step, self.pos + (n if n >= 0 else len(self.data)))
        out, self.pos = self.data[self.pos:end], end
        return out


@pytest.mark.parametrize("size", [1, 4096, 200 * 1024, negotiation.MAX_BODY])
async def test_body_arriving_in_pieces_is_read_whole(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert await negotiation.read_body(Trickle(body, 1000), None) == body  # chunked: no length
    assert await negotiation.read_body(Trickle(body, 1000), len(body)) == body


async def test_body_past_the_limit_is_413_with_upstreams_status() -> None:
    too_big = b"x" * (negotiation.MAX_BODY + 1)
    for length in (None, len(too_big)):
        with pytest.raises(errors.StatusError) as ei:
            await negotiation.read_body(Trickle(too_big, 64 * 1024), length)
        assert ei.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": "Request entity too large: limit is 3145728",
                                     "reason": "RequestEntityTooLarge", "code": 413}


async def test_declared_length_past_the_limit_is_refused_before_reading() -> None:
    stream = Trickle(b"{}", 2)
    with pytest.raises(errors.StatusError):
        await negotiation.read_body(stream, 10 * negotiation.MAX_BODY)
    assert stream.pos == 0


async def test_in_process_body_is_a_stream_read_once() -> None:
    from kubeling.api.wire import Body

    body = b'{"a": 1}' * 1000
    assert await negotiation.read_body(Body(body), len(body)) == body


# ---- §3: YAML as upstream decodes it, bounded -----------------------------------------------------


def laughs(levels: int, fanout: int = 10) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * fanout)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_fails_fast_with_go_yamls_message() -> None:
    bomb = laughs(8)  # 10**9 scalars once expanded, 531 bytes
    with pytest.raises(yamljson.YAMLToJSONError, match=r"^yaml: document contains excessive aliasing$"):
        yamljson.loads(bomb)
    code, reason, message = status_of(negotiation.decode_body, bomb.encode(), "application/yaml")
    assert (code, reason, message) == (400, "BadRequest",
                                       "error converting YAML to JSON: yaml: document contains excessive aliasing")


def test_moderate_aliasing_is_expanded_into_a_tree() -> None:
    doc = yamljson.loads("base: &b {x: [1, 2]}\nc1: *b\nc2: *b\n")
    assert doc == {"base": {"x": [1, 2]}, "c1": {"x": [1, 2]}, "c2": {"x": [1, 2]}}
    doc["c1"]["x"].append(3)  # no value is shared between an anchor and its aliases
    assert doc["c2"]["x"] == [1, 2] and doc["base"]["x"] == [1, 2]


def test_alias_expansion_past_the_body_limit_is_413() -> None:
    # few aliases per node (go-yaml's ratio allows it), but 4 MB of JSON once expanded
    doc = "s: &s " + "x" * 100_000 + "\nl: [" + ", ".join(["*s"] * 40) + "]\n"
    code, reason, _ = status_of(negotiation.decode_body, doc.encode(), "application/yaml")
    assert (code, reason) == (413, "RequestEntityTooLarge")


@pytest.mark.parametrize("doc", ["[" * 150, "x: " + "{a: " * 150, "- " * 150 + "x", "[" * 3_000_000])
def test_deep_yaml_is_400(doc: str) -> None:
    code, reason, message = status_of(negotiation.decode_body, doc.encode(), "application/yaml")
    assert (code, reason) == (400, "BadRequest") and message.startswith("error converting YAML to JSON: yaml: ")


def test_alias_that_nests_too_deep_is_400() -> None:
    deep = "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n"
    with pytest.raises(yamljson.YAMLToJSONError, match="exceeded max depth of 100"):
        yamljson.loads(deep)


@pytest.mark.parametrize(("text", "want"), [
    ("a: y\nb: on\nc: Off\nd: ~\ne: null\nf: ''", {"a": True, "b": True, "c": False, "d": None, "e": None, "f": ""}),
    ("a: 0755\nb: 0x1F\nc: 1_000\nd: -0b101\ne: +12\nf: '12'", {"a": 493, "b": 31, "c": 1000, "d": -5, "e": 12, "f": "12"}),
    ("a: 3.0\nb: 1.5\nc: 1e3\nd: .5\ne: 1e400", {"a": 3, "b": 1.5, "c": 1000, "d": 0.5, "e": "1e400"}),
    ("a: 99999999999999999999\nb: 18446744073709551615", {"a": 1e20, "b": 18446744073709551615}),
    ("a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00", {"a": "2001-12-14", "b": "2001-12-14t21:59:43.10-05:00"}),
    ("a: !!binary aGVsbG8=\nb: !!str 12\nc: !!float 3", {"a": "hello", "b": "12", "c": 3}),
    ("s: !!set {a, b}\np: !!python/object:os.system {a: 1}\nf: !foo 12\no: !!omap [{a: 1}]",
     {"s": {"a": None, "b": None}, "p": {"a": 1}, "f": "12", "o": [{"a": 1}]}),
    ("1: a\n1.5: b\ntrue: c\n1e7: d\nn: e", {"1": "a", "1.5": "b", "true": "c", "1e+07": "d", "false": "e"}),
    ("b: &b {x: 1, z: 1}\nd:\n  <<: *b\n  z: 2\n", {"b": {"x": 1, "z": 1}, "d": {"x": 1, "z": 2}}),
    ("a: 1\n---\nb: 2\n", {"a": 1}),
    ("", None),
])
def test_values_are_json_as_sigs_k8s_io_yaml_makes_them(text: str, want: Any) -> None:
    got = yamljson.loads(text)
    assert got == want
    orjson.dumps(got)  # storable as it is


@pytest.mark.parametrize(("text", "message"), [
    ("a: !!int abc", "yaml: cannot decode !!str `abc` as a !!int"),
    ("a: !!binary '***'", "yaml: !!binary value contains invalid base64 data"),
    ("a: .nan", "json: unsupported value: NaN"),
    ("a: -.inf", "json: unsupported value: -Inf"),
    ("? [a, b]\n: 1\n", 'yaml: invalid map key: []interface {}{"a", "b"}'),
    ("~: 1", "unsupported map key of type: %!s(<nil>), key: <nil>, value: 1"),
    ("a: &x {b: *x}", "yaml: anchor 'x' value contains itself"),
    ("a: *nope", "yaml: unknown anchor 'nope' referenced"),
    ("a: 1\nb:\n  <<: 5\n", "yaml: map merge requires map or sequence of maps as the value"),
    ("a: [b", "yaml: line 2: did not find expected ',' or ']'"),
])
def test_yaml_without_a_json_value_is_400(text: str, message: str) -> None:
    assert status_of(negotiation.decode_body, text.encode(), "application/yaml") == (
        400, "BadRequest", "error converting YAML to JSON: " + message)


# ---- §3: nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["application/json", "application/merge-patch+json",
                                   "application/strategic-merge-patch+json", "application/json-patch+json",
                                   "application/apply-patch+yaml", "application/yaml"])
@pytest.mark.parametrize("depth", [101, 1000, 5000])
def test_deep_json_is_400_at_decode(ctype: str, depth: int) -> None:
    body = b'{"a":' * depth + b"1" + b"}" * depth
    code, reason, message = status_of(negotiation.decode_body, body, ctype)
    assert (code, reason) == (400, "BadRequest") and "exceeded max depth of 100" in message


def test_nesting_up_to_the_limit_is_accepted() -> None:
    body = b"[" * 100 + b"]" * 100
    assert negotiation.decode_body(body, "application/json") is not None
    assert negotiation.decode_body(body, "application/yaml") is not None


def test_depth_walk() -> None:
    v: Any = 1
    for i in range(100):
        v = {"a": v} if i % 2 else [v]
    assert not bounds.depth_exceeds(v, 100) and bounds.depth_exceeds([v], 100)
    assert not bounds.depth_exceeds({"a": "[[[[["}, 2, raw=b'{"a": "[[[[["}')  # brackets in strings


def test_json_patch_cannot_nest_past_what_python_walks() -> None:
    doc: dict[str, Any] = {"a": [], "b": [[[[[[[[[[]]]]]]]]]]}
    # each copy puts the 10 levels of /b at the bottom of /a: 300 levels, then /a is copied
    ops = [{"op": "copy", "from": "/b", "path": "/a" + "/0" * (10 * i) + "/-"} for i in range(30)]
    ops.append({"op": "copy", "from": "/a", "path": "/c"})
    code, reason, message = status_of(json_patch, doc, ops)
    assert (code, reason, message) == (400, "BadRequest", "exceeded max depth of 100")


def test_json_patch_copy_bomb_stops_at_the_accumulated_copy_limit() -> None:
    doc = {"a": ["x" * 1000]}
    ops = [{"op": "copy", "from": "/a", "path": f"/b{i}"} for i in range(10)]
    ops += [{"op": "copy", "from": "/a", "path": "/a/-"}] * 30  # doubles /a each time: 2**30 copies
    with pytest.raises(errors.StatusError) as ei:
        json_patch(doc, ops)
    assert ei.value.code == 422
    assert str(ei.value.__cause__).startswith("Unable to complete the copy, the accumulated size increase of copy is ")
    assert str(ei.value.__cause__).endswith(", exceeding the limit 3145728")


def test_merge_patch_of_bounded_inputs_stays_bounded() -> None:
    deep: Any = 1
    for _ in range(99):
        deep = {"a": deep}
    assert not bounds.depth_exceeds(merge_patch({"x": deep}, {"x": deep}))


def _ld(num: int, payload: bytes) -> bytes:
    def vint(x: int) -> bytes:
        out = bytearray()
        while True:
            b, x = x & 0x7F, x >> 7
            out.append(b | 0x80 if x else b)
            if not x:
                return bytes(out)
    return vint(num << 3 | 2) + vint(len(payload)) + payload


def test_protobuf_of_many_empty_messages_is_413() -> None:
    """2 bytes each on the wire, a dict each once decoded: the decoder's work is bounded."""
    spec = _ld(2, b"") * 600_000  # PodSpec.containers: 1.2 MB
    body = b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"Pod")) + _ld(2, _ld(1, _ld(1, b"p")) + _ld(2, spec))
    assert len(body) <= negotiation.MAX_BODY
    assert status_of(negotiation.decode_body, body, "application/vnd.kubernetes.protobuf") == (
        413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    few = b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"Pod")) + _ld(2, _ld(2, _ld(2, b"") * 1000))
    assert len(negotiation.decode_body(few, "application/vnd.kubernetes.protobuf")["spec"]["containers"]) == 1000


# ---- §3: the store's size limit (etcd's --max-request-bytes) --------------------------------------


async def test_value_past_etcds_limit_is_refused_as_upstream(tmp_path: Any) -> None:
    store = SQLiteStore(str(tmp_path / "state.db"))
    try:
        key = "/registry/core/configmaps/ns/big"
        obj = {"metadata": {"name": "big", "namespace": "ns"}, "data": {"a": "x" * (1536 * 1024)}}
        with pytest.raises(RequestTooLarge) as ei:
            await store.create(key, obj)
        assert ei.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": "etcdserver: request is too large", "code": 500}
        assert store.get(key) is None
        rev = store.revision
        entry = await store.create(key, {"metadata": {"name": "big"}, "data": {"a": "x" * MiB}})
        with pytest.raises(RequestTooLarge):
            await store.update(key, obj, entry.mod_rev)
        assert store.revision == rev + 1 and store.get(key).obj()["data"]["a"] == "x" * MiB
    finally:
        store.close()


# ---- §3: query parameters ------------------------------------------------------------------------


def q(**params: str) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(params))


@pytest.mark.parametrize(("raw", "message"), [
    ("9" * 80, f'strconv.ParseInt: parsing "{"9" * 80}": value out of range'),
    ("9223372036854775808", 'strconv.ParseInt: parsing "9223372036854775808": value out of range'),
    ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
    (" 1", 'strconv.ParseInt: parsing " 1": invalid syntax'),
    ("1_0", 'strconv.ParseInt: parsing "1_0": invalid syntax'),
    ("١", 'strconv.ParseInt: parsing "١": invalid syntax'),
])
def test_int64_query_parameters(raw: str, message: str) -> None:
    assert status_of(handlers._query_int, q(timeoutSeconds=raw), "timeoutSeconds") == (400, "BadRequest", message)


def test_int64_query_parameters_in_range() -> None:
    assert handlers._query_int(q(limit="-9223372036854775808"), "limit") == -(1 << 63)
    assert handlers._query_int(q(limit="+5"), "limit") == 5
    assert handlers._query_int(q(), "limit") == 0


def token(d: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("cont", "why"), [
    ("garbage!", "illegal base64 data at input byte 7"),
    ("eyJ2Ijo=", "illegal base64 data at input byte 7"),
    (token({"v": "meta.k8s.io/v1", "rv": 2**63, "start": "x"}),
     "json: cannot unmarshal number 9223372036854775808 into Go struct field continueToken.rv of type int64"),
    (token({"v": "meta.k8s.io/v1", "rv": "1", "start": "x"}),
     "json: cannot unmarshal string into Go struct field continueToken.rv of type int64"),
    (token([1]), "json: cannot unmarshal array into Go value of type storage.continueToken"),
    (token({"v": "meta.k8s.io/v2", "rv": 1, "start": "x"}), "server does not recognize this encoded version meta.k8s.io/v2"),
    (token({"v": "meta.k8s.io/v1", "rv": 0, "start": "x"}),
     "incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": ""}), "encoded start key empty (version meta.k8s.io/v1)"),
    (token({"v": "meta.k8s.io/v1", "rv": 5, "start": "/registry/../x"}), "/registry/../x"),
])
def test_invalid_continue_tokens_are_400(cont: str, why: str) -> None:
    assert status_of(handlers._parse_continue, cont) == (
        400, "BadRequest", f"invalid continue token: continue key is not valid: {why}")


def test_continue_token_round_trip() -> None:
    assert handlers._parse_continue(handlers._continue_token(42, "/registry/core/configmaps/ns/a")) == (
        42, "/registry/core/configmaps/ns/a\x00")


@pytest.mark.parametrize("labels", ["invalid", ["a"], {"a": ["x"]}, {"a": {"b": 1}}, {"a": 1}, None])
@pytest.mark.parametrize("selector", ["a==", "a=", "a in (x, )", "a notin (x)", "!a", "a", "a>1"])
def test_wrongly_typed_labels_match_nothing_they_lack(labels: Any, selector: str) -> None:
    res = lookup("", "v1", "configmaps")
    sel = handlers.Selectors(res, q(labelSelector=selector))
    sel.matches({"metadata": {"name": "x", "labels": labels}})
    sel.matches({"metadata": "x"})


def test_field_selector_on_a_wrongly_shaped_object_does_not_match() -> None:
    res = lookup("", "v1", "pods")
    sel = handlers.Selectors(res, q(fieldSelector="spec.nodeName=n1"))
    assert sel.matches({"metadata": {"name": "x"}, "spec": "oops"}) is False


def test_non_utf8_bearer_token_is_unauthenticated(tmp_path: Any) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("secret,admin,admin,system:masters\n")
    authn = Authenticator(str(tokens))
    assert authn.authenticate_token("secret") is not None
    assert authn.authenticate_token(b"\xff\xfe".decode("utf-8", "surrogateescape")) is None
    assert authn.authenticate_token("sécret") is None
