# trainer build. `make` builds the CPU binary; CUDA targets need nvcc/cuda.h
# and say so when they are missing.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
NVCC      ?= nvcc
PTX_ARCHS := 80 90
KERNELS   := $(wildcard kernels/*.cu)
NVCCFLAGS := -ptx -O3 -std=c++14

# Quick start: with TRAIN/TEST unset, `make run` trains on a small synthetic corpus.
TRAIN     ?=
TEST      ?=
RUN_ARGS  ?= --epochs 2 --cpu-workers $(shell nproc)

.PHONY: all trainer test lint bench bench-prep bench-train bench-matrix fuzz run deps ptx ptx-check ptxas-check cuda kernel-test gpu-traffic gpu-check gpu-check-test mpi mpi-test docker clean

all: trainer

trainer:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/trainer ./cmd/trainer

# deps installs what a fresh Debian/Ubuntu machine lacks for the CPU build.
deps:
	./scripts/install-deps.sh

test:
	$(GO) vet ./...
	$(GO) test ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

run: deps trainer
	./scripts/run.sh "$(TRAIN)" "$(TEST)" $(RUN_ARGS)

# ptx compiles every kernels/*.cu once per architecture into
# kernels/NAME.compute_ARCH.ptx (nvcc -ptx takes one architecture per run).
# The output is deterministic for a given nvcc, so CI regenerates it and
# fails on a difference (scripts/ptx-check.sh).
ptx:
	@command -v $(NVCC) >/dev/null || { echo "make ptx: nvcc not found (install nvidia-cuda-toolkit from Debian contrib/non-free)"; exit 1; }
	@rm -f kernels/*.ptx
	@for cu in $(KERNELS); do \
		for a in $(PTX_ARCHS); do \
			out=$${cu%.cu}.compute_$$a.ptx; \
			$(NVCC) $(NVCCFLAGS) -arch=compute_$$a -o $$out.tmp $$cu || { rm -f $$out.tmp; exit 1; }; \
			mv $$out.tmp $$out; echo "$$cu -> $$out"; \
		done; \
	done

ptx-check:
	./scripts/ptx-check.sh

cuda:
	@test -f /usr/include/cuda.h || { echo "make cuda: cuda.h not found (install nvidia-cuda-dev from Debian contrib/non-free)"; exit 1; }
	$(GO) build -tags cuda -ldflags '$(LDFLAGS)' -o $(BIN)/trainer-cuda ./cmd/trainer

# kernel-test runs the kernels on the host emulator (g++ only, no GPU). The
# hash of the kernel and emulator sources goes into CGO_CXXFLAGS because the
# go build cache does not track C++ files included from outside the package.
KERNEL_SRC_HASH = $(shell cat kernels/*.cu kernels/*.cuh cuda/emu/*.h cuda/emu/*.cc | sha256sum | cut -c1-16)
# -tags emu also registers the emulated device as --device cuda:N and runs
# the tests of that path.
kernel-test:
	CGO_CXXFLAGS="-O2 -g -DKERNEL_SRC_HASH=$(KERNEL_SRC_HASH)" $(GO) test -tags emu -v -count=1 -timeout 60m ./cuda/emu/...
	$(GO) test -tags emu -count=1 -run 'TestAssembleCUDAIsResident' ./train

# gpu-traffic prints, one JSON object a line, what one warmed-up training
# step of the default model costs on the GPU in launches, host<->device
# bytes and host waits, for each precision at T=64 and T=256 (batch 128),
# measured on the emulated device (kernels counted, not run).
gpu-traffic:
	CGO_CXXFLAGS="-O2 -g -DKERNEL_SRC_HASH=$(KERNEL_SRC_HASH)" $(GO) run -tags emu ./cuda/emu/cmd/gputraffic

# ptxas-check assembles every committed PTX module for sm_80 and sm_90 and
# fails on any register spill; it rewrites docs/kernels.md, the table of
# registers and shared memory per kernel.
ptxas-check:
	./scripts/ptxas-check.sh

# gpu-check builds, here, dist/gpu-check: everything one run on a GPU
# machine needs (it has no Go): OUT=DIR dist/gpu-check/run.sh BUDGET_S. See
# docs/gpu.md. gpu-check-test runs the bundle without a GPU (no device, and
# a fake one) and checks what it writes.
gpu-check:
	./scripts/gpu-check.sh

# docker builds both targets of Dockerfile.cuda (cpu, cuda) with podman and
# smoke-tests them (scripts/docker-ci.sh); root or sudo, no Docker engine.
docker:
	./scripts/docker-ci.sh

gpu-check-test: gpu-check
	./scripts/gpu-check-test.sh

mpi:
	$(GO) build -tags mpi -ldflags '$(LDFLAGS)' -o $(BIN)/trainer-mpi ./cmd/trainer

mpi-test:
	./scripts/mpi-test.sh

# Side-by-side benchmarks against the reference peers (../shared/peers).
bench-prep: trainer
	./scripts/bench-prep.sh

bench-train: trainer
	./scripts/bench-train.sh

bench-matrix: mpi
	./scripts/bench-matrix.sh

FUZZTIME ?= 20s
fuzz:
	for f in FuzzFastTextReader FuzzCSVReader FuzzTokenizer; do \
		$(GO) test ./data -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	done
	$(GO) test ./model -run '^$$' -fuzz '^FuzzLoadModel$$' -fuzztime $(FUZZTIME)
	$(GO) test ./train -run '^$$' -fuzz '^FuzzLoadCheckpoint$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/durable -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf $(BIN) dist
