#!/usr/bin/env bash
# deploy/: no Kubernetes here, so the manifests are read (PyYAML) and the load pods' script
# is run for every index with TERN_LOAD=echo: each index must get its own --ip and
# --source-ip slice on the prefix (no two hosts' 4-tuples alike), its own report file, and
# the merge Job must read every report. No network, no DPDK.
set -uo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
set +e

python3 - "$TERN_ROOT/deploy" <<'PY'
import ipaddress, os, subprocess, sys, yaml
folder = sys.argv[1]
def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else f" ({detail})"))
try:
    load = list(yaml.safe_load_all(open(os.path.join(folder, "tern-load-job.yaml"))))
    merge = list(yaml.safe_load_all(open(os.path.join(folder, "tern-load-merge.yaml"))))
    check("deploy: both manifests parse as YAML", True)
except Exception as e:
    check("deploy: both manifests parse as YAML", False, e)
    sys.exit(0)
by_kind = {d["kind"]: d for d in load if d["kind"] != "Job"}
job = next(d for d in load if d["kind"] == "Job")
spec = job["spec"]
n = spec["completions"]
check("deploy: an Indexed Job, every index at once", spec["completionMode"] == "Indexed" and spec["parallelism"] == n and n >= 2,
      f"{spec.get('completionMode')} {spec.get('parallelism')} of {n}")
config = by_kind["ConfigMap"]["data"]
env = dict(os.environ, **{k: v for k, v in config.items() if k != "run.sh"}, TERN_LOAD="echo")
hosts, sources, reports, failed = [], [], [], []
for i in range(n):
    run = subprocess.run(["sh", "-c", config["run.sh"]], env=dict(env, JOB_COMPLETION_INDEX=str(i)),
                         capture_output=True, text=True)
    if run.returncode != 0:
        failed.append(f"index {i}: {run.stderr.strip()}")
        continue
    args = run.stdout.split()
    value = lambda opt: args[args.index(opt) + 1]
    hosts.append(ipaddress.ip_interface(value("--ip")))
    first, last = (ipaddress.ip_address(a) for a in value("--source-ip").split("-"))
    sources.append(set(range(int(first), int(last) + 1)) | {int(hosts[-1].ip)})
    reports.append(value("--json"))
check("deploy: the pods' script runs for every index", not failed, "; ".join(failed))
if failed: sys.exit(0)
target = ipaddress.ip_address(config["TARGET"].split(":")[0])
check("deploy: every host's addresses on one prefix with the target",
      all(h.network == hosts[0].network and target in h.network for h in hosts) and
      all(ipaddress.ip_address(a) in hosts[0].network for s in sources for a in (min(s), max(s))),
      [str(h) for h in hosts])
check("deploy: no address in two hosts' slices, none the target's",
      sum(len(s) for s in sources) == len(set().union(*sources)) and not any(int(target) in s for s in sources))
check("deploy: a report file per index", reports == [f"/reports/load-{i}.json" for i in range(n)], reports)
command = " ".join(merge[0]["spec"]["template"]["spec"]["containers"][0]["command"])
check("deploy: the merge Job merges every report", "tern-load merge /reports/load-*.json" in command, command)
PY
exit 0
