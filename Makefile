# Postdesk — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/postdesk
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PKGS := ./...

.PHONY: run build test bench lint services deps fuzz clean web-deps

## run: install what is missing, build, migrate, start every role and print the URL and a login.
run: services deps build
	$(BIN) migrate
	$(BIN) serve

build: web-deps
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/postdesk

## deps: Go modules (and, where the UI needs them, npm packages).
deps:
	$(GO) mod download

## services: start local Postgres and Redis when they are not running.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && exit 0; sleep 1; done; echo "Postgres or Redis did not start" >&2; exit 1

## test: every test against the real Postgres and Redis.
test: services deps web-deps
	$(GO) test -count=1 -timeout 20m $(PKGS)

## bench: the benchmarks reported in the issue notes. The ingest benchmarks run a
## fixed number of mails: a rate and a p99 need thousands of them, and the paced
## one offers 300 mails/s for 30 seconds (sustained, not a burst).
BENCH_PKGS := ./cmd/... ./messengers/... ./templates/... ./tickets/... ./web/...
bench: services deps web-deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(BENCH_PKGS)
	$(GO) test -run '^$$' -bench 'IMAPPoll|Receive25MB' -benchmem ./mail/
	$(GO) test -run '^$$' -bench 'Ingest5KB$$|Ingest5KBRoundRobin' -benchtime=3000x ./mail/
	$(GO) test -run '^$$' -bench 'Ingest200KB' -benchtime=2000x ./mail/
	$(GO) test -run '^$$' -bench 'ScheduledSend' ./tasks/
	$(GO) test -run '^$$' -bench 'ThroughQueue$$' -benchtime=3000x ./tasks/
	$(GO) test -run '^$$' -bench 'ThroughQueueAt300' -benchtime=9000x ./tasks/

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## web-deps: the UI's npm libraries (package-lock.json), copied to web/static/vendor/ where
## go:embed picks them up. The copies are not committed.
VENDOR := web/static/vendor
web-deps: $(VENDOR)/htmx.min.js $(VENDOR)/Sortable.min.js

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund

$(VENDOR)/htmx.min.js: node_modules/.package-lock.json
	cp node_modules/htmx.org/dist/htmx.min.js $@

$(VENDOR)/Sortable.min.js: node_modules/.package-lock.json
	cp node_modules/sortablejs/Sortable.min.js $@

clean:
	rm -rf bin node_modules $(VENDOR)/*.js
