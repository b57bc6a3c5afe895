"""A topic's access policy is evaluated with the caller's own policies: a user with no policies
of its own may publish to a topic whose Policy allows it, and to nothing else."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server, error_code


def test_a_topic_policy_grants_what_the_callers_own_policies_do_not(server: Server) -> None:
    sns, iam = server.client("sns"), server.client("iam")
    granted = sns.create_topic(Name=f"granted-{uuid.uuid4().hex[:8]}")["TopicArn"]
    plain = sns.create_topic(Name=f"plain-{uuid.uuid4().hex[:8]}")["TopicArn"]
    user = f"publisher-{uuid.uuid4().hex[:8]}"
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sns:Publish", "Resource": granted}
        ],
    }
    sns.set_topic_attributes(TopicArn=granted, AttributeName="Policy", AttributeValue=json.dumps(policy))
    assert json.loads(sns.get_topic_attributes(TopicArn=granted)["Attributes"]["Policy"]) == policy
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs: Any = boto3.client(
        "sns",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    assert theirs.publish(TopicArn=granted, Message="by the topic's leave")["MessageId"]
    for call in (
        lambda: theirs.publish(TopicArn=plain, Message="no"),
        lambda: theirs.subscribe(
            TopicArn=granted, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:000000000000:q"
        ),
        lambda: theirs.set_topic_attributes(TopicArn=granted, AttributeName="Policy", AttributeValue="{}"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert error_code(err) == "AuthorizationError"
