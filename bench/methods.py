"""How each scenario measures what it reports: the paragraphs ``docs/benchmarks.md`` prints
above each table. Text only, kept next to the code it describes so the two change together.
"""

from __future__ import annotations

THROUGHPUT = """\
N projects are migrated two ways, side by side: **GroupMigration**, one object for a source
group tree of N projects of 64 KiB (a top group and nine subgroups nested up to three deep, the
simulator's `trees:` seed layout; `examples/group-migration.yaml` pointed at it with
`groups: CreateMissing` under an existing destination parent, and `maxInFlight: N` so that the
rate limits, not that cap, pace the run), which fans out into ProjectExport/ProjectImport pairs;
and **pairs**, N pairs of `examples/migration.yaml` (a ProjectExport of a source project kept on
GitLab and a ProjectImport with `exportRef`, so the operator streams each archive) created one
after another, the source seed having N projects of 64 KiB over 10 groups. Every run has fresh
simulators, a fresh namespace and a fresh operator, and starts 2 s into a rate-limit minute;
for each N the two ways alternate (GroupMigration run 1, pairs run 1, GroupMigration run 2,
...), so both see the same machine. Both simulators and the operator use the limits shown:
GitLab's export/import defaults times ten (60/min) up to N = 200; above that 250/min, so that
three runs each way fit in the time the machine has (the lower bound is computed from the
limits in force, so the ratio keeps its meaning). Every other operator setting is its default
(until a host's usual duration is learned, one object in flight scouts, looking after 5 s and
then every tenth of its work's age, at least 1 s apart, while the others look first after 20 s
unless the scout's finding wakes them; once learned, the scout looks at 0.9x, 1x and 1.15x of it
and the others at 1.05x and 1.15x, then a back-off x2 up to 60 s; work is timed from when GitLab
answered its request; 1 s margin at minute edges).
**Wall time** runs from the first create to the moment a watch sees the last ProjectImport turn
Ready. **Lower bound**: GitLab counts requests in fixed minutes aligned to the epoch, so an
ideal client requests export *i* in the first minute with room (or at once), imports it the
moment its export has finished (a download slot per group, an import slot per minute), and never
waits on a poll or on the Kubernetes API; the bound is its last finish. Started at offset *o*
into a minute with *L* per minute and jobs shorter than a minute, that is `(ceil(N/L) - 1) * 60
s - o + export time + import time` (here the export and import times are queue delay plus run
time, 11 s each). **Requests** are every API request both simulators logged (the
GroupMigration's listing of the source tree and its group lookups and creations included; the
archive is one download request), per transfer (an export or an import, as
`gitlab_ferry_transfers_total` counts them); **latency** is the time from the create call
returning (the ProjectExport's, or the GroupMigration's) to the first request the source logged
for that project. CPU is utime+stime from `/proc/<pid>/stat` over the run; peak RSS is VmHWM;
the plots show the run with the median wall time over the
bound at the largest N."""

COMPARE = """\
The same migration with N projects (20 by default: python-gitlab's loop takes about 25 s a
project, so that three runs fit in about 35 minutes) on two simulators whose limits bind (10
exports, 10 imports, 10 downloads per minute, so the exports of gitlab-ferry and of the asyncio
script take two rate-limit minutes; same job times as scenario 1). Each contender has its own
GitLab user (its own rate-limit buckets and exports) and its own destination group, runs alone,
and starts 2 s into a minute: **gitlab-ferry** (operator limits set to the same 10/min); an
**asyncio script** (`bench/baseline_async.py`: httpx, all projects at once, no shared limiter,
status polled every 5 s, each 429 retried after `Retry-After` or 60 s); and **python-gitlab** as
its documentation shows it (`bench/baseline_gitlab.py`: one project at a time,
`exports.create()`, `refresh()` every second until finished, `download()` to a file,
`projects.import_project()`, `imports.get()` + `refresh()` every second; python-gitlab's own
defaults retry 429s after `Retry-After`). A run starts two fresh simulators and runs the three
in that order, gitlab-ferry with a fresh namespace and operator; there are three runs by default
(`--compare-runs`), and each compares the three side by side. Requests and 429s come from the
simulators' logs for that contender's user; the rate-limited ones are those GitLab's per-user
limits count (export requests, downloads and imports, 429 answers included). CPU and peak RSS of
the scripts come from `wait4()` on their process; gitlab-ferry's are the operator's (the
Kubernetes API server it also talks to is not counted for anyone). Each figure is the median of
the runs with the range; 429s are summed over the runs. Ratios are the baseline's figure divided
by gitlab-ferry's in the same run, then summarised over the runs the same way: above 1 means
gitlab-ferry was faster or used fewer requests, and a target is met when the median ratios are
above 1. The requests by endpoint and the plot are of the run with gitlab-ferry's median wall
time over the lower bound."""

