#!/usr/bin/env bash
# make demo-controller: the control plane on the lab. A hub and two member
# clusters; geofed-controller runs as a local process against the hub (the
# image is not published); the members are joined to it, a topology is
# pushed, the controller applies it, a hand edit on a member is put back
# without anyone running apply, and the members are unjoined again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

GEOFED_LAB_BIN="$(bash hack/lab-bin.sh | tail -n 1)"
export GEOFED_LAB_BIN
geofed="${root}/bin/kubectl-geofed"
controller="${root}/bin/geofed-controller"
labctl="${root}/bin/geofed-lab"
kubectl="${GEOFED_LAB_BIN}/kubectl"
work="$(mktemp -d)"
state="${work}/lab"
topology="manifests/controller-demo.yaml"
controller_pid=""

step() {
	printf '\n\033[1m$ %s\033[0m\n' "$*"
}

cleanup() {
	if [[ -n "${controller_pid}" ]]; then
		step "kill geofed-controller  # SIGTERM: it releases its leader Lease"
		kill "${controller_pid}" 2>/dev/null || true
		wait "${controller_pid}" 2>/dev/null || true
	fi
	step geofed-lab down
	"${labctl}" --dir "${state}" down || true
	rm -rf "${work}"
}
trap cleanup EXIT

step geofed-lab up --cluster hub@us-central1 --cluster serving-us@us-east1:3 --cluster serving-eu@europe-west1:4
"${labctl}" --dir "${state}" up --cluster hub@us-central1 --cluster serving-us@us-east1:3 --cluster serving-eu@europe-west1:4
# shellcheck disable=SC1091
source "${state}/env"

# In a real hub: kubectl apply -k manifests/controller (the Deployment runs
# the controller). Here only its namespace and CRD, and the process below.
step kubectl --context hub apply -f manifests/controller/namespace.yaml -f manifests/controller/crd/
"${kubectl}" --context hub apply -f manifests/controller/namespace.yaml -f manifests/controller/crd/
"${kubectl}" --context hub wait --for condition=Established crd/topologies.geofed.io --timeout 60s

step "geofed-controller --context hub --resync 5m &   # logs: ${work}/controller.log"
"${controller}" --context hub --namespace geofed-system --leader-elect=false \
	--metrics-bind-address 0 --health-probe-bind-address 0 --resync 5m --log-format text \
	>"${work}/controller.log" 2>&1 &
controller_pid=$!

for member in serving-us serving-eu; do
	step kubectl geofed join "${member}" --hub hub
	"${geofed}" join "${member}" --hub hub
done

step kubectl geofed push -f "${topology}" --hub hub
"${geofed}" push -f "${topology}" --hub hub

step "kubectl geofed status --hub hub   # until Ready and Synced"
for _ in $(seq 1 120); do
	if "${geofed}" status --hub hub >/dev/null 2>&1; then
		break
	fi
	sleep 1
done
code=0
"${geofed}" status --hub hub || code=$?
echo "(exit code ${code}: 0 every Topology Ready and Synced)"

for member in serving-us serving-eu; do
	step kubectl --context "${member}" get deployments -n serving
	"${kubectl}" --context "${member}" get deployments -n serving
done

step "kubectl --context serving-eu scale deployment model-server -n serving --replicas 1   # by hand"
"${kubectl}" --context serving-eu scale deployment model-server -n serving --replicas 1
sleep 3
step "kubectl --context serving-eu get deployments -n serving   # 3 s later: put back by the controller"
"${kubectl}" --context serving-eu get deployments -n serving
replicas="$("${kubectl}" --context serving-eu get deployment model-server -n serving -o jsonpath='{.spec.replicas}')"
if [[ "${replicas}" != "4" ]]; then
	echo "the controller did not put the replicas back (have ${replicas}, want 4); its log:" >&2
	tail -n 40 "${work}/controller.log" >&2
	exit 1
fi

step kubectl --context hub get events -n geofed-system --field-selector involvedObject.kind=Topology
"${kubectl}" --context hub get events -n geofed-system --field-selector involvedObject.kind=Topology

# Deleting the Topology stops its reconciles; what it applied stays on the
# members (kubectl geofed destroy -f removes that).
step "kubectl --context hub delete topology serving -n geofed-system"
"${kubectl}" --context hub delete topology serving -n geofed-system
step kubectl --context serving-eu get deployments -n serving
"${kubectl}" --context serving-eu get deployments -n serving

for member in serving-us serving-eu; do
	step kubectl geofed unjoin "${member}" --hub hub
	"${geofed}" unjoin "${member}" --hub hub
done
