# microhost — build, run, test.
#
#   make build   bin/microhost and every .wasm module under bin/plugins
#   make run     build, then serve the greeter on the embedded registry
#   make test    install what the tests need (once), then the whole suite with -race
#   make bench   the benchmarks
#   make lint    gofmt and go vet

GO      ?= go
BIN     := bin
PLUGINS := $(BIN)/plugins
WASMENV := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0
WASMGO  := $(WASMENV) $(GO) build -trimpath -buildmode=c-shared

# Go guest modules: every package under handlers/ written in Go, plus the Go plugins.
GO_HANDLERS := $(patsubst handlers/%/,%,$(dir $(wildcard handlers/*/main.go)))

.PHONY: all build microhost wasm wasm-go run test deps bench lint clean

all: build

build: microhost wasm

microhost:
	$(GO) build -o $(BIN)/microhost ./cmd/microhost

wasm: wasm-go

wasm-go:
	@mkdir -p $(PLUGINS)
	@for h in $(GO_HANDLERS); do \
		echo "wasm  $(PLUGINS)/$$h.wasm"; \
		$(WASMGO) -o $(PLUGINS)/$$h.wasm ./handlers/$$h || exit 1; \
	done

run: build
	$(BIN)/microhost run examples/greeter/config.toml

# deps installs the toolchains the tests use on a fresh machine; each step skips itself when
# its tool is already there.
deps:
	@scripts/deps.sh

test: deps
	$(GO) test -race -count=1 -timeout 30m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./abi/... ./handlers/...

clean:
	rm -rf $(BIN)
