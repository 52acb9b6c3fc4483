"""Label and field selectors: tables ported from apimachinery's selector_test.go files, the
selectors kubectl sends in the wire traces, and the exact 400 messages kube-apiserver returns."""

from __future__ import annotations

import pytest

from kubeling.api import conversion
from kubeling.api.errors import StatusError
from kubeling.api.fieldselectors import (
    FieldRequirement,
    field_selector_for,
    parse_field_selector,
    selectable_fields,
    supported_field_labels,
)
from kubeling.api.selectors import (
    EVERYTHING,
    NOTHING,
    LabelSelector,
    Requirement,
    from_label_selector_object,
    go_quote,
    new_requirement,
    parse_label_selector,
    selector_from_set,
    selector_to_string,
)


def label_error(s: str) -> str:
    with pytest.raises(StatusError) as e:
        parse_label_selector(s)
    assert e.value.code == 400 and e.value.reason == "BadRequest"
    return e.value.message


# --- labels: TestSelectorParse / TestDeterministicParse -----------------------------------------

@pytest.mark.parametrize("s", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"])
def test_parse_good_strings_restring(s):
    assert str(parse_label_selector(s)) == s.replace(" ", "")


@pytest.mark.parametrize("s", ["x=a||y=b", "x==a==b", "!x=a", "x<a"])
def test_parse_bad_strings(s):
    label_error(s)


def test_deterministic_parse():
    assert str(parse_label_selector("x=a,a=x")) == str(parse_label_selector("a=x,x=a")) == "a=x,x=a"


# --- labels: TestSelectorMatches -----------------------------------------------------------------

@pytest.mark.parametrize("sel,labels,want", [
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),  # in and notin as key and value
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x<1", {"x": "2"}, False),
    ("foo=bar", {"foo": "bar", "baz": "blah"}, True),
    ("baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo=blah", {"foo": "bar", "baz": "blah"}, False),
    ("baz=bar", {"foo": "bar", "baz": "blah"}, False),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    # set-based, TestRequirementSelectorMatching
    ("x in (foo),y notin (alpha)", {"x": "foo", "y": "baz"}, True),
    ("x in (foo),y in (alpha)", {"x": "foo", "y": "baz"}, False),
    ("x notin (),y", {"y": ""}, True),
    ("!x,y", {"y": ""}, True),
    ("x notin (),!y", {"y": ""}, False),
    ("x in ()", {"y": "baz"}, False),
    ("z>1", {"z": "2"}, True),
    ("z>1", {"z": "v2"}, False),
    ("x in (a,b)", {"x": "b"}, True),
    ("x notin (a,b)", {}, True),
    ("x!=a", {}, True),
    ("x==a", {"x": "a"}, True),
])
def test_selector_matches(sel, labels, want):
    assert parse_label_selector(sel).matches(labels) is want


def test_matches_none_labels():
    assert parse_label_selector("!x").matches(None)
    assert not parse_label_selector("x").matches(None)
    assert EVERYTHING.matches(None)


def test_everything_and_set_selectors():
    assert EVERYTHING.matches({"x": "y"}) and EVERYTHING.empty()
    assert selector_from_set(None).empty() and selector_from_set({}).empty()
    labelset = {"foo": "bar", "baz": "blah"}
    for s in ({}, {"foo": "bar"}, {"baz": "blah"}, {"foo": "bar", "baz": "blah"}):
        assert selector_from_set(s).matches(labelset)
    assert not selector_from_set({"foo": "baz"}).matches(labelset)
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"


# --- labels: TestSetSelectorParser ---------------------------------------------------------------

def R(key, op, *vals):
    return Requirement(key, op, tuple(sorted(vals)))


