"""Cold starts and warm invokes for each runtime family, against that runtime's bare start
measured in the same run: `python3 -c pass`, `node -e 0`, `java -version` (and a compiled C
program for custom runtimes).

Cold: the first invoke (over signed HTTP) of a freshly created function, each with distinct
code so nothing but the runtime is shared. Warm: sequential invokes of one function.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ROLE, Stats, machine, stratus_server, timed
from bench.signed_http import SignedInvoker
from stratus.runtimes.python import find_interpreter

ROOT = Path(__file__).resolve().parents[1]
C_BOOTSTRAP = ROOT / "tests" / "e2e" / "assets" / "bootstrap.c"


def zip_files(files: dict[str, tuple[bytes, int]]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def bare(argv: list[str], n: int) -> Stats:
    return Stats.of(timed(lambda: subprocess.run(argv, capture_output=True, check=False), n))


def families(workdir: Path) -> dict[str, dict[str, Any]]:
    """runtime family -> how to deploy a no-op function and what its bare start is."""
    out: dict[str, dict[str, Any]] = {
        "python3.11": {
            "runtime": "python3.11",
            "handler": "app.handler",
            "files": lambda tag: {
                "app.py": (f"def handler(e, c):\n    return {{}}\n# {tag}\n".encode(), 0o644)
            },
            # The real interpreter, past any pyenv shim, as the runtime itself uses it.
            "bare": [str(find_interpreter("python3.11") or "python3"), "-c", "pass"],
        },
    }
    if shutil.which("node"):
        out["nodejs20.x"] = {
            "runtime": "nodejs20.x",
            "handler": "index.handler",
            "files": lambda tag: {
                "index.js": (f"exports.handler = async () => ({{}}); // {tag}\n".encode(), 0o644)
            },
            "bare": ["node", "-e", "0"],
        }
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:
        binary = workdir / "bootstrap"
        subprocess.run([compiler, "-O2", "-o", str(binary), str(C_BOOTSTRAP)], check=True)
        data = binary.read_bytes()
        hello = workdir / "hello"
        (workdir / "hello.c").write_text("int main(void) { return 0; }\n")
        subprocess.run([compiler, "-O2", "-o", str(hello), str(workdir / "hello.c")], check=True)
        out["provided.al2023 (C)"] = {
            "runtime": "provided.al2023",
            "handler": "function.handler",
            "files": lambda tag: {"bootstrap": (data, 0o755), "tag.txt": (tag.encode(), 0o644)},
            "bare": [str(hello)],
        }
    javac = shutil.which("javac")
    if javac:
        java_dir = workdir / "java"
        (java_dir / "src/bench").mkdir(parents=True)
        (java_dir / "src/bench/Noop.java").write_text(
            "package bench;\n"
            "import com.amazonaws.services.lambda.runtime.*;\n"
            "public class Noop implements RequestHandler<java.util.Map<String, Object>, String> {\n"
            '  public String handleRequest(java.util.Map<String, Object> in, Context c) { return "ok"; }\n'
            "}\n"
        )
        (java_dir / "Hello.java").write_text(
            'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }\n'
        )
        api = [str(p) for p in (ROOT / "stratus/runtimes/javaboot/com").rglob("*.java")]
        classes = java_dir / "classes"
        subprocess.run(
            [javac, "--release", "17", "-d", str(classes), *api, str(java_dir / "src/bench/Noop.java")],
            check=True,
        )
        subprocess.run([javac, "-d", str(java_dir / "hello"), str(java_dir / "Hello.java")], check=True)
        jar = [(p, p.relative_to(classes).as_posix()) for p in classes.rglob("*.class")]
        contents = {name: (path.read_bytes(), 0o644) for path, name in jar}
        out["java17"] = {
            "runtime": "java17",
            "handler": "bench.Noop",
            "files": lambda tag: {**contents, "tag.txt": (tag.encode(), 0o644)},
            "bare": ["java", "-cp", str(java_dir / "hello"), "Hello"],
        }
    return out


def cold(srv: Any, family: dict[str, Any], n: int) -> Stats:
    lam = srv.client()
    samples = []
    for _ in range(n):
        name = f"rt-{uuid.uuid4().hex[:8]}"
        lam.create_function(
            FunctionName=name,
            Runtime=family["runtime"],
            Role=ROLE,
            Handler=family["handler"],
            Code={"ZipFile": zip_files(family["files"](name))},
        )
        time.sleep(0.05)
        signed = SignedInvoker(srv.endpoint, name)
        signed.headers(b"{}")
        t0 = time.perf_counter()
        signed.invoke()
        samples.append((time.perf_counter() - t0) * 1000)
        lam.delete_function(FunctionName=name)
    return Stats.of(samples)


def warm(srv: Any, family: dict[str, Any], n: int) -> Stats:
    lam = srv.client()
    name = f"rtw-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime=family["runtime"],
        Role=ROLE,
        Handler=family["handler"],
        Code={"ZipFile": zip_files(family["files"](name))},
    )
    signed = SignedInvoker(srv.endpoint, name)
    for _ in range(20):
        signed.invoke()
    return Stats.of(timed(signed.invoke, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_cold, n_warm = (10, 200) if args.quick else (30, 1000)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, stratus_server() as srv:
        for label, family in families(Path(tmp)).items():
            floor = bare(family["bare"], n_cold)
            c = cold(srv, family, n_cold)
            w = warm(srv, family, n_warm)
            results[label] = {"bare": vars(floor), "cold": vars(c), "warm": vars(w)}
            print(f"{label:22s} cold {c.row()}")
            print(f"{'':22s} bare start ({' '.join(family['bare'][:2])}) {floor.row()}")
            print(f"{'':22s} cold p50 / bare p50: {c.p50 / floor.p50:.2f}x")
            print(f"{'':22s} warm {w.row()}")
    print(f"machine: {machine()}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "runtimes.json").write_text(json.dumps({"machine": machine(), **results}, indent=2))


if __name__ == "__main__":
    main()
