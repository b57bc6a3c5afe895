"""Terraform end to end for a messaging application: the real `terraform` with the hashicorp/aws
provider (offline, from a local mirror: see test_terraform_identity.py) applies, in us-east-1, a
standard queue with a redrive policy to a dead-letter queue, a FIFO queue with content-based
deduplication, queue policies (SNS may deliver the topic's messages to the queue and to its
subscription's dead-letter queue), a topic with tags and two subscriptions (the queue, raw and
filtered, with a dead-letter queue; a function, with its permission for SNS), the function with
a dead-letter queue and an event invoke config whose failures go to the topic, and an event
source mapping from the queue to the function (batch size and window, partial batch responses,
scaling, a filter). A second plan shows no change; messages sent with boto3 and published to the
topic reach the function (which reports each event it gets to a sink queue); a new batch size is
an in-place update; and destroy removes every queue, topic and mapping."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server, error_code, make_zip
from tests.e2e.test_esm_sqs import make_function, make_queue, setup_roles
from tests.e2e.test_terraform_identity import (  # noqa: F401  (the fixture)
    TF_REGION,
    TF_TIMEOUT,
    Provider,
    Terraform,
    client,
    provider_block,
    terraform,
    terraform_env,
)

# The function reports every event it is given to the sink queue, through the SDK in its
# environment as its execution role.
HANDLER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    url = sqs.get_queue_url(QueueName=os.environ["SINK"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    return {"batchItemFailures": []}
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["sqs:*", "sns:Publish"], "Resource": "*"},
        {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
    ],
}


def configuration(provider: Provider, endpoint: str, n: dict[str, str], batch_size: int) -> str:
    q = json.dumps
    return f"""
{provider_block(provider, endpoint, "iam", "lambda", "sns", "sqs", "sts")}

resource "aws_iam_role" "fn" {{
  name               = {q(n["role"])}
  assume_role_policy = {q(json.dumps(TRUST))}
}}

resource "aws_iam_role_policy" "access" {{
  name   = "messaging"
  role   = aws_iam_role.fn.id
  policy = {q(json.dumps(ACCESS))}
}}

resource "aws_sqs_queue" "dlq" {{
  name                      = {q(n["dlq"])}
  message_retention_seconds = 1209600
}}

resource "aws_sqs_queue" "orders" {{
  name                       = {q(n["orders"])}
  visibility_timeout_seconds = 60
  receive_wait_time_seconds  = 2
  message_retention_seconds  = 86400
  max_message_size           = 131072
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({{
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 4
  }})
  tags = {{
    team = "platform"
    app  = "orders"
  }}
}}

resource "aws_sqs_queue" "ledger" {{
  name                        = {q(n["ledger"] + ".fifo")}
  fifo_queue                  = true
  content_based_deduplication = true
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
}}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {{
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({{
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.orders.arn]
  }})
}}

resource "aws_sqs_queue" "sink" {{
  name = {q(n["sink"])}
}}

resource "aws_sns_topic" "events" {{
  name         = {q(n["topic"])}
  display_name = "Orders"
  tags = {{
    team = "platform"
  }}
}}

resource "aws_sqs_queue_policy" "orders" {{
  queue_url = aws_sqs_queue.orders.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Sid       = "topic"
      Effect    = "Allow"
      Principal = {{ Service = "sns.amazonaws.com" }}
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.orders.arn
      Condition = {{ ArnEquals = {{ "aws:SourceArn" = aws_sns_topic.events.arn }} }}
    }}]
  }})
}}

# SNS moves what it cannot deliver to the subscription's dead-letter queue only as that queue's
# policy allows, as it delivers to the subscribed queue.
resource "aws_sqs_queue_policy" "dlq" {{
  queue_url = aws_sqs_queue.dlq.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Sid       = "topic"
      Effect    = "Allow"
      Principal = {{ Service = "sns.amazonaws.com" }}
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dlq.arn
      Condition = {{ ArnEquals = {{ "aws:SourceArn" = aws_sns_topic.events.arn }} }}
    }}]
  }})
}}

resource "aws_sns_topic_subscription" "orders" {{
  topic_arn            = aws_sns_topic.events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.orders.arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageAttributes"
  filter_policy = jsonencode({{
    color = ["blue"]
  }})
  redrive_policy = jsonencode({{
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
  }})
}}

