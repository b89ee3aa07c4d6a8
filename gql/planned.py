"""The planned read path: a query's root fields answered whole, not field by field.

On PostgreSQL a root field whose selection the JSON compiler knows is one statement that
returns the answer as JSON (gql/planned_json.py plans it, db/services/json_reads.py builds
and caches the SQL). Any other root field is completed level by level, as follows.

graphql-core completes an answer one field of one object at a time: a resolve-info
object, a resolver call, an awaitable and a completion step for every scalar of every
row, about 5 to 9 us each (docs/performance.md). Here the fields a query collects
(graphql-core's own field collection: fragments, aliases, @skip/@include, merging) are
completed for all objects of one level at once: a scalar is one attribute read and one
output coercion per row, and a relationship calls the same resolvers as the resolver
path for every object of the level together, so their DataLoaders answer the level in
one batched statement (the loaders' own queries), before the next level starts.

Identical answers by construction: the values come from the same resolvers, loaders
and Strawberry objects, the leaves from the schema's own output coercion, and the
keys in the order graphql-core collects them. Whatever this path does not handle falls
back: a root field whose planned completion fails (an invalid argument, an unexpected
value) is executed again by graphql-core itself, so its answer and errors are exactly the
resolver path's; a database failure is reported at the root field instead of being waited
out twice. Fields Strawberry wraps in field extensions are never planned.
`TASKQL_PLANNER=off` switches the path off.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any

import orjson
from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationType,
    Undefined,
    get_nullable_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from sqlalchemy.exc import SQLAlchemyError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from db.errors import StatementTimedOut
from db.services import json_reads
from gql.errors import is_connection_failure
from gql.known_reads import FAILED_ROOTS, RECORDING, RecordedRoot, spoil
from gql.planned_json import Planner, resolver_arguments

log = logging.getLogger("taskql.planned")

# Strawberry links each GraphQL field back to its definition under this key.
_DEFINITION = "strawberry-definition"


# True while a root field is completed by the plan, also in the loader batches it starts
# (they run in tasks that copy the context): tests inspect every statement issued then.
PLANNING: ContextVar[bool] = ContextVar("taskql_planning", default=False)


class NotPlanned(Exception):
    """This root field goes through graphql-core instead (a reason, for the log)."""


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with the root fields of a query completed by the plan."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = getattr(self.context_value, "settings", None)
        # Resolver spans (TASKQL_TRACING_RESOLVERS) describe field-by-field execution: while
        # they are asked for, queries take the resolver path so that every resolver has one.
        self.planning = (
            self.operation.operation == OperationType.QUERY
            and bool(getattr(settings, "planner", False))
            and not getattr(settings, "tracing_resolvers", False)
        )
        strawberry_schema = self.schema._strawberry_schema  # type: ignore[attr-defined]
        self._config = strawberry_schema.config

    def build_per_event_executor(self, payload: Any) -> Any:
        """graphql-core's copy for one subscription event, with a memo of its own: the copy
        is shallow, so every event of a subscription added its freshly collected fields to
        the one memo the subscription's executor holds, which grew for as long as the
        subscription lived (graphql-core 3.3.2)."""
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self.planning and path.prev is None:
            field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            if field_def is not None and _DEFINITION in (field_def.extensions or {}):
                return self._planned_root(
                    parent_type, source, field_details_list, path, position_context
                )
        if path.prev is None:
            spoil()
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    async def _planned_root(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        key = path.key
        assert isinstance(key, str)
        planning = PLANNING.set(True)
        try:
            value = await self._answer(parent_type, source, key, field_details_list)
        except Exception as exc:  # noqa: BLE001 (any failure: graphql-core answers instead)
            PLANNING.reset(planning)
            spoil()
            if isinstance(exc, SQLAlchemyError | StatementTimedOut) or is_connection_failure(exc):
                # Asking again would wait out a statement timeout or a dead server twice:
                # the failure is reported at the root field (graphql-core would name the
                # field whose loader failed; message and code are the same).
                name = field_details_list[0].node.name.value
                field_def = self.schema.get_field(parent_type, name)
                assert field_def is not None
                self.handle_field_error(exc, field_def.type, field_details_list, path)
                return None
            log.debug("%s: graphql-core answers instead of the plan: %r", key, exc)
            with self.context_value.fresh_loaders():
                result = super().execute_field(
                    parent_type, source, field_details_list, path, position_context
                )
                return await result if self.is_awaitable(result) else result
        PLANNING.reset(planning)
        return value

    async def _answer(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        key: str,
        field_details_list: FieldDetailsList,
    ) -> Any:
        """One statement returning the JSON answer where the database can build it
        (PostgreSQL, a selection the compiler knows); level by level otherwise."""
        ctx = self.context_value
        dialect = ctx.db.dialect
        if dialect.name == "postgresql":
            try:
                prepared = self._prepared(parent_type, field_details_list, dialect)
            except Exception as reason:  # noqa: BLE001
                # Unplannable, or an argument refused: the level path meets the same
                # refusal in the same resolver call as every other root field does, so
                # errors of several root fields come in the resolver path's order.
                log.debug("%s: answered level by level: %r", key, reason)
            else:
                failed = FAILED_ROOTS.get()
                if failed is not None and key in failed:
                    raise failed[key]  # this request's earlier attempt (gql/known_reads.py)
                text = await ctx.db.run(lambda session: json_reads.answer(session, prepared))
                self._record(key, parent_type, field_details_list, prepared, text)
                return None if text is None else orjson.loads(text)
        spoil()
        level = Level(self)
        [value] = await level.field(parent_type, [source], [None], key, field_details_list)
        return value

    def _record(
        self,
        key: str,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        prepared: json_reads.Prepared,
        text: str | None,
    ) -> None:
        """What this root field took, for gql/known_reads.py to answer the request again."""
        recording = RECORDING.get()
        if recording is None:
            return
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        assert field_def is not None
        nullable = not isinstance(field_def.type, GraphQLNonNull)
        recording.roots[key] = RecordedRoot(prepared.sql, prepared.values, text, nullable)
        recording.principal = self.context_value.principal
        name = self.operation.name
        recording.operation_name = name.value if name is not None else None

    def _prepared(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList, dialect: Any
    ) -> json_reads.Prepared:
        """The root field's statement: planned and compiled the first time, then looked up
        by what decides it (the parsed field, which Strawberry's parser cache keeps for a
        repeated document; the coerced variables; the caller; the page-size limit)."""
        ctx = self.context_value
        principal = ctx.principal
        node = field_details_list[0].node
        key = (
            id(node),
            principal.team_id,
            principal.worker_id,
            ctx.settings.max_page_size,
            repr(sorted(self.variable_values.coerced.items())),
        )
        found = _PLANS.get(key)
        if found is not None and found[0] is node:
            _PLANS.move_to_end(key)
            return found[1]
        root = Planner(self).root(parent_type, field_details_list)
        prepared = json_reads.PREPARED.get(root, principal.team_id, dialect)
        _PLANS[key] = (node, json_reads.Prepared(prepared.sql, prepared.values))
        while len(_PLANS) > _PLANS_KEPT:
            _PLANS.popitem(last=False)
        return prepared


# Root fields' statements by parsed field and inputs (`PlannedExecutor._prepared`). The
# field node is kept with its entry, so its id cannot be reused while the entry lives.
_PLANS: "OrderedDict[tuple[Any, ...], tuple[Any, json_reads.Prepared]]" = OrderedDict()
_PLANS_KEPT = 512


class Level:
    """Completes the values of one field for many objects at once, then their subfields."""

    def __init__(self, executor: PlannedExecutor) -> None:
        self.executor = executor

    async def field(
        self,
        parent_type: GraphQLObjectType,
        items: Sequence[Any],
        item_paths: Sequence[Path | None],
        key: str,
        field_details_list: FieldDetailsList,
    ) -> list[Any]:
        """The completed value of field `key` for each of `items`."""
        scalars = self.scalars(parent_type, items, field_details_list)
        if scalars is not None:
            return scalars
        field_def, definition = self._definition(parent_type, field_details_list)
        paths = [Path(prev, key, parent_type.name) for prev in item_paths]
        if definition.base_resolver is None:
            get = self.executor._config.default_resolver
            values = [get(item, definition.python_name) for item in items]
        else:
            values = await self._resolve(
                definition, field_def, parent_type, items, paths, field_details_list
            )
        return await self.complete(field_def.type, values, paths, field_details_list)

    def scalars(
        self,
        parent_type: GraphQLObjectType,
        items: Sequence[Any],
        field_details_list: FieldDetailsList,
    ) -> list[Any] | None:
        """The values of a scalar attribute (or __typename) for all items, at once: nothing
        below them resolves, so they need no paths and no await. None for other fields."""
        if field_details_list[0].node.name.value == "__typename":
            return [parent_type.name] * len(items)
        field_def, definition = self._definition(parent_type, field_details_list)
        leaf = get_nullable_type(field_def.type)
        if definition.base_resolver is not None or not isinstance(leaf, GraphQLLeafType):
            return None
        get = self.executor._config.default_resolver
        attribute = definition.python_name
        values = _leaves(leaf, [get(item, attribute) for item in items])
        if isinstance(field_def.type, GraphQLNonNull) and any(v is None for v in values):
            raise NotPlanned("null for a non-null field")
        return values

    def _definition(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[GraphQLField, StrawberryField]:
        name = field_details_list[0].node.name.value
        field_def = self.executor.schema.get_field(parent_type, name)
        if field_def is None:
            raise NotPlanned(f"{parent_type.name}.{name} is not in the schema")
        definition: StrawberryField | None = (field_def.extensions or {}).get(_DEFINITION)
        if definition is None or definition.extensions:
            raise NotPlanned(f"{parent_type.name}.{name} is not a plain Strawberry field")
        return field_def, definition

    async def _resolve(
        self,
        definition: StrawberryField,
        field_def: GraphQLField,
        parent_type: GraphQLObjectType,
        items: Sequence[Any],
        paths: Sequence[Path],
        field_details_list: FieldDetailsList,
    ) -> list[Any]:
        """Call the field's resolver for every object, as Strawberry would, and await them
        together: loaders see every key of the level in one tick."""
        executor = self.executor
        arguments = resolver_arguments(executor, field_def, definition, field_details_list)
        resolver = definition.base_resolver
        assert resolver is not None
        nodes = [d.node for d in field_details_list]
        info_class = executor._config.info_class
        values: list[Any] = []
        pending: list[int] = []
        for index, (item, path) in enumerate(zip(items, paths, strict=True)):
            info = info_class(
                _raw_info=executor.build_resolve_info(field_def, nodes, parent_type, path),
                _field=definition,
            )
            args, kwargs = _bind(resolver, item, info, arguments)
            value = definition.get_result(item, info=info, args=args, kwargs=kwargs)
            if executor.is_awaitable(value):
                pending.append(index)
            values.append(value)
        if pending:
            settled = await _settle([values[i] for i in pending])
            for index, value in zip(pending, settled, strict=True):
                values[index] = value
        return values

    async def complete(
        self,
        return_type: GraphQLOutputType,
        values: list[Any],
        paths: Sequence[Path],
        field_details_list: FieldDetailsList,
    ) -> list[Any]:
        if isinstance(return_type, GraphQLNonNull):
            completed = await self.complete(return_type.of_type, values, paths, field_details_list)
            if any(value is None for value in completed):
                raise NotPlanned("null for a non-null field")
            return completed
        if isinstance(return_type, GraphQLList):
            return await self._lists(return_type, values, paths, field_details_list)
        if isinstance(return_type, GraphQLObjectType):
            return await self._objects(return_type, values, paths, field_details_list)
        if isinstance(return_type, GraphQLLeafType):
            return _leaves(return_type, values)
        raise NotPlanned(f"{return_type} is not planned")  # interfaces and unions: none yet

    async def _lists(
        self,
        list_type: GraphQLList[Any],
        values: list[Any],
        paths: Sequence[Path],
        field_details_list: FieldDetailsList,
    ) -> list[Any]:
        flat: list[Any] = []
        flat_paths: list[Path] = []
        sizes: list[int | None] = []
        for value, path in zip(values, paths, strict=True):
            if value is None:
                sizes.append(None)
                continue
            members = list(value)
            sizes.append(len(members))
            flat.extend(members)
            flat_paths.extend(Path(path, index, None) for index in range(len(members)))
        completed = await self.complete(list_type.of_type, flat, flat_paths, field_details_list)
        out: list[Any] = []
        start = 0
        for size in sizes:
            if size is None:
                out.append(None)
            else:
                out.append(completed[start : start + size])
                start += size
        return out

    async def _objects(
        self,
        object_type: GraphQLObjectType,
        values: list[Any],
        paths: Sequence[Path],
        field_details_list: FieldDetailsList,
    ) -> list[Any]:
        present = [i for i, value in enumerate(values) if value is not None]
        items = [values[i] for i in present]
        item_paths = [paths[i] for i in present]
        grouped = self.executor.collect_subfields(object_type, field_details_list).grouped_field_set
        results: list[dict[str, Any]] = [{} for _ in items]
        later: list[Awaitable[None]] = []
        for key, sub_fields in grouped.items():
            # Every key is placed now, in the order graphql-core collected them (relations
            # filled when their level is done): the response keeps the resolver path's order.
            scalars = self.scalars(object_type, items, sub_fields)
            if scalars is not None:
                for result, value in zip(results, scalars, strict=True):
                    result[key] = value
                continue
            for result in results:
                result[key] = None
            later.append(self._fill(object_type, items, item_paths, key, sub_fields, results))
        if len(later) == 1:
            await later[0]
        elif later:
            await _settle(later)
        out: list[Any] = [None] * len(values)
        for index, result in zip(present, results, strict=True):
            out[index] = result
        return out

    async def _fill(
        self,
        object_type: GraphQLObjectType,
        items: list[Any],
        item_paths: list[Path],
        key: str,
        field_details_list: FieldDetailsList,
        results: list[dict[str, Any]],
    ) -> None:
        values = await self.field(object_type, items, item_paths, key, field_details_list)
        for result, value in zip(results, values, strict=True):
            result[key] = value


async def _settle(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    """Await all, then raise the first failure. Nothing is cancelled: the loaders' futures
    are shared with graphql-core, which may answer this field next, and nothing of the
    plan may still run once it has given up."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _leaves(leaf_type: GraphQLLeafType, values: list[Any]) -> list[Any]:
    coerce: Callable[[Any], Any] = leaf_type.coerce_output_value
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise NotPlanned(f"{leaf_type} cannot represent {value!r}")
        out.append(coerced)
    return out


def _bind(
    resolver: Any, source: Any, info: Any, arguments: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The resolver's arguments, bound as Strawberry's get_arguments binds them."""
    args: list[Any] = [source] if resolver.self_parameter else []
    kwargs = dict(arguments)
    if parent := resolver.parent_parameter:
        kwargs[parent.name] = source
    if root := resolver.root_parameter:
        kwargs[root.name] = source
    if info_parameter := resolver.info_parameter:
        kwargs[info_parameter.name] = info
    return args, kwargs