@pytest.mark.parametrize("s,want", [
    ("", []),
    ("\rx", [R("x", "exists")]),
    ("this-is-a-dns.domain.com/key-with-dash", [R("this-is-a-dns.domain.com/key-with-dash", "exists")]),
    ("this-is-another-dns.domain.com/key-with-dash in (so,what)",
     [R("this-is-another-dns.domain.com/key-with-dash", "in", "so", "what")]),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
     [R("0.1.2.domain/99", "notin", "10.10.100.1", "tick.tack.clock")]),
    ("foo  in\t (abc)", [R("foo", "in", "abc")]),
    ("x notin\n (abc)", [R("x", "notin", "abc")]),
    ("x  notin\t\t\t(abc,def)", [R("x", "notin", "abc", "def")]),
    ("x in (abc,def)", [R("x", "in", "abc", "def")]),
    ("x in (abc,)", [R("x", "in", "abc", "")]),
    ("x in ()", [R("x", "in", "")]),
    ("x notin (abc,,def),bar,z in (),w",
     [R("bar", "exists"), R("w", "exists"), R("x", "notin", "abc", "", "def"), R("z", "in", "")]),
    ("x=a", [R("x", "=", "a")]),
    ("x>1", [R("x", "gt", "1")]),
    ("x<7", [R("x", "lt", "7")]),
    ("x=a,y!=b", [R("x", "=", "a"), R("y", "!=", "b")]),
    ("x=a,y!=b,z in (h,i,j)", [R("x", "=", "a"), R("y", "!=", "b"), R("z", "in", "h", "i", "j")]),
    ("x notin ( )", [R("x", "notin", "")]),
    ("x notin (, a)", [R("x", "notin", "", "a")]),
    ("a ", [R("a", "exists")]),
    ("a in (x,y,notin, z,in)", [R("a", "in", "in", "notin", "x", "y", "z")]),
    ("x,y in (a)", [R("x", "exists"), R("y", "in", "a")]),
])
def test_set_selector_parser_valid(s, want):
    assert list(parse_label_selector(s).requirements) == want


@pytest.mark.parametrize("s", ["x=a||y=b", "x,,y", ",x,y", "x nott in (y)", "a in (xyz),", "a in (xyz)b notin ()",
                               "a in (xyz abc)", "a notin(", "a (", "("])
def test_set_selector_parser_invalid(s):
    label_error(s)


# --- labels: exact messages kube-apiserver returns ------------------------------------------------