resource "aws_lambda_function" "fn" {{
  function_name    = {q(n["function"])}
  role             = aws_iam_role.fn.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "function.zip"
  source_code_hash = filebase64sha256("function.zip")
  timeout          = 20
  environment {{
    variables = {{
      SINK = aws_sqs_queue.sink.name
    }}
  }}
  dead_letter_config {{
    target_arn = aws_sqs_queue.dlq.arn
  }}
  depends_on = [aws_iam_role_policy.access]
}}

resource "aws_lambda_function_event_invoke_config" "fn" {{
  function_name                = aws_lambda_function.fn.function_name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 600
  destination_config {{
    on_failure {{
      destination = aws_sns_topic.events.arn
    }}
  }}
}}

resource "aws_lambda_permission" "sns" {{
  statement_id  = "sns"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.events.arn
}}

resource "aws_sns_topic_subscription" "fn" {{
  topic_arn  = aws_sns_topic.events.arn
  protocol   = "lambda"
  endpoint   = aws_lambda_function.fn.arn
  depends_on = [aws_lambda_permission.sns]
}}

resource "aws_lambda_event_source_mapping" "orders" {{
  event_source_arn                   = aws_sqs_queue.orders.arn
  function_name                      = aws_lambda_function.fn.arn
  batch_size                         = {batch_size}
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {{
    maximum_concurrency = 2
  }}
  filter_criteria {{
    filter {{
      pattern = jsonencode({{
        body = {{ kind = ["order"] }}
      }})
    }}
  }}
  tags = {{
    team = "platform"
  }}
}}

output "orders_url" {{
  value = aws_sqs_queue.orders.id
}}

output "topic_arn" {{
  value = aws_sns_topic.events.arn
}}

output "mapping" {{
  value = aws_lambda_event_source_mapping.orders.uuid
}}
"""


def drain(sqs: Any, url: str, want: int, seconds: float = 90) -> list[dict[str, Any]]:
    """Messages from a queue (deleted as they are read) until `want` of them came or time ran
    out; the caller asserts on what came."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def events_seen(sqs: Any, sink_url: str, want: int) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in drain(sqs, sink_url, want)]


