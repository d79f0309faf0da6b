"""The ProjectExport planner: (spec, recorded status, observation, now) -> the one next Plan
(reconcile layer).

It encodes GitLab's export hazards: a POST deletes the caller's current archive, so it is
planned only when nothing is queued, running or still needed; ``none`` after ``started`` is a
failure GitLab does not report; exports can hang. Pure: no I/O, time is ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gitlab_ferry.api import (
    ArtifactLocation,
    ProjectExportSpec,
    ProjectExportStatus,
    parse_duration,
)
from gitlab_ferry.api.project_export import KIND
from gitlab_ferry.gitlab_states import EXPORT_IN_FLIGHT, ExportState
from gitlab_ferry.reconcile.exports.actions import (
    AwaitExport,
    ExportRoute,
    HoldForConsumers,
    RelayToS3,
    RequestExport,
    RetryLater,
)
from gitlab_ferry.reconcile.exports.inputs import (
    S3_SINGLE_UPLOAD_LIMIT,
    ExportObservation,
    ExportPolicy,
    destination,
    export_spec_hash,
    recorded_run,
)
from gitlab_ferry.reconcile.plan import (
    Action,
    Blocked,
    Plan,
    Reason,
    ReportFailure,
    UpToDate,
    Verdict,
    sentence,
)
from gitlab_ferry.reconcile.planner import Planner
from gitlab_ferry.reconcile.s3_keys import render_key
from gitlab_ferry.reconcile.timing import next_scheduled, seconds_between


class ExportPlanner(Planner):
    kind = KIND
    request = "the export request"

    def __init__(
        self,
        spec: ProjectExportSpec,
        recorded: ProjectExportStatus,
        observed: ExportObservation,
        now: datetime,
        policy: ExportPolicy,
        name: str,
        namespace: str,
        generation: int | None = None,
    ) -> None:
        super().__init__(
            generation=generation,
            recorded=recorded,
            problem=observed.problem,
            retry_request=observed.retry_request,
            suspend=spec.suspend,
            now=now,
            polling=policy.polling,
            recheck=policy.recheck,
        )
        self.spec = spec
        self.status = recorded
        self.observed = observed
        self.policy = policy
        self.name = name
        self.namespace = namespace
        self.hash = export_spec_hash(spec)
        self.run = recorded_run(recorded, self.hash)
        self.timeout = parse_duration(spec.timeout)

    def plan_body(self) -> Plan:
        state = self.observed.state
        if state is ExportState.UNKNOWN:
            return self.make(
                AwaitExport(),
                f"GitLab reports an unknown export status {self.observed.export_status!r}",
                Verdict(False, Reason.EXPORTING, "Waiting for a known export status."),
                requeue_after=self.policy.polling.maximum,
            )
        if self.run.open and self.run.same_spec:
            return self._open_run(state)
        if state in EXPORT_IN_FLIGHT:
            return self._await(
                "GitLab is already exporting this project for this token's user; a new "
                "request now would only be merged into it, so wait for it to end",
                Reason.EXPORTING,
                self._waited_in(AwaitExport),
            )
        if self.run.succeeded:
            if state is not ExportState.FINISHED and self._kept_on_gitlab():
                return self._request(
                    "the archive expired on GitLab (it deletes exports after about 24 hours)",
                    verdict_reason=Reason.EXPIRED,
                    new_run=True,
                )
            return self._drift_or_up_to_date()
        if self.run.same_spec and self.run.started_at is not None:
            return self._after_failure()
        if self.status.spec_hash and not self.run.same_spec:
            return self._request("the spec changed since the last export")
        return self._request("no export of this spec has been made by this object yet")

    def _open_run(self, state: ExportState) -> Plan:
        """The export this object requested has not concluded yet."""
        elapsed = seconds_between(self.run.started_at, self.now)
        if state in EXPORT_IN_FLIGHT:
            if elapsed > self.timeout.total_seconds():
                return self._failure(
                    f"the export has not finished after {self.spec.timeout} (spec.timeout)",
                    reason=Reason.TIMED_OUT,
                )
            reason = Reason.SCHEDULED if state is ExportState.QUEUED else Reason.EXPORTING
            return self._await(f"GitLab is exporting the project ({state})", reason, elapsed)
        if state is ExportState.FINISHED:
            if self.status.route == ExportRoute.RELAY:
                return self._relay()
            if destination(self.spec) is ArtifactLocation.S3 and self.observed.uploaded is None:
                key = self.status.destination_key or "(unknown key)"
                bucket = self.spec.s3.bucket if self.spec.s3 else "?"
                return self._failure(
                    f"GitLab finished the export but s3://{bucket}/{key} does not exist, so "
                    "its upload failed (GitLab still holds the archive)",
                    reason=Reason.UPLOAD_MISSING,
                )
            return self._up_to_date("the export finished")
        if state is ExportState.FAILED:
            return self._failure("GitLab reports the export as failed")
        if self.run.seen_in_flight:
            return self._failure(
                "GitLab went from exporting to none: the export failed while archiving "
                "(GitLab reports this failure silently)"
            )
        if elapsed < self.policy.acceptance_grace:
            return self._await(
                "GitLab accepted the export request and has not queued it yet",
                Reason.SCHEDULED,
                elapsed,
            )
        return self._failure(
            f"GitLab still shows no export {int(elapsed)}s after accepting the request"
        )

    def _after_failure(self) -> Plan:
        """The last run of the current spec failed."""
        due = self.next_export_at()
        if due is not None and due <= self.now:
            return self._request("the schedule says the next export is due", new_run=True)
        if self._exhausted():
            return self._gave_up()
        failed_at = self.run.finished_at or self.now
        pause = self.policy.retry_delay - seconds_between(failed_at, self.now)
        if pause > 0:
            return self._recorded_failure(
                f"the last attempt failed; retrying in {pause:.0f}s",
                RetryLater(),
                requeue_after=pause,
                final=False,
            )
        return self._request("the last attempt failed")

    def _waited_in(self, action: type[Action]) -> float:
        """Seconds the recorded plan has had ``action`` (0 when it has another)."""
        plan = self.status.plan
        if plan is None or plan.action != action.__name__:
            return 0.0
        return seconds_between(plan.since, self.now)

    def _kept_on_gitlab(self) -> bool:
        return destination(self.spec) is ArtifactLocation.GITLAB

    # -- outcomes --------------------------------------------------------------------------

    def _exhausted(self) -> bool:
        return self.run.attempts >= self.policy.max_attempts

    def _failure(self, what: str, *, reason: Reason = Reason.FAILED) -> Plan:
        if not self._exhausted():
            return self.make(
                RetryLater(),
                f"{what}; retrying (attempt {self.run.attempts + 1} of "
                f"{self.policy.max_attempts}) after a pause",
                Verdict(False, reason, f"{sentence(what)} Retrying.", final=False),
                requeue_after=self.policy.retry_delay,
                inputs=(self.hash, self.run.attempts),
            )
        return self.make(
            ReportFailure(),
            f"{what}, after {self.run.attempts} attempts; a spec change or the next "
            "scheduled run starts over",
            Verdict(False, reason, sentence(what)),
            requeue_after=self._seconds_to_next_run(),
            inputs=(self.hash, self.run.attempts),
        )

    def _gave_up(self) -> Plan:
        return self._recorded_failure(
            f"the export failed {self.run.attempts} times; a spec change or the next "
            "scheduled run starts over",
            ReportFailure(),
            requeue_after=self._seconds_to_next_run(),
            final=True,
        )

    def _recorded_failure(
        self, why: str, action: Action, *, requeue_after: float | None, final: bool
    ) -> Plan:
        """Keep reporting the failure already recorded in the Ready condition."""
        ready = self.status.condition("Ready")
        failures = {Reason.FAILED.value, Reason.TIMED_OUT.value, Reason.UPLOAD_MISSING.value}
        if ready is not None and ready.reason in failures and ready.message:
            reason, message = Reason(ready.reason), ready.message
        else:
            # A transient problem replaced the failure's own words in the meantime.
            reason = Reason.FAILED
            message = f"The export failed {self.run.attempts} time(s)."
        return self.make(
            action,
            why,
            Verdict(False, reason, message, final=final),
            requeue_after=requeue_after,
            inputs=(self.hash, self.run.attempts),
        )

    def _await(self, why: str, reason: Reason, elapsed: float) -> Plan:
        delay = self.policy.polling.next_delay(
            elapsed, self.observed.expected_seconds, self.observed.pace
        )
        return self.make(
            AwaitExport(),
            f"{why}; looking again in {delay:.0f}s",
            Verdict(False, reason, why[0].upper() + why[1:] + "."),
            requeue_after=delay,
            inputs=(self.hash, self.status.started_at),
        )

    def _up_to_date(self, why: str) -> Plan:
        where = destination(self.spec)
        if where is ArtifactLocation.UPLOAD:
            verdict = Verdict(
                True,
                Reason.UPLOAD_UNCONFIRMED,
                "The export finished and GitLab was to push it to the URL in spec.upload; "
                "whether that push succeeded cannot be confirmed (GitLab reports finished "
                "even when it fails, and the URL cannot be read back).",
            )
        else:
            kept = where is ArtifactLocation.GITLAB
            place = "kept on GitLab (download links in status.links)" if kept else "in S3"
            verdict = Verdict(
                True, Reason.FINISHED, f"The export finished; the archive is {place}."
            )
        return self.make(
            UpToDate(),
            f"{why}; {verdict.message[:1].lower()}{verdict.message[1:].rstrip('.')}",
            verdict,
            requeue_after=self._seconds_to_next_run(),
            inputs=(self.hash, self.status.started_at),
        )

    def _relay(self) -> Plan:
        key = self.status.destination_key or "(unknown key)"
        bucket = self.spec.s3.bucket if self.spec.s3 else "?"
        return self.make(
            RelayToS3(s3_key=key),
            f"GitLab finished the export; copy it to s3://{bucket}/{key} in parts, since S3 "
            "takes at most 5 GiB in one upload",
            Verdict(False, Reason.EXPORTING, "Copying the archive from GitLab to S3."),
            requeue_after=self.policy.polling.initial,
            inputs=(self.hash, self.status.started_at),
        )

    def _route(self) -> ExportRoute | Plan:
        """How the archive will leave GitLab, or the plan that stops because it cannot."""
        where = destination(self.spec)
        size = self.observed.exported_size
        too_big = size is not None and size > S3_SINGLE_UPLOAD_LIMIT
        if where is ArtifactLocation.S3:
            # A missing upload may be S3 refusing a single large PUT: copy in parts then.
            failed = self._ready_reason() == Reason.UPLOAD_MISSING and self.run.same_spec
            return ExportRoute.RELAY if too_big or failed else ExportRoute.S3
        if where is ArtifactLocation.UPLOAD:
            if too_big and self.observed.upload_to_s3:
                gib = (size or 0) / 1024**3
                message = (
                    f"The project is about {gib:.1f} GiB; GitLab uploads an export in one "
                    "PUT and S3 takes at most 5 GiB that way (GitLab would still report "
                    "finished). Use spec.s3 instead of spec.upload: the operator then copies "
                    "the archive to S3 in parts."
                )
                return self.make(
                    Blocked(),
                    "the archive would exceed S3's single-upload limit",
                    Verdict(False, Reason.S3_UPLOAD_TOO_LARGE, message),
                    requeue_after=self.policy.recheck,
                    inputs=(Reason.S3_UPLOAD_TOO_LARGE, self.hash),
                )
            return ExportRoute.UPLOAD
        return ExportRoute.KEPT

    def _ready_reason(self) -> str | None:
        ready = self.status.condition("Ready")
        return ready.reason if ready else None

    def _drift_or_up_to_date(self) -> Plan:
        due = self.next_export_at()
        if due is not None and due <= self.now:
            why = "the schedule says" if self.spec.schedule else "spec.maxAge says"
            return self._request(
                f"{why} the archive is due for renewal", new_run=True, hold_for_consumers=True
            )
        return self._up_to_date("the last export is current")

    def _request(
        self,
        why: str,
        verdict_reason: Reason = Reason.SCHEDULED,
        *,
        new_run: bool = False,
        hold_for_consumers: bool = False,
    ) -> Plan:
        if hold_for_consumers and self.observed.consumers_waiting and self._kept_on_gitlab():
            return self.make(
                HoldForConsumers(),
                f"{why}, but {self.observed.consumers_waiting} ProjectImport(s) still need the "
                "current archive and a new export would delete it",
                Verdict(True, Reason.FINISHED, "Holding the archive for ProjectImports."),
                requeue_after=self.policy.polling.maximum,
            )
        route = self._route()
        if isinstance(route, Plan):
            return route
        retry = self.run.same_spec and not self.run.succeeded and not new_run
        attempt = self.run.attempts + 1 if retry else 1
        s3_key = None
        if self.spec.s3 is not None:
            s3_key = render_key(
                self.spec.s3.key,
                namespace=self.namespace,
                name=self.name,
                project=str(self.spec.project),
                now=self.now,
            )
        relayed = ", to be copied to S3 in parts" if route is ExportRoute.RELAY else ""
        return self.make(
            RequestExport(attempt=attempt, spec_hash=self.hash, route=route, s3_key=s3_key),
            f"{why}, so request a new export{relayed}",
            Verdict(False, verdict_reason, "Export requested from GitLab."),
            requeue_after=self.policy.polling.next_delay(
                0.0, self.observed.expected_seconds, self.observed.pace
            ),
            inputs=(self.hash, attempt, s3_key),
        )

    # -- schedule --------------------------------------------------------------------------

    def next_export_at(self) -> datetime | None:
        """When the schedule or maxAge asks for the next export: after the last good one, or
        after the last attempt when none succeeded."""
        moments = [t for t in (self.run.succeeded_at, self.run.started_at) if t is not None]
        if not moments:
            return None
        # After a success the last request is older than it; after a failure it is the later
        # one, so a failed renewal is not renewed again at once.
        base = max(moments)
        if self.spec.schedule:
            return next_scheduled(self.spec.schedule, base)
        if self.spec.max_age:
            return base + parse_duration(self.spec.max_age)
        return None

    def _seconds_to_next_run(self) -> float | None:
        moments = [self.next_export_at()]
        if self._kept_on_gitlab() and self.status.links:
            expires = self.status.links.expires_at
            if expires is not None and expires <= self.now:
                # Past the expiry GitLab's hourly sweep may not have run yet.
                expires = self.now + timedelta(seconds=self.policy.expiry_recheck)
            moments.append(expires)
        future = [m for m in moments if m is not None]
        if not future:
            return None
        return max(1.0, (min(future) - self.now).total_seconds())


def plan_export(
    spec: ProjectExportSpec,
    recorded: ProjectExportStatus,
    observed: ExportObservation,
    now: datetime,
    policy: ExportPolicy | None = None,
    *,
    name: str = "",
    namespace: str = "",
    generation: int | None = None,
) -> Plan:
    """The one next action for a ProjectExport, and why."""
    planner = ExportPlanner(
        spec, recorded, observed, now, policy or ExportPolicy(), name, namespace, generation
    )
    return planner.plan()


def next_export_at(
    spec: ProjectExportSpec, recorded: ProjectExportStatus, now: datetime
) -> datetime | None:
    """``status.nextExportAt`` for a status whose last good export is recorded."""
    return ExportPlanner(
        spec, recorded, ExportObservation(), now, ExportPolicy(), "", ""
    ).next_export_at()
