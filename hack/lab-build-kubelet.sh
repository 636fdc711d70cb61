# shellcheck shell=bash
# The recipe of the lab's real-node binaries (geofed-lab up --real-node):
# the upstream kubelet at lab_kube_version, stamped with the control plane's
# version (lab_kube_ldflags, hack/lab-build.sh), and the static pause program
# the lab builds its sandbox image from. Sourced by lab-bin.sh after
# lab-build.sh. Its cache key hashes tools/kubelet, this file and
# lab-build.sh and nothing else of tools/: these are built on their own, and
# changing them costs no rebuild of the control plane.

# NAME PACKAGE of each binary, in tools/kubelet.
lab_node_targets=(
	"kubelet ."
	"pause ./pause"
)

# lab_build_node MODULE_DIR OUTPUT NAME PACKAGE
lab_build_node() {
	local dir="$1" out="$2" name="$3" pkg="$4"
	(
		cd "${dir}"
		if [[ "${name}" == pause ]]; then
			# Runs alone in a container image: static, no libc.
			CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="-s -w" -o "${out}" "${pkg}"
		else
			go build -mod=readonly -trimpath -ldflags="-s -w ${lab_kube_ldflags[*]}" -o "${out}" "${pkg}"
		fi
	)
}
