# hasim: make test runs everything CI runs; the rest are for people.
GO       ?= go
PKGS     := ./...
FUZZTIME ?= 30s
SOAK_SEEDS ?= 5000

.PHONY: test lint vet fmt-check detlint unit race ctrl-test bench detect fuzz soak demo

## test: lint, unit and property tests, and the determinism check under -race
test: lint unit race

## lint: gofmt, go vet and the determinism analyzer over model/ and harness/
lint: fmt-check vet detlint

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

detlint:
	$(GO) run ./cmd/hasim-lint ./model/... ./harness/... ./checkers/judge/...

# Explicit time-outs: go test's default of 10 minutes per package is not a
# budget; make test must end within 10 minutes on a loaded 2-core machine.
unit:
	$(GO) test -count=1 -timeout 8m $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 5m -run 'TestDeterminismShort' ./properties/

## ctrl-test: the controller-runtime module (ctrl/, its own go.mod, so that
## the core's tests never build the k8s libraries): vet, detlint, its tests,
## and its determinism test under -race. .ci/run runs it after make test.
ctrl-test:
	cd ctrl && $(GO) vet ./... && $(GO) run hasim/cmd/hasim-lint ./... && \
		$(GO) test -count=1 -timeout 8m ./... && \
		$(GO) test -race -count=1 -timeout 5m -run 'Determin' ./...

## bench: kernel events/s, and simulated seconds per wall second of the demo cluster
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./harness/ ./model/... ./checkers/judge/

## detect: for each bug switch, the seeds and seconds hasim soak takes to
## find it (a benchmark of detection power; takes tens of minutes)
detect:
	$(GO) test -run '^$$' -bench SoakFindsBugs -benchtime 1x -timeout 0 ./cmd/hasim/

## fuzz: each fuzz target for FUZZTIME (go test fuzzes one target at a time)
FUZZ_TARGETS := ./harness:FuzzParseSchedule ./model/store:FuzzUnmarshalMVCC \
	./properties:FuzzStoreLinearizable ./properties:FuzzAckedWritesDurable \
	./properties:FuzzStoreRecoversAfterHeal ./properties:FuzzRaftSafety \
	./properties:FuzzSingleActiveController \
	./properties:FuzzClusterSingleActive ./properties:FuzzWorkloadsSurviveMasterLoss \
	./properties:FuzzControlPlaneRecovers ./properties:FuzzQuorumReadsNoTimeTravel
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s $$pkg; \
	done

## soak: the properties with SOAK_CHECKS cases each, then SOAK_SEEDS generated
## runs with determinism re-checks
SOAK_CHECKS ?= 10000
soak:
	$(GO) test -count=1 -timeout 0 -run '^Test(StoreLinearizable|AckedWritesDurable|StoreRecoversAfterHeal|RaftSafety|SingleActiveController|ClusterSingleActive|WorkloadsSurviveMasterLoss|ControlPlaneRecovers|QuorumReadsNoTimeTravel)$$' -rapid.checks=$(SOAK_CHECKS) -v ./properties/
	HASIM_SOAK_SEEDS=$(SOAK_SEEDS) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./properties/

## demo: one simulation of the default scenario, with its summary
demo:
	$(GO) run ./cmd/hasim run --seed 1
