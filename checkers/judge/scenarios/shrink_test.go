package scenarios

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/counter"
)

// A failing schedule buried in noise shrinks to the faults that matter,
// each as short as still fails.
func TestShrinkFindsTheFaultsThatMatter(t *testing.T) {
	build := func() (Scenario, error) {
		return New("counter", Options{Bugs: model.MustBugs(counter.BugLazyFsync)})
	}
	var text strings.Builder
	for i := range 20 {
		at := time.Duration(i+1) * 1500 * time.Millisecond
		switch {
		case i == 7:
			text.WriteString("at " + (11900 * time.Millisecond).String() + " crash n1 for 3s\n")
		case i%2 == 0:
			text.WriteString("at " + at.String() + " clock n2 jump +1s\n")
		default:
			text.WriteString("at " + at.String() + " net delay 1ms between {n2} | {n3} for 1s\n")
		}
	}
	sched, err := harness.ParseSchedule(text.String())
	if err != nil {
		t.Fatal(err)
	}
	d := 40 * time.Second
	sc, _ := build()
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, 1, sched)
	if err != nil || !res.Failed() {
		t.Fatalf("the noisy schedule does not fail: %v %+v", err, res.Verdicts)
	}
	small, runs, err := Shrink(build, 1, d, sched, []harness.CheckName{"acked-durable"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(small) != 1 || !strings.Contains(small.String(), "crash n1") || small[0].For >= 3*time.Second {
		t.Fatalf("shrunk in %d runs to:\n%s", runs, small)
	}
	if runs > 80 {
		t.Fatalf("%d runs to shrink 20 entries", runs)
	}
}

// A budget of runs ends the shrink with the smallest schedule found so far.
func TestShrinkStopsAtItsBudget(t *testing.T) {
	build := func() (Scenario, error) {
		return New("counter", Options{Bugs: model.MustBugs(counter.BugLazyFsync)})
	}
	sched, _ := harness.ParseSchedule("at 1s clock n2 jump +1s\nat 2s clock n2 jump +1s\nat 11.9s crash n1 for 3s\nat 20s clock n2 jump +1s\n")
	small, runs, err := Shrink(build, 1, 40*time.Second, sched, []harness.CheckName{"acked-durable"}, 3)
	if err != nil || runs != 3 || len(small) > len(sched) {
		t.Fatalf("runs %d, err %v, shrunk to:\n%s", runs, err, small)
	}
	// Whatever it kept still fails.
	sc, _ := build()
	if res, _ := harness.Run(harness.Config{Scenario: sc, Duration: 40 * time.Second}, 1, small); !res.Failed() {
		t.Fatalf("the budget-cut schedule no longer fails:\n%s", small)
	}
}
