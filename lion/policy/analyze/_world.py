"""The symbolic request and entity store, and the facts that keep them realizable.

The request variables are constants; the entity store is a set of
uninterpreted functions (existence, type, attributes, tags, ancestors); data
sets are ids with an uninterpreted membership. Every property the functions
must have for a real store (an entity with parents exists, ``in`` is acyclic
and transitive, an empty set has no members, ...) is added as ground
instances over the terms the policies actually use, when the formula is
complete (``finish``). Transitivity is added lazily: ``transitivity_lemmas``
reads a model and returns the instances it breaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import z3

from lion.kernel.policy import EntityUID
from lion.policy.analyze._sorts import (
    DATETIME_MAX,
    DATETIME_MIN,
    KEY,
    OPT,
    VE,
    V,
    VDt,
    VSt,
    function,
    long_val,
    string_of,
)
from lion.policy.analyze._sym import TRUE, or_

__all__ = ["World"]

_B = z3.BoolSort()
_I = z3.IntSort()


class World:
    """Everything symbolic about one analysis: a request and an entity store."""

    def __init__(self) -> None:
        self.uids: dict[EntityUID, int] = {}
        self.types: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.principal = z3.Int("principal")
        self.action = z3.Int("action")
        self.resource = z3.Int("resource")
        self.context = z3.Const("context", z3.ArraySort(KEY, OPT))
        self.exists = function("exists", _I, _B)
        self.etype = function("etype", _I, _I)
        self.eattr = function("eattr", _I, z3.ArraySort(KEY, OPT))
        self.anc = function("anc", _I, _I, _B)
        self.rank = function("rank", _I, _I)
        self.tag_has = function("tag_has", _I, z3.StringSort(), _B)
        self.tag_val = function("tag_val", _I, z3.StringSort(), V)
        self.mem = function("mem", _I, V, _B)
        self.emp = function("emp", _I, _B)
        self.some_member = function("some_member", _I, V)
        self.all_entities = function("all_entities", _I, _B)
        self.non_entity = function("non_entity", _I, V)
        self.in_set = function("in_set", _I, _I, _B)
        self.in_witness = function("in_witness", _I, _I, V)
        self.subset = function("subset", _I, _I, _B)  # subset(i, j): j is a subset of i
        self.subset_witness = function("subset_witness", _I, _I, V)
        self.overlap = function("overlap", _I, _I, _B)
        self.overlap_witness = function("overlap_witness", _I, _I, V)
        # Terms the finishing instances range over.
        self.entity_terms: dict[int, z3.ArithRef] = {}
        self.anc_apps: dict[int, tuple[z3.ArithRef, z3.ArithRef, z3.BoolRef]] = {}
        self.mem_apps: dict[int, tuple[z3.ArithRef, z3.ExprRef, z3.BoolRef]] = {}
        self.tag_apps: dict[tuple[int, int], tuple[z3.ArithRef, z3.SeqRef]] = {}
        self.empty_queries: dict[int, z3.ArithRef] = {}
        self.all_entity_queries: dict[int, z3.ArithRef] = {}
        self.in_queries: dict[tuple[int, int], tuple[z3.ArithRef, z3.ArithRef]] = {}
        self.witness_keys: list[z3.ArithRef] = []
        self.subset_queries: dict[tuple[int, int], tuple[Any, Any]] = {}
        self.overlap_queries: dict[tuple[int, int], tuple[Any, Any]] = {}
        self.literal_subset_queries: list[tuple[Any, tuple[Any, ...], Any]] = []
        self.data_terms: dict[int, Any] = {}
        self._witnessed: set[tuple[Any, ...]] = set()
        self.policy_cache: dict[
            str, tuple[Any, Any]
        ] = {}  # see Encoder.policy  # V terms read from the request or the store
        self.like_fns: dict[tuple[str, ...], Any] = {}
        self.like_apps: dict[tuple[int, int], tuple[Any, Any, Any, Any]] = {}
        self.side: list[z3.BoolRef] = []  # facts true of every real request and store
        self.finishers: list[Callable[[], list[Any]]] = []  # more facts, made by `finish`
        self._fresh = 0
        for var in (self.principal, self.action, self.resource):
            self.entity(var)

    # -- interning -------------------------------------------------------------------------

    def uid(self, uid: EntityUID) -> z3.ArithRef:
        """The number of a literal uid; its type is fixed once."""
        number = self.uids.get(uid)
        if number is None:
            number = self.uids[uid] = len(self.uids)
            term = z3.IntVal(number)
            self.side.append(self.etype(term) == self.type_number(uid.type))
            self.entity(term)
        return z3.IntVal(number)

    def type_number(self, name: str) -> z3.ArithRef:
        number = self.types.setdefault(name, len(self.types))
        return z3.IntVal(number)

    def key(self, name: str) -> z3.ArithRef:
        return z3.IntVal(self.keys.setdefault(name, len(self.keys)))

    def fresh(self, prefix: str, sort: Any) -> Any:
        self._fresh += 1
        return z3.Const(f"{prefix}!{self._fresh}", sort)

    def witness_key(self) -> z3.ArithRef:
        key = self.fresh("key", KEY)
        self.witness_keys.append(key)
        return key

    def entity(self, term: z3.ArithRef) -> z3.ArithRef:
        """Register an entity-valued term (the concretization reads its entity)."""
        self.entity_terms.setdefault(term.get_id(), term)
        return term

    # -- the store ------------------------------------------------------------------------

    def is_in(self, x: z3.ArithRef, y: z3.ArithRef) -> z3.BoolRef:
        """``x in y`` for two entities: equal, or ``y`` is an ancestor of ``x``."""
        if x.eq(y):
            return TRUE
        app = self.anc(x, y)
        self.anc_apps.setdefault(app.get_id(), (self.entity(x), self.entity(y), app))
        return or_(x == y, app)

    def has_type(self, x: z3.ArithRef, name: str) -> z3.BoolRef:
        return self.etype(self.entity(x)) == self.type_number(name)

    def attrs(self, x: z3.ArithRef) -> z3.ArrayRef:
        return self.eattr(self.entity(x))

    def member(self, set_id: z3.ArithRef, value: z3.ExprRef) -> z3.BoolRef:
        app = self.mem(set_id, value)
        self.mem_apps.setdefault(app.get_id(), (set_id, value, app))
        return app

    def is_empty(self, set_id: z3.ArithRef) -> z3.BoolRef:
        self.empty_queries.setdefault(set_id.get_id(), set_id)
        return self.emp(set_id)

    def all_entities_in(self, set_id: z3.ArithRef) -> z3.BoolRef:
        self.all_entity_queries.setdefault(set_id.get_id(), set_id)
        return self.all_entities(set_id)

    def in_data_set(self, x: z3.ArithRef, set_id: z3.ArithRef) -> z3.BoolRef:
        """``x in s`` for a data set ``s`` all of whose elements are entities."""
        self.entity(x)
        self.in_queries.setdefault((x.get_id(), set_id.get_id()), (x, set_id))
        return self.in_set(x, set_id)

    def tag(self, x: z3.ArithRef, key: z3.SeqRef) -> tuple[z3.BoolRef, z3.ExprRef]:
        self.entity(x)
        self.tag_apps.setdefault((x.get_id(), key.get_id()), (x, key))
        return self.tag_has(x, key), self.tag_val(x, key)

    def like(self, text: Any, pattern: Any, regex: Any) -> Any:
        """``text like pattern`` as an uninterpreted predicate of the text.

        Z3's string solver is slow on many negated patterns over one string, so
        the definition ``like_p(s) == InRe(s, p)`` is added lazily, for the
        pairs a model gets wrong (``like_lemmas``), or all at once (``like_definitions``).
        """
        fn = self.like_fns.get(pattern.chunks)
        if fn is None:
            fn = self.like_fns[pattern.chunks] = function(
                f"like{len(self.like_fns)}", z3.StringSort(), _B
            )
        app = fn(text)
        self.like_apps.setdefault((text.get_id(), app.get_id()), (text, pattern, regex, app))
        return app

    def like_definitions(self) -> list[Any]:
        return [
            app == z3.InRe(text, regex(pattern))
            for text, pattern, regex, app in self.like_apps.values()
        ]

    def like_lemmas(self, model: z3.ModelRef) -> list[Any]:
        """The definitions of the ``like`` applications whose value ``model`` gets wrong."""
        lemmas = []
        for text, pattern, regex, app in self.like_apps.values():
            value = string_of(model.eval(text, model_completion=True))
            claimed = z3.is_true(model.eval(app, model_completion=True))
            if pattern.matches(value) != claimed:
                lemmas.append(app == z3.InRe(text, regex(pattern)))
        return lemmas

    def contains_all(self, big: Any, small: Any) -> Any:
        """Every member of data set ``small`` is in data set ``big``."""
        self.subset_queries.setdefault((big.get_id(), small.get_id()), (big, small))
        return self.subset(big, small)

    def contains_any(self, one: Any, other: Any) -> Any:
        """Data sets ``one`` and ``other`` share a member."""
        self.overlap_queries.setdefault((one.get_id(), other.get_id()), (one, other))
        return self.overlap(one, other)

    def literal_contains_all(self, elements: tuple[Any, ...], small: Any) -> Any:
        """Every member of data set ``small`` equals one of ``elements`` (``V`` terms)."""
        result = self.fresh("contains_all", _B)
        self.literal_subset_queries.append((result, elements, small))
        return result

    def first_witness(self, kind: str, a: Any, b: Any) -> bool:
        """True the first time a pair of terms asks for a witness of their difference."""
        key = (kind, *sorted((a.get_id(), b.get_id())))
        if key in self._witnessed:
            return False
        self._witnessed.add(key)
        return True

    def data(self, value: Any) -> Any:
        """Register a ``V`` read from data: a datetime there is one JSON can write."""
        self.data_terms.setdefault(value.get_id(), value)
        return value

    def set_witness(self) -> z3.ExprRef:
        return self.fresh("elem", V)

    # -- finishing ------------------------------------------------------------------------

    def finish(self) -> list[z3.BoolRef]:
        """The ground facts every real store satisfies, over the terms used so far."""
        facts = list(self.side)
        # Positive witnesses first: they add membership terms the instances range over.
        for set_id in self.empty_queries.values():
            w = self.some_member(set_id)
            facts.append(z3.Or(self.emp(set_id), self.member(set_id, w)))
        for set_id in self.all_entity_queries.values():
            bad = self.non_entity(set_id)
            facts.append(
                z3.Or(
                    self.all_entities(set_id), z3.And(self.member(set_id, bad), z3.Not(VE.is_(bad)))
                )
            )
        for x, set_id in self.in_queries.values():
            w = self.in_witness(x, set_id)
            wins = z3.And(self.member(set_id, w), VE.is_(w), self.is_in(x, VE.get(w)))
            facts.append(z3.Implies(self.in_set(x, set_id), wins))
        for big, small in self.subset_queries.values():
            w = self.subset_witness(big, small)
            outside = z3.And(self.member(small, w), z3.Not(self.member(big, w)))
            facts.append(z3.Or(self.subset(big, small), outside))
        for one, other in self.overlap_queries.values():
            w = self.overlap_witness(one, other)
            both = z3.And(self.member(other, w), self.member(one, w))
            facts.append(z3.Implies(self.overlap(one, other), both))
        for result, elements, small in self.literal_subset_queries:
            w = self.fresh("elem", V)
            outside = z3.And(self.member(small, w), *(w != e for e in elements))
            facts.append(z3.Or(result, outside))
        facts.extend(self._close_subsets())
        mems = list(self.mem_apps.values())
        for result, elements, small in self.literal_subset_queries:
            for other, value, app in mems:
                inside = or_(*(value == e for e in elements))
                facts.append(z3.Implies(z3.And(_same(small, other), result, app), inside))
        for set_id in self.empty_queries.values():
            for other, _, app in mems:
                facts.append(
                    z3.Implies(z3.And(_same(set_id, other), self.emp(set_id)), z3.Not(app))
                )
        for set_id in self.all_entity_queries.values():
            for other, value, app in mems:
                facts.append(
                    z3.Implies(
                        z3.And(_same(set_id, other), self.all_entities(set_id), app), VE.is_(value)
                    )
                )
        for x, set_id in self.in_queries.values():
            for other, value, app in mems:
                hit = z3.And(_same(set_id, other), app, VE.is_(value), self.is_in(x, VE.get(value)))
                facts.append(z3.Implies(hit, self.in_set(x, set_id)))
        # A datetime in the input came from JSON text: years 0000-9999, offset at most 23:59.
        for value in [*self.data_terms.values(), *(v for _, v, _ in mems)]:
            millis = VDt.get(value)
            in_range = z3.And(millis >= long_val(DATETIME_MIN), millis <= long_val(DATETIME_MAX))
            facts.append(z3.Implies(VDt.is_(value), in_range))
        # A set never contains itself (values are finite trees).
        for set_id, value, app in mems:
            facts.append(z3.Implies(z3.And(app, VSt.is_(value)), VSt.get(value) != set_id))
        for finisher in self.finishers:  # a schema's facts (they read the final terms)
            facts.extend(finisher())
        for x, y, app in self.anc_apps.values():
            facts.append(z3.Implies(app, z3.And(self.exists(x), self.rank(x) < self.rank(y))))
        return facts

    def _close_subsets(self) -> list[Any]:
        """Instances of ``subset`` and ``overlap`` over every membership term; they make
        membership terms of their own, so this runs to a fixed point (finitely many
        set and element terms)."""
        facts: list[Any] = []
        done: set[int] = set()
        while True:
            fresh = [m for key, m in self.mem_apps.items() if key not in done]
            if not fresh:
                return facts
            done.update(list(self.mem_apps))
            for other, value, app in fresh:
                for big, small in list(self.subset_queries.values()):
                    hit = z3.And(_same(small, other), self.subset(big, small), app)
                    facts.append(z3.Implies(hit, self.member(big, value)))
                for one, two in list(self.overlap_queries.values()):
                    hit = z3.And(_same(two, other), z3.Not(self.overlap(one, two)), app)
                    facts.append(z3.Implies(hit, z3.Not(self.member(one, value))))

    def transitivity_lemmas(self, model: z3.ModelRef) -> list[z3.BoolRef]:
        """Instances of transitivity of ``anc`` that ``model`` breaks (none: it is realizable)."""
        values: dict[int, int] = {}
        edges: dict[int, set[int]] = {}
        false_pairs: list[tuple[z3.ArithRef, z3.ArithRef]] = []
        rep: dict[int, z3.ArithRef] = {}
        for x, y, app in self.anc_apps.values():
            a = _number(model, x, values)
            b = _number(model, y, values)
            rep.setdefault(a, x)
            rep.setdefault(b, y)
            if z3.is_true(model.eval(app, model_completion=True)):
                edges.setdefault(a, set()).add(b)
            else:
                false_pairs.append((x, y))
        lemmas: list[z3.BoolRef] = []
        for x, y in false_pairs:
            a, b = values[x.get_id()], values[y.get_id()]
            path = _path(edges, a, b)
            if path is None:
                continue
            terms = [rep[n] for n in path]
            for i in range(len(terms)):
                for j in range(i + 1, len(terms)):
                    for k in range(j + 1, len(terms)):
                        t1, t2, t3 = terms[i], terms[j], terms[k]
                        lemmas.append(
                            z3.Implies(z3.And(self.anc(t1, t2), self.anc(t2, t3)), self.anc(t1, t3))
                        )
        return lemmas

    def keys_used(self) -> Iterable[z3.ArithRef]:
        """Every attribute-name term: the names policies use, then the witness keys."""
        yield from (z3.IntVal(n) for n in self.keys.values())
        yield from self.witness_keys


def _same(a: z3.ArithRef, b: z3.ArithRef) -> z3.BoolRef:
    if a.eq(b):
        return TRUE
    return a == b


def _number(model: z3.ModelRef, term: z3.ArithRef, cache: dict[int, int]) -> int:
    found = cache.get(term.get_id())
    if found is None:
        found = cache[term.get_id()] = model.eval(term, model_completion=True).as_long()
    return found


def _path(edges: dict[int, set[int]], start: int, goal: int) -> list[int] | None:
    """A path of edges from ``start`` to ``goal`` (breadth first), or None."""
    previous: dict[int, int] = {start: start}
    frontier = [start]
    while frontier:
        nxt: list[int] = []
        for node in frontier:
            for succ in edges.get(node, ()):
                if succ in previous:
                    continue
                previous[succ] = node
                if succ == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                nxt.append(succ)
        frontier = nxt
    return None
