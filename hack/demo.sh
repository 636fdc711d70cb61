#!/usr/bin/env bash
# make demo: start a lab (real control planes + the GKE emulator), show what
# geofed does with the seed scenario — render, plan, apply, the result — and
# stop the lab again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

GEOFED_LAB_BIN="$(bash hack/lab-bin.sh | tail -n 1)"
export GEOFED_LAB_BIN
geofed="${root}/bin/kubectl-geofed"
labctl="${root}/bin/geofed-lab"
state="$(mktemp -d)/lab"
topology="manifests/topology.yaml"

step() {
	printf '\n\033[1m$ %s\033[0m\n' "$*"
}

cleanup() {
	step geofed-lab down
	"${labctl}" --dir "${state}" down || true
	rm -rf "$(dirname "${state}")"
}
trap cleanup EXIT

# The joined cluster of the scenario, with three GPU nodes; the two GKE
# clusters do not exist yet, so plan shows them as "+".
step geofed-lab up --cluster serving-us@us-east1:3
"${labctl}" --dir "${state}" up --cluster serving-us@us-east1:3
# shellcheck disable=SC1091
source "${state}/env"

step kubectl geofed render -f "${topology}" --cluster serving-us
"${geofed}" render -f "${topology}" --cluster serving-us

step kubectl geofed plan -f "${topology}"
code=0
"${geofed}" plan -f "${topology}" --detailed-exitcode --out "$(dirname "${state}")/plan.json" || code=$?
echo "(exit code ${code}: 0 no changes, 1 error, 2 changes)"

step kubectl geofed apply -f "${topology}" --yes
"${geofed}" apply -f "${topology}" --yes

step kubectl geofed status -f "${topology}"
code=0
"${geofed}" status -f "${topology}" || code=$?
echo "(exit code ${code}: 0 everything reachable and ready)"

step kubectl --context serving-us get deployments,pods -n serving
"${GEOFED_LAB_BIN}/kubectl" --context serving-us get deployments,pods -n serving -o wide

step kubectl geofed plan -f "${topology}" --detailed-exitcode
code=0
"${geofed}" plan -f "${topology}" --detailed-exitcode || code=$?
echo "(exit code ${code}: nothing left to change)"

step geofed-lab status
"${labctl}" --dir "${state}" status

# Tear it all down: every object geofed applied, then the two GKE clusters
# it created (named, so --yes may confirm). The joined cluster stays.
step kubectl geofed destroy -f "${topology}" --clusters training-us,serving-eu --yes
"${geofed}" destroy -f "${topology}" --clusters training-us,serving-eu --yes

step kubectl geofed destroy -f "${topology}"
"${geofed}" destroy -f "${topology}"
