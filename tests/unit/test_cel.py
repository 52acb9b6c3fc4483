"""The CEL layer (api/cel.py): upstream's macros and Kubernetes libraries, compile errors in
cel-go's words, evaluation errors and the cost limit as EvalError (never another exception)."""

from __future__ import annotations

import pytest

from kubeling.api import cel

OBJ = {"metadata": {"name": "web", "labels": {"app": "web"}},
       "spec": {"replicas": 3, "ports": [80, 443], "csv": "a,b,c", "containers": [{"name": "c", "image": "nginx:1"}]}}


def run(expression: str, **variables) -> object:
    act = {"object": cel.to_cel(OBJ), **{k: cel.to_cel(v) for k, v in variables.items()}}
    return cel.compile(expression, act).evaluate(act)


@pytest.mark.parametrize("expression,want", [
    ("object.spec.replicas <= 5", True),
    ("has(object.spec.replicas) && !has(object.spec.paused)", True),
    ("object.spec.ports.all(p, p > 0) && object.spec.ports.exists(p, p == 443)", True),
    ("object.spec.ports.exists_one(p, p == 80)", True),
    ("object.spec.ports.map(p, p + 1)", [81, 444]),
    ("object.spec.ports.filter(p, p > 100)", [443]),
    ("object.spec.containers.all(c, c.image.startsWith('nginx') && c.image.contains(':'))", True),
    ("object.metadata.name.matches('^w.b$') && 'app' in object.metadata.labels", True),
    ("object.spec.csv.split(',')", ["a", "b", "c"]),
    ("object.metadata.name.upperAscii() + 'X'.lowerAscii()", "WEBx"),
    ("' x '.trim() + 'abc'.substring(1) + 'aXa'.replace('X', 'y') + ['p', 'q'].join('-')", "xbcaya" + "p-q"),
    ("'abcb'.indexOf('b') == 1 && 'abcb'.lastIndexOf('b') == 3 && 'abc'.charAt(1) == 'b'", True),
    ("[1, 2, 3].isSorted() && [1, 2, 3].sum() == 6 && [4, 2].min() == 2 && [4, 2].max() == 4", True),
    ("'a1b22'.findAll('[0-9]+') == ['1', '22'] && 'a1b22'.find('[0-9]+') == '1'", True),
    ("size(object.spec.ports) == 2 && object.spec.ports.size() == 2", True),
    ("params.max >= object.spec.replicas", True),
])
def test_expressions(expression: str, want: object) -> None:
    assert run(expression, params={"max": 5}) == want


@pytest.mark.parametrize("expression,message", [
    ("object.spec.missing == 1", "no such key: missing"),
    ("object.spec.replicas / 0 == 1", "division by zero"),
    ("object.spec.csv + 1", "no such overload"),
])
def test_evaluation_errors_are_eval_errors(expression: str, message: str) -> None:
    with pytest.raises(cel.EvalError, match=message):
        run(expression)


def test_undeclared_references_fail_to_compile_with_cel_go_text() -> None:
    with pytest.raises(cel.CompileError) as e:
        cel.compile("object.spec.all(x, y > 1)", ["object"])
    assert str(e.value) == ("ERROR: <input>:1:20: undeclared reference to 'y' (in container '')\n"
                            " | object.spec.all(x, y > 1)\n"
                            " | ...................^")
    with pytest.raises(cel.CompileError, match="undeclared reference to 'nosuchfn'"):
        cel.compile("nosuchfn(object)", ["object"])
    with pytest.raises(cel.CompileError, match="Syntax error"):
        cel.compile("object.spec.", ["object"])


def test_compile_is_cached_per_expression_and_variables() -> None:
    assert cel.compile("object.x", ["object"]) is cel.compile("object.x", ("object",))
    assert cel.compile("object.x", ["object"]) is not cel.compile("object.x", ["object", "params"])


def test_cost_limit_stops_runaway_comprehensions() -> None:
    big = cel.to_cel(list(range(100)))
    budget = [cel.REQUEST_LIMIT]
    with pytest.raises(cel.EvalError, match="operation cancelled: actual cost limit exceeded"):
        cel.compile("l.all(i, l.all(j, l.all(k, i + j + k >= 0)))", ["l"]).evaluate({"l": big}, budget)
    assert budget[0] == cel.REQUEST_LIMIT - cel.PER_CALL_LIMIT  # the request's budget is charged
    small = cel.compile("l.all(i, i >= 0)", ["l"])
    left = [5]
    with pytest.raises(cel.EvalError, match="cost limit"):
        small.evaluate({"l": big}, left)  # what is left of the request's budget bounds the call
    assert left == [0]


