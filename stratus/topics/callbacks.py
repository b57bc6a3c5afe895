"""The unsigned URLs SNS hands to subscribers, as AWS's are: the SubscribeURL that confirms an
HTTP subscription (its token is the secret), the UnsubscribeURL in every notification (its
subscription ARN is), and the certificate that verifies message signatures."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from aiohttp import web

from stratus.errors import StratusError
from stratus.topics.topics import CALLBACK_PATH, CERT_PATH, Topics

NS = "http://sns.amazonaws.com/doc/2010-03-31/"


def _xml(action: str, result: str) -> web.Response:
    body = (
        f'<{action}Response xmlns="{NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>stratus</RequestId></ResponseMetadata></{action}Response>"
    )
    return web.Response(text=body, content_type="text/xml")


def _error(status: int, code: str, message: str) -> web.Response:
    body = (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>stratus</RequestId></ErrorResponse>"
    )
    return web.Response(status=status, text=body, content_type="text/xml")


def routes(topics: Topics) -> Callable[[web.Application], None]:
    async def callback(request: web.Request) -> web.Response:
        action = request.query.get("Action", "")
        try:
            if action == "ConfirmSubscription":
                sub = await topics.confirm(request.query.get("TopicArn", ""), request.query.get("Token", ""))
                return _xml(action, f"<SubscriptionArn>{escape(sub.arn)}</SubscriptionArn>")
            if action == "Unsubscribe":
                await topics.unsubscribe(request.query.get("SubscriptionArn", ""))
                return _xml(action, "")
        except StratusError as e:
            return _error(e.status, e.code, e.message)
        return _error(400, "InvalidAction", f"The action {action} is not valid here.")

    async def certificate(request: web.Request) -> web.Response:
        return web.Response(body=topics.signer.certificate_pem, content_type="application/x-pem-file")

    def register(app: web.Application) -> None:
        app.router.add_get(CALLBACK_PATH, callback)
        app.router.add_get(CERT_PATH, certificate)

    return register
