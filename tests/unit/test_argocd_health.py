"""The Argo CD health check (``charts/gitlab-ferry/files/argocd/health.lua``) in a real Lua
interpreter, against objects whose conditions come from the operator's own condition code.

Argo CD runs health scripts in gopher-lua (Lua 5.1) with the object as the global ``obj``; here
each fixture becomes a Lua table literal, the script runs under ``lua5.4`` and prints the
``hs.status`` and ``hs.message`` it returns. Without ``lua5.4`` the tests skip, but fail with
``CI=true``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitlab_ferry.reconcile.conditions import conditions
from gitlab_ferry.reconcile.plan import Reason, Verdict

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts/gitlab-ferry/files/argocd/health.lua"
ARGOCD_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def lua_literal(value: Any) -> str:
    """A Lua expression for a JSON value (nulls are left out, as Argo CD's tables lack them)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"JSON has no {value}")
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(item) for item in value if item is not None) + "}"
    if isinstance(value, dict):
        items = (
            f"[{lua_string(str(key))}] = {lua_literal(item)}"
            for key, item in value.items()
            if item is not None
        )
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"not JSON: {value!r}")


def lua_string(text: str) -> str:
    """A double-quoted Lua string; everything but printable ASCII as decimal byte escapes,
    which Lua 5.1 and 5.4 read alike."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\' or not 32 <= byte < 127:
            out.append(f"\\{byte:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def lua_binary() -> str:
    binary = shutil.which("lua5.4")
    if binary is None:
        reason = "lua5.4 is not installed (make system)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the script as Argo CD does: ``obj`` global, the script's return value is ``hs``."""
    harness = "\n".join(
        [
            f"obj = {lua_literal(obj)}",
            f"local hs = dofile({lua_string(str(SCRIPT))})",
            'io.write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")',
        ]
    )
    result = subprocess.run(
        [lua_binary(), "-"], input=harness, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, f"lua failed:\n{result.stderr}\n--- harness ---\n{harness}"
    status, message = result.stdout.rstrip("\n").split("\n", 1)
    return status, message


def status_of(verdict: Verdict | None, generation: int = 1, **fields: Any) -> dict[str, Any]:
    """The status the operator writes for ``verdict`` (its own condition code)."""
    status: dict[str, Any] = {"observedGeneration": generation, **fields}
    if verdict is not None:
        status["conditions"] = [
            c.model_dump(mode="json", by_alias=True, exclude_none=True)
            for c in conditions(verdict, [], generation, NOW)
        ]
    return status


@dataclass(frozen=True)
class Case:
    kind: str
    status: dict[str, Any] | None
    expected: str
    in_message: str
    generation: int = 1
    spec: dict[str, Any] = field(default_factory=dict)

    def obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "apiVersion": "gitlabferry.dev/v1alpha1",
            "kind": self.kind,
            "metadata": {"name": "demo", "namespace": "ns", "generation": self.generation},
            "spec": {"gitlab": {"url": "https://gitlab.example.com"}, **self.spec},
        }
        if self.status is not None:
            obj["status"] = self.status
        return obj


EXPORT, IMPORT = "ProjectExport", "ProjectImport"
FAILED_RELATIONS = [{"relationName": "issues", "exceptionClass": "ActiveRecord::RecordInvalid"}]

