package checkers

import (
	"testing"
	"time"

	"hasim/harness"
)

// Verdict.At is where a timeline marks a violation: each checker sets it
// to when its first violation was seen, and leaves it 0 otherwise.

func wantViolatedAt(t *testing.T, v harness.Verdict, want time.Duration) {
	t.Helper()
	if v.Status != harness.Violated {
		t.Fatalf("%s: %s, want violated: %s", v.Check, v.Status, v.Detail)
	}
	if v.At != want {
		t.Errorf("%s: At %s, want %s (%s)", v.Check, v.At, want, v.Detail)
	}
}

func wantNoAt(t *testing.T, v harness.Verdict) {
	t.Helper()
	if v.Status == harness.Violated || v.At != 0 {
		t.Errorf("%s: %s with At %s, want not violated and no moment: %s", v.Check, v.Status, v.At, v.Detail)
	}
}

func TestVerdictAtRaftSafety(t *testing.T) {
	c := NewRaftSafety()
	c.Leader(time.Second, 1, 1)
	c.Applied(2*time.Second, 1, 1, 1, 7, 1)
	wantNoAt(t, c.Verdict())
	c.Leader(5*time.Second, 2, 1) // a second leader of term 1
	c.Revision(6*time.Second, 1, 4)
	c.Revision(7*time.Second, 1, 3) // and later a revision going back
	wantViolatedAt(t, c.Verdict(), 5*time.Second)
}

func TestVerdictAtSingleActive(t *testing.T) {
	c := NewSingleActive("single-active")
	c.Start(time.Second, "a")
	c.Stop(10*time.Second, "a")
	c.Start(10*time.Second, "b") // a hand-over, not an overlap
	wantNoAt(t, c.Verdict(time.Minute))
	c.Start(30*time.Second, "c") // b still acting: overlaps from 30s
	c.Start(40*time.Second, "d") // and again from 40s
	wantViolatedAt(t, c.Verdict(time.Minute), 30*time.Second)
}

func TestVerdictAtAvailability(t *testing.T) {
	a := NewAvailability("available", time.Second)
	a.State(0, true, "up")
	a.Call(2*time.Second, 3*time.Second, true, "get")
	a.State(4*time.Second, true, "up")
	wantNoAt(t, a.Verdict(4*time.Second))
	// Recorded out of order of their ends: the earlier end counts. The
	// second is still pending when Verdict is asked, the first judged.
	a.Call(5*time.Second, 9*time.Second, false, "put")
	a.State(20*time.Second, true, "up")
	a.Call(5*time.Second, 7*time.Second, false, "get")
	wantViolatedAt(t, a.Verdict(30*time.Second), 7*time.Second)
}

func TestVerdictAtSurplus(t *testing.T) {
	s := NewSurplus("no-surplus", time.Minute)
	s.Sample(time.Second, "rs", 2, 2)
	s.Sample(2*time.Second, "rs", 2, 2)
	wantNoAt(t, s.Verdict())
	s.Sample(3*time.Second, "rs", 2, 3) // grew past what it wanted
	s.Sample(4*time.Second, "rs", 2, 4)
	wantViolatedAt(t, s.Verdict(), 3*time.Second)
}

func TestVerdictAtContinuity(t *testing.T) {
	c := NewContinuity("pods-keep-running")
	c.Started(time.Second, "n1", "p1")
	c.Started(time.Second, "n1", "p2")
	c.Stopped(5*time.Second, "n1", "p1", StopDeleted)
	wantNoAt(t, c.Verdict(time.Minute))
	c.Stopped(20*time.Second, "n1", "p2", "api-unreachable")
	c.Stopped(12*time.Second, "n2", "p3", "") // reported late, stopped earlier
	wantViolatedAt(t, c.Verdict(time.Minute), 12*time.Second)
}

func TestVerdictAtTimeTravel(t *testing.T) {
	c := NewNoTimeTravel("no-time-travel")
	c.Observe(RVObservation{Client: "u1", Mode: RVQuorum, Key: "cm", RV: 5, Found: true, Start: time.Second, At: 2 * time.Second})
	c.Observe(RVObservation{Client: "u1", Mode: RVCache, Key: "cm", RV: 5, Found: true, Start: 3 * time.Second, At: 4 * time.Second})
	wantNoAt(t, c.Verdict(RVCache))
	c.Observe(RVObservation{Client: "u1", Mode: RVCache, Key: "cm", RV: 3, Found: true, Start: 5 * time.Second, At: 6 * time.Second})
	c.Observe(RVObservation{Client: "u1", Mode: RVCache, Key: "cm", RV: 2, Found: true, Start: 7 * time.Second, At: 8 * time.Second})
	wantViolatedAt(t, c.Verdict(RVCache), 6*time.Second)
	wantNoAt(t, c.Verdict(RVQuorum))
}

func TestVerdictAtLiveness(t *testing.T) {
	l := NewLiveness("recovers-after-heal")
	l.Healed(10 * time.Second)
	l.Budget(5 * time.Second)
	l.Observe(11*time.Second, "leader", false, "none")
	l.Observe(14*time.Second, "leader", false, "none")
	// The budget runs out at 15s, with the leader still missing.
	wantViolatedAt(t, l.Verdict(time.Minute), 15*time.Second)
	ok := NewLiveness("recovers-after-heal")
	ok.Budget(5 * time.Second)
	ok.Observe(time.Second, "leader", true, "")
	wantNoAt(t, ok.Verdict(time.Minute))
}

func TestVerdictAtDeposed(t *testing.T) {
	c := NewDeposedWrites("deposed-writes")
	c.Start("kcm", "a", time.Second)
	c.Write(ActorWrite{Who: "a", Lease: "kcm", What: "w0", Issued: 2 * time.Second, Landed: 3 * time.Second})
	wantNoAt(t, c.Verdict(time.Minute))
	c.Stop("kcm", "a", 10*time.Second)
	c.Start("kcm", "b", 12*time.Second)
	// Issued while a acted, landed after b began: harm done on landing.
	c.Write(ActorWrite{Who: "a", Lease: "kcm", What: "w1", Issued: 9 * time.Second, Landed: 15 * time.Second})
	c.Write(ActorWrite{Who: "a", Lease: "kcm", What: "w2", Issued: 9 * time.Second, Landed: 18 * time.Second})
	wantViolatedAt(t, c.Verdict(time.Minute), 15*time.Second)
}

func TestVerdictAtDurability(t *testing.T) {
	ok := CheckDurability([]KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dGet(2, "k", 2, 3, "v1", 2, 2),
	})
	wantNoAt(t, ok)
	// Keys are judged in name order, "a" first; "b"'s violation is seen
	// earlier.
	v := CheckDurability([]KVOp{
		dPut(1, "b", "v1", 0, 1, 2),
		dPut(1, "b", "v2", 1, 1.5, 3),
		dGet(2, "b", 2, 2.5, "v1", 2, 3), // lost v2, seen at 2.5s
		dPut(1, "a", "x1", 2, 3, 4),
		dPut(1, "a", "x2", 3, 4, 5),
		dGet(3, "a", 5, 6, "x1", 4, 5), // lost x2, seen at 6s
	})
	wantViolatedAt(t, v, dsec(2.5))
}
