package judge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model/kube"
)

// rsWants is an invariant over the workload ReplicaSet's desired replicas.
func rsWants(name string, max int) Invariant {
	return Invariant{Name: name, Check: func(t *kube.Truth) error {
		if rs, ok := t.Get(kube.ReplicaSets, kube.RSName); ok && rs.Replicas > max {
			return fmt.Errorf("%s wants %d replicas, more than %d", kube.RSName, rs.Replicas, max)
		}
		return nil
	}}
}

func runWithInvariants(t *testing.T, invs ...Invariant) map[harness.CheckName]harness.Verdict {
	t.Helper()
	sc := NewCluster(kube.Config{ScaleEvery: 20 * time.Second})
	sc.Invariants = invs
	sched, err := harness.ParseSchedule("at 30s crash @active-cm for 20s")
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: 3 * time.Minute}, 1, sched)
	if err != nil {
		t.Fatal(err)
	}
	out := map[harness.CheckName]harness.Verdict{}
	for _, v := range res.Verdicts {
		out[v.Check] = v
	}
	return out
}

// A user's invariant is judged at every store revision: one that holds is
// ok over hundreds of revisions; one the run breaks (the workload is
// rescaled up to 6 replicas) is violated, with the first breach, when it
// happened, and how often.
func TestInvariantsAreJudgedAtEveryRevision(t *testing.T) {
	v := runWithInvariants(t, rsWants("at-most-max", 6), rsWants("at-most-three", 3))
	held := v["invariant/at-most-max"]
	var n int
	if _, err := fmt.Sscanf(held.Detail, "held at all %d store revisions judged", &n); held.Status != harness.OK || err != nil || n < 100 {
		t.Errorf("invariant/at-most-max = %s: %s; want ok over at least 100 revisions", held.Status, held.Detail)
	}
	broken := v["invariant/at-most-three"]
	if broken.Status != harness.Violated || broken.At <= 0 || !strings.Contains(broken.Detail, "more than 3") {
		t.Errorf("invariant/at-most-three = %s at %s: %s; want violated", broken.Status, broken.At, broken.Detail)
	}
	if v["raft-safety"].Status != harness.OK {
		t.Errorf("raft-safety: %s", v["raft-safety"].Detail)
	}
}

// Invariants are named like checks; a bad one is refused, naming the field.
func TestInvariantsAreValidated(t *testing.T) {
	ok := func(*kube.Truth) error { return nil }
	for _, c := range []struct {
		invs []Invariant
		want string
	}{
		{[]Invariant{{Name: "Bad Name", Check: ok}}, "invariants[0].name"},
		{[]Invariant{{Name: "a", Check: ok}, {Name: "a", Check: ok}}, "invariants[1].name: \"a\" is given twice"},
		{[]Invariant{{Name: "a"}}, "invariants[0].check"},
	} {
		sc := NewCluster(kube.Config{})
		sc.Invariants = c.invs
		if err := sc.Build(harness.NewSim(1, harness.TraceOptions{})); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %q", c.invs, err, c.want)
		}
	}
}
