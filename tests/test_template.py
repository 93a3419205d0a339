"""template.yaml itself: what a production deploy gets, so that a later change cannot quietly
widen a permission, drop a backup or a log retention, or leave a route undeclared.

"No *" for the functions means: every statement the template writes for a function names exact
actions (no wildcard in an action) on resources of this template (a !Ref or !GetAtt, never a
"*" resource), as inline statements only - no SAM policy template (DynamoDBCrudPolicy grants
Scan and BatchWriteItem), no managed policy of ours. SAM adds AWS's AWSLambdaBasicExecutionRole
and AWSXrayWriteOnlyAccess to every AWS::Serverless::Function (logs and traces; X-Ray's API
takes no resource). The KMS keys' policies keep the standard key-administration statement
(``kms:*`` for the account root, i.e. delegated to IAM) and nothing else: who may *use* a key is
decided by the functions' statements below."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devtools.local_api import config as local_api_config
from devtools.local_api import events as local_api_events
from devtools.template import LocalResources, functions, load_template, resources_of_type
from testkit.client import NOT_FOUND_BODY

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
SERVERLESS_FUNCTIONS = resources_of_type("AWS::Serverless::Function", TEMPLATE)
PLAIN_FUNCTIONS = resources_of_type("AWS::Lambda::Function", TEMPLATE)
ALL_FUNCTIONS = {**SERVERLESS_FUNCTIONS, **PLAIN_FUNCTIONS}
TABLES = resources_of_type("AWS::DynamoDB::Table", TEMPLATE)
KEYS = resources_of_type("AWS::KMS::Key", TEMPLATE)

GET, BATCH_GET, QUERY = "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"
PUT, UPDATE, DELETE = "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
BATCH_WRITE = "dynamodb:BatchWriteItem"
DYNAMODB_WRITES = {
    PUT,
    UPDATE,
    DELETE,
    BATCH_WRITE,
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
}
MAC = "kms:GenerateMac"

# Exactly what each function may do, on which resource of the template (logical id).
EXPECTED_PERMISSIONS: dict[str, dict[str, set[str]]] = {
    "WorldFunction": {
        "DirectoryTable": {GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE},
        "TokenDigestKey": {MAC},
    },
    "AgentsFunction": {
        "DirectoryTable": {GET, BATCH_GET},
        "AgentsTable": {GET, QUERY, PUT, UPDATE, DELETE, BATCH_WRITE},
        "TokenDigestKey": {MAC},
    },
    "AgentTokensFunction": {
        "DirectoryTable": {GET, BATCH_GET},
        "AgentsTable": {GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE},
        "TokenDigestKey": {MAC},
    },
    "UrlConfigurationsFunction": {
        "DirectoryTable": {GET, BATCH_GET},
        "AgentsTable": {BATCH_GET, PUT, UPDATE, DELETE},
        "TokenDigestKey": {MAC},
        "DataKey": {"kms:GenerateDataKey"},
    },
    "CiJobsFunction": {
        "DirectoryTable": {GET, BATCH_GET},
        "AgentsTable": {BATCH_GET, QUERY},
        "TokenDigestKey": {MAC},
    },
    "KasFunction": {
        "DirectoryTable": {GET, BATCH_GET, UPDATE},  # UpdateItem: a PAT's last_used_at (authorize_proxy_user)
        "AgentsTable": {GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE},
        "TokenDigestKey": {MAC},
        "KasSecret": {"secretsmanager:GetSecretValue"},
    },
    "KasReceptiveFunction": {
        "AgentsTable": {GET, QUERY},
        "DataKey": {"kms:Decrypt"},
        "KasSecret": {"secretsmanager:GetSecretValue"},
    },
    "DocsFunction": {},
    "KasSecretGeneratorFunction": {
        "KasSecret": {"secretsmanager:PutSecretValue"},
        "KasSecretGeneratorLogGroup": {"logs:CreateLogStream", "logs:PutLogEvents"},
    },
}
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (404, NOT_FOUND_BODY),
    "RESOURCE_NOT_FOUND": (404, NOT_FOUND_BODY),
    "THROTTLED": (429, {"message": "429 Too Many Requests"}),
    "REQUEST_TOO_LARGE": (413, {"message": "413 Request Entity Too Large"}),
    "DEFAULT_4XX": (None, None),  # API Gateway's own status and message, in GitLab's {"message": ...}
    "DEFAULT_5XX": (None, None),
}


# ---------------------------------------------------------------- helpers (also used by test_openapi)
def _table_override(resource: dict) -> str:
    """``!If [Use<Table>Override, <ARN of the restored table named by the parameter>, !GetAtt <Table>.Arn]``:
    the table of the template, or the copy restored from its backups that replaces it."""
    condition, restored, own = resource["Fn::If"]
    table = _resource_id(own)
    assert RESOURCES[table]["Type"] == "AWS::DynamoDB::Table"
    assert condition == f"Use{table}Override"
    assert restored == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{{table}Override}}"
    }
    return table


def _resource_id(resource: Any) -> str:
    """The logical id a statement's resource names (a !Ref or !GetAtt of this template)."""
    assert isinstance(resource, dict), f"resource {resource!r} is not a reference to this template's resources"
    if "Fn::If" in resource:
        return _table_override(resource)
    if "Ref" in resource:
        target = resource["Ref"]
    elif "Fn::GetAtt" in resource:
        target, attribute = resource["Fn::GetAtt"]
        assert attribute == "Arn", resource
    else:
        raise AssertionError(f"resource {resource!r} is neither !Ref nor !GetAtt")
    assert target in RESOURCES, f"{target} is not a resource of the template"
    return target


