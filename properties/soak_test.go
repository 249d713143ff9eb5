package properties

import (
	"os"
	"strconv"
	"testing"
	"time"

	"hasim/harness"
)

// TestSoak runs HASIM_SOAK_SEEDS seeds of every scenario under generated
// faults (make soak). Every violation is reported with its replay command;
// every tenth seed is re-run to prove the trace is the same.
func TestSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HASIM_SOAK_SEEDS"))
	if n <= 0 {
		t.Skip("set HASIM_SOAK_SEEDS (make soak)")
	}
	failures := 0
	var sim, wall time.Duration
	for seed := uint64(1); seed <= uint64(n); seed++ {
		c := DeterminismCase{Scenario: "counter", Seed: seed, Duration: 2 * time.Minute}
		if seed%2 == 0 {
			c.Scenario = "store"
		}
		res, err := RunKept(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		sim += res.SimTime
		wall += res.Wall
		for _, v := range res.Verdicts {
			if v.Status == harness.Violated {
				failures++
				t.Errorf("%s: %s violated: %s\n  replay: go run ./cmd/hasim run --scenario %s --seed %d --duration %s",
					c, v.Check, v.Detail, c.Scenario, c.Seed, c.Duration)
			}
		}
		if seed%10 == 0 {
			again, err := RunKept(c)
			if err != nil {
				t.Fatal(err)
			}
			if d := Divergence(res.Trace, again.Trace); d != "" {
				t.Errorf("%s: nondeterminism: %s", c, d)
			}
		}
	}
	t.Logf("%d seeds, %d failures, %.0f simulated hours at %.0fx real time", n, failures, sim.Hours(), sim.Seconds()/wall.Seconds())
}
