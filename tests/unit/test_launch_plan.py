"""Which runtimes speak the private channel (invoke/launch.py `LaunchPlan.speaks_http`): Python
through awslambdaric's stand-in, Node.js through Stratus's own client; custom runtimes' bootstraps
and the Java client speak the HTTP Runtime API only."""

from stratus.invoke.launch import LaunchPlan

NODE = ("/usr/bin/node", "/boot/index.mjs")


def test_python_and_node_take_the_channel_java_and_custom_runtimes_speak_http() -> None:
    assert not LaunchPlan(argv=("python3.11",), env={}, execution_env="x").speaks_http
    assert not LaunchPlan(argv=NODE, env={}, execution_env="x", exec_argv=NODE, exec_channel=True).speaks_http
    java = ("/usr/bin/java", "-cp", "client.jar")
    assert LaunchPlan(argv=java, env={}, execution_env="x", exec_argv=java).speaks_http
    custom = LaunchPlan(argv=("bootstrap",), env={}, execution_env="", bootstraps=("/var/task/bootstrap",))
    assert custom.speaks_http
