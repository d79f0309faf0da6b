#!/usr/bin/env bash
# Checks that an operator image carries the operator alone, and prints what it carries.
#   tools/check-operator-image.sh gitlab-ferry:0.1.0
# Fails when any file the gitlab-ferry distribution installed lies outside the operator's package
# (gitlab_ferry/: no simulator, control plane or demo), when the testbed's extra (cryptography)
# is installed, or when the command line offers a testbed command. The listing is the image's
# site-packages, one top-level entry a line with its size, and the image's own size.
set -euo pipefail
image=${1:?usage: $0 IMAGE}
docker=${DOCKER:-docker}

"$docker" run --rm -i --network none --entrypoint python "$image" - <<'PY'
import importlib.metadata as metadata
import pathlib
import subprocess
import sys
import sysconfig

site = pathlib.Path(sysconfig.get_paths()["purelib"])
def size(path):
    files = [path] if path.is_file() else path.rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file())

print(f"site-packages ({site}):")
for entry in sorted(site.iterdir()):
    if entry.suffix not in (".dist-info", ".pth") and entry.name != "__pycache__":
        print(f"  {size(entry) / 1024:9.0f} KiB  {entry.name}")

problems = []
operator = metadata.distribution("gitlab-ferry")
for file in operator.files or []:
    top = file.parts[0]
    if top not in ("gitlab_ferry", "..") and not top.endswith(".dist-info"):
        problems.append(f"gitlab-ferry installed {file}, outside the operator's package")
for testbed in ("simulator", "controlplane", "demo"):
    if (site / "gitlab_ferry" / testbed).exists():
        problems.append(f"gitlab_ferry/{testbed} is in the image")
for extra in ("gitlab_ferry_testbed", "cryptography"):
    if (site / extra).exists():
        problems.append(f"{extra} is in the image")
commands = subprocess.run(
    ["gitlab-ferry", "--help"], capture_output=True, text=True, check=True
).stdout
for testbed in ("simulate", "controlplane", "demo"):
    if f"\n  {testbed} " in commands:
        problems.append(f"gitlab-ferry offers `{testbed}`")
if not (site / "gitlab_ferry" / "handlers.py").is_file():
    problems.append("the operator's package is missing")
for problem in problems:
    print(f"FAIL: {problem}", file=sys.stderr)
print("the image carries the operator alone" if not problems else "")
sys.exit(1 if problems else 0)
PY
echo "image size: $("$docker" image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')"