def _statements(logical_id: str) -> list[dict[str, Any]]:
    resource = ALL_FUNCTIONS[logical_id]
    if resource["Type"] == "AWS::Serverless::Function":
        policies = resource["Properties"].get("Policies", [])
        for policy in policies:
            assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
                f"{logical_id}: only inline statements, no managed policy or SAM policy template: {policy!r}"
            )
        return [statement for policy in policies for statement in policy["Statement"]]
    role = RESOURCES[_resource_id(resource["Properties"]["Role"])]
    assert role["Type"] == "AWS::IAM::Role"
    assert "ManagedPolicyArns" not in role["Properties"], logical_id
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def permissions(logical_id: str) -> dict[str, set[str]]:
    """{resource logical id: actions} that the template grants the function."""
    granted: dict[str, set[str]] = {}
    for statement in _statements(logical_id):
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            granted.setdefault(_resource_id(resource), set()).update(actions)
    return granted


def _api_routes(logical_id: str) -> set[tuple[str, str]]:
    events = SERVERLESS_FUNCTIONS[logical_id]["Properties"].get("Events", {})
    return {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events.values() if e["Type"] == "Api"}


# ---------------------------------------------------------------- permissions
def test_every_function_has_an_expected_permission_set():
    assert set(EXPECTED_PERMISSIONS) == set(ALL_FUNCTIONS)


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_PERMISSIONS))
def test_function_gets_exactly_its_actions_on_its_resources(logical_id):
    assert permissions(logical_id) == EXPECTED_PERMISSIONS[logical_id]


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_PERMISSIONS))
def test_no_wildcard_action_or_resource(logical_id):
    for statement in _statements(logical_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(isinstance(a, str) and "*" not in a and ":" in a for a in actions), statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all(r != "*" and not isinstance(r, str) for r in resources), statement


def test_read_only_route_groups_have_no_write_action():
    read_only = [name for name in SERVERLESS_FUNCTIONS if {m for m, _ in _api_routes(name)} <= {"GET"}]
    assert {"CiJobsFunction", "DocsFunction"} <= set(read_only)
    for name in read_only:
        granted = set().union(*permissions(name).values()) if permissions(name) else set()
        assert not granted & DYNAMODB_WRITES, name
        # Reads only: the digest key, and for the agent server's receptive list the KAS secret and
        # Decrypt (pinned to that one function below).
        assert not {a for a in granted if a.startswith(("kms:", "secretsmanager:"))} - {
            MAC,
            "kms:Decrypt",
            "secretsmanager:GetSecretValue",
        }, name


def test_only_the_agent_server_functions_read_the_kas_secret_and_only_the_generator_writes_it():
    on_secret = {name: permissions(name).get("KasSecret", set()) for name in ALL_FUNCTIONS}
    readers = {name for name, actions in on_secret.items() if "secretsmanager:GetSecretValue" in actions}
    writers = {name for name, actions in on_secret.items() if "secretsmanager:PutSecretValue" in actions}
    assert (readers, writers) == ({"KasFunction", "KasReceptiveFunction"}, {"KasSecretGeneratorFunction"})


def test_only_the_receptive_agents_function_can_decrypt_private_material():
    """SPEC §7.3: the agent server's receptive list is the only route that decrypts stored keys;
    its function serves that route alone and may decrypt with the data key and nothing else."""
    decrypting = {
        (name, resource)
        for name in ALL_FUNCTIONS
        for resource, actions in permissions(name).items()
        if "kms:Decrypt" in actions
    }
    assert decrypting == {("KasReceptiveFunction", "DataKey")}
    assert _api_routes("KasReceptiveFunction") == {("GET", "/api/v4/internal/kubernetes/receptive_agents")}


def test_key_policies_hold_only_the_account_administration_statement():
    for name, key in KEYS.items():
        assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain", name
        (statement,) = key["Properties"]["KeyPolicy"]["Statement"]
        assert statement["Effect"] == "Allow" and statement["Action"] == "kms:*" and statement["Resource"] == "*"
        assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert KEYS["DataKey"]["Properties"]["EnableKeyRotation"] is True


# ---------------------------------------------------------------- storage
@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_is_backed_up_protected_retained_and_encrypted(name):
    table = TABLES[name]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_tables_are_the_two_the_code_knows():
    assert set(TABLES) == {"DirectoryTable", "AgentsTable"}


def test_kas_secret_is_retained_and_generated_once_before_the_agent_server_function():
    secret = RESOURCES["KasSecret"]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    initial = RESOURCES["KasSecretInitialValue"]["Properties"]
    assert initial["SecretId"] == {"Ref": "KasSecret"}
    assert initial["ServiceToken"] == {"Fn::GetAtt": ["KasSecretGeneratorFunction", "Arn"]}
    for name in ("KasFunction", "KasReceptiveFunction"):
        assert SERVERLESS_FUNCTIONS[name]["DependsOn"] == "KasSecretInitialValue"
        assert SERVERLESS_FUNCTIONS[name]["Properties"]["Environment"]["Variables"]["KAS_SECRET_ARN"] == {
            "Ref": "KasSecret"
        }


class _FakeSecretsManager:
    def __init__(self) -> None:
        self.values: list[dict[str, str]] = []

    def put_secret_value(self, **kwargs: str) -> None:
        self.values.append(kwargs)


def _run_generator(request_type: str) -> tuple[_FakeSecretsManager, dict[str, Any]]:
    """Run the custom resource's inline code with a fake Secrets Manager and CloudFormation."""
    import types
    import urllib.request

    code = PLAIN_FUNCTIONS["KasSecretGeneratorFunction"]["Properties"]["Code"]["ZipFile"]
    fake = _FakeSecretsManager()
    sent: dict[str, Any] = {}

    def urlopen(request: urllib.request.Request, timeout: float) -> Any:
        sent.update(url=request.full_url, method=request.get_method(), body=json.loads(request.data))
        return types.SimpleNamespace(close=lambda: None)

    namespace: dict[str, Any] = {}
    exec(compile(code, "KasSecretGeneratorFunction", "exec"), namespace)  # the template's own inline code
    namespace["boto3"] = types.SimpleNamespace(client=lambda service: fake)
    namespace["urllib"] = types.SimpleNamespace(
        request=types.SimpleNamespace(Request=urllib.request.Request, urlopen=urlopen)
    )
    event = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation.invalid/response",
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "KasSecretInitialValue",
        "ResourceProperties": {"SecretId": "arn:kas-secret"},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = "physical"
    namespace["handler"](event, types.SimpleNamespace(log_stream_name="stream"))
    return fake, sent


def test_generated_kas_secret_is_base64_of_32_bytes_with_padding_as_kas_reads_it():
    fake, sent = _run_generator("Create")
    (put,) = fake.values
    value = put["SecretString"]
    assert put["SecretId"] == "arn:kas-secret"
    assert len(value) == 44 and value.endswith("=") and len(base64.b64decode(value, validate=True)) == 32
    assert base64.b64encode(base64.b64decode(value)).decode() == value  # canonical, as KAS's file holds it
    assert sent["method"] == "PUT" and sent["body"]["Status"] == "SUCCESS"
    assert _run_generator("Create")[0].values[0]["SecretString"] != value


@pytest.mark.parametrize("request_type", ["Update", "Delete"])
def test_the_kas_secret_is_never_rewritten_after_creation(request_type):
    fake, sent = _run_generator(request_type)
    assert fake.values == []
    assert sent["body"]["Status"] == "SUCCESS" and sent["body"]["PhysicalResourceId"] == "physical"


# ---------------------------------------------------------------- logs, tracing, runtime
@pytest.mark.parametrize("logical_id", sorted(ALL_FUNCTIONS))
def test_function_logs_to_its_own_log_group_with_retention(logical_id):
    log_group_id = _resource_id(ALL_FUNCTIONS[logical_id]["Properties"]["LoggingConfig"]["LogGroup"])
    log_group = RESOURCES[log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    users = [
        name
        for name, function in ALL_FUNCTIONS.items()
        if function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}
    ]
    assert users == [logical_id]


def test_every_log_group_belongs_to_a_function():
    used = {_resource_id(f["Properties"]["LoggingConfig"]["LogGroup"]) for f in ALL_FUNCTIONS.values()}
    assert set(resources_of_type("AWS::Logs::LogGroup", TEMPLATE)) == used


def test_tracing_runtime_and_powertools_settings():
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Tracing"] == "Active" and globals_["Runtime"] == "python3.12"
    assert RESOURCES["ClusterAgentsApi"]["Properties"]["TracingEnabled"] is True
    env = globals_["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(env)
    layer = resources_of_type("AWS::Serverless::LayerVersion", TEMPLATE)["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert PLAIN_FUNCTIONS["KasSecretGeneratorFunction"]["Properties"]["Runtime"] == "python3.12"


# ---------------------------------------------------------------- the API
def test_stage_throttling_comes_from_parameters():
    (setting,) = RESOURCES["ClusterAgentsApi"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    for name in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        assert TEMPLATE["Parameters"][name]["Type"] == "Number" and TEMPLATE["Parameters"][name]["MinValue"] >= 1


@pytest.mark.parametrize("response_type", sorted(GATEWAY_RESPONSES))
def test_gateway_response_is_json_in_gitlabs_shape(response_type):
    status, body = GATEWAY_RESPONSES[response_type]
    response = RESOURCES["ClusterAgentsApi"]["Properties"]["GatewayResponses"][response_type]
    assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'"
    template = response["ResponseTemplates"]["application/json"]
    if status is None:
        assert "StatusCode" not in response
        assert template == '{"message":$context.error.messageString}'
    else:
        assert response["StatusCode"] == status
        assert json.loads(template) == body


def test_throttled_answers_tell_clients_when_to_retry():
    headers = RESOURCES["ClusterAgentsApi"]["Properties"]["GatewayResponses"]["THROTTLED"]["ResponseParameters"]
    assert headers["Headers"]["Retry-After"] == "'1'"


def test_the_local_server_answers_as_the_gateway_responses_say():
    responses = RESOURCES["ClusterAgentsApi"]["Properties"]["GatewayResponses"]
    assert json.loads(local_api_events.NOT_FOUND_BODY) == json.loads(
        responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]
    )
    assert json.loads(local_api_events.TOO_LARGE_BODY) == json.loads(
        responses["REQUEST_TOO_LARGE"]["ResponseTemplates"]["application/json"]
    )


def test_outputs_give_the_api_url():
    assert TEMPLATE["Outputs"]["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${ClusterAgentsApi}.execute-api.${AWS::Region}.amazonaws.com/${StageName}"
    }
    assert {
        "ApiDocsUrl",
        "AgentsTableName",
        "DirectoryTableName",
        "KasSecretArn",
        "TokenDigestKeyId",
        "DataKeyId",
        "KasFunctionName",
    } <= set(TEMPLATE["Outputs"])


@pytest.mark.parametrize("logical_id", sorted(SERVERLESS_FUNCTIONS))
def test_routes_of_the_template_are_the_routes_of_the_app_and_vice_versa(logical_id):
    from devtools.openapi import app_schemas

    function = next(f for f in functions(TEMPLATE) if f.logical_id == logical_id)
    schema = app_schemas([function])[logical_id]
    in_app = {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}
    assert in_app == _api_routes(logical_id)
    for event in SERVERLESS_FUNCTIONS[logical_id]["Properties"]["Events"].values():
        assert event["Properties"]["RestApiId"] == {"Ref": "ClusterAgentsApi"}


# ---------------------------------------------------------------- parameters and environment
def test_receptive_agents_setting_is_a_parameter_of_every_function():
    parameter = TEMPLATE["Parameters"]["ReceptiveAgentsEnabled"]
    assert parameter["AllowedValues"] == ["true", "false"] and parameter["Default"] == "true"
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RECEPTIVE_AGENTS_ENABLED"] == {"Ref": "ReceptiveAgentsEnabled"}
    for name, function in SERVERLESS_FUNCTIONS.items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        assert "RECEPTIVE_AGENTS_ENABLED" not in own, name


def test_function_environment_resolves_parameters_and_takes_overrides():
    resources = LocalResources(
        refs={"DirectoryTable": "d", "AgentsTable": "a", "TokenDigestKey": "k1", "DataKey": "k2"}
    )
    env = resources.function_environment(TEMPLATE)
    assert env["RECEPTIVE_AGENTS_ENABLED"] == "true" and env["EXTERNAL_URL"] == ""
    assert env["DIRECTORY_TABLE"] == "d" and env["AGENTS_TABLE"] == "a"
    overridden = resources.function_environment(
        TEMPLATE, overrides={"RECEPTIVE_AGENTS_ENABLED": "false", "DIRECTORY_TABLE": "not a parameter"}
    )
    assert overridden["RECEPTIVE_AGENTS_ENABLED"] == "false" and overridden["DIRECTORY_TABLE"] == "d"


def test_kas_urls_are_parameters_fed_to_the_functions_and_to_make_serve():
    """``KAS_EXTERNAL_URL=wss://... make serve`` is the local form of the parameters (GET /metadata)."""
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for parameter, variable in (
        ("KasExternalUrl", "KAS_EXTERNAL_URL"),
        ("KasExternalK8sProxyUrl", "KAS_EXTERNAL_K8S_PROXY_URL"),
    ):
        assert TEMPLATE["Parameters"][parameter]["Default"] == ""
        assert env[variable] == {"Ref": parameter}
    resources = LocalResources(
        refs={"DirectoryTable": "d", "AgentsTable": "a", "TokenDigestKey": "k1", "DataKey": "k2"}
    )
    local = resources.function_environment(TEMPLATE, overrides={"KAS_EXTERNAL_URL": "wss://kas.example.com"})
    assert (local["KAS_EXTERNAL_URL"], local["KAS_EXTERNAL_K8S_PROXY_URL"]) == ("wss://kas.example.com", "")


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_restored_table_can_replace_a_table_by_parameter(table):
    parameter = TEMPLATE["Parameters"][f"{table}Override"]
    assert parameter["Default"] == ""
    assert TEMPLATE["Conditions"][f"Use{table}Override"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": f"{table}Override"}, ""]}]
    }
    variable = {"DirectoryTable": "DIRECTORY_TABLE", "AgentsTable": "AGENTS_TABLE"}[table]
    chosen = {"Fn::If": [f"Use{table}Override", {"Ref": f"{table}Override"}, {"Ref": table}]}
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"][variable] == chosen
    assert TEMPLATE["Outputs"][f"{table}Name"]["Value"] == chosen
    granted = [
        statement["Resource"]
        for name in ALL_FUNCTIONS
        for statement in _statements(name)
        if "Fn::If" in statement["Resource"] and _resource_id(statement["Resource"]) == table
    ]
    users = [name for name in ALL_FUNCTIONS if table in permissions(name)]
    assert len(granted) == len(users) > 0  # every grant on the table follows the override


def test_operator_parameters_exist():
    parameters = TEMPLATE["Parameters"]
    assert {
        "StageName",
        "LogRetentionDays",
        "ExternalUrl",
        "ReceptiveAgentsEnabled",
        "ThrottlingRateLimit",
        "ThrottlingBurstLimit",
        "DirectoryTableOverride",
        "AgentsTableOverride",
        "KasExternalUrl",
        "KasExternalK8sProxyUrl",
    } <= set(parameters)
    assert all("Description" in parameter for parameter in parameters.values())


@pytest.mark.e2e
@pytest.mark.xdist_group("local_server")  # with the other tests that start servers of their own
def test_the_local_server_takes_parameter_fed_settings_from_its_environment(monkeypatch):
    """``RECEPTIVE_AGENTS_ENABLED=false make serve`` is the local form of the parameter (the
    template's default must not win over the shell's value)."""
    import requests

    from devtools.local_api import LocalApi

    token = "glpat-template-test-root-000"
    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "false")
    with LocalApi(port=0, workers=1, seed=True, env_overrides={"ROOT_TOKEN": token}) as server:
        response = requests.get(
            f"{server.base_url}/projects/1/cluster_agents/1/url_configurations",
            headers={"PRIVATE-TOKEN": token},
            timeout=30,
        )
    assert (response.status_code, response.json()) == (404, {"message": "404 Not Found"})


# ---------------------------------------------------------------- bounded cost
RESERVED_CONCURRENCY = {
    "World": 20,
    "UrlConfigurations": 10,
    "Agents": 20,
    "AgentTokens": 20,
    "CiJobs": 50,
    "Kas": 50,
    "KasReceptive": 5,
    "Docs": 5,
}
UNRESERVED_MINIMUM, TYPICAL_ACCOUNT_LIMIT = 100, 1000  # AWS keeps 100 unreserved; accounts start at 1,000


def test_every_route_function_reserves_its_concurrency_from_a_parameter():
    """One route group cannot take every execution from the others; 0 = unreserved."""
    routed = {name for name, function in SERVERLESS_FUNCTIONS.items() if function["Properties"].get("Events")}
    assert {f"{group}Function" for group in RESERVED_CONCURRENCY} == routed
    for group, default in RESERVED_CONCURRENCY.items():
        parameter = TEMPLATE["Parameters"][f"{group}ReservedConcurrency"]
        assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", default, 0)
        condition = f"Reserve{group}Concurrency"
        assert TEMPLATE["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": f"{group}ReservedConcurrency"}, "0"]}]
        }
        assert SERVERLESS_FUNCTIONS[f"{group}Function"]["Properties"]["ReservedConcurrentExecutions"] == {
            "Fn::If": [condition, {"Ref": f"{group}ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
        }


def test_reserved_concurrency_defaults_leave_the_account_room():
    assert sum(RESERVED_CONCURRENCY.values()) <= (TYPICAL_ACCOUNT_LIMIT - UNRESERVED_MINIMUM) // 4


def test_readme_documents_every_parameter_with_its_default():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name, parameter in TEMPLATE["Parameters"].items():
        if name.endswith("ReservedConcurrency"):
            assert f"`{name}` | `{parameter['Default']}`" in readme, name


# ---------------------------------------------------------------- `sam local` (make sam-local)
def test_architecture_is_a_parameter_whose_default_a_deployed_stack_gets():
    parameter = TEMPLATE["Parameters"]["Architecture"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("arm64", ["arm64", "x86_64"])
    chosen = [{"Ref": "Architecture"}]
    assert TEMPLATE["Globals"]["Function"]["Architectures"] == chosen
    assert all("Architectures" not in function["Properties"] for function in SERVERLESS_FUNCTIONS.values())
    assert PLAIN_FUNCTIONS["KasSecretGeneratorFunction"]["Properties"]["Architectures"] == chosen
    layer = resources_of_type("AWS::Serverless::LayerVersion", TEMPLATE)["CommonLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == chosen
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}  # sam build resolves it


def test_function_timeout_is_a_parameter_whose_default_a_deployed_stack_gets():
    parameter = TEMPLATE["Parameters"]["FunctionTimeout"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 10)
    assert TEMPLATE["Globals"]["Function"]["Timeout"] == {"Ref": "FunctionTimeout"}
    timeouts = {local_api_config.function_spec(TEMPLATE, function).timeout_s for function in functions(TEMPLATE)}
    assert timeouts == {10.0}  # what the local server and a deployed stack give every function


LOCAL_ONLY_VARIABLES = {"AWS_ENDPOINT_URL": {"Ref": "LocalEndpointUrl"}, "KAS_SECRET": ""}


def test_local_only_variables_are_absent_from_a_deployed_stack():
    """What `sam local` needs (SAM passes only declared variables) is declared behind IsLocalRun,
    false unless LocalEndpointUrl is given: a deployed stack's functions get no such variable."""
    assert TEMPLATE["Parameters"]["LocalEndpointUrl"]["Default"] == ""
    assert TEMPLATE["Conditions"]["IsLocalRun"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LocalEndpointUrl"}, ""]}]}
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    for name, local_value in LOCAL_ONLY_VARIABLES.items():
        assert variables[name] == {"Fn::If": ["IsLocalRun", local_value, {"Ref": "AWS::NoValue"}]}
    for function in ALL_FUNCTIONS.values():
        assert not set(LOCAL_ONLY_VARIABLES) & set(function["Properties"].get("Environment", {}).get("Variables", {}))
    resolved = LocalResources(
        refs={"DirectoryTable": "d", "AgentsTable": "a", "TokenDigestKey": "k1", "DataKey": "k2"}
    ).function_environment(TEMPLATE)
    assert not set(LOCAL_ONLY_VARIABLES) & set(resolved)
    conditions = TEMPLATE["Conditions"]
    assert [name for name in conditions if "LocalEndpointUrl" in json.dumps(conditions[name])] == ["IsLocalRun"]
    # Nothing but those two variables depends on the local run.
    uses = [path for path, value in _walk(TEMPLATE) if value in ("IsLocalRun", {"Ref": "LocalEndpointUrl"})]
    assert sorted(uses) == [
        "Conditions.IsLocalRun.Fn::Not.0.Fn::Equals.0",
        "Globals.Function.Environment.Variables.AWS_ENDPOINT_URL.Fn::If.0",
        "Globals.Function.Environment.Variables.AWS_ENDPOINT_URL.Fn::If.1",
        "Globals.Function.Environment.Variables.KAS_SECRET.Fn::If.0",
    ]


def test_the_local_env_file_sets_only_declared_variables():
    from devtools.sam_events import LOCAL_ENV_FILE

    env = json.loads(LOCAL_ENV_FILE.read_text())
    assert set(env) == {"Parameters"}  # every function
    assert set(env["Parameters"]) <= set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    assert len(base64.b64decode(env["Parameters"]["KAS_SECRET"], validate=True)) == 32


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    found = [(path.lstrip("."), value)]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _walk(item, f"{path}.{index}")
    return found
