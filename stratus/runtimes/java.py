"""Java runtimes (`java17`, `java21`), served by a JDK of that major version found on the host;
a runtime without one is refused with the reason.

The runtime client is Stratus's own (`javaboot/`), with its own API-compatible copies of the
`com.amazonaws.services.lambda.runtime` interfaces (the AWS jars are not on the registries this
machine reaches) and Gson (Debian's `libgoogle-gson-java`) for JSON. `stratus runtimes install`
compiles it with each JDK and records a class-data-sharing archive of a start, so the JVM maps
those classes instead of loading them. Starts use the JIT settings Lambda uses for Java.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stratus.runtimes.python import NO_HOST, PythonRuntime, host_runtime

JAVA_RUNTIMES = {"java17": 17, "java21": 21}
SOURCES = Path(__file__).resolve().parent / "javaboot"
GSON_JAR = Path("/usr/share/java/gson.jar")
MAIN_CLASS = "dev.stratus.runtime.Bootstrap"
# Lambda's Java runtimes stop at the C1 compiler by default: faster starts for short work.
JIT_FLAGS = ("-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData")


@dataclass(frozen=True)
class JavaRuntime:
    name: str
    java_home: Path
    client_jar: Path
    archive: Path | None  # the CDS archive of a start, when it could be made
    host: PythonRuntime  # whose zygote prepares the environments

    def argv(self, memory_mb: int, *, app_archive: bool = False) -> tuple[str, ...]:
        """With `app_archive`, the function's own archive (at /var/runtime/app) is used, and its
        classes load from the app.jar recorded in it; otherwise the runtime client's."""
        heap = max(16, int(memory_mb * 0.85))
        classpath = f"{self.client_jar}:{GSON_JAR}"
        if app_archive:
            sharing: tuple[str, ...] = (f"-XX:SharedArchiveFile={APP_DIR}/app.jsa",)
            # Its dependencies follow on the class path, so its classes can see them.
            classpath += f":{APP_DIR}/app.jar:/var/task/lib/*:/opt/java/lib/*"
        else:
            sharing = (f"-XX:SharedArchiveFile={self.archive}",) if self.archive else ()
        return (
            str(self.java_home / "bin" / "java"),
            *JIT_FLAGS,
            f"-Xmx{heap}m",
            "-Xshare:auto",
            *sharing,
            "-cp",
            classpath,
            MAIN_CLASS,
        )


def _major(home: Path) -> int | None:
    release = home / "release"
    try:
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                version = line.split("=", 1)[1].strip('"')
                return int(version.split(".")[0])
    except (OSError, ValueError):
        return None
    return None


def _homes() -> list[Path]:
    candidates = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    candidates.extend(sorted(Path("/usr/lib/jvm").glob("*")))
    java = shutil.which("java")
    if java:
        candidates.append(Path(java).resolve().parent.parent)
    seen: list[Path] = []
    for home in candidates:
        home = home.resolve()
        if (home / "bin" / "java").is_file() and (home / "bin" / "javac").is_file() and home not in seen:
            seen.append(home)
    return seen


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCES.rglob("*.java")):
        digest.update(path.relative_to(SOURCES).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def client_dir(cache: Path, major: int) -> Path:
    return cache / f"java{major}-stratus-{_source_digest()}"


def install(cache: Path, home: Path, major: int) -> Path:
    """Compile the runtime client with this JDK and record its CDS archive. Idempotent."""
    target = client_dir(cache, major)
    if (target / "client.jar").is_file():
        return target
    if not GSON_JAR.is_file():
        raise RuntimeError(f"{GSON_JAR} is missing: install Debian's libgoogle-gson-java")
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".java-"))
    try:
        classes = work / "classes"
        sources = [str(p) for p in sorted(SOURCES.rglob("*.java"))]
        subprocess.run(
            [
                str(home / "bin" / "javac"),
                "-d",
                str(classes),
                "-cp",
                str(GSON_JAR),
                "--release",
                str(major),
                *sources,
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                str(home / "bin" / "jar"),
                "--create",
                "--file",
                str(work / "client.jar"),
                "-C",
                str(classes),
                ".",
            ],
            check=True,
            capture_output=True,
        )
        shutil.rmtree(classes)
        os.chmod(work, 0o755)  # environments run as uids of their own
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # The archive records the class path it was made with, so it is made in place.
    partial = target / "client.jsa.partial"
    dump = [str(home / "bin" / "java"), *JIT_FLAGS, f"-XX:ArchiveClassesAtExit={partial}"]
    classpath = f"{target / 'client.jar'}:{GSON_JAR}"
    subprocess.run([*dump, "-cp", classpath, MAIN_CLASS, "--warm"], check=False, capture_output=True)
    if partial.is_file():
        os.chmod(partial, 0o444)
        os.rename(partial, target / "client.jsa")
    return target


