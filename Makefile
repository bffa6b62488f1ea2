# Toolgate. `make run` starts a server on ./toolgate-data; `make test` installs what the tests need and runs the
# whole suite; `make bench` measures and writes docs/BENCHMARKS.md.
GO      ?= go
BIN     := bin/toolgate
ADDR    ?= 127.0.0.1:8080
DATA    ?= ./toolgate-data

.PHONY: all build run test test-short vet plugins fixtures check-fixtures toolchains bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/toolgate

run: build
	./$(BIN) serve --addr $(ADDR) --data $(DATA)

# What the tests and plugins need beyond Go (Debian: wabt, binaryen, clang, rustc; npm: AssemblyScript, Zig);
# a no-op when present.
toolchains:
	bash scripts/install-toolchains.sh

# Example and conformance tools built from source in every kit language (into plugins/build/, not committed).
plugins:
	bash plugins/build.sh

# Regenerate the committed WAT fixtures' .wasm from their .wat sources.
fixtures: toolchains
	bash plugins/wat/gen.sh

vet:
	$(GO) vet ./...

test: toolchains plugins vet
	$(GO) test -count=1 -timeout 15m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Short runs of every fuzz target, from the checked-in corpora.
fuzz:
	bash scripts/fuzz.sh 20s

bench: toolchains plugins
	bash bench/run.sh

clean:
	rm -rf bin plugins/build
