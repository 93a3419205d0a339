"""The local moto server (devtools.local_api.storage) answers a TransactWriteItems sent again with the same
ClientRequestToken as DynamoDB does: the first answer again, nothing written twice. botocore keeps
the token across its retries, so a transaction retried after a read timeout on a loaded machine
is not refused for what it wrote itself."""

from __future__ import annotations

import boto3
import pytest

from devtools.local_api.storage import MotoStore


@pytest.fixture(scope="module")
def dynamodb():
    store = MotoStore(in_process=False)
    endpoint = store.start()
    try:
        client = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client
    finally:
        store.stop()


def _puts(*keys: str) -> list[dict]:
    return [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": key}}, "ConditionExpression": "attribute_not_exists(pk)"}}
        for key in keys
    ]


def test_a_retried_transaction_gets_its_first_answer(dynamodb):
    dynamodb.transact_write_items(TransactItems=_puts("a", "b"), ClientRequestToken="first")
    dynamodb.transact_write_items(TransactItems=_puts("a", "b"), ClientRequestToken="first")  # the retry
    assert dynamodb.scan(TableName="t", Select="COUNT")["Count"] == 2


def test_another_token_is_another_transaction(dynamodb):
    dynamodb.transact_write_items(TransactItems=_puts("c"), ClientRequestToken="second")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=_puts("c"), ClientRequestToken="third")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=_puts("c"))  # botocore makes a fresh token


def test_a_refused_transaction_is_not_remembered(dynamodb):
    dynamodb.transact_write_items(TransactItems=_puts("d"), ClientRequestToken="fourth")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=_puts("d", "e"), ClientRequestToken="fifth")
    dynamodb.delete_item(TableName="t", Key={"pk": {"S": "d"}})
    dynamodb.transact_write_items(TransactItems=_puts("d", "e"), ClientRequestToken="fifth")
    assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "e"}}).get("Item") == {"pk": {"S": "e"}}
