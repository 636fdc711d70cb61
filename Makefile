# kubectl-geofed — build, test and demo.
#
# `make test` on a fresh machine builds the lab binaries (kube-apiserver,
# controller-manager, scheduler, kubectl, etcd, kwok) once into a cache
# outside the repo, then runs every test against real control planes.

GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# How long CI fuzzes the topology loader on every run.
FUZZTIME ?= 20s
# How long the fuzzer minimizes an input. Go minimizes every input that
# finds new coverage, for up to 60 s each by default, and fuzzes nothing
# meanwhile: a 20 s run from an empty cache stalls at a few dozen execs.
# 0 keeps a failing input as found; FUZZMINIMIZE=60s shrinks it.
FUZZMINIMIZE ?= 0
# Parallel test binaries; lab tests start real control planes, so keep it modest.
TESTP    ?= 2

.PHONY: all build lab-bin real-node test fuzz vet demo demo-controller bench krew image release clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-geofed ./cmd/kubectl-geofed
	$(GO) build -trimpath -o $(BIN)/geofed-lab ./cmd/geofed-lab
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/geofed-controller ./cmd/geofed-controller

# Builds the lab binaries (and the real nodes' kubelet) once per version into
# $${XDG_CACHE_HOME:-$$HOME/.cache}/geofed-lab and prints their directory.
lab-bin:
	@bash hack/lab-bin.sh

vet:
	$(GO) vet ./...

# What the lab's real nodes (geofed-lab up --real-node) need on this machine:
# containerd, runc and the CNI plugins, installed with apt-get when missing;
# fails naming what is missing when containers cannot run here.
real-node:
	@bash hack/real-node.sh >/dev/null

# Every test: unit, golden, lab e2e (real Pods on a real node too: containerd,
# runc and the CNI plugins are installed with apt-get when missing), the HTML
# page in headless Chromium (installed the same way), krew installing the
# release, and a short bounded fuzz of the loader.
test: vet real-node
	GEOFED_LAB_BIN="$$(bash hack/lab-bin.sh | tail -n 1)" && export GEOFED_LAB_BIN && \
	GEOFED_CHROMIUM="$$(bash hack/chromium.sh | tail -n 1)" && export GEOFED_CHROMIUM && \
	$(GO) test -p $(TESTP) -timeout 30m -count=1 ./...
	$(MAKE) fuzz

# Fails only on a finding (see hack/fuzz.sh).
fuzz:
	GO=$(GO) bash hack/fuzz.sh ./pkg/topology FuzzParse $(FUZZTIME) $(FUZZMINIMIZE)

# geofed against the kubectl loops users would run instead (kubectl diff
# --server-side, kubectl apply --server-side; clusters in a row and all at
# once) on fleets of apiserver-only lab clusters: apply from nothing, plan
# and apply with nothing changed, one object drifted, 10% changed, and the
# LIST floor; wall, CPU, peak RSS, requests per object, the ratios, a fitted
# cost model, the targets, profiles of the largest fleet. BENCH=full for the
# whole sweep (1, 4, 16 clusters x 200, 1,000, 5,000 objects), BENCH=16x1000
# for chosen sizes. Every size runs its own rounds, hence -benchtime 1x.
BENCH ?= default
bench:
	GEOFED_LAB_BIN="$$(bash hack/lab-bin.sh | tail -n 1)" && export GEOFED_LAB_BIN && \
	BENCH=$(BENCH) $(GO) test ./test/bench -run '^$$' -bench . -benchtime 1x -timeout 300m -count 1

demo: build
	bash hack/demo.sh

# The control plane on the lab: a hub, two members joined to it, a pushed
# topology applied by geofed-controller (a local process), a hand edit put
# back, the members unjoined.
demo-controller: build
	bash hack/demo-controller.sh

# Release archives (linux, darwin, windows × amd64, arm64) and the krew
# manifest with their sha256 sums, in dist/, checked by krew-index's own
# validator. VERSION must be semver (v0.1.0): krew refuses anything else.
krew:
	bash hack/krew-release.sh $(VERSION) dist
	"$$(bash hack/krew-bin.sh | tail -n 1)/validate-krew-manifest" -manifest dist/geofed.yaml -skip-install

# The controller's image, an OCI image index for linux/amd64 and
# linux/arm64 built with no daemon, registry or base image
# (hack/image): dist/geofed-controller, an OCI layout to push, and
# dist/geofed-controller.tar, an OCI archive for `ctr images import`. The
# same commit gives the same digest: every time in the image is the
# commit's ($$SOURCE_DATE_EPOCH overrides it).
image:
	$(GO) run ./hack/image --out dist --version $(VERSION) --revision $(COMMIT)

# Everything a release attaches: the krew archives and manifest, the image
# and dist/install.yaml, the control plane with the image pinned by digest
# (`kubectl apply -f install.yaml` installs it).
release: krew
	$(GO) run ./hack/image --out dist --version $(VERSION) --revision $(COMMIT) --install dist/install.yaml

# Builds krew and its manifest validator (pinned) once into
# $${XDG_CACHE_HOME:-$$HOME/.cache}/geofed-krew and prints their directory.
.PHONY: krew-bin
krew-bin:
	@bash hack/krew-bin.sh

clean:
	rm -rf $(BIN) dist
