"""``/api/v1/field-mappings``: the stored mappings (list, create, read with versions, new version, delete),
checking a definition against a site, the templates that fit a site, and trying a mapping on a value or an
issue. Writes recompile the running syncs' mappings, as a save from the console does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import TypeAdapter
from starlette.convertors import Convertor, register_url_convertor

from jira_console.api.deps import EngineDep, blocking, connection_name, known_connection, strictly
from jira_console.api.models import (
    ConnectionName,
    MappingDetail,
    MappingOut,
    TrialRequest,
    TrialResult,
    ValidateRequest,
    ValidateResult,
    extend,
)
from jira_console.api.responses import errors
from jira_console.facade.views import MappingTemplates
from jira_console.mapping import MappingDefinition

router = APIRouter(tags=["field mappings"])
ACTOR = "api"

MappingId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The mapping's id.")]


class _MappingIdSegment(Convertor[str]):
    """The path segment in a mapping id's place: any but the words routes of their own take (``templates``,
    ``validate``, ``test``). So ``/field-mappings/abc`` answers 422 naming ``mapping_id``, as every other id
    of the API does (``:int`` matched digits only: 404 "no route"), and ``GET /field-mappings/validate``
    still 405 (it takes POST), not 422 for an id it never was."""

    regex = "(?!(?:templates|validate|test)$)[^/]+"

    def convert(self, value: str) -> str:
        return value  # read as an int (and refused in words) by MappingId

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("mapping_id", _MappingIdSegment())

Definition = Annotated[
    MappingDefinition,
    Body(description="The mapping's keys as in a `[[mapping]]` TOML table (`validate` for the rules)."),
]
# The typed body parameters give the OpenAPI document and a first reading; each route then reads the body
# again strictly (deps.strictly), which is the value it uses.
DEFINITION = TypeAdapter(MappingDefinition)
VALIDATE = TypeAdapter(ValidateRequest)
TRIAL = TypeAdapter(TrialRequest)
Comment = Annotated[
    str | None, Query(max_length=500, pattern=r"^[^\x00]*$", description="Kept with the version.")
]


# The collection answers at ``/field-mappings`` too, as the API's other collections do (``/audit``, ...):
# not a 307 to ``/field-mappings/`` that a client not following redirects takes for an empty answer.
@router.get("", response_model=list[MappingOut], include_in_schema=False)
@router.get("/", response_model=list[MappingOut], responses=errors(404, 422))
async def list_mappings(
    engine: EngineDep, connection: Annotated[ConnectionName | None, Query()] = None
) -> list[MappingOut]:
    """Every stored mapping, by connection and name; with `connection`, its own and the global ones."""
    records = await blocking(engine.list_mappings, known_connection(engine, connection))
    return [MappingOut.of(r) for r in records]


@router.post("", status_code=201, response_model=MappingOut, include_in_schema=False)
@router.post("/", status_code=201, response_model=MappingOut, responses=errors(400, 404, 409, 422))
async def create_mapping(
    engine: EngineDep, request: Request, response: Response, definition: Definition, comment: Comment = None
) -> MappingOut:
    """Store a new mapping (409 when its connection, or the global scope, has one of that name)."""
    definition = await strictly(request, DEFINITION)
    known_connection(engine, definition.connection)
    record = await engine.create_mapping(definition.to_data(), actor=ACTOR, comment=comment)
    response.headers["Location"] = f"/api/v1/field-mappings/{record.id}"
    return MappingOut.of(record)


@router.get("/templates", response_model=list[MappingTemplates], responses=errors(404, 422, 502))
async def templates(
    engine: EngineDep, connection: Annotated[ConnectionName | None, Query()] = None
) -> list[MappingTemplates]:
    """The ready-made mappings that fit each connection's site, with the field ids found there (asks Jira)."""
    names = [connection_name(engine, connection)] if connection else [c.name for c in engine.settings.jira]
    return [await engine.mapping_templates(name) for name in names]


@router.post("/validate", response_model=ValidateResult, responses=errors(400, 404, 422, 502))
async def validate(engine: EngineDep, raw: Request, body: ValidateRequest) -> ValidateResult:
    """Check a definition: its own keys and steps, then against the site's fields (and, with `issue_key`,
    that issue's edit screen). Problems are the answer, not an error."""
    request = await strictly(raw, VALIDATE)
    name = connection_name(engine, request.connection)
    problems = await engine.validate_mapping(request.definition, name, request.issue_key)
    return ValidateResult(
        ok=not any(p.severity == "error" for p in problems),
        connection=name,
        problems=problems,
    )


@router.post("/test", response_model=TrialResult, responses=errors(400, 404, 422, 502))
async def test(engine: EngineDep, raw: Request, body: TrialRequest) -> TrialResult:
    """Run one mapping (a stored one by name, or a definition) on `value` (Jira's raw value of the field)
    or on `issue_key` (fetched from Jira): the value it stores locally and what a push writes back."""
    request = await strictly(raw, TRIAL)
    mapping = request.mapping if isinstance(request.mapping, str) else request.mapping.to_data()
    name = connection_name(engine, request.connection)
    row, unresolved = await engine.try_mapping(
        mapping, name, value=request.value, issue_key=request.issue_key
    )
    return extend(TrialResult, row, unresolved=unresolved)


@router.get("/{mapping_id:mapping_id}", response_model=MappingDetail, responses=errors(404, 422))
async def get_mapping(engine: EngineDep, mapping_id: MappingId) -> MappingDetail:
    """One mapping with every stored version, newest first."""
    record, versions = await blocking(engine.mapping_by_id, mapping_id)
    return MappingDetail.of(record, versions=versions)


@router.put("/{mapping_id:mapping_id}", response_model=MappingOut, responses=errors(400, 404, 409, 422))
async def update_mapping(
    engine: EngineDep,
    request: Request,
    mapping_id: MappingId,
    definition: Definition,
    comment: Comment = None,
) -> MappingOut:
    """Store the definition as the mapping's next version (the same definition keeps the version). Its
    name and connection stay (409 when the definition names others)."""
    definition = await strictly(request, DEFINITION)
    record = await engine.update_mapping(mapping_id, definition.to_data(), actor=ACTOR, comment=comment)
    return MappingOut.of(record)


@router.delete(
    "/{mapping_id:mapping_id}", status_code=204, response_class=Response, responses=errors(404, 422)
)
async def delete_mapping(engine: EngineDep, mapping_id: MappingId) -> Response:
    """Delete the mapping and its history; the syncs stop applying it."""
    await engine.delete_mapping(mapping_id)
    return Response(status_code=204)