def test_heterogeneous_equality_with_null_as_cel_go() -> None:
    assert run("object != null && oldObject == null && object.spec.replicas != 'x'", oldObject=None) is True


@pytest.mark.parametrize("expression", ["(" * 400 + "1" + ")" * 400, "'unterminated", "1 +", "a.b(", "\x00"])
def test_hostile_expressions_are_compile_errors(expression: str) -> None:
    with pytest.raises(cel.CompileError):
        cel.compile(expression, ["a"])


def test_the_quantity_library() -> None:
    assert run("quantity('1Gi').isGreaterThan(quantity('500Mi')) && quantity('100m').isLessThan(quantity('1'))") is True
    assert run("quantity('1.5').compareTo(quantity('1500m')) == 0 && quantity('2').add(3).asInteger() == 5") is True
    assert run("quantity('1k').sub(quantity('1')).asInteger() == 999 && quantity('-1').sign() == -1") is True
    assert run("isQuantity('10Mi') && !isQuantity('ten') && !quantity('100m').isInteger()") is True
    assert run("quantity('250m').asApproximateFloat()") == 0.25
    with pytest.raises(cel.EvalError, match="quantities must match"):
        run("quantity('ten') == quantity('1')")
    with pytest.raises(cel.EvalError, match="cannot convert value to integer"):
        run("quantity('100m').asInteger()")


def test_library_errors_keep_their_text() -> None:
    with pytest.raises(cel.EvalError, match="index out of range: 9"):
        run("'abc'.substring(1, 9) == ''")


def test_the_authorizer_library() -> None:
    from kubeling.api import celauthz

    seen = []

    def authorize(c: celauthz.Check, verb: str) -> tuple[bool, str]:
        seen.append((c.resource_request, c.path, c.group, c.resource, c.subresource, c.namespace, c.name, verb))
        return c.resource != "secrets", "RBAC: no"
    authz = celauthz.for_request(authorize, "apps", "v1", "deployments", "", "ns", "web")
    act = {"authorizer": authz}
    prog = cel.compile("authorizer.group('').resource('secrets').namespace('ns').name('s').check('get')"
                       ".allowed()", ["authorizer"])
    assert prog.evaluate(act) is False
    assert cel.compile("authorizer.requestResource.subresource('scale').check('update').allowed() && "
                       "authorizer.path('/healthz').check('get').reason() == 'RBAC: no' && "
                       "authorizer.serviceAccount('ns', 'sa').check('impersonate').allowed()",
                       ["authorizer"]).evaluate(act) is True
    assert seen == [(True, "", "", "secrets", "", "ns", "s", "get"),
                    (True, "", "apps", "deployments", "scale", "ns", "web", "update"),
                    (False, "/healthz", "", "", "", "", "", "get"),
                    (True, "", "", "serviceaccounts", "", "ns", "sa", "impersonate")]


def test_find_and_find_all_use_go_regexp_on_re2() -> None:
    """Python's backtracking `re` let `team.find('^([a-z]+-?)+$')` on 24 a's then `_a` hold the
    API server's loop 3.2 s (doubling per character); RE2 is linear and has Go's syntax."""
    assert run("'team-a_a'.find('^([a-z]+-?)+$') + 'x'.find('y')") == ""
    assert run("'héllo wörld'.findAll('\\\\pL+')") == ["héllo", "wörld"]  # Python's re refuses \pL
    with pytest.raises(cel.EvalError, match=r"error parsing regexp: invalid named capture: `\(\?<=a\)b`"):
        run("'ab'.find('(?<=a)b')")  # Python's re accepts a lookbehind, Go refuses it
    with pytest.raises(cel.EvalError, match="error parsing regexp: missing closing \\]: `\\[`"):
        run("'ab'.findAll('[')")


def test_string_concatenation_is_charged_by_size() -> None:
    """cel-go's AddString costs ceil((m + n) * 0.1): doubling a string 30 times is not 30 units
    (that built gigabyte strings); a small concatenation still is cheap."""
    doubled = "((x + x) + (x + x)) + ((x + x) + (x + x))"
    assert len(cel.compile(doubled, ["x"]).evaluate({"x": cel.to_cel("a" * 100)})) == 800
    budget = [cel.REQUEST_LIMIT]
    with pytest.raises(cel.EvalError, match="^operation cancelled: actual cost limit exceeded$"):
        cel.compile(doubled, ["x"]).evaluate({"x": cel.to_cel("a" * 20_000)}, budget)
    assert budget[0] == cel.REQUEST_LIMIT - cel.PER_CALL_LIMIT
    with pytest.raises(cel.EvalError, match="cost limit"):  # a string built by a call is charged too
        cel.compile("'a'.replace('a', x).replace('a', x)", ["x"]).evaluate({"x": cel.to_cel("a" * 400)})
