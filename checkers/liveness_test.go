package checkers

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func wantLiveness(t *testing.T, l *Liveness, end time.Duration, want harness.Status, substr ...string) harness.Verdict {
	t.Helper()
	v := l.Verdict(end)
	if v.Status != want {
		t.Fatalf("got %s, want %s: %s", v.Status, want, v.Detail)
	}
	for _, s := range substr {
		if !strings.Contains(v.Detail, s) {
			t.Errorf("detail lacks %q: %s", s, v.Detail)
		}
	}
	return v
}

func storeLiveness() *Liveness {
	l := NewLiveness("recovers-after-heal")
	l.Healed(dsec(40))
	l.Budget(dsec(20))
	l.Condition("raft leader")
	l.Condition("write succeeds")
	return l
}

func TestLivenessRecovered(t *testing.T) {
	l := storeLiveness()
	l.Observe(dsec(30), "raft leader", true, "m1") // before the heal: ignored
	l.Observe(dsec(40), "raft leader", false, "none")
	l.Observe(dsec(42.5), "write succeeds", false, "timed out")
	l.Observe(dsec(41.5), "raft leader", true, "m2") // out of order is fine
	l.Observe(dsec(43), "raft leader", true, "m2")
	l.Observe(dsec(45), "write succeeds", true, "rev 17")
	v := wantLiveness(t, l, dsec(100), harness.OK,
		"recovered within 20s of the heal at 40s", "raft leader after 1.5s", "write succeeds after 5s")
	if v.Check != "recovers-after-heal" {
		t.Errorf("check %q", v.Check)
	}
	// An ok sample exactly at heal+budget still counts; the run may end
	// before heal+budget once everything held.
	l = storeLiveness()
	l.Observe(dsec(40), "raft leader", true, "m1")
	l.Observe(dsec(60), "write succeeds", true, "")
	wantLiveness(t, l, dsec(60), harness.OK, "raft leader after 0s", "write succeeds after 20s")
	l = storeLiveness()
	l.Observe(dsec(41), "raft leader", true, "m1")
	l.Observe(dsec(42), "write succeeds", true, "")
	wantLiveness(t, l, dsec(50), harness.OK)
}

func TestLivenessNeverRecovered(t *testing.T) {
	l := storeLiveness()
	l.Observe(dsec(41), "raft leader", false, "none")
	l.Observe(dsec(47.3), "raft leader", false, "none")
	l.Observe(dsec(44), "write succeeds", false, "no leader")
	l.Observe(dsec(59), "write succeeds", false, "timed out")
	l.Observe(dsec(70), "raft leader", false, "none") // after the budget
	wantLiveness(t, l, dsec(100), harness.Violated,
		"not recovered within 20s of the heal at 40s",
		"raft leader: pending since 40s, last failing sample at 47.3s: none",
		"write succeeds: pending since 40s, last failing sample at 59s: timed out")
	// One condition recovered, the other only too late.
	l = storeLiveness()
	l.Observe(dsec(41), "raft leader", true, "m3")
	l.Observe(dsec(50), "write succeeds", false, "timed out")
	l.Observe(dsec(75), "write succeeds", true, "")
	v := wantLiveness(t, l, dsec(100), harness.Violated,
		"write succeeds: pending since 40s", "first held at 1m15s, 35s after the heal, over budget", "recovered: raft leader after 1s")
	if strings.Contains(v.Detail, "raft leader: pending") {
		t.Errorf("raft leader named pending: %s", v.Detail)
	}
	// A violation wins over a condition never sampled.
	l = storeLiveness()
	l.Condition("linearizable read succeeds")
	l.Observe(dsec(50), "raft leader", false, "none")
	l.Observe(dsec(50), "write succeeds", true, "")
	wantLiveness(t, l, dsec(60), harness.Violated, "raft leader: pending", "never sampled in time: linearizable read succeeds")
}

func TestLivenessRunTooShort(t *testing.T) {
	l := storeLiveness()
	l.Observe(dsec(41), "raft leader", true, "m1")
	l.Observe(dsec(44), "write succeeds", false, "timed out")
	wantLiveness(t, l, dsec(45), harness.Unknown,
		"run ended at 45s, 15s before heal+budget (1m0s)", "still pending: write succeeds (last failing sample at 44s: timed out)", "recovered: raft leader after 1s")
	// A heal after the run's end.
	l = storeLiveness()
	wantLiveness(t, l, dsec(30), harness.Unknown, "after the run ended")
}

func TestLivenessNoHeal(t *testing.T) {
	l := NewLiveness("recovers-after-heal")
	l.Budget(dsec(10))
	l.Condition("raft leader")
	l.Observe(dsec(2), "raft leader", true, "m1")
	wantLiveness(t, l, dsec(30), harness.OK, "recovered within 10s from the start: raft leader after 2s")
	l = NewLiveness("recovers-after-heal")
	l.Budget(dsec(10))
	l.Observe(dsec(5), "raft leader", false, "none") // declares it
	l.Observe(dsec(12), "raft leader", true, "m1")
	wantLiveness(t, l, dsec(30), harness.Violated, "not recovered within 10s from the start", "raft leader: pending since 0s")
}

func TestLivenessNeverSampled(t *testing.T) {
	l := storeLiveness()
	l.Observe(dsec(41), "raft leader", true, "m1")
	l.Observe(dsec(30), "write succeeds", false, "before the heal")
	l.Observe(dsec(65), "write succeeds", true, "after the budget")
	wantLiveness(t, l, dsec(100), harness.Unknown, "never sampled between 40s and 1m0s: write succeeds")
	// Nothing to judge without conditions or a budget.
	l = NewLiveness("x")
	l.Budget(dsec(1))
	wantLiveness(t, l, dsec(10), harness.Unknown, "no condition")
	l = NewLiveness("x")
	l.Condition("c")
	l.Observe(0, "c", true, "")
	wantLiveness(t, l, dsec(10), harness.Unknown, "no recovery budget")
}

func TestLivenessDeterministicOrder(t *testing.T) {
	mk := func() *Liveness {
		l := NewLiveness("recovers-after-heal")
		l.Healed(dsec(1))
		l.Budget(dsec(5))
		for _, c := range []string{"z", "a", "m"} {
			l.Condition(c)
			l.Observe(dsec(3), c, false, "down")
		}
		return l
	}
	a, b := mk().Verdict(dsec(10)), mk().Verdict(dsec(10))
	if a != b {
		t.Fatalf("differ: %q vs %q", a.Detail, b.Detail)
	}
	if !(strings.Index(a.Detail, "z:") < strings.Index(a.Detail, "a:") && strings.Index(a.Detail, "a:") < strings.Index(a.Detail, "m:")) {
		t.Errorf("not in declared order: %s", a.Detail)
	}
}

func TestLivenessRecoveryBudget(t *testing.T) {
	if got := RecoveryBudget(time.Second, 0, 0, 0); got != 4*time.Second {
		t.Errorf("store alone: %s", got)
	}
	if got := RecoveryBudget(time.Second, 15*time.Second, 4*time.Second, 5*time.Second); got != 28*time.Second {
		t.Errorf("control plane: %s", got)
	}
	if got := RecoveryBudget(-time.Second, 0, 0, time.Second); got != time.Second {
		t.Errorf("negative: %s", got)
	}
}