@pytest.mark.timeout(8 * TF_TIMEOUT)
def test_terraform_messaging_application(
    terraform: tuple[str, Provider],  # noqa: F811  (the fixture)
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    binary, provider = terraform
    server: Server = request.getfixturevalue("server")
    tag = uuid.uuid4().hex[:8]
    n = {k: f"tf-{k}-{tag}" for k in ("role", "dlq", "orders", "ledger", "sink", "topic", "function")}
    workdir = tmp_path / "config"
    workdir.mkdir()
    (workdir / "function.zip").write_bytes(make_zip({"app.py": HANDLER}))
    main_tf = workdir / "main.tf"
    main_tf.write_text(configuration(provider, server.endpoint, n, batch_size=5))
    tf = Terraform(binary, workdir, terraform_env(tmp_path, provider.mirror), tmp_path)

    tf.run("init", "-input=false", "-no-color")
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    outputs = json.loads(tf.run("output", "-json", "-no-color").stdout)

    lam, sqs, sns = client(server, "lambda"), client(server, "sqs"), client(server, "sns")
    account = client(server, "sts").get_caller_identity()["Account"]
    arn = {k: f"arn:aws:sqs:{TF_REGION}:{account}:{n[k]}" for k in ("dlq", "orders", "sink")}
    orders_url = outputs["orders_url"]["value"]
    sink_url = sqs.get_queue_url(QueueName=n["sink"])["QueueUrl"]
    topic_arn = outputs["topic_arn"]["value"]
    assert topic_arn == f"arn:aws:sns:{TF_REGION}:{account}:{n['topic']}"

    # What Terraform made, as boto3 reads it.
    attributes = sqs.get_queue_attributes(QueueUrl=orders_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    redrive = {"deadLetterTargetArn": arn["dlq"], "maxReceiveCount": 4}
    assert json.loads(attributes["RedrivePolicy"]) == redrive
    assert json.loads(attributes["Policy"])["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert json.loads(attributes["Policy"])["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": topic_arn}
    }
    assert sqs.list_queue_tags(QueueUrl=orders_url)["Tags"] == {"team": "platform", "app": "orders"}
    ledger_url = sqs.get_queue_url(QueueName=n["ledger"] + ".fifo")["QueueUrl"]
    ledger = sqs.get_queue_attributes(QueueUrl=ledger_url, AttributeNames=["All"])["Attributes"]
    assert ledger["FifoQueue"] == "true" and ledger["ContentBasedDeduplication"] == "true"
    assert ledger["DeduplicationScope"] == "messageGroup"
    assert ledger["FifoThroughputLimit"] == "perMessageGroupId"
    dlq_url = sqs.get_queue_url(QueueName=n["dlq"])["QueueUrl"]
    allow = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["RedriveAllowPolicy", "Policy"])[
        "Attributes"
    ]
    (for_sns,) = json.loads(allow["Policy"])["Statement"]
    assert for_sns["Principal"] == {"Service": "sns.amazonaws.com"} and for_sns["Resource"] == arn["dlq"]
    assert for_sns["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}
    assert json.loads(allow["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [arn["orders"]],
    }
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == [{"Key": "team", "Value": "platform"}]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert sorted(s["Protocol"] for s in subscriptions) == ["lambda", "sqs"]
    (to_queue,) = [s["SubscriptionArn"] for s in subscriptions if s["Protocol"] == "sqs"]
    subscription = sns.get_subscription_attributes(SubscriptionArn=to_queue)["Attributes"]
    assert subscription["RawMessageDelivery"] == "true"
    assert json.loads(subscription["FilterPolicy"]) == {"color": ["blue"]}
    assert json.loads(subscription["RedrivePolicy"]) == {"deadLetterTargetArn": arn["dlq"]}
    fn = lam.get_function_configuration(FunctionName=n["function"])
    assert fn["DeadLetterConfig"] == {"TargetArn": arn["dlq"]}
    invoke_config = lam.get_function_event_invoke_config(FunctionName=n["function"])
    assert invoke_config["DestinationConfig"]["OnFailure"] == {"Destination": topic_arn}
    mapping = lam.get_event_source_mapping(UUID=outputs["mapping"]["value"])
    assert mapping["EventSourceArn"] == arn["orders"] and mapping["BatchSize"] == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert lam.list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"] == {"team": "platform"}

    # What Stratus answers reads back as what was applied: no changes (exit 0; 2 is a diff).
    tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    # A message that matches the mapping's filter reaches the function; one that does not, not.
    sqs.send_message(QueueUrl=orders_url, MessageBody=json.dumps({"kind": "other", "n": 0}))
    sent = sqs.send_message(QueueUrl=orders_url, MessageBody=json.dumps({"kind": "order", "n": 1}))
    (event,) = events_seen(sqs, sink_url, 1)
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn["orders"]
    assert record["messageId"] == sent["MessageId"]
    assert json.loads(record["body"]) == {"kind": "order", "n": 1}

    # Published to the topic: the function's subscription gets it as an SNS event, and the
    # queue's (its filter policy matching) gets the raw message, which the mapping hands on.
    sns.publish(
        TopicArn=topic_arn,
        Message=json.dumps({"kind": "order", "n": 2}),
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )
    seen = events_seen(sqs, sink_url, 2)
    sources = sorted(e["Records"][0].get("eventSource") or e["Records"][0].get("EventSource") for e in seen)
    assert sources == ["aws:sns", "aws:sqs"], seen
    by_queue = next(e for e in seen if e["Records"][0].get("eventSource") == "aws:sqs")
    assert json.loads(by_queue["Records"][0]["body"]) == {"kind": "order", "n": 2}

    # A new batch size is an update of the mapping in place, not a replacement.
    main_tf.write_text(configuration(provider, server.endpoint, n, batch_size=8))
    plan = tf.run("plan", "-input=false", "-no-color", "-detailed-exitcode", expect=(2,)).stdout
    assert "aws_lambda_event_source_mapping.orders will be updated in-place" in plan, plan[-3000:]
    assert "must be replaced" not in plan, plan[-3000:]
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    assert lam.get_event_source_mapping(UUID=outputs["mapping"]["value"])["BatchSize"] == 8
    tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    tf.run("destroy", "-auto-approve", "-input=false", "-no-color")
    assert not [u for u in sqs.list_queues(QueueNamePrefix="tf-").get("QueueUrls", []) if tag in u]
    assert not [t for t in sns.list_topics()["Topics"] if tag in t["TopicArn"]]
    assert lam.list_event_source_mappings(EventSourceArn=arn["orders"])["EventSourceMappings"] == []
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    assert not [m for m in mappings if tag in m["EventSourceArn"]]


# -- the fidelity fixes Terraform needed, each on its own through boto3 --------------------------


def test_event_source_mappings_take_tags_by_their_arn(server: Server) -> None:
    """The provider reads a mapping's tags (ListTags on its EventSourceMappingArn) after
    creating it; CreateEventSourceMapping's Tags, TagResource and UntagResource change them."""
    setup_roles(server)
    lam, sqs = server.client("lambda"), server.client("sqs")
    sink_url, _ = make_queue(sqs, "tags-sink")
    _, arn = make_queue(sqs, "tags-src")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])
    mapping = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, Tags={"team": "a"})
    resource = mapping["EventSourceMappingArn"]
    assert lam.list_tags(Resource=resource)["Tags"] == {"team": "a"}
    lam.tag_resource(Resource=resource, Tags={"cost": "7", "team": "b"})
    lam.untag_resource(Resource=resource, TagKeys=["cost"])
    assert lam.list_tags(Resource=resource)["Tags"] == {"team": "b"}
    assert lam.list_tags(Resource=f"arn:aws:lambda:us-east-1:000000000000:function:{fn}")["Tags"] == {}
    unknown = resource.rsplit(":", 1)[0] + ":" + str(uuid.uuid4())
    elsewhere = resource.replace(":us-east-1:", ":eu-west-1:")
    for missing in (unknown, elsewhere):
        with pytest.raises(ClientError) as refused:
            lam.list_tags(Resource=missing)
        assert error_code(refused) == "ResourceNotFoundException"


