"""Declarative field mappings between Jira fields and the local database's internal fields.

A :class:`MappingDefinition` (from TOML, the store or a template) compiles into a :class:`CompiledMapping`,
which converts one issue's raw Jira ``fields`` into an internal value and back into a :class:`JiraWrite`.
Nothing in a mapping is ever evaluated as code.
"""

from jira_console.mapping.check import Problem, check_mapping, check_mappings, check_with_client
from jira_console.mapping.compiled import (
    CompiledMapping,
    JiraWrite,
    MappingSet,
    compile_mapping,
    resolve_field,
)
from jira_console.mapping.context import Identity, IdentityResolver, IdentityTable, MappingContext
from jira_console.mapping.errors import MappingDefinitionError, MappingError, StepError
from jira_console.mapping.model import FieldSelector, MappingDefinition, ValidationRules, parse_definition
from jira_console.mapping.preview import PreviewRow, preview
from jira_console.mapping.steps import STEP_OPS, parse_step
from jira_console.mapping.toml_io import dumps, loads

__all__ = [
    "STEP_OPS",
    "CompiledMapping",
    "FieldSelector",
    "Identity",
    "IdentityResolver",
    "IdentityTable",
    "JiraWrite",
    "MappingContext",
    "MappingDefinition",
    "MappingDefinitionError",
    "MappingError",
    "MappingSet",
    "PreviewRow",
    "Problem",
    "StepError",
    "ValidationRules",
    "check_mapping",
    "check_mappings",
    "check_with_client",
    "compile_mapping",
    "dumps",
    "loads",
    "parse_definition",
    "parse_step",
    "preview",
    "resolve_field",
]
