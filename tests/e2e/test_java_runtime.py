"""Java functions (java17): handlers as `package.Class` (RequestHandler, RequestStreamHandler) and
`package.Class::method`, POJO/Map/String/stream inputs, jars and zips with lib/*.jar, with and
without the AWS interfaces bundled, the context, errors and the core runtime behaviours.
The test compiles its functions with the host's javac."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ROLE

JAVABOOT = Path(__file__).resolve().parents[2] / "stratus" / "runtimes" / "javaboot"
API_SOURCES = sorted((JAVABOOT / "com").rglob("*.java"))

HELLO = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    static int calls = 0;

    public Map<String, Object> handleRequest(Map<String, Object> input, Context context) {
        calls++;
        context.getLogger().log("hello from java " + input.get("name") + "\\n");
        if ("boom".equals(input.get("name"))) throw new IllegalStateException("it went boom");
        if ("sleep".equals(input.get("name"))) {
            try { Thread.sleep(5000); } catch (InterruptedException e) { }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("input", input);
        out.put("calls", calls);
        out.put("function", context.getFunctionName());
        out.put("version", context.getFunctionVersion());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("requestId", context.getAwsRequestId());
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("logGroup", context.getLogGroupName());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("env", System.getenv("GREETING"));
        out.put("handlerEnv", System.getenv("_HANDLER"));
        return out;
    }
}
"""

POJO = """
package example;

import com.amazonaws.services.lambda.runtime.Context;

public class Orders {
    public static class Order {
        private String id;
        private int quantity;
        private double price;
        public String getId() { return id; }
        public int getQuantity() { return quantity; }
        public double getPrice() { return price; }
    }

    public static class Receipt {
        public String orderId;
        public double total;
        public boolean large;
    }

    public Receipt price(Order order, Context context) {
        Receipt r = new Receipt();
        r.orderId = order.getId();
        r.total = order.getQuantity() * order.getPrice();
        r.large = r.total > 100;
        return r;
    }

    public String shout(String text) { return text.toUpperCase(); }

    public static int count(java.util.List<Integer> numbers) { return numbers.size(); }

    public void nothing(Object input, Context context) { }
}
"""

STREAM = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

public class Echo implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        out.write(("{\\"echoed\\": " + text + ", \\"by\\": \\"" + context.getFunctionName() + "\\"}")
            .getBytes(StandardCharsets.UTF_8));
    }
}
"""

LEVELS = """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;

public class Levels {
    public String handle(String name, Context context) {
        LambdaLogger logger = context.getLogger();
        logger.log("debug line", LogLevel.DEBUG);
        logger.log("warn line", LogLevel.WARN);
        logger.log("plain line");
        return "logged";
    }
}
"""

USES_LIB = """
package example;

import com.amazonaws.services.lambda.runtime.Context;

public class UsesLib {
    public String handle(String name, Context context) { return lib.Greeter.greet(name); }
}
"""

LIB = """
package lib;

public class Greeter {
    public static String greet(String name) { return "hello " + name + " from lib"; }
}
"""


def compile_java(
    tmp: Path, sources: dict[str, str], classpath: list[Path], extra: tuple[Path, ...] | list[Path] = ()
) -> Path:
    """Compile sources (plus extra .java files) into a classes dir."""
    javac = shutil.which("javac")
    assert javac, "a JDK with javac is needed"
    src = tmp / "src"
    for name, text in sources.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    classes = tmp / "classes"
    classes.mkdir(exist_ok=True)
    files = [str(p) for p in src.rglob("*.java")] + [str(p) for p in extra]
    cp = ":".join(str(p) for p in classpath) or "."
    subprocess.run([javac, "--release", "17", "-d", str(classes), "-cp", cp, *files], check=True)
    return classes


def zip_dir(root: Path, prefix: str = "", out: zipfile.ZipFile | None = None) -> bytes:
    buf = io.BytesIO()
    zf = out or zipfile.ZipFile(buf, "w")
    for path in sorted(root.rglob("*")):
        if path.is_file():
            zf.write(path, prefix + path.relative_to(root).as_posix())
    if out is None:
        zf.close()
    return buf.getvalue()


@pytest.fixture(scope="module")
def api_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Lambda interfaces, compiled on their own: what a user compiles against."""
    classes = compile_java(tmp_path_factory.mktemp("api"), {}, [], list(API_SOURCES))
    return classes


