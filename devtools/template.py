"""Read template.yaml and build its storage and keys in any boto3 endpoint (moto in-process,
a moto server, or a real account), so tests, the local API and the template cannot drift."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

# DynamoDB properties CreateTable understands; the rest (PITR, deletion protection) are
# account-side settings that a local store has no use for.
_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "ProvisionedThroughput",
    "StreamSpecification",
)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags (!Ref, !Sub, !GetAtt, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@functools.cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)


def resources_of_type(resource_type: str, template: dict | None = None) -> dict[str, dict]:
    template = template or load_template()
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == resource_type}


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    module: str
    handler: str
    routes: tuple[tuple[str, str], ...]  # (METHOD, /api/v4/path/{param})


def functions(template: dict | None = None) -> list[Function]:
    """Every Lambda function with its handler and its REST API routes, from the template."""
    template = template or load_template()
    result = []
    for name, resource in resources_of_type("AWS::Serverless::Function", template).items():
        props = resource["Properties"]
        module, handler = props["Handler"].rsplit(".", 1)
        routes = tuple(
            (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            for event in props.get("Events", {}).values()
            if event["Type"] == "Api"
        )
        result.append(Function(name, ROOT / props["CodeUri"], module, handler, routes))
    return result


def layer_dirs(template: dict | None = None) -> list[Path]:
    template = template or load_template()
    return [
        ROOT / resource["Properties"]["ContentUri"]
        for resource in resources_of_type("AWS::Serverless::LayerVersion", template).values()
    ]


@dataclass
class LocalResources:
    """Physical names of what was created, by logical id (what !Ref resolves to)."""

    refs: dict[str, str] = field(default_factory=dict)

    def function_environment(
        self, template: dict | None = None, overrides: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The Globals environment of the template with every !Ref resolved locally.

        A variable fed by a template parameter (``RECEPTIVE_AGENTS_ENABLED: !Ref
        ReceptiveAgentsEnabled``) takes the parameter's default, or the value ``overrides`` has
        under the variable's name, as a deployment takes a parameter override."""
        template = template or load_template()
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        parameters = template.get("Parameters", {})
        env = {}
        for key, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in parameters and key in (overrides or {}):
                env[key] = str((overrides or {})[key])
                continue
            resolved = self._resolve(value, template)
            if resolved is not None:
                env[key] = str(resolved)
        return env

    def _resolve(self, value: Any, template: dict) -> Any:
        """A value with !Ref and !If resolved (parameters at their defaults); None when it names
        something that does not exist locally."""
        if not isinstance(value, dict):
            return value
        parameters = template.get("Parameters", {})
        if "Ref" in value:
            ref = value["Ref"]
            if ref in self.refs:
                return self.refs[ref]
            return str(parameters[ref].get("Default", "")) if ref in parameters else None
        if "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            chosen = when_true if self._condition(template["Conditions"][condition], template) else when_false
            return self._resolve(chosen, template)
        return None

    def _condition(self, condition: dict, template: dict) -> bool:
        if "Fn::Not" in condition:
            return not self._condition(condition["Fn::Not"][0], template)
        if "Fn::Equals" in condition:
            left, right = (self._resolve(side, template) for side in condition["Fn::Equals"])
            return left == right
        raise ValueError(f"unsupported condition {condition!r}")


def create_resources(session: Any, prefix: str = "") -> LocalResources:
    """Create every DynamoDB table and KMS key of the template that does not exist yet.

    Tables are named after their logical ids (with an optional prefix); a KMS key is found
    again by its alias ``alias/<prefix><LogicalId>``, so calling this twice is harmless."""
    template = load_template()
    dynamodb = session.client("dynamodb")
    kms = session.client("kms")
    made = LocalResources()
    existing_tables = set(dynamodb.list_tables().get("TableNames", []))
    for name, resource in resources_of_type("AWS::DynamoDB::Table", template).items():
        table_name = f"{prefix}{name}"
        if table_name not in existing_tables:
            props = resource["Properties"]
            dynamodb.create_table(
                TableName=table_name,
                **{key: props[key] for key in _TABLE_PROPERTIES if key in props},
            )
        made.refs[name] = table_name
    aliases = {alias["AliasName"]: alias.get("TargetKeyId") for alias in kms.list_aliases().get("Aliases", [])}
    for name, resource in resources_of_type("AWS::KMS::Key", template).items():
        alias = f"alias/{prefix}{name}"
        key_id = aliases.get(alias)
        if key_id is None:
            props = resource["Properties"]
            key_id = kms.create_key(
                Description=props.get("Description", name),
                KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            )["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        made.refs[name] = key_id
    return made
