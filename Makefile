# trainer build. `make` builds the CPU binary; CUDA targets need nvcc/cuda.h
# and say so when they are missing.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
NVCC      ?= nvcc
PTX_ARCHS := 80 90
KERNELS   := $(wildcard kernels/*.cu)
PTX       := $(KERNELS:.cu=.ptx)

# Quick start: with TRAIN/TEST unset, `make run` trains on a small synthetic corpus.
TRAIN     ?=
TEST      ?=
RUN_ARGS  ?= --epochs 2 --cpu-workers $(shell nproc)

.PHONY: all trainer test lint bench run deps ptx ptx-check cuda kernel-test gpu-check mpi mpi-test clean

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

run: trainer
	./scripts/run.sh "$(TRAIN)" "$(TEST)" $(RUN_ARGS)

ptx:
	@command -v $(NVCC) >/dev/null || { echo "make ptx: nvcc not found (install nvidia-cuda-toolkit from Debian contrib/non-free)"; exit 1; }
	@for cu in $(KERNELS); do \
		out=$${cu%.cu}.ptx; \
		$(NVCC) -ptx -O3 -std=c++14 $(foreach a,$(PTX_ARCHS),-gencode arch=compute_$(a),code=compute_$(a)) -o $$out.tmp $$cu || exit 1; \
		mv $$out.tmp $$out; echo "$$cu -> $$out"; \
	done

cuda:
	@test -f /usr/include/cuda.h || { echo "make cuda: cuda.h not found (install nvidia-cuda-dev)"; exit 1; }
	$(GO) build -tags cuda -ldflags '$(LDFLAGS)' -o $(BIN)/trainer-cuda ./cmd/trainer

kernel-test:
	$(GO) test -v -count=1 ./cuda/emu/...

gpu-check:
	./scripts/gpu-check.sh

mpi:
	$(GO) build -tags mpi -ldflags '$(LDFLAGS)' -o $(BIN)/trainer-mpi ./cmd/trainer

clean:
	rm -rf $(BIN) dist
