"""The pure parts of the host limits: pids shares, CPU quota, the minimal /etc's contents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stratus.config import max_pids_setting
from stratus.isolation.cgroups import (
    CFS_PERIOD_US,
    MB_PER_VCPU,
    MIN_VCPUS,
    PIDS_MAX,
    cpu_quota_us,
    host_pids_limit,
    instance_pids_limit,
)
from stratus.runtimes.pyboot import stratus_isolate as iso


def test_host_pids_limit_is_half_the_smaller_of_pid_and_thread_space() -> None:
    assert host_pids_limit(32768, 192724) == 16384
    assert host_pids_limit(4194304, 100000) == 50000
    assert host_pids_limit(1000, 1000) == PIDS_MAX  # one environment always fits


def test_instance_limit_never_exceeds_the_host_limit() -> None:
    assert instance_pids_limit(None, 16384) == 16384
    assert instance_pids_limit(300, 16384) == 300
    assert instance_pids_limit(10**6, 16384) == 16384


def test_cpu_quota_follows_memory_above_the_floor() -> None:
    assert cpu_quota_us(MB_PER_VCPU) == CFS_PERIOD_US
    assert cpu_quota_us(2 * MB_PER_VCPU) == 2 * CFS_PERIOD_US
    assert cpu_quota_us(10240) == int(CFS_PERIOD_US * 10240 / MB_PER_VCPU)
    assert cpu_quota_us(128) == int(CFS_PERIOD_US * MIN_VCPUS)  # not Lambda's 0.072 vCPU
    assert 0 < MIN_VCPUS < 1


@pytest.mark.parametrize("raw", ["0", "-5", "abc", "15", "1e3"])
def test_bad_max_pids_setting_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("STRATUS_MAX_PIDS", raw)
    with pytest.raises(ValueError, match="STRATUS_MAX_PIDS"):
        max_pids_setting()


def test_max_pids_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATUS_MAX_PIDS", raising=False)
    assert max_pids_setting() is None
    monkeypatch.setenv("STRATUS_MAX_PIDS", "300")
    assert max_pids_setting() == 300


def test_identity_names_the_environment_uid_first() -> None:
    files = iso.identity_text(201234)
    passwd = files["passwd"].splitlines()
    assert passwd[0].startswith("root:x:0:0:")
    assert passwd[1] == "sbx_user1051:x:201234:201234::/home/sbx_user1051:/sbin/nologin"
    assert passwd[-1].startswith("nobody:x:65534:")
    assert {line.split(":")[2] for line in passwd} >= {"1", "255", "201234"}  # template uids too
    assert files["group"].splitlines()[1] == "sbx_user1051:x:201234:"


def test_build_etc_takes_only_the_listed_host_files(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "ld.so.conf.d").mkdir(parents=True)
    (host / "alternatives").mkdir()
    for name, text in {
        "resolv.conf": "nameserver 192.0.2.1\n",
        "shadow": "root:$6$secret:::\n",
        "machine-id": "0123\n",
        "passwd": "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
        "ld.so.cache": "cache",
        "ld.so.conf.d/libc.conf": "/usr/local/lib\n",
        "canary": "secret",
    }.items():
        (host / name).write_text(text)
    os.symlink("/usr/share/zoneinfo/Etc/UTC", host / "localtime")
    os.symlink("/usr/bin/vim.basic", host / "alternatives" / "vi")
    target = tmp_path / "etc"

    iso.build_etc(str(target), host_etc=str(host))

    found = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
    assert found == sorted([
        "alternatives", "alternatives/vi", "group", "hosts", "ld.so.cache", "ld.so.conf.d",
        "ld.so.conf.d/libc.conf", "localtime", "nsswitch.conf", "passwd", "resolv.conf",
    ])
    assert (target / "resolv.conf").read_text() == "nameserver 192.0.2.1\n"
    assert "alice" not in (target / "passwd").read_text()  # generated, not the host's
    assert os.readlink(target / "alternatives" / "vi") == "/usr/bin/vim.basic"
    assert "localhost" in (target / "hosts").read_text()