@pytest.fixture(scope="module")
def functions_jar(tmp_path_factory: pytest.TempPathFactory, api_jar: Path) -> bytes:
    tmp = tmp_path_factory.mktemp("fns")
    classes = compile_java(
        tmp,
        {
            "example/Hello.java": HELLO,
            "example/Orders.java": POJO,
            "example/Echo.java": STREAM,
            "example/Levels.java": LEVELS,
        },
        [api_jar],
    )
    return zip_dir(classes)  # a jar is a zip of classes


def deploy(lam: Any, name: str, code: bytes, handler: str, **kwargs: Any) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="java17",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": code},
        MemorySize=512,
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def invoke(lam: Any, name: str, payload: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail", **kwargs)
    return out, json.loads(out["Payload"].read())


def test_request_handler_with_context(lam: Any, fn_name: str, functions_jar: bytes) -> None:
    deploy(lam, fn_name, functions_jar, "example.Hello", Environment={"Variables": {"GREETING": "hi"}})
    out, body = invoke(lam, fn_name, {"name": "ada", "n": 3, "nested": {"ok": True}})
    assert "FunctionError" not in out, body
    assert body["input"] == {"name": "ada", "n": 3, "nested": {"ok": True}}  # integers stay integers
    assert body["function"] == fn_name and body["version"] == "$LATEST"
    assert body["memory"] == 512 and 0 < body["remaining"] <= 3000
    assert body["logGroup"] == f"/aws/lambda/{fn_name}"
    assert body["arn"].endswith(f":function:{fn_name}")
    assert body["env"] == "hi" and body["handlerEnv"] == "example.Hello"
    log = base64.b64decode(out["LogResult"]).decode()
    assert "hello from java ada" in log
    assert f"REPORT RequestId: {body['requestId']}" in log and "Init Duration" in log
    _, again = invoke(lam, fn_name, {"name": "bob"})
    assert again["calls"] == 2  # warm: the same JVM
    lam.update_function_configuration(FunctionName=fn_name, Environment={"Variables": {"GREETING": "yo"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    _, fresh = invoke(lam, fn_name, {"name": "cy"})
    assert fresh["calls"] == 1 and fresh["env"] == "yo"  # the update retired the old environment


def test_log_levels_and_json_format(lam: Any, fn_name: str, functions_jar: bytes) -> None:
    deploy(lam, fn_name, functions_jar, "example.Levels::handle")
    out, _ = invoke(lam, fn_name, "x")
    text = base64.b64decode(out["LogResult"]).decode()
    assert "[DEBUG] debug line" in text and "[WARN] warn line" in text  # Text filters nothing
    lam.update_function_configuration(
        FunctionName=fn_name, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    out, body = invoke(lam, fn_name, "x")
    assert body == "logged"
    lines = base64.b64decode(out["LogResult"]).decode().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith('{"timestamp"')]
    assert [(e["level"], e["message"]) for e in entries] == [
        ("WARN", "warn line"),
        ("UNDEFINED", "plain line"),
    ]
    request_ids = {e["AWSRequestId"] for e in entries}
    assert len(request_ids) == 1 and None not in request_ids


def test_method_handlers_with_pojo_string_list_and_void(lam: Any, fn_name: str, functions_jar: bytes) -> None:
    cases = [
        (
            "example.Orders::price",
            {"id": "o-1", "quantity": 3, "price": 40.5},
            {"orderId": "o-1", "total": 121.5, "large": True},
        ),
        ("example.Orders::shout", "quiet", "QUIET"),
        ("example.Orders::count", [1, 2, 3, 4], 4),
        ("example.Orders::nothing", {"x": 1}, None),
        ("example.Echo", {"a": [1, 2]}, None),
    ]
    for i, (handler, event, expected) in enumerate(cases):
        name = f"{fn_name}-{i}"
        deploy(lam, name, functions_jar, handler)
        out, body = invoke(lam, name, event)
        assert "FunctionError" not in out, (handler, body)
        if handler == "example.Echo":
            assert body == {"echoed": event, "by": name}
        else:
            assert body == expected, handler


def test_errors_as_java_reports_them(lam: Any, fn_name: str, functions_jar: bytes) -> None:
    deploy(lam, fn_name, functions_jar, "example.Hello")
    out, error = invoke(lam, fn_name, {"name": "boom"})
    assert out["FunctionError"] == "Unhandled"
    assert error["errorType"] == "java.lang.IllegalStateException"
    assert error["errorMessage"] == "it went boom"
    assert any("example.Hello.handleRequest" in line for line in error["stackTrace"])
    out, body = invoke(lam, fn_name, {"name": "after"})  # still serving
    assert "FunctionError" not in out and body["input"]["name"] == "after"

    for i, (handler, error_type, message) in enumerate(
        [
            ("example.Missing", "java.lang.ClassNotFoundException", "Class not found: example.Missing"),
            (
                "example.Orders::absent",
                "java.lang.NoSuchMethodException",
                "No public method named absent with appropriate method signature found on class "
                "example.Orders",
            ),
            ("example.Orders", "java.lang.NoSuchMethodException", "does not implement RequestHandler"),
        ]
    ):
        name = f"{fn_name}-bad{i}"
        deploy(lam, name, functions_jar, handler)
        out, error = invoke(lam, name, {})
        assert out["FunctionError"] == "Unhandled", handler
        assert error["errorType"] == error_type, (handler, error)
        assert message in error["errorMessage"], (handler, error)


def test_timeout(lam: Any, fn_name: str, functions_jar: bytes) -> None:
    deploy(lam, fn_name, functions_jar, "example.Hello", Timeout=1)
    out, error = invoke(lam, fn_name, {"name": "sleep"})
    assert out["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"


def test_zip_with_lib_jars_and_bundled_interfaces(
    lam: Any, fn_name: str, tmp_path: Path, api_jar: Path
) -> None:
    lib_classes = compile_java(tmp_path / "lib", {"lib/Greeter.java": LIB}, [])
    lib_jar = zip_dir(lib_classes)
    # The function's own classes, with its own copy of the Lambda interfaces bundled beside them,
    # as a jar built with the AWS library would carry them.
    fn_classes = compile_java(
        tmp_path / "fn", {"example/UsesLib.java": USES_LIB}, [lib_classes], list(API_SOURCES)
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zip_dir(fn_classes, out=zf)
        zf.writestr("lib/greeter.jar", lib_jar)
    deploy(lam, fn_name, buf.getvalue(), "example.UsesLib::handle")
    out, body = invoke(lam, fn_name, "ada")
    assert "FunctionError" not in out, body
    assert body == "hello ada from lib"


def test_java21_refused_without_a_jdk_21(lam: Any, fn_name: str, functions_jar: bytes) -> None:
    homes = [p for p in Path("/usr/lib/jvm").glob("*") if (p / "release").is_file()]
    if any('JAVA_VERSION="21' in (p / "release").read_text() for p in homes):
        lam.create_function(
            FunctionName=fn_name,
            Runtime="java21",
            Role=ROLE,
            Handler="example.Hello",
            Code={"ZipFile": functions_jar},
        )
        return
    with pytest.raises(ClientError) as err:
        lam.create_function(
            FunctionName=fn_name,
            Runtime="java21",
            Role=ROLE,
            Handler="example.Hello",
            Code={"ZipFile": functions_jar},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "JDK 21" in err.value.response["Error"]["Message"]


def test_each_version_gets_its_own_class_archive_at_deploy(
    server: Any, lam: Any, fn_name: str, functions_jar: bytes
) -> None:
    deploy(lam, fn_name, functions_jar, "example.Hello")
    archives = list((server.data_dir / "code" / "artifacts").glob("*/app.jsa"))
    assert archives, "CreateFunction should have recorded the function's class archive"
    out, body = invoke(lam, fn_name, {"name": "cds"})
    assert "FunctionError" not in out, body
    log = base64.b64decode(out["LogResult"]).decode()
    # The JVM warns on stdout when an archive cannot be mapped (wrong paths, stale jar).
    assert "shared archive" not in log.lower(), log