def test_topics_keep_delivery_status_logging_attributes(server: Server) -> None:
    """aws_sns_topic sets every protocol's success sample rate (0 unless configured) and reads
    them back; a rate outside 0..100 is refused."""
    sns = server.client("sns")
    topic = sns.create_topic(
        Name=f"feedback-{uuid.uuid4().hex[:8]}", Attributes={"LambdaSuccessFeedbackSampleRate": "0"}
    )["TopicArn"]
    role = "arn:aws:iam::000000000000:role/sns-feedback"
    for name, value in (("SQSSuccessFeedbackSampleRate", "50"), ("SQSFailureFeedbackRoleArn", role)):
        sns.set_topic_attributes(TopicArn=topic, AttributeName=name, AttributeValue=value)
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["LambdaSuccessFeedbackSampleRate"] == "0"
    assert attributes["SQSSuccessFeedbackSampleRate"] == "50"
    assert attributes["SQSFailureFeedbackRoleArn"] == role
    with pytest.raises(ClientError) as refused:
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="HTTPSuccessFeedbackSampleRate", AttributeValue="101"
        )
    assert error_code(refused) == "InvalidParameter"


def test_event_source_mappings_are_regional(server: Server) -> None:
    """A mapping made in us-east-1 is neither listed nor found, changed or deleted through
    another region's endpoint (Terraform's provider works region by region)."""
    setup_roles(server)
    lam, sqs = server.client("lambda"), server.client("sqs")
    sink_url, _ = make_queue(sqs, "region-sink")
    _, arn = make_queue(sqs, "region-src")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])
    made = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)["UUID"]
    assert made in {m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    away = boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    assert made not in {m["UUID"] for m in away.list_event_source_mappings()["EventSourceMappings"]}
    for call, extra in (
        (away.get_event_source_mapping, {}),
        (away.update_event_source_mapping, {"BatchSize": 3}),
        (away.delete_event_source_mapping, {}),
    ):
        with pytest.raises(ClientError) as refused:
            call(UUID=made, **extra)
        assert error_code(refused) == "ResourceNotFoundException"
    assert lam.get_event_source_mapping(UUID=made)["EventSourceArn"] == arn
