#!/usr/bin/env bash
# Makes sure this machine can run the lab's real nodes (geofed-lab up
# --real-node): containerd, runc and the CNI plugins, installed from Debian's
# packages with apt-get when missing, then checked. Quiet when everything is
# there; a machine that cannot run containers fails naming what is missing.
#
# What a real node needs, and why:
#   containerd                    the container runtime the kubelet drives
#   runc                          the OCI runtime (crun refuses this VM's hybrid cgroups)
#   containernetworking-plugins   bridge, host-local and loopback, for Pod addresses
#   iproute2 (ip), util-linux (nsenter)  to make and enter the node's network namespace
set -euo pipefail

log() { echo "real-node: $*" >&2; }
fail() {
	log "$*"
	log "a real lab node needs root, containerd, runc and the CNI plugins (Debian/Ubuntu: apt-get install containerd runc containernetworking-plugins)"
	exit 1
}

cni_dir() {
	local d
	for d in /usr/lib/cni /opt/cni/bin; do
		if [[ -x "${d}/bridge" && -x "${d}/host-local" && -x "${d}/loopback" ]]; then
			echo "${d}"
			return 0
		fi
	done
	return 1
}

# missing prints the Debian package of each thing not found.
missing() {
	command -v containerd >/dev/null 2>&1 || echo containerd
	command -v runc >/dev/null 2>&1 || echo runc
	cni_dir >/dev/null || echo containernetworking-plugins
	command -v ip >/dev/null 2>&1 || echo iproute2
	command -v nsenter >/dev/null 2>&1 || echo util-linux
}

[[ "$(id -u)" == 0 ]] || fail "not running as root: containers, network namespaces and cgroups need root"

mapfile -t pkgs < <(missing)
if ((${#pkgs[@]} > 0)); then
	command -v apt-get >/dev/null 2>&1 || fail "missing ${pkgs[*]} and no apt-get to install them with"
	log "installing ${pkgs[*]} with apt-get (once)"
	# Another install running at the same time holds dpkg's lock: wait for it.
	apt-get -o DPkg::Lock::Timeout=300 update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${pkgs[@]}" >&2
	mapfile -t still < <(missing)
	((${#still[@]} == 0)) || fail "apt-get ran, but still missing: ${still[*]}"
fi

# The packages may be there and containers still impossible (no cgroups, a
# kernel without namespaces): say which.
[[ -d /sys/fs/cgroup ]] || fail "no /sys/fs/cgroup: this kernel has no cgroups mounted"
[[ -e /proc/self/ns/net ]] || fail "no network namespaces in this kernel (/proc/self/ns/net missing)"
runc --version >/dev/null 2>&1 || fail "runc is installed but does not run: $(runc --version 2>&1 | head -n1)"
containerd --version >/dev/null 2>&1 || fail "containerd is installed but does not run: $(containerd --version 2>&1 | head -n1)"
# Each kubelet, containerd (its CRI plugin watches the CNI config) and
# apiserver takes inotify instances; the kernel's default of 128 per user
# runs out with a few labs at once, and containerd then serves without CRI.
limit=/proc/sys/fs/inotify/max_user_instances
if [[ -w "${limit}" ]] && (($(cat "${limit}") < 1024)); then
	echo 1024 >"${limit}"
	log "raised fs.inotify.max_user_instances to 1024 (was the kernel's default): labs at once need more than 128"
fi
cni_dir
