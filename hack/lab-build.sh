# shellcheck shell=bash
# The recipe of the lab binaries: what hack/lab-bin.sh builds and how.
# Sourced by lab-bin.sh, not run. Its cache key hashes this file and the
# tools modules, not lab-bin.sh, so that lab-bin.sh's cache handling and
# progress output can change without forcing every machine to rebuild for
# ~14 minutes. Whatever changes a built file belongs here.

lab_kube_version="v1.37.2"

# NAME MODULE PACKAGE of each binary, built in this order: NAME in the bin
# directory is PACKAGE within the Go module tools/MODULE.
lab_targets=(
	"kube kube ."
	"etcd etcd ."
	"kwok kwok sigs.k8s.io/kwok/cmd/kwok"
)

# Version stamps: without them discovery reports v0.0.0-master and clients
# that check the server version (kubectl, geofed's own) see a nonsense version.
# buildDate is the upstream release time, so the build stays reproducible.
lab_kube_ldflags=()
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	lab_kube_ldflags+=(
		"-X ${pkg}.gitVersion=${lab_kube_version}"
		"-X ${pkg}.gitMajor=1"
		"-X ${pkg}.gitMinor=37"
		"-X ${pkg}.gitTreeState=clean"
		"-X ${pkg}.gitCommit="
		"-X ${pkg}.buildDate=2026-10-27T12:01:04Z"
	)
done

# lab_go_build MODULE_DIR OUTPUT NAME PACKAGE builds PACKAGE within the
# module to OUTPUT. -mod=readonly: go.sum is committed complete and a build
# must never change it.
lab_go_build() {
	local dir="$1" out="$2" name="$3" pkg="$4" ldflags=()
	[[ "${name}" == kube ]] && ldflags=("${lab_kube_ldflags[@]}")
	(
		cd "${dir}"
		go build -mod=readonly -trimpath -ldflags="-s -w ${ldflags[*]}" -o "${out}" "${pkg}"
	)
}

# The multi-call kube binary picks its component by argv[0].
lab_kube_links=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# KWOK moves nodes and pods only through stages; the kwok binary has no
# defaults of its own (kwokctl passes them), so ship the module's stage
# configs beside it: the set kwokctl uses by default. kwok renews node leases
# itself, so the status heartbeat can be the slow "with-lease" one, which
# keeps a lab's apiservers and etcd quiet.
# lab_copy_kwok_stages KWOK_MODULE_DIR OUT_DIR
lab_copy_kwok_stages() {
	local kwok_dir stage f
	kwok_dir="$(cd "$1" && go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
	mkdir -p "$2"
	for stage in node/fast node/heartbeat-with-lease pod/fast; do
		for f in "${kwok_dir}/kustomize/stage/${stage}"/*.yaml; do
			[[ "$(basename "${f}")" == kustomization.yaml ]] && continue
			cp "${f}" "$2/$(basename "${f}")"
		done
	done
	chmod -R u+w "$2"
}
