package properties

import (
	"bytes"
	"fmt"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model"
)

// DeterminismCase is one run to be repeated.
type DeterminismCase struct {
	Scenario string
	Bugs     []string
	Seed     uint64
	Duration time.Duration
}

func (c DeterminismCase) String() string {
	return fmt.Sprintf("scenario=%s seed=%d duration=%s bugs=%v", c.Scenario, c.Seed, c.Duration, c.Bugs)
}

// RunKept runs a case with a generated schedule and returns its whole trace.
func RunKept(c DeterminismCase) (harness.Result, error) {
	bugs, err := model.ParseBugs(c.Bugs)
	if err != nil {
		return harness.Result{}, err
	}
	sc, err := scenarios.New(c.Scenario, scenarios.Options{Bugs: bugs})
	if err != nil {
		return harness.Result{}, err
	}
	sched := harness.GenerateSchedule(harness.NewRand(c.Seed, "faults"), sc.GenOptions(c.Duration))
	return harness.Run(harness.Config{Scenario: sc, Duration: c.Duration, Trace: harness.TraceOptions{Keep: true}}, c.Seed, sched)
}

// Divergence describes where two traces of one case first differ, or "" if
// they are identical.
func Divergence(a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("traces diverge at line %d:\n  first:  %s\n  second: %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("one trace is a prefix of the other (%d vs %d lines)", len(la), len(lb))
}
