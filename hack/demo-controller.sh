#!/usr/bin/env bash
# make demo-controller: the control plane on the lab, installed as a user
# installs it. The controller's image is built by the project (no daemon,
# no registry), loaded into the hub's real node (a real kubelet and
# containerd), and installed with `kubectl apply -k` of an overlay that only
# pins the image by digest; two Pods run it. Two members are joined to it, a
# topology is pushed, the controller applies it, a hand edit on a member is
# put back without anyone running apply, and the members are unjoined again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

GEOFED_LAB_BIN="$(bash hack/lab-bin.sh | tail -n 1)"
export GEOFED_LAB_BIN
bash hack/real-node.sh >&2
geofed="${root}/bin/kubectl-geofed"
labctl="${root}/bin/geofed-lab"
kubectl="${GEOFED_LAB_BIN}/kubectl"
work="$(mktemp -d)"
state="${work}/lab"
topology="manifests/controller-demo.yaml"

step() {
	printf '\n\033[1m$ %s\033[0m\n' "$*"
}

cleanup() {
	step geofed-lab down
	"${labctl}" --dir "${state}" down || true
	rm -rf "${work}"
}
trap cleanup EXIT

step "make image   # dist/geofed-controller.tar, and an overlay of manifests/controller pinning it by digest"
go run ./hack/image --out dist --platforms "linux/$(go env GOARCH)" --overlay "${work}/install"
cat "${work}/install/kustomization.yaml"

step geofed-lab up --cluster hub@us-central1 --real-node hub --cluster serving-us@us-east1:3 --cluster serving-eu@europe-west1:4
"${labctl}" --dir "${state}" up --cluster hub@us-central1 --real-node hub --cluster serving-us@us-east1:3 --cluster serving-eu@europe-west1:4
# shellcheck disable=SC1091
source "${state}/env"

# The hub's other nodes are KWOK's: they only pretend to run containers.
step "kubectl --context hub cordon -l 'lab.geofed.io/real-node!=true'   # so the controller's Pods land on the real node"
"${kubectl}" --context hub cordon -l 'lab.geofed.io/real-node!=true'

step geofed-lab image load hub dist/geofed-controller.tar
"${labctl}" --dir "${state}" image load hub dist/geofed-controller.tar

step kubectl --context hub apply --server-side -k "${work}/install"
"${kubectl}" --context hub apply --server-side -k "${work}/install"
step kubectl --context hub rollout status deployment/geofed-controller -n geofed-system
"${kubectl}" --context hub rollout status deployment/geofed-controller -n geofed-system --timeout 180s
"${kubectl}" --context hub get pods -n geofed-system -o wide

# The controller runs in a Pod: it reaches each member at the address Pods
# on the lab's real node reach that apiserver (geofed-lab status, FROM PODS).
for member in serving-us serving-eu; do
	var="GEOFED_LAB_POD_SERVER_$(echo "${member}" | tr 'a-z-' 'A-Z_')"
	step kubectl geofed join "${member}" --hub hub --server "${!var}"
	"${geofed}" join "${member}" --hub hub --server "${!var}"
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
	"${kubectl}" --context hub logs -n geofed-system deployment/geofed-controller --tail 40 >&2 || true
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
