package properties

import (
	"runtime"
	"testing"
	"time"

	"hasim/model/counter"
	"hasim/model/kube"
	"hasim/model/store"
)

// determinismCases alternates the scenarios: the counter demo, the raft
// store (real raft, whose election timeouts come from crypto/rand) and
// leader election on skewed clocks, some with bugs on so that failure
// paths are covered too.
func determinismCases(n int) []DeterminismCase {
	var out []DeterminismCase
	for seed := uint64(1); seed <= uint64(n); seed++ {
		c := DeterminismCase{Scenario: "counter", Seed: seed, Duration: 40 * time.Second}
		if seed%5 == 0 {
			c.Scenario, c.Duration = "election", time.Minute
		} else if seed%2 == 0 {
			c.Scenario = "store"
			if seed%6 == 0 {
				c.Bugs = []string{store.BugNoFsync}
			}
		} else if seed%3 == 0 {
			c.Bugs = []string{counter.BugLazyFsync}
		}
		out = append(out, c)
	}
	return out
}

func checkTwice(t *testing.T, c DeterminismCase) {
	t.Helper()
	a, err := RunKept(c)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	b, err := RunKept(c)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	if d := Divergence(a.Trace, b.Trace); d != "" {
		t.Fatalf("%s: nondeterminism: %s", c, d)
	}
	if a.TraceHash != b.TraceHash || a.Events != b.Events {
		t.Fatalf("%s: same trace but hash %s/%s events %d/%d", c, a.TraceHash, b.TraceHash, a.Events, b.Events)
	}
	if a.Events < 1000 {
		t.Fatalf("%s: only %d events; the case exercises too little", c, a.Events)
	}
}

// TestDeterminism runs 60 seeds of the counter and store models under
// generated faults twice each and compares the traces byte for byte.
func TestDeterminism(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range determinismCases(60) {
		checkTwice(t, c)
		r, _ := RunKept(c)
		seen[r.TraceHash] = true
	}
	if len(seen) != 60 {
		t.Fatalf("60 seeds gave only %d distinct traces: the seed does not drive the run", len(seen))
	}
}

// TestDeterminismAcrossGOMAXPROCS runs seeds with GOMAXPROCS 1 and 2.
func TestDeterminismAcrossGOMAXPROCS(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	for _, c := range determinismCases(12) {
		runtime.GOMAXPROCS(1)
		a, err := RunKept(c)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GOMAXPROCS(2)
		b, err := RunKept(c)
		if err != nil {
			t.Fatal(err)
		}
		if d := Divergence(a.Trace, b.Trace); d != "" {
			t.Fatalf("%s: GOMAXPROCS 1 vs 2: %s", c, d)
		}
	}
}

// TestDeterminismShort is the case make test also runs under -race.
func TestDeterminismShort(t *testing.T) {
	for _, c := range determinismCases(3) {
		checkTwice(t, c)
	}
}

// TestDeterminismCluster runs 10 seeds of the cluster (3 simulated
// minutes under generated faults, every fifth seed with a bug on) twice
// each, the second time with another GOMAXPROCS, and compares the traces
// byte for byte.
func TestDeterminismCluster(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 10; seed++ {
		c := DeterminismCase{Scenario: "cluster", Seed: seed, Duration: 3 * time.Minute}
		if seed%5 == 0 {
			c.Bugs = []string{kube.BugActBeforeSync}
		}
		runtime.GOMAXPROCS(1)
		a, err := RunKept(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		runtime.GOMAXPROCS(2)
		b, err := RunKept(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if d := Divergence(a.Trace, b.Trace); d != "" {
			t.Fatalf("%s: nondeterminism: %s", c, d)
		}
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Fatalf("%s: same trace but hash %s/%s events %d/%d", c, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
		seen[a.TraceHash] = true
	}
	if len(seen) != 10 {
		t.Fatalf("10 cluster seeds gave only %d distinct traces", len(seen))
	}
}