def discover(cache: Path, python: dict[str, PythonRuntime | str]) -> dict[str, JavaRuntime | str]:
    host = host_runtime(python)
    homes = {home: _major(home) for home in _homes()}
    result: dict[str, JavaRuntime | str] = {}
    for name, major in JAVA_RUNTIMES.items():
        home = next((h for h, m in homes.items() if m == major), None)
        if host is None:
            result[name] = NO_HOST
            continue
        if home is None:
            seen = ", ".join(sorted({str(m) for m in homes.values() if m})) or "none"
            result[name] = f"no JDK {major} on this host (found: {seen})"
            continue
        directory = client_dir(cache, major)
        if not (directory / "client.jar").is_file():
            result[name] = "its runtime client is not built: run `stratus runtimes install`"
            continue
        archive = directory / "client.jsa"
        result[name] = JavaRuntime(
            name, home, directory / "client.jar", archive if archive.is_file() else None, host
        )
    return result


def install_all(cache: Path) -> dict[str, str]:
    """`stratus runtimes install`: build the client for every JDK the Java runtimes can use."""
    homes = {home: _major(home) for home in _homes()}
    report = {}
    for name, major in JAVA_RUNTIMES.items():
        home = next((h for h, m in homes.items() if m == major), None)
        if home is None:
            report[name] = "skipped (no JDK found)"
            continue
        try:
            report[name] = f"ready in {install(cache, home, major)}"
        except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
            report[name] = f"failed: {e}"
    return report


# -- a function version's own archive, built at deploy ----------------------------------------------

APP_DIR = "/var/runtime/app"  # where an environment sees the function's artifacts


def app_key(code_key: str, handler: str, runtime: str) -> str:
    return hashlib.sha256(f"{code_key}\n{handler}\n{runtime}".encode()).hexdigest()[:32]


def build_app_archive(runtime: JavaRuntime, tree: Path, handler: str, target: Path) -> bool:
    """Pack the function's classes into app.jar and record a CDS archive of loading its handler,
    with the paths an environment sees (/var/task, /var/runtime/app): the dump runs in a private
    mount namespace where they exist. Blocking; needs root. Returns whether an archive exists."""
    if (target / "app.jsa").is_file():
        return True
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".app-"))
    try:
        classes = [p for p in tree.rglob("*.class") if not p.relative_to(tree).as_posix().startswith("lib/")]
        if not classes:
            return False
        import zipfile

        with zipfile.ZipFile(work / "app.jar", "w") as jar:
            for path in sorted(classes):
                jar.write(path, path.relative_to(tree).as_posix())
        java = runtime.java_home / "bin" / "java"
        classpath = f"{runtime.client_jar}:{GSON_JAR}:{APP_DIR}/app.jar"
        script = (
            "mount -t tmpfs tmpfs /var && mkdir -p /var/task /var/runtime/app"
            ' && mount --bind "$1" /var/task && mount --bind "$2" /var/runtime/app'
            f' && LAMBDA_TASK_ROOT=/var/task exec "$3" {" ".join(JIT_FLAGS)}'
            f' -XX:ArchiveClassesAtExit={APP_DIR}/app.jsa -cp {classpath} {MAIN_CLASS} --train "$4"'
        )
        subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                str(tree),
                str(work),
                str(java),
                handler,
            ],
            check=False,
            capture_output=True,
            timeout=120,
        )
        if not (work / "app.jsa").is_file():
            return False
        for path in work.iterdir():
            os.chmod(path, 0o444)
        os.chmod(work, 0o755)
        try:
            os.rename(work, target)
        except OSError:
            if not target.is_dir():
                raise
        return True
    finally:
        shutil.rmtree(work, ignore_errors=True)