STREAMING = """\
For each size (1 GiB and 2 GiB), a project with a repository of that size is exported once
(archive kept on the source, gzip level 0 as GitLab writes it); download limits are lifted.
Then, alternately and three times each, the archive goes into a new destination project two
ways, each waiting for the previous import to finish on the destination: `curl | curl -X POST
-T -` with the multipart framing written around the download by `printf`, so the upload is truly
streamed (chunked), and a ProjectImport with `exportRef` (the operator streams the download into
the multipart upload with a known Content-Length). (`curl | curl -F "file=@-"`, as it is usually
written, cannot carry archives this size: curl reads a piped stdin into memory before it sends
the form and refuses it.) curl's time is the pipeline's wall time; gitlab-ferry's is the upload
request's duration from the operator's `gitlab_ferry_gitlab_request_duration_seconds` histogram
(request start until the destination's response headers, i.e. after the last byte), with the
bytes checked against `gitlab_ferry_bytes_streamed_total`. The ratio is gitlab-ferry's
throughput over curl's in the same round (the two ran back to back), and the figure is the
median of the rounds' ratios. The operator's CPU is utime+stime from apply to Ready. Peak
memory growth is the operator's VmHWM just before the first ProjectImport against just after the
last."""

AT_REST = """\
1,000 ProjectExports are created and finish with limits of 1,000/min and 3 s jobs. Then the
source's export duration is raised to a day and 100 more ProjectExports are created with a
ProjectImport (`exportRef`) each, so 100 exports stay in flight on GitLab and 100 imports wait
on them. After a settling minute the operator runs untouched for the minutes shown (2 by
default), with its default settings (in-flight exports polled with back-off up to 60 s). RSS is
sampled every second; CPU seconds are read from `/proc/<pid>/stat` at each minute's start and
end; the GitLab requests are what both simulators logged during those minutes. There are three
runs by default (`--rest-runs`), each with fresh simulators, a fresh namespace and a fresh
operator. Each figure is the median of the runs with the range, a run's CPU per minute being the
mean of its minutes; the target is judged on the median of the runs' RSS maxima. The requests by
endpoint and the memory plot are of the run with the median RSS maximum."""

SCALE = """\
The simulator's built-in `group-tree-scale` seed (acme/ and 49 subgroups nested up to 5 deep,
1,000 projects of 1 KiB, every 9th archived) is migrated by one GroupMigration: the example
`examples/group-migration.yaml` with `source.group: acme`, archived projects included, no
excludes, `groups: CreateMissing` under an existing `migrated/` parent and `maxInFlight` as
shown, created 2 s into a rate-limit minute. Both simulators and the operator use the limits
below (600 per minute, so the run takes minutes); every other operator setting is its default.
Each run has fresh simulators, a fresh namespace and a fresh operator process. **Wall time**
runs from the create to the moment a watch sees the GroupMigration Ready; the **lower bound**
is scenario 1's, for the same 1,000 paths (downloads counted per group), with the groups made
instantly. **RSS**: VmRSS before the apply, VmHWM at Ready, and the median of one VmRSS sample a
second over the minute after Ready (from 5 s after). **Objects**: a list of each kind and of
the namespace's Events once that minute is over, and the growth of the API server's
`apiserver_storage_objects` gauges summed over every resource since just before the apply (the
gauge is refreshed about once a minute, so it may lag the listing). **Requests** are every API
request both simulators logged, divided by the transfers (an export or an import; 2 per
project)."""

TEXT = {
    "throughput": THROUGHPUT,
    "compare": COMPARE,
    "streaming": STREAMING,
    "at_rest": AT_REST,
    "scale": SCALE,
}
