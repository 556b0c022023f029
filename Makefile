# microhost — build, run, test.
#
#   make build   bin/microhost and every .wasm module under bin/plugins
#   make run     build what the greeter needs, then serve it on the embedded registry
#   make test    install what the tests need (once), then the whole suite with -race (and the
#                memory test that the race detector's own memory would blind, without it)
#   make test-short  the quick local loop: -short (no Consul agent, no browser, fewer swaps), no -race
#   make bench   the benchmarks
#   make lint    gofmt and go vet

GO      ?= go
BIN     := bin
PLUGINS := $(BIN)/plugins
WASMENV := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0
WASMGO  := $(WASMENV) $(GO) build -trimpath -buildmode=c-shared

# Go guest modules: every package under handlers/ written in Go, plus the Go plugins.
GO_HANDLERS := $(patsubst handlers/%/,%,$(dir $(wildcard handlers/*/main.go)))

.PHONY: all build microhost wasm wasm-go wasm-c wasm-as wasm-wat wasm-rust wasm-rust-plugins wasm-plugins generate run test test-warm test-handlers test-memory test-interop test-short deps bench lint clean

all: build

build: microhost wasm

# The stock plugins: every plugins/<name>/wasm package.
STOCK_PLUGINS := $(sort $(notdir $(patsubst %/wasm/,%,$(dir $(wildcard plugins/*/wasm/*.go)))))

# STOCK_DIGESTS lists "name=sha256" of each stock plugin build in $(PLUGINS); bin/microhost
# is linked with it, so that mode auto recognises the stock files by content and runs their
# native twins (a different file of the same name runs as Wasm). Expanded when the recipe
# runs, after wasm-plugins has built the files.
STOCK_DIGESTS = $(shell for p in $(STOCK_PLUGINS); do f=$(PLUGINS)/$$p.wasm; [ -f $$f ] && printf '%s=%s,' $$p $$(sha256sum $$f | cut -c1-64); done)

# bin/microhost is linked statically (CGO_ENABLED=0: Go's own DNS resolver and user lookup):
# without the dynamic loader, a start-up is a few milliseconds shorter.
microhost: wasm-plugins
	@echo "go    $(BIN)/microhost (with the digests of the stock plugins in $(PLUGINS))"
	@CGO_ENABLED=0 $(GO) build -ldflags "-X main.stockDigests=$(STOCK_DIGESTS)" -o $(BIN)/microhost ./cmd/microhost

wasm: wasm-go wasm-c wasm-as wasm-wat wasm-rust wasm-plugins

wasm-go:
	@mkdir -p $(PLUGINS)
	@for h in $(GO_HANDLERS); do \
		echo "wasm  $(PLUGINS)/$$h.wasm"; \
		$(WASMGO) -o $(PLUGINS)/$$h.wasm ./handlers/$$h || exit 1; \
	done

# The greeter in C, AssemblyScript, WAT and Rust, each built by the Makefile `microhost new`
# wrote for it; `make deps` installs their toolchains. Without a language's tools, its
# greeter is skipped with a line saying what is missing (a failure when CI is set), so that
# `make build` builds what it can on a machine with Go alone.
TOOLS_c    := clang wasm-ld
TOOLS_as   := node npm
TOOLS_wat  := wat2wasm
TOOLS_rust :=
# have-tools LANG, in a recipe: exits 0 after a "skip" line when a tool of LANG is missing.
have-tools = missing=; for t in $(TOOLS_$(1)); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ "$(1)" = rust ] && ! abi/rust/find-rustc.sh >/dev/null 2>&1; then missing="$$missing rustc-with-wasm32-target"; fi; \
	if [ -n "$$missing" ]; then \
		echo "skip  $(2): missing$$missing (run \`make deps\`)"; \
		if [ -n "$$CI" ]; then exit 1; fi; exit 0; \
	fi
wasm-c wasm-as wasm-wat wasm-rust: wasm-%:
	@mkdir -p $(PLUGINS)
	@$(call have-tools,$*,$(PLUGINS)/greeter-$*.wasm); \
	echo "wasm  $(PLUGINS)/greeter-$*.wasm"; \
	$(MAKE) -s -C handlers/greeter-$* WASM=$(abspath $(PLUGINS))/greeter-$*.wasm

# Plugins in Rust: every plugins/<name>/src/lib.rs becomes bin/plugins/<name>.wasm, built with
# plain rustc against the Rust SDK as guestbuild.Rust does (abi/rust/find-rustc.sh picks a
# rustc that has the wasm32 target). wasm-rust builds them after the Rust greeter.
RUST_PLUGINS := $(patsubst plugins/%/src/lib.rs,%,$(wildcard plugins/*/src/lib.rs))
RUST_FLAGS   := --edition 2021 --target wasm32-unknown-unknown -C opt-level=3 -C lto -C strip=symbols -C target-feature=+bulk-memory
wasm-rust: wasm-rust-plugins
wasm-rust-plugins:
	@mkdir -p $(PLUGINS) $(BIN)/rust-sdk
	@$(call have-tools,rust,the Rust plugins ($(RUST_PLUGINS))); \
	rustc=$$(abi/rust/find-rustc.sh) || exit 1; \
	$$rustc $(RUST_FLAGS) --crate-type rlib --crate-name microhost -o $(BIN)/rust-sdk/libmicrohost.rlib abi/rust/src/lib.rs || exit 1; \
	for p in $(RUST_PLUGINS); do \
		echo "wasm  $(PLUGINS)/$$p.wasm"; \
		$$rustc $(RUST_FLAGS) --crate-type cdylib --crate-name $$(echo $$p | tr - _) \
			--extern microhost=$(BIN)/rust-sdk/libmicrohost.rlib -o $(PLUGINS)/$$p.wasm plugins/$$p/src/lib.rs || exit 1; \
	done

# Stock plugins: every plugins/<name>/wasm package becomes bin/plugins/<name>.wasm — the
# codecs, the transport, the selector, the broker and the registries.
wasm-plugins:
	@mkdir -p $(PLUGINS)
	@for p in $(STOCK_PLUGINS); do \
		echo "wasm  $(PLUGINS)/$$p.wasm"; \
		$(WASMGO) -o $(PLUGINS)/$$p.wasm ./plugins/$$p/wasm || exit 1; \
	done

# generate rebuilds the committed protobuf Go code; `make deps` installs protoc. The plugins
# are built here: protoc-gen-go at the version go.mod requires, and protoc-gen-microhost
# (the greeter's messages, handler and client, with no protobuf runtime; the handler, client
# and JSON code of rpccaller's stream test module and of abi/rpc's test messages; and
# testdata/wire twice, with protoc-gen-go's messages and with its own) from this tree.
# interop/greeterpb holds protoc-gen-go's messages of the greeter, which Go Micro needs.
WIRE := github.com/microhost/microhost/abi/rpc/testdata/wire
PROTOC := protoc --plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-microhost=$(BIN)/protoc-gen-microhost
generate:
	$(GO) build -o $(BIN)/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	$(GO) build -o $(BIN)/protoc-gen-microhost ./cmd/protoc-gen-microhost
	$(PROTOC) --proto_path=abi/proto --go_out=abi/proto/abipb --go_opt=paths=source_relative abi/proto/microhost.proto
	$(PROTOC) --proto_path=abi/proto --go_out=abi/proto/abipb --go_opt=paths=source_relative abi/proto/broker.proto
	$(PROTOC) --proto_path=abi/proto --go_out=abi/proto/abipb --go_opt=paths=source_relative abi/proto/registry.proto
	$(PROTOC) --proto_path=abi/proto --go_out=abi/proto/abipb --go_opt=paths=source_relative abi/proto/transport.proto
	$(PROTOC) --proto_path=handlers/greeter \
		--microhost_out=handlers/greeter/greeterpb --microhost_opt=paths=source_relative,messages=microhost handlers/greeter/greeter.proto
	$(PROTOC) --proto_path=handlers/greeter --go_out=interop/greeterpb \
		--go_opt=Mgreeter.proto=github.com/microhost/microhost/interop/greeterpb,paths=source_relative handlers/greeter/greeter.proto
	$(PROTOC) --proto_path=host/client/rpccaller/testdata/tally --go_out=host/client/rpccaller/testdata/tally/tallypb --go_opt=paths=source_relative \
		--microhost_out=host/client/rpccaller/testdata/tally/tallypb --microhost_opt=paths=source_relative host/client/rpccaller/testdata/tally/tally.proto
	$(PROTOC) --proto_path=abi/rpc/testdata/kinds --go_out=abi/rpc/testdata/kinds/kindspb --go_opt=paths=source_relative \
		--microhost_out=abi/rpc/testdata/kinds/kindspb --microhost_opt=paths=source_relative abi/rpc/testdata/kinds/kinds.proto
	$(PROTOC) --proto_path=abi/rpc/testdata/wire --go_out=abi/rpc/testdata/wire/gopb --go_opt=Mwire.proto=$(WIRE)/gopb,paths=source_relative \
		--microhost_out=abi/rpc/testdata/wire/gopb --microhost_opt=Mwire.proto=$(WIRE)/gopb,paths=source_relative wire.proto
	$(PROTOC) --proto_path=abi/rpc/testdata/wire \
		--microhost_out=abi/rpc/testdata/wire/ownpb --microhost_opt=Mwire.proto=$(WIRE)/ownpb,paths=source_relative,messages=microhost wire.proto

# run needs only Go: the Go handlers and the stock plugins, not the C/AssemblyScript/WAT/Rust
# greeters (whose toolchains `make deps` installs).
run: microhost wasm-go wasm-plugins
	$(BIN)/microhost run examples/greeter/config.toml

# deps installs the toolchains the tests use on a fresh machine; each step skips itself when
# its tool is already there.
deps:
	@scripts/deps.sh

# The suite runs one test binary more than there are cores: under the race detector the suite
# is CPU-bound, except while tests wait on clocks they do not own (Consul's reaper, TTLs,
# watches), and a third binary fills those waits. Then handlers/conformance (see TEST_PKGS),
# the memory test (without -race) and the interop tests, side by side, each one's output kept
# together.
TEST_P := $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1 )))

