"""`stratus dev`'s pure pieces: stack-trace paths mapped to local files, log line colours,
which functions a change touches, and the compile check before an upload."""

from __future__ import annotations

from pathlib import Path

from stratus.cli.dev import check_python, layer_name, owners, watch_roots
from stratus.cli.devlogs import map_paths, split_message, style_of

TASK = Path("/home/dev/project/hello")
LAYER_A = Path("/home/dev/project/layers/a")
LAYER_B = Path("/home/dev/project/layers/b")


def test_python_traceback_paths_map_to_the_function_directory() -> None:
    line = '  File "/var/task/pkg/app.py", line 4, in handler'
    assert map_paths(line, TASK) == f'  File "{TASK}/pkg/app.py", line 4, in handler'


def test_node_paths_map_with_and_without_their_scheme() -> None:
    assert map_paths("    at handler (file:///var/task/index.mjs:3:9)", TASK) == (
        f"    at handler (file://{TASK}/index.mjs:3:9)"
    )
    assert map_paths("    at Object.<anonymous> (/var/task/index.js:1:7)", TASK) == (
        f"    at Object.<anonymous> ({TASK}/index.js:1:7)"
    )


def test_layer_paths_map_to_the_last_local_layer_that_holds_the_file() -> None:
    held = {LAYER_A / "python/shared.py", LAYER_B / "python/shared.py", LAYER_A / "python/only_a.py"}
    exists = held.__contains__
    line = 'File "/opt/python/shared.py", line 1; File "/opt/python/only_a.py"; File "/opt/python/gone.py"'
    mapped = map_paths(line, TASK, [LAYER_A, LAYER_B], exists)
    assert f'"{LAYER_B}/python/shared.py"' in mapped  # later layers win the merge at /opt
    assert f'"{LAYER_A}/python/only_a.py"' in mapped
    assert '"/opt/python/gone.py"' in mapped  # no local layer holds it: left as it is


def test_paths_that_only_contain_the_prefix_are_left_alone() -> None:
    for text in ("/srv/var/task/app.py", "my.var/task/x", "/optional/thing", "/var/taskforce/a.py"):
        assert map_paths(text, TASK) == text


def test_log_lines_are_coloured_by_what_they_are() -> None:
    assert style_of("START RequestId: 1 Version: $LATEST") == "dim"
    assert style_of("INIT_START Runtime Version: python3.11") == "dim"
    assert style_of("REPORT RequestId: 1\tDuration: 1.00 ms\t") == "cyan"
    assert style_of("[ERROR] ValueError: boom") == "red"
    assert style_of("Traceback (most recent call last):") == "red"
    assert style_of('{"level": "ERROR", "message": "x"}') == "red"
    assert style_of("[WARNING] careful") == "yellow"
    assert style_of("hello from the handler") is None


def test_an_event_with_carriage_returns_is_several_lines() -> None:
    assert split_message("[ERROR] E: x\rTraceback (most recent call last):\r  File ...\n") == [
        "[ERROR] E: x",
        "Traceback (most recent call last):",
        "  File ...",
    ]


def test_owners_are_the_roots_that_hold_a_changed_path() -> None:
    roots = {"hello": TASK, "layer": LAYER_A, "other": Path("/home/dev/project/other")}
    assert owners([TASK / "app.py", LAYER_A / "python" / "x.py"], roots) == {"hello", "layer"}
    assert owners([Path("/home/dev/project/hello2/app.py")], roots) == set()


def test_watch_roots_drop_duplicates_and_nested_directories() -> None:
    project = Path("/home/dev/project")
    assert watch_roots([TASK, project, LAYER_A, TASK]) == [project]
    assert watch_roots([LAYER_B, TASK, LAYER_A]) == [TASK, LAYER_A, LAYER_B]


def test_layer_names_are_what_lambda_accepts() -> None:
    assert layer_name(Path("/x/common libs.v2")) == "common-libs-v2"
    assert layer_name(Path("/x/...")) == "layer"


def test_check_python_reports_what_does_not_compile(tmp_path: Path) -> None:
    good, bad, nul = tmp_path / "good.py", tmp_path / "bad.py", tmp_path / "nul.py"
    good.write_text("def handler(event, context):\n    return 1\n")
    bad.write_text("def handler(event, context)\n    return 1\n")
    nul.write_bytes(b"x = 1\x00\n")
    problems = check_python([good, bad, nul, tmp_path / "deleted.py"])
    assert [p.path for p in problems] == [bad, nul]
    assert str(bad) in problems[0].text and "line 1" in problems[0].text
    assert "SyntaxError" in problems[0].text
