"""Every kind of runtime a function can name, and the one union the platform passes around."""

from __future__ import annotations

from stratus.runtimes.custom import CustomRuntime
from stratus.runtimes.java import JavaRuntime
from stratus.runtimes.node import NodeRuntime
from stratus.runtimes.python import PythonRuntime

Runtime = PythonRuntime | CustomRuntime | NodeRuntime | JavaRuntime
# runtime name -> the runtime, or the reason this host cannot serve it
Runtimes = dict[str, Runtime | str]
