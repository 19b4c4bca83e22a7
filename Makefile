# Porchlight — plain `go` commands behind a few names. `make help` lists them.
SHELL := /bin/bash
BIN := bin
GO ?= go
CMDS := porchlightd porchlight-hub porchlight porchlight-camsim
# How long a fuzz target runs in `make fuzz`.
FUZZTIME ?= 20s

.PHONY: help setup web build run test lint fuzz bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

setup: ## install what is missing (apt packages, pinned Go tools)
	@scripts/setup

# npm writes node_modules/.package-lock.json on install: missing, or older
# than package-lock.json, means `npm ci` must run (never downloads a browser).
web: ## build the browser app into web/dist (embedded by porchlightd)
	@cd web && { [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]] || \
	  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; } && node build.mjs

build: web ## build the web app, then every binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

run: setup build ## start porchlightd (SQLite + local dir), a hub and a simulated camera
	@scripts/run

test: setup build lint ## install what is missing, then run every test
	cd web && npm test
	$(GO) test -count=1 -timeout 20m ./...

lint: ## gofmt, go vet, staticcheck, tsc
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	.tools/bin/staticcheck ./...
	cd web && node_modules/.bin/tsc --noEmit -p .

fuzz: ## run each fuzz target for FUZZTIME
	@scripts/fuzz $(FUZZTIME)

bench: setup build ## run the benchmarks (bench/record and bench/live print tables)
	@bench/record/run
	@bench/live/run

clean: ## remove build output and the `make run` state
	rm -rf $(BIN) .run