# test-warm first builds the Go guest modules and compiles them into the compilation cache
# without the race detector, which slows wazero's compiler sixfold: after a change to the SDK
# or a stock plugin, the suite then starts with warm caches (it only checks them otherwise).
# It needs only Go, so it runs beside deps, which mostly waits on downloads and dpkg.
# Every go test here leaves vet to `make lint`, which runs every analyzer (over the interop
# module too) where go test runs a few, and on a fresh machine spent a minute of CPU on them.
# The suite keeps its test binaries, where go test links one again only when what it is
# built from changed: linking some forty race-instrumented binaries cost about 50 CPU-seconds
# of every run (testwarm, the memory and the interop tests keep theirs there too, each in a
# folder of its own). They are kept in the user's cache folder, one folder per checkout (a binary
# built from another checkout's sources is linked again anyway), and a folder no run has used
# for five days is removed. go test names them after their packages, so the one package whose
# name another shares, handlers/conformance, runs in a go test of its own, beside the memory
# and interop tests; the suite takes the packages that have tests (`make lint`'s vet compiles
# the others).
TEST_BIN_ROOT := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/microhost/test-bin
TEST_BIN := $(TEST_BIN_ROOT)/$(shell printf '%s' "$(CURDIR)" | sha256sum | cut -c1-16)
TEST_PKGS = $(shell $(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | grep -v '/handlers/conformance$$')
test:
	@$(MAKE) --no-print-directory -j2 deps test-warm
	@mkdir -p $(TEST_BIN) && touch $(TEST_BIN) && find $(TEST_BIN_ROOT) -mindepth 1 -maxdepth 1 -type d -mtime +5 -exec rm -rf {} +
	@echo "$(GO) test -race -count=1 -vet=off -timeout 50m -p $(TEST_P) -o $(TEST_BIN)/ <every package with tests but handlers/conformance>"
	@$(GO) test -race -count=1 -vet=off -timeout 50m -p $(TEST_P) -o $(TEST_BIN)/ $(TEST_PKGS)
	@$(MAKE) --no-print-directory -j3 -Otarget test-handlers test-memory test-interop

test-handlers:
	$(GO) test -race -count=1 -vet=off -timeout 50m -o $(TEST_BIN)/handlers/ ./handlers/conformance

test-warm:
	MICROHOST_TESTWARM=1 $(GO) test -count=1 -vet=off -o $(TEST_BIN)/warm/ -run '^TestWarm$$' -v ./internal/testwarm

test-memory:
	$(GO) test -count=1 -vet=off -o $(TEST_BIN)/memory/ -run 'TestLiveSwapReleasesOldModules' ./host/service/

test-interop:
	cd interop && $(GO) test -race -count=1 -vet=off -o $(TEST_BIN)/interop/ ./...

# test-short is the loop while you work: it installs nothing, skips what needs a Consul agent
# or a browser (and what would fail for a missing compiler), swaps fewer times, and runs
# without the race detector. `make test` is what CI runs.
test-short:
	$(GO) test -short -count=1 ./...

# bench runs every Go benchmark, then the end-to-end load test: the greeter served by plain
# net/http, by Go Micro v2.9.1 and by microhost four ways, each in its own process and loaded
# by wrk (or the Go generator without it) — req/s, p50, p99, ratios — then start-up time and
# memory, and one-shot CLI commands.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...
	$(GO) run ./internal/loadtest -bin $(BIN)/microhost -plugins $(PLUGINS) -c 32 -d 5s

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./abi/... ./handlers/... ./plugins/...
	cd interop && $(GO) vet ./...

clean:
	rm -rf $(BIN)
