# memif-wasm. Every target installs or builds what it needs on a fresh Debian machine with Go.
GO        ?= go
FUZZTIME  ?= 30s
BENCHTIME ?= 1s
APT       := DEBIAN_FRONTEND=noninteractive apt-get

BIN       ?= bin/memif-wasm
IMAGE_TAG ?= dev
# The image is written to this OCI layout; IMAGE=REGISTRY/REPO:TAG also pushes it.
IMAGE_LAYOUT ?= bin/memif-wasm-image

.PHONY: all build image manifests demo test test-rust interop fuzz bench bench-forward plugins deps-plugins deps-interop deps-ops deps-tshark deps-deploy vet clean

all: test

# A static binary: no cgo, so it runs on any Linux of its architecture and in
# the empty-base image (deploy/image refuses a dynamic one).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/memif-wasm

# The container image, without a container engine (deploy/cmd/mkimage): the
# static binary and the example plugins on an empty base. Reproducible: file
# times are SOURCE_DATE_EPOCH (default: the last commit's time).
image: build plugins
	cd deploy && SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)} \
		$(GO) run ./cmd/mkimage --binary ../$(BIN) --plugins '../plugins/build/*.wasm' \
		--layout ../$(IMAGE_LAYOUT) --tag $(IMAGE_TAG) $(if $(IMAGE),--push $(IMAGE))

# deploy/kubernetes/memif-wasm.yaml is the Helm chart rendered with its
# default values (a test fails when they differ).
manifests:
	cd deploy && $(GO) run ./cmd/chartrender --chart helm/memif-wasm --out kubernetes/memif-wasm.yaml

# The main job on its embedded default: no external peer needed.
demo: plugins
	$(GO) run ./cmd/memif-wasm demo

# -race everywhere, then the tests of the demo's default pipeline and the README's examples
# once without -race: under the race detector compiling their Go guests takes minutes, so
# they skip there. MEMIF_WASM_TSHARK=1: the capture tests fail, rather than skip, without tshark;
# MEMIF_REGISTRY=1: the plugin source tests against a real registry (docker-registry) likewise.
# deploy/ is its own module (image builder, manifest checks: their dependencies
# stay out of the main module); MEMIF_DEPLOY=1: its registry and build tests
# must run, not skip.
test: plugins deps-ops deps-tshark deps-deploy vet test-rust
	MEMIF_WASM_TSHARK=1 MEMIF_REGISTRY=1 $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^(TestDemoDefaultPipeline|TestReadmeWalkthrough|TestReadmeInspectExample)$$' ./cmd/memif-wasm/
	cd deploy && MEMIF_DEPLOY=1 MEMIF_REGISTRY=1 $(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

# The Rust SDK's and the Rust plugins' native unit tests (cargo test on the
# build machine), with Debian's toolchain like `make plugins`.
test-rust: deps-plugins
	$(MAKE) -C plugins test-rust

# Tests against real DPDK testpmd peers (memif PMD from Debian): every TestInterop*,
# with MEMIF_INTEROP=1 so that a missing testpmd fails instead of skipping. Prints the
# results; the full -v log is in /tmp/memif-wasm-interop.log. bash for pipefail. -p 1: one
# package at a time, because each testpmd busy-polls a CPU while it forwards.
interop: plugins deps-interop
	@bash -o pipefail -c 'MEMIF_INTEROP=1 $(GO) test -race -count=1 -p 1 -timeout 8m -run Interop -v ./... 2>&1 | \
		tee /tmp/memif-wasm-interop.log | \
		{ grep -E "^\s*(--- |FAIL|ok|panic)|^\s+\S+\.go:[0-9]+:" | grep -v "no tests to run" || true; }' || \
		{ echo "make interop failed; the failing packages' whole output follows (full log: /tmp/memif-wasm-interop.log)"; \
		  awk '/^(ok  |FAIL)\t/ { if ($$1 == "FAIL") printf "%s%s\n", out, $$0; out = ""; next } { out = out $$0 "\n" }' \
		    /tmp/memif-wasm-interop.log; exit 1; }

# Every native fuzz target, FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | cut -d' ' -f2); do \
			echo "== $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done
	@echo "== deploy/kube FuzzDecode ($(FUZZTIME))"
	cd deploy && $(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./kube/

bench: plugins
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# The forwarding benchmark as users run it (daemon and generator as separate processes,
# DPDK testpmd io as the reference row): medians of REPEAT interleaved runs per cell.
REPEAT ?= 5
bench-forward: plugins deps-interop
	$(GO) build -o /tmp/memif-wasm-bench ./cmd/memif-wasm
	/tmp/memif-wasm-bench bench --forward --repeat $(REPEAT) --testpmd

# Build every example plugin (Go, C and Rust) into plugins/build/.
plugins: deps-plugins
	$(MAKE) -C plugins

# Rust: Debian's rustc and cargo 1.63 and the wasm32 standard library, checked
# by path because a rustup toolchain earlier on PATH does not count (the
# plugins' Makefile calls /usr/bin/cargo).
deps-plugins:
	@command -v clang >/dev/null && command -v wasm-ld >/dev/null && command -v wat2wasm >/dev/null && \
		test -x /usr/bin/cargo -a -x /usr/bin/rustc -a -d /usr/lib/rustlib/wasm32-unknown-unknown/lib || \
		{ $(APT) update -qq && $(APT) install -y -qq clang lld wabt rustc cargo libstd-rust-dev-wasm32 >/dev/null; }

# Operator tools the tests run: promtool (Debian's prometheus package) checks the
# /metrics exposition, zsh parses the zsh completion script.
deps-ops:
	@command -v promtool >/dev/null && command -v zsh >/dev/null || \
		{ $(APT) update -qq && $(APT) install -y -qq --no-install-recommends prometheus zsh >/dev/null; }

# tshark (Wireshark's CLI) reads the pcapng captures back in the capture tests.
deps-tshark:
	@command -v tshark >/dev/null || \
		{ $(APT) update -qq && $(APT) install -y -qq tshark >/dev/null; }

# dpdk-testpmd comes from dpdk-dev, the memif PMD from librte-net-memif23 (Debian 12:
# /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_memif.so.23.0); stdbuf from coreutils.
deps-interop:
	@command -v dpdk-testpmd >/dev/null && test -n "$$(ls /usr/lib/*/dpdk/pmds-*/librte_net_memif.so* 2>/dev/null)" || \
		{ $(APT) update -qq && $(APT) install -y -qq dpdk-dev librte-net-memif23 >/dev/null; }

# The loopback registry of the image tests and of the plugin source tests
# (hosttest.Registry starts it; CNCF distribution 2.8), and
# systemd-analyze for the unit's test.
deps-deploy:
	@command -v docker-registry >/dev/null && command -v systemd-analyze >/dev/null || \
		{ $(APT) update -qq && $(APT) install -y -qq docker-registry systemd >/dev/null; }

clean:
	$(MAKE) -C plugins clean
	rm -rf bin