CASES = {
    "no status": Case(EXPORT, None, "Progressing", "Waiting for the operator"),
    "no status (import)": Case(IMPORT, None, "Progressing", "ProjectImport"),
    "stale generation": Case(
        EXPORT,
        status_of(Verdict(True, Reason.FINISHED, "Export finished."), generation=1),
        "Progressing",
        "generation 2",
        generation=2,
    ),
    "status without observedGeneration": Case(
        IMPORT, {"conditions": []}, "Progressing", "Waiting for the operator"
    ),
    "observed, no conditions yet": Case(IMPORT, {"observedGeneration": 1}, "Progressing", "Ready"),
    "suspended": Case(
        EXPORT,
        status_of(Verdict(False, Reason.SUSPENDED, "spec.suspend is true.")),
        "Suspended",
        "spec.suspend",
        spec={"suspend": True},
    ),
    "suspended, finished before": Case(
        EXPORT,
        status_of(Verdict(True, Reason.FINISHED, "Export finished.")),
        "Suspended",
        "Suspended by spec.suspend",
        spec={"suspend": True},
    ),
    "suspend not yet observed": Case(
        EXPORT,
        status_of(Verdict(False, Reason.EXPORTING, "GitLab is exporting."), generation=1),
        "Progressing",
        "generation 2",
        generation=2,
        spec={"suspend": True},
    ),
    "scheduled": Case(
        EXPORT,
        status_of(Verdict(False, Reason.SCHEDULED, "Export requested; GitLab queued it.")),
        "Progressing",
        "Scheduled: Export requested",
        spec={"suspend": False},
    ),
    "exporting": Case(
        EXPORT,
        status_of(Verdict(False, Reason.EXPORTING, "GitLab is exporting the project.")),
        "Progressing",
        "Exporting: GitLab is exporting",
    ),
    "importing": Case(
        IMPORT,
        status_of(Verdict(False, Reason.IMPORTING, "GitLab is importing the project.")),
        "Progressing",
        "Importing",
    ),
    "throttled": Case(
        IMPORT,
        status_of(Verdict(False, Reason.THROTTLED, "Waiting 30s: GitLab answered 429.")),
        "Progressing",
        "Throttled: Waiting 30s",
    ),
    "waiting for export": Case(
        IMPORT,
        status_of(Verdict(False, Reason.WAITING_FOR_EXPORT, "Export demo is not finished.")),
        "Progressing",
        "WaitingForExport",
    ),
    "finished export": Case(
        EXPORT,
        status_of(Verdict(True, Reason.FINISHED, "Exported 2.1 MiB."), exportStatus="finished"),
        "Healthy",
        "Finished: Exported 2.1 MiB.",
    ),
    "finished import": Case(
        IMPORT,
        status_of(
            Verdict(True, Reason.FINISHED, "Imported as group/demo."), importStatus="finished"
        ),
        "Healthy",
        "Finished",
    ),
    "finished with failed relations": Case(
        IMPORT,
        status_of(
            Verdict(True, Reason.FINISHED_WITH_FAILED_RELATIONS, "1 issues record failed."),
            importStatus="finished",
            failedRelations=FAILED_RELATIONS,
        ),
        "Healthy",
        "GitLab could not import some records (see status.failedRelations): 1 issues",
    ),
    "failed and stalled": Case(
        EXPORT,
        status_of(
            Verdict(False, Reason.FAILED, "GitLab reported export_status failed three times."),
            exportStatus="failed",
        ),
        "Degraded",
        "Failed: GitLab reported export_status failed",
    ),
    "failed, retrying": Case(
        EXPORT,
        status_of(Verdict(False, Reason.FAILED, "Export failed; retrying.", final=False)),
        "Progressing",
        "retrying",
    ),
    "host not allowed": Case(
        IMPORT,
        status_of(Verdict(False, Reason.HOST_NOT_ALLOWED, "evil.example is not allowed.")),
        "Degraded",
        "HostNotAllowed",
    ),
    "path taken": Case(
        IMPORT,
        status_of(Verdict(False, Reason.PATH_TAKEN, "group/demo exists; set overwrite.")),
        "Degraded",
        "PathTaken",
    ),
    "awaiting approval": Case(
        IMPORT,
        status_of(
            Verdict(False, Reason.AWAITING_APPROVAL, "Plan abc123 (Overwrite) is destructive."),
            plan={
                "id": "abc123",
                "action": "Overwrite",
                "reason": "r",
                "phase": "AwaitingApproval",
            },
        ),
        "Suspended",
        "AwaitingApproval: Plan abc123",
    ),
    "secret missing (transient)": Case(
        IMPORT,
        status_of(
            Verdict(False, Reason.SECRET_MISSING, "Secret destination-token not found.", False)
        ),
        "Progressing",
        "SecretMissing: Secret destination-token",
    ),
    "unicode message": Case(
        EXPORT,
        status_of(Verdict(True, Reason.FINISHED, 'Exported "groupe/été" \\ ok.')),
        "Healthy",
        'Exported "groupe/été" \\ ok.',
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_health_of_fixture(case: Case) -> None:
    status, message = health(case.obj())
    assert status == case.expected, message
    assert case.in_message in message
    assert status in ARGOCD_STATUSES


def test_every_stalled_reason_is_degraded_and_no_other() -> None:
    """Degraded exactly when the operator says a person must act (the Stalled condition)."""
    from gitlab_ferry.reconcile.plan import STALLED_REASONS

    for reason in Reason:
        if reason in (Reason.AWAITING_APPROVAL, Reason.SUSPENDED):
            continue
        verdict = Verdict(False, reason, f"{reason.value} happened.")
        status, _ = health(Case(IMPORT, status_of(verdict), "", "").obj())
        expected = "Degraded" if reason in STALLED_REASONS else "Progressing"
        assert status == expected, reason


def test_lua_literal_round_trips_through_lua() -> None:
    value = {"a": [1, 2.5, True, None, 'x\ny"z\\'], "b": {"c": None, "d": "ü€"}, "e": []}
    harness = (
        f"local v = {lua_literal(value)}\n"
        'io.write(#v.a, "|", v.a[2], "|", tostring(v.a[3]), "|", v.a[4], "|", v.b.d, "|",'
        ' tostring(v.b.c), "|", #v.e)'
    )
    result = subprocess.run(
        [lua_binary(), "-"], input=harness, capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout == '4|2.5|true|x\ny"z\\|ü€|nil|0'


# Lua 5.2+ constructs that gopher-lua (Lua 5.1) does not understand.
NEWER_THAN_LUA_51 = re.compile(
    r"\bgoto\b|::\w+::|//|<const>|<close>|\butf8\.|table\.unpack|table\.move|math\.type"
    r"|math\.tointeger|string\.pack|\b\w+\s*[&|]\s*\w+"
)


def test_script_stays_within_lua_51() -> None:
    code = "\n".join(line.split("--", 1)[0] for line in SCRIPT.read_text().splitlines())
    assert not NEWER_THAN_LUA_51.findall(code)
