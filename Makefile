# Targets: build test race lint fuzz bench. Tools are pinned here and fetched
# with "go run", so nothing needs installing beyond Go.
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME      ?= 15s
BENCHTIME     ?= 1s

.PHONY: build test race lint fuzz bench

build:
	go build ./...

# test installs what the tests need when missing (see scripts/test.sh).
test:
	./scripts/test.sh

race:
	go test -race ./...

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	go mod tidy -diff
	go vet ./...
	go run $(STATICCHECK) ./...
	go run $(GOLANGCI_LINT) run ./...

# fuzz runs every Fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench:
	go test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