QNAME_REGEX = ("(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
               "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@pytest.mark.parametrize("s,msg", [
    ("app:monolith", 'unable to parse requirement: <nil>: Invalid value: "app:monolith": name part must consist of '
     "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " + QNAME_REGEX),
    ("*bar", 'unable to parse requirement: <nil>: Invalid value: "*bar": name part must consist of alphanumeric '
     "characters, '-', '_' or '.', and must start and end with an alphanumeric character " + QNAME_REGEX),
    ("a/b/c ?=? def", 'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of '
     "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " + QNAME_REGEX
     + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
    ("app.kubernetes_io/name=x", 'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": '
     "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
    ("app=-x", 'unable to parse requirement: values[0][app]: Invalid value: "-x": a valid label must be an empty '
     "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
     "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
     "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("a=" + "b" * 64, "unable to parse requirement: values[0][a]: Invalid value: \"" + "b" * 64
     + '": must be no more than 63 characters'),
    ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
    ("x=a=b", "found '=', expected: ',' or 'end of string'"),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    (",x", "found ',', expected: !, identifier, or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, "
     "the value must be an integer"),
    ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
    ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
    ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
    ("x in a", "unable to parse requirement: found 'a' expected: '('"),
    ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
    ("x= =", "unable to parse requirement: found '=', expected: identifier"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
])
def test_label_error_messages(s, msg):
    assert label_error(s) == msg


def test_value_errors_are_aggregated():
    assert label_error("x in (-a,-b)").startswith("unable to parse requirement: [values[0][x]: Invalid value: \"-a\"")


# --- labels: the selectors kubectl sends -----------------------------------------------------------

def test_kubectl_wire_label_selectors():
    rs = parse_label_selector("app=nginx")
    assert rs.matches({"app": "nginx", "pod-template-hash": "abc"})
    assert not rs.matches({"app": "other"})
    assert rs.requires_exact_match("app") == "nginx"
    eps = parse_label_selector("kubernetes.io/service-name=x")
    assert eps.matches({"kubernetes.io/service-name": "x", "endpointslice.kubernetes.io/managed-by": "m"})
    assert not eps.matches({"kubernetes.io/service-name": "y"})
    assert str(eps) == "kubernetes.io/service-name=x"


def test_parse_is_cached_and_hashable():
    assert parse_label_selector("a=b") is parse_label_selector("a=b")
    assert parse_label_selector("a=b,c") == LabelSelector([R("c", "exists"), R("a", "=", "b")])
    assert len({parse_label_selector("a=b"), parse_label_selector("a = b")}) == 1


# --- labels: requirement constructor and String() -------------------------------------------------

@pytest.mark.parametrize("key,op,vals,ok", [
    ("x", "in", (), False),
    ("x", "notin", (), False),
    ("x", "in", ("foo",), True),
    ("x", "notin", ("foo",), True),
    ("x", "exists", (), True),
    ("x", "!", (), True),
    ("1foo", "in", ("bar",), True),
    ("1234", "in", ("bar",), True),
    ("y", "gt", ("1",), True),
    ("z", "lt", ("6",), True),
    ("foo", "gt", ("bar",), False),
    ("barz", "lt", ("blah",), False),
    ("a" * 254, "exists", (), False),
    ("x", "=", ("a", "b"), False),
    ("x", "exists", ("a",), False),
    ("x", "bogus", (), False),
])
def test_requirement_constructor(key, op, vals, ok):
    if ok:
        new_requirement(key, op, vals)
    else:
        with pytest.raises(Exception):
            new_requirement(key, op, vals)


@pytest.mark.parametrize("reqs,out", [
    ([R("x", "in", "abc", "def"), R("y", "notin", "jkl"), R("z", "exists")], "x in (abc,def),y notin (jkl),z"),
    ([R("x", "notin", "abc", "def"), R("y", "!=", "jkl"), R("z", "!")], "x notin (abc,def),y!=jkl,!z"),
    ([R("x", "notin", "abc"), R("y", "in", "jkl", "mno"), R("z", "notin", "")], "x notin (abc),y in (jkl,mno),z notin ()"),
    ([R("x", "=", "abc"), R("y", "==", "jkl"), R("z", "!=", "a"), R("z", "exists")], "x=abc,y==jkl,z!=a,z"),
    ([R("x", "gt", "2"), R("y", "lt", "8"), R("z", "exists")], "x>2,y<8,z"),
    ([Requirement("x", "in", ("b", "a"))], "x in (a,b)"),
])
def test_to_string(reqs, out):
    assert str(LabelSelector(reqs)) == out


# --- labels: metav1.LabelSelector ----------------------------------------------------------------

def test_label_selector_object_nil_and_empty():
    assert from_label_selector_object(None) is NOTHING
    assert not NOTHING.matches({}) and not NOTHING.matches({"a": "b"}) and not NOTHING.empty()
    for empty in ({}, {"matchLabels": {}}, {"matchExpressions": []}, {"matchLabels": None, "matchExpressions": None}):
        sel = from_label_selector_object(empty)
        assert sel.empty() and sel.matches({}) and sel.matches({"a": "b"})


def test_label_selector_object_match_expressions():
    sel = from_label_selector_object({
        "matchLabels": {"app": "nginx", "tier": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "staging"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "team", "operator": "Exists"},
        ]})
    assert str(sel) == "app=nginx,!canary,env in (prod,staging),team,tier=web,zone notin (a)"
    assert sel.matches({"app": "nginx", "tier": "web", "env": "prod", "team": "x"})
    assert not sel.matches({"app": "nginx", "tier": "web", "env": "prod", "team": "x", "canary": "1"})
    assert not sel.matches({"app": "nginx", "tier": "web", "env": "dev", "team": "x"})
    assert not sel.matches({"app": "nginx", "tier": "web", "env": "prod", "team": "x", "zone": "a"})


def test_label_selector_object_errors():
    with pytest.raises(StatusError) as e:
        from_label_selector_object({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})
    assert e.value.message == '"Gt" is not a valid pod selector operator'
    with pytest.raises(StatusError) as e:
        from_label_selector_object({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})
    assert e.value.message == "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    with pytest.raises(StatusError) as e:
        from_label_selector_object({"matchLabels": {"a b": "c"}})
    assert e.value.message.startswith('key: Invalid value: "a b": name part must consist of')


def test_format_label_selector():
    assert selector_to_string({"matchLabels": {"app": "nginx"}}) == "app=nginx"
    assert selector_to_string({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert selector_to_string({}) == "<none>"
    assert selector_to_string(None) == "<none>"
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "In", "values": ["y", "x"]}]}) == "a in (x,y)"
    # scale subresource status.selector uses the raw String()
    assert str(from_label_selector_object({"matchLabels": {"app": "nginx"}})) == "app=nginx"
    assert str(from_label_selector_object({})) == ""


