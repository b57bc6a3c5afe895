"""The Lambda REST API's URL table."""

from __future__ import annotations

from aiohttp import web

from stratus.lambda_api import (
    event_invoke,
    functions,
    invoke,
    policy,
    provisioned,
    settings,
    urls,
    versions,
)
from stratus.wire.signing import Signing

FN = "/2015-03-31/functions/{name}"
# Lambda's API, under its dated path prefixes; no operation of it may be presigned (function
# URLs, which may, declare their own in httpapi/front.py).
SIGNING = Signing(
    "lambda",
    paths=(
        "/2015-03-31/",
        "/2016-08-19/",
        "/2017-03-31/",
        "/2017-10-31/",
        "/2018-10-31/",
        "/2019-09-25/",
        "/2019-09-30/",
        "/2021-10-31/",
    ),
)


def register(app: web.Application) -> None:
    r = app.router
    r.add_post("/2015-03-31/functions", functions.create_function)
    r.add_get("/2015-03-31/functions", functions.list_functions)
    r.add_get("/2015-03-31/functions/", functions.list_functions)
    r.add_get(FN, functions.get_function)
    r.add_delete(FN, functions.delete_function)
    r.add_get(FN + "/configuration", functions.get_function_configuration)
    r.add_put(FN + "/configuration", functions.update_function_configuration)
    r.add_put(FN + "/code", functions.update_function_code)
    r.add_post(FN + "/invocations", invoke.invoke)
    r.add_post(FN + "/versions", versions.publish_version)
    r.add_get(FN + "/versions", versions.list_versions)
    r.add_post(FN + "/aliases", versions.create_alias)
    r.add_get(FN + "/aliases", versions.list_aliases)
    r.add_get(FN + "/aliases/{alias}", versions.get_alias)
    r.add_put(FN + "/aliases/{alias}", versions.update_alias)
    r.add_delete(FN + "/aliases/{alias}", versions.delete_alias)
    r.add_put("/2017-10-31/functions/{name}/concurrency", settings.put_function_concurrency)
    r.add_delete("/2017-10-31/functions/{name}/concurrency", settings.delete_function_concurrency)
    r.add_get("/2019-09-30/functions/{name}/concurrency", settings.get_function_concurrency)
    r.add_put("/2019-09-30/functions/{name}/provisioned-concurrency", provisioned.put_provisioned)
    r.add_get("/2019-09-30/functions/{name}/provisioned-concurrency", provisioned.provisioned)
    r.add_delete("/2019-09-30/functions/{name}/provisioned-concurrency", provisioned.delete_provisioned)
    r.add_post("/2017-03-31/tags/{arn}", settings.tag_resource)
    r.add_delete("/2017-03-31/tags/{arn}", settings.untag_resource)
    r.add_get("/2017-03-31/tags/{arn}", settings.list_tags)
    eic = "/2019-09-25/functions/{name}/event-invoke-config"
    r.add_put(eic, event_invoke.put_event_invoke)
    r.add_post(eic, event_invoke.update_event_invoke)
    r.add_get(eic, event_invoke.get_event_invoke)
    r.add_delete(eic, event_invoke.delete_event_invoke)
    r.add_get(eic + "/list", event_invoke.list_event_invoke)
    r.add_get("/2016-08-19/account-settings", settings.get_account_settings)
    r.add_get("/2016-08-19/account-settings/", settings.get_account_settings)
    url = "/2021-10-31/functions/{name}/url"
    r.add_post(url, urls.create_url)
    r.add_get(url, urls.get_url)
    r.add_put(url, urls.update_url)
    r.add_delete(url, urls.delete_url)
    r.add_get(url + "s", urls.list_urls)
    r.add_post(FN + "/policy", policy.add_permission)
    r.add_get(FN + "/policy", policy.get_policy)
    r.add_delete(FN + "/policy/{sid}", policy.remove_permission)
    r.add_get("/_stratus/code/{key}", functions.download_code)
