package counter

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
)

func run(t *testing.T, cfg Config, seed uint64, sched harness.Schedule, d time.Duration) harness.Result {
	t.Helper()
	res, err := harness.Run(harness.Config{Scenario: &Scenario{Cfg: cfg}, Duration: d}, seed, sched)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return res
}

func verdict(t *testing.T, res harness.Result, check harness.CheckName) harness.Verdict {
	t.Helper()
	for _, v := range res.Verdicts {
		if v.Check == check {
			return v
		}
	}
	t.Fatalf("no verdict for %s in %v", check, res.Verdicts)
	return harness.Verdict{}
}

func mustParse(t *testing.T, text string) harness.Schedule {
	t.Helper()
	s, err := harness.ParseSchedule(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Without bugs, no generated schedule makes a check fail, and the checks
// decide (ok, not unknown) on every run whose faults end in time.
func TestCounterHoldsUnderGeneratedFaults(t *testing.T) {
	const d = 40 * time.Second
	sc := &Scenario{}
	for seed := uint64(1); seed <= 150; seed++ {
		sched := harness.GenerateSchedule(harness.NewRand(seed, "faults"), sc.GenOptions(d))
		res := run(t, Config{}, seed, sched, d)
		for _, v := range res.Verdicts {
			if v.Status != harness.OK {
				t.Fatalf("seed %d: %s is %s: %s\nschedule:\n%s", seed, v.Check, v.Status, v.Detail, sched)
			}
		}
	}
}

// The planted bug loses acknowledged increments on a crash; the checker
// must say so, and must not say so without the bug.
func TestLazyFsyncIsCaught(t *testing.T) {
	sched := mustParse(t, "at 11.9s crash n1 for 3s\nat 21.9s crash n2 for 3s\n")
	clean := run(t, Config{}, 1, sched, 40*time.Second)
	if v := verdict(t, clean, "acked-durable"); v.Status != harness.OK {
		t.Fatalf("without the bug: %s: %s", v.Status, v.Detail)
	}
	buggy := run(t, Config{Bugs: model.MustBugs(BugLazyFsync)}, 1, sched, 40*time.Second)
	v := verdict(t, buggy, "acked-durable")
	if v.Status != harness.Violated || !strings.Contains(v.Detail, "acknowledged increments lost") {
		t.Fatalf("with %s: %s: %s", BugLazyFsync, v.Status, v.Detail)
	}
}

// A partition that never heals before the end leaves the checks unable to
// judge: they say unknown, never ok.
func TestUnhealedRunIsUnknown(t *testing.T) {
	sched := mustParse(t, "at 10s partition {n1} | {n2 n3}\n")
	res := run(t, Config{}, 1, sched, 30*time.Second)
	for _, v := range res.Verdicts {
		if v.Status != harness.Unknown {
			t.Fatalf("%s is %s (%s); want unknown", v.Check, v.Status, v.Detail)
		}
	}
}

// A composite role-relative entry resolves @busiest once and acts on one host.
func TestBusiestRole(t *testing.T) {
	sched := mustParse(t, "at 10s pause @busiest + isolate @busiest for 5s\n")
	res := run(t, Config{}, 3, sched, 30*time.Second)
	if len(res.Faults) != 1 {
		t.Fatalf("fault log %+v", res.Faults)
	}
	f := res.Faults[0]
	holder := f.Resolved["busiest"]
	if !strings.HasSuffix(holder, "/counter") || len(f.Hosts) != 1 || !strings.HasPrefix(holder, f.Hosts[0]+"/") {
		t.Fatalf("resolved %q, hosts %v", holder, f.Hosts)
	}
	if f.End != 15*time.Second {
		t.Fatalf("undone at %s, want 15s", f.End)
	}
	for _, v := range res.Verdicts {
		if v.Status != harness.OK {
			t.Fatalf("%s: %s: %s", v.Check, v.Status, v.Detail)
		}
	}
}

// BenchmarkCounterCluster measures simulated seconds per wall second for the
// demonstration cluster under generated faults.
func BenchmarkCounterCluster(b *testing.B) {
	const d = 60 * time.Second
	var sim, wall time.Duration
	for i := 0; i < b.N; i++ {
		sc := &Scenario{}
		sched := harness.GenerateSchedule(harness.NewRand(uint64(i), "faults"), sc.GenOptions(d))
		res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, uint64(i), sched)
		if err != nil {
			b.Fatal(err)
		}
		sim += res.SimTime
		wall += res.Wall
	}
	b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim-s/wall-s")
}