# --- fields: parsing, escaping -------------------------------------------------------------------

@pytest.mark.parametrize("s", ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"])
def test_field_parse_good(s):
    parse_field_selector(s)


@pytest.mark.parametrize("s,msg", [
    ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
    ("x==a==b", "invalid field selector: unescaped character in value: 61"),
    ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
    ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
    ("x in (a,b,c)", "invalid selector: 'x in (a,b,c)'; can't understand 'b'"),  # terms are sorted first
    ("x", "invalid selector: 'x'; can't understand 'x'"),
    (r"x=a\q", r"invalid field selector: invalid escape sequence: \q"),
    ("x=a\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_field_parse_bad(s, msg):
    with pytest.raises(StatusError) as e:
        parse_field_selector(s)
    assert e.value.code == 400 and e.value.message == msg


@pytest.mark.parametrize("sel,fields,want", [
    ("", {"x": "y"}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo==bar", {"foo": "bar"}, True),
    (r"complex=\=value\\\,\\", {"complex": "=value\\,\\"}, True),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ("missing=", {}, True),
    ("missing!=", {}, False),
])
def test_field_matches_set(sel, fields, want):
    assert parse_field_selector(sel).matches_set(fields) is want


def test_field_split_on_first_operator_and_string():
    with pytest.raises(StatusError):  # first operator splits; a later '=' must be escaped
        parse_field_selector("c=x=")
    sel = parse_field_selector(r"b!=x\,y,a==1")
    assert sel.requirements == (FieldRequirement("a", "==", "1"), FieldRequirement("b", "!=", "x,y"))
    assert str(sel) == r"a=1,b!=x\,y"


# --- fields: per-kind conversion and messages -------------------------------------------------------

@pytest.mark.parametrize("gvk,label,msg", [
    (("", "v1", "Pod"), "foo", "field label not supported: foo"),
    (("", "v1", "Node"), "metadata.namespace", "field label not supported: metadata.namespace"),
    (("", "v1", "Namespace"), "metadata.namespace", "field label not supported: metadata.namespace"),
    (("", "v1", "Event"), "regarding.name", "field label not supported: regarding.name"),
    (("events.k8s.io", "v1", "Event"), "involvedObject.name", "field label not supported: involvedObject.name"),
    (("batch", "v1", "Job"), "status.succeeded", 'field label "status.succeeded" not supported for batchv1.Job'),
    (("apps", "v1", "ReplicaSet"), "status.replicas",
     '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    (("networking.k8s.io", "v1", "Ingress"), "foo.bar",
     '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    (("apps", "v1", "Deployment"), "spec.replicas",
     '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
])
def test_unsupported_field_labels(gvk, label, msg):
    with pytest.raises(StatusError) as e:
        field_selector_for(f"{label}=x", *gvk)
    assert e.value.code == 400 and e.value.reason == "BadRequest" and e.value.message == msg


def test_first_unsupported_label_in_sorted_order_is_reported():
    with pytest.raises(StatusError) as e:
        field_selector_for("zzz=1,aaa=2", "", "v1", "Pod")
    assert e.value.message == "field label not supported: aaa"


def test_supported_field_labels():
    assert set(supported_field_labels("", "v1", "Pod")) == {
        "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
        "status.nominatedNodeName", "spec.host"}
    assert set(supported_field_labels("", "v1", "Secret")) == {"type", "metadata.name", "metadata.namespace"}
    assert set(supported_field_labels("", "v1", "Service")) == {"metadata.name", "metadata.namespace",
                                                                 "spec.clusterIP", "spec.type"}
    assert set(supported_field_labels("", "v1", "Node")) == {"metadata.name", "spec.unschedulable"}
    assert set(supported_field_labels("", "v1", "Namespace")) == {"metadata.name", "status.phase"}
    assert set(supported_field_labels("", "v1", "ReplicationController")) == {
        "metadata.name", "metadata.namespace", "status.replicas"}
    assert set(supported_field_labels("batch", "v1", "Job")) == {
        "metadata.name", "metadata.namespace", "status.successful"}
    assert set(supported_field_labels("apps", "v1", "Deployment")) == {"metadata.name", "metadata.namespace"}


POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"nodeName": "node-a", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default", "containers": [{"name": "c", "image": "nginx"}]},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]},
}


@pytest.mark.parametrize("sel,want", [
    ("metadata.name=web-1", True),
    ("metadata.name=web-2", False),
    ("metadata.namespace=default", True),
    ("metadata.namespace!=default", False),
    ("spec.nodeName=node-a", True),
    ("spec.host=node-a", True),  # legacy alias converted to spec.nodeName
    ("spec.nodeName=", False),
    ("spec.restartPolicy=Always,status.phase=Running", True),
    ("status.phase!=Running,spec.restartPolicy=Always", False),
    ("spec.schedulerName=default-scheduler", True),
    ("spec.serviceAccountName=default", True),
    ("spec.hostNetwork=false", True),
    ("spec.hostNetwork=true", False),
    ("status.podIP=10.0.0.5", True),
    ("status.podIPs=", True),  # accepted, but not a selectable field: always ""
    ("status.podIPs=10.0.0.5", False),
    ("status.nominatedNodeName=", True),
])
def test_pod_field_matching(sel, want):
    assert field_selector_for(sel, "", "v1", "Pod").matches(POD) is want


def test_unscheduled_pod_and_host_network():
    pending = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"hostNetwork": True}, "status": {"phase": "Pending"}}
    assert field_selector_for("spec.nodeName=", "", "v1", "Pod").matches(pending)
    assert field_selector_for("spec.hostNetwork=true", "", "v1", "Pod").matches(pending)
    assert field_selector_for("status.podIP=", "", "v1", "Pod").matches(pending)
    assert selectable_fields(POD, "", "Pod")["status.podIP"] == "10.0.0.5"
    old_style = {"metadata": {"name": "p"}, "status": {"podIP": "10.1.1.1"}}
    assert field_selector_for("status.podIP=10.1.1.1", "", "v1", "Pod").matches(old_style)


EVENT = {
    "apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "nginx.17a", "namespace": "default"},
    "involvedObject": {"kind": "Deployment", "namespace": "default", "name": "nginx",
                       "uid": "3c1f-uid", "apiVersion": "apps/v1", "resourceVersion": "42"},
    "reason": "ScalingReplicaSet", "type": "Normal",
    "source": {"component": "deployment-controller"},
}


def test_kubectl_describe_deployment_event_selector():
    s = "involvedObject.name=nginx,involvedObject.namespace=default,involvedObject.kind=Deployment,involvedObject.uid=3c1f-uid"
    sel = field_selector_for(s, "", "v1", "Event")
    assert sel.matches(EVENT)
    other = {**EVENT, "involvedObject": {**EVENT["involvedObject"], "uid": "other"}}
    assert not sel.matches(other)
    svc = "involvedObject.uid=u1,involvedObject.name=x,involvedObject.namespace=default,involvedObject.kind=Service"
    assert field_selector_for(svc, "", "v1", "Event").matches(
        {"metadata": {"name": "e", "namespace": "default"},
         "involvedObject": {"uid": "u1", "name": "x", "namespace": "default", "kind": "Service"}})


@pytest.mark.parametrize("sel,want", [
    ("reason=ScalingReplicaSet", True),
    ("type=Warning", False),
    ("source=deployment-controller", True),
    ("reportingComponent=", True),
    ("involvedObject.apiVersion=apps/v1,involvedObject.resourceVersion=42", True),
    ("involvedObject.fieldPath=", True),
])
def test_core_event_fields(sel, want):
    assert field_selector_for(sel, "", "v1", "Event").matches(EVENT) is want


def test_event_source_falls_back_to_reporting_controller():
    ev = {"metadata": {"name": "e"}, "reportingComponent": "kubelet"}
    assert field_selector_for("source=kubelet", "", "v1", "Event").matches(ev)


def test_events_k8s_io_selectors():
    """events.k8s.io labels convert to the core names, matched on the stored (core/v1) shape."""
    new_style = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                 "metadata": {"name": "e", "namespace": "default"},
                 "regarding": {"kind": "Pod", "name": "web-1", "namespace": "default"},
                 "reportingController": "kubelet", "reason": "Pulled", "type": "Normal"}
    stored = conversion.convert(new_style, "v1")
    sel = field_selector_for("regarding.name=web-1,regarding.kind=Pod,reportingController=kubelet",
                             "events.k8s.io", "v1", "Event")
    assert [r.field for r in sel.requirements] == ["involvedObject.kind", "involvedObject.name", "reportingComponent"]
    assert sel.matches(stored)
    assert sel.matches({**EVENT, "involvedObject": {"kind": "Pod", "name": "web-1"}, "reportingComponent": "kubelet"})
    assert field_selector_for("source=kubelet", "events.k8s.io", "v1", "Event").matches(stored)
    assert not field_selector_for("regarding.name=other", "events.k8s.io", "v1", "Event").matches(stored)


@pytest.mark.parametrize("gvk,obj,sel,want", [
    (("", "v1", "Secret"), {"metadata": {"name": "s"}, "type": "kubernetes.io/service-account-token"},
     "type=kubernetes.io/service-account-token", True),
    (("", "v1", "Secret"), {"metadata": {"name": "s"}, "type": "Opaque"}, "type!=Opaque", False),
    (("", "v1", "Node"), {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}, "spec.unschedulable=true", True),
    (("", "v1", "Node"), {"metadata": {"name": "n1"}, "spec": {}}, "spec.unschedulable=false", True),
    (("", "v1", "Node"), {"metadata": {"name": "n1"}}, "metadata.name=n1", True),
    (("", "v1", "Namespace"), {"metadata": {"name": "ns"}, "status": {"phase": "Terminating"}},
     "status.phase=Terminating", True),
    (("", "v1", "ReplicationController"), {"metadata": {"name": "rc"}, "status": {"replicas": 3}},
     "status.replicas=3", True),
    (("", "v1", "ReplicationController"), {"metadata": {"name": "rc"}, "status": {}}, "status.replicas=0", True),
    (("batch", "v1", "Job"), {"metadata": {"name": "j"}, "status": {"succeeded": 1}}, "status.successful=1", True),
    (("batch", "v1", "Job"), {"metadata": {"name": "j"}, "status": {}}, "status.successful=0", True),
    (("", "v1", "Service"), {"metadata": {"name": "s"}, "spec": {"clusterIP": "None", "type": "ClusterIP"}},
     "spec.clusterIP!=None", False),
    (("", "v1", "Service"), {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP"}},
     "spec.clusterIP!=None,spec.type=ClusterIP", True),
    (("apps", "v1", "Deployment"), {"metadata": {"name": "nginx", "namespace": "default"}}, "metadata.name=nginx", True),
    (("apps", "v1", "Deployment"), {"metadata": {"name": "nginx2", "namespace": "default"}}, "metadata.name=nginx", False),
    (("rbac.authorization.k8s.io", "v1", "ClusterRole"), {"metadata": {"name": "admin"}}, "metadata.namespace=", True),
    (("rbac.authorization.k8s.io", "v1", "ClusterRole"), {"metadata": {"name": "admin"}}, "metadata.namespace=x", False),
])
def test_kind_fields(gvk, obj, sel, want):
    assert field_selector_for(sel, *gvk).matches(obj) is want


def test_matches_with_group_kind_on_unconverted_selector():
    sel = parse_field_selector("metadata.name=nginx")  # kubectl rollout status/watch on a deployment
    assert sel.matches({"metadata": {"name": "nginx"}}, "apps", "Deployment")
    assert not sel.matches({"metadata": {"name": "x"}}, "apps", "Deployment")
    assert sel.requires_exact_match("metadata.name") == "nginx"
    assert parse_field_selector("spec.nodeName=n").matches(POD, "", "Pod") is False
    assert parse_field_selector("spec.nodeName=node-a").matches(POD, "", "Pod") is True
    assert parse_field_selector("").matches(POD) and parse_field_selector("").empty()


def test_go_quote():
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
