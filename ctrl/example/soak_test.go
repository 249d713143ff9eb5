package example

import (
	"os"
	"testing"

	"hasim/checkers/judge/scenarios"
	"hasim/ctrl"
)

// TestBuggyOperator is the operator with the bug $FLEET_BUG planted
// ("stale-list", "record-after-create" or "blind-status") under ctrl.Check,
// for soaks of this test binary: it runs only under hasim.
//
//	go test -c -o /tmp/example.test ./example
//	FLEET_BUG=record-after-create hasim soak --out soak --seeds 200 --exec /tmp/example.test -- -test.run '^TestBuggyOperator$'
func TestBuggyOperator(t *testing.T) {
	if os.Getenv(scenarios.WorkerEnv) == "" && os.Getenv(scenarios.ReproEnv) == "" {
		t.Skip("a soak subject: it runs under hasim soak --exec and hasim repro")
	}
	var b Bugs
	switch bug := os.Getenv("FLEET_BUG"); bug {
	case "stale-list":
		b.StaleList = true
	case "record-after-create":
		b.RecordAfterCreate = true
	case "blind-status":
		b.BlindStatus = true
	default:
		t.Fatalf("FLEET_BUG=%q: want stale-list, record-after-create or blind-status", bug)
	}
	ctrl.Check(t, Setup(b))
}
