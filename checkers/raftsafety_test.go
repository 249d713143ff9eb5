package checkers

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// a clean history: one leader per term, every member applying the same
// entries in order, a restart replaying, revisions rising.
func cleanHistory(c *RaftSafety) {
	c.Leader(ms(100), 1, 2)
	for m := uint64(1); m <= 3; m++ {
		c.Reset(m, 0)
		for i := uint64(1); i <= 5; i++ {
			c.Applied(ms(200+int(i)), m, i, 2, 1000+i, 2)
			c.Revision(ms(200+int(i)), m, int64(i))
		}
	}
	c.Reset(2, 0) // member 2 restarts and replays
	for i := uint64(1); i <= 5; i++ {
		c.Applied(ms(900), 2, i, 2, 1000+i, 2)
	}
	c.Revision(ms(900), 2, 5)
	c.Leader(ms(1000), 3, 3)
	c.LeaderLog(ms(1000), 3, 3, 1, func(i uint64) (uint64, bool) { return 2, i <= 5 })
}

func TestRaftSafetyOK(t *testing.T) {
	c := NewRaftSafety()
	cleanHistory(c)
	v := c.Verdict()
	if v.Status != harness.OK || c.Committed() != 5 {
		t.Fatalf("%s: %s (committed %d)", v.Status, v.Detail, c.Committed())
	}
}

func TestRaftSafetyUnknownWithoutEntries(t *testing.T) {
	if v := NewRaftSafety().Verdict(); v.Status != harness.Unknown {
		t.Fatalf("empty run judged %s", v.Status)
	}
}

func TestRaftSafetyViolations(t *testing.T) {
	cases := []struct {
		name string
		bad  func(c *RaftSafety)
		want string
	}{
		{"two leaders in a term", func(c *RaftSafety) { c.Leader(ms(1100), 1, 3) }, "two leaders in term 3"},
		{"different entry at an index", func(c *RaftSafety) {
			c.Reset(4, 0)
			c.Applied(ms(1200), 4, 1, 2, 999, 3)
		}, "index 1: member 4 applied term 2 digest"},
		{"different term at an index", func(c *RaftSafety) {
			c.Reset(4, 0)
			c.Applied(ms(1200), 4, 1, 3, 1001, 3)
		}, "index 1: member 4 applied term 3"},
		{"gap", func(c *RaftSafety) { c.Applied(ms(1200), 1, 7, 3, 1, 3) }, "applied index 7 at 1.2s, expected 6"},
		{"leader missing an applied entry", func(c *RaftSafety) {
			c.Leader(ms(1300), 2, 4)
			c.LeaderLog(ms(1300), 2, 4, 1, func(i uint64) (uint64, bool) { return 2, i <= 3 })
		}, "without index 4, which member 1 applied"},
		{"leader with another term at an applied index", func(c *RaftSafety) {
			c.Leader(ms(1300), 2, 4)
			c.LeaderLog(ms(1300), 2, 4, 1, func(i uint64) (uint64, bool) { return 3, true })
		}, "with term 3 at index 1"},
		{"revision back", func(c *RaftSafety) { c.Revision(ms(1400), 1, 3) }, "member 1's revision went back from 5 to 3"},
		{"panic", func(c *RaftSafety) { c.Panicked(ms(1500), 2, "tocommit(9) is out of range") }, "member 2 panicked at 1.5s: tocommit"},
	}
	for _, tc := range cases {
		c := NewRaftSafety()
		cleanHistory(c)
		tc.bad(c)
		v := c.Verdict()
		if v.Status != harness.Violated || !strings.Contains(v.Detail, tc.want) {
			t.Errorf("%s: %s %q; want violated with %q", tc.name, v.Status, v.Detail, tc.want)
		}
	}
}

// A snapshot restore moves a member forward; entries it skipped are not
// a gap, and entries nobody applied yet are filled by the first applier.
func TestRaftSafetySnapshotRestore(t *testing.T) {
	c := NewRaftSafety()
	c.Leader(0, 1, 1)
	c.Reset(3, 0)
	c.Reset(3, 10) // restored a snapshot at 10
	c.Applied(ms(5), 3, 11, 1, 11, 1)
	c.Reset(1, 0)
	for i := uint64(1); i <= 11; i++ {
		c.Applied(ms(6), 1, i, 1, i, 1)
	}
	if v := c.Verdict(); v.Status != harness.OK {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
}

func TestRaftSafetyKeepsBoundedEvidence(t *testing.T) {
	c := NewRaftSafety()
	for i := 0; i < 100; i++ {
		c.Panicked(0, 1, "x")
	}
	if n := strings.Count(c.Verdict().Detail, "panicked"); n != MaxProblems {
		t.Fatalf("%d problems kept, want %d", n, MaxProblems)
	}
}

// Leader completeness is per term. A member paused with votes queued wins
// an old term after entries of later terms were applied, and steps down at
// once (seed 190 of the election scenario did this): its log need not hold
// them, since they were committed in a later term than the one it leads.
func TestRaftSafetyStaleTermLeaderIsLegal(t *testing.T) {
	c := NewRaftSafety()
	c.Leader(ms(100), 1, 2)
	for m := uint64(1); m <= 3; m++ {
		c.Reset(m, 0)
	}
	for i := uint64(1); i <= 6; i++ {
		for m := uint64(1); m <= 3; m++ {
			c.Applied(ms(200), m, i, 2, 1000+i, 2)
		}
	}
	c.Leader(ms(14000), 1, 4)
	// Index 7 holds a term-4 entry, committed in term 4 by member 1 and
	// applied by member 3, which is in term 4 too.
	c.Applied(ms(14600), 1, 7, 4, 77, 4)
	c.Applied(ms(14700), 3, 7, 4, 77, 4)
	// Member 2, paused since term 3 began, counts its queued votes and
	// leads term 3 with a term-3 entry of its own at index 7.
	c.Leader(ms(16946), 2, 3)
	c.LeaderLog(ms(16946), 2, 3, 1, func(i uint64) (uint64, bool) {
		switch {
		case i <= 6:
			return 2, true
		case i == 7:
			return 3, true
		}
		return 0, false
	})
	if v := c.Verdict(); v.Status != harness.OK {
		t.Fatalf("a stale term's leader without later terms' entries judged %s: %s", v.Status, v.Detail)
	}
	// The same leader without an entry committed in term 2 breaks it.
	c.Leader(ms(17000), 2, 3)
	c.LeaderLog(ms(17000), 2, 3, 1, func(i uint64) (uint64, bool) { return 2, i <= 5 })
	if v := c.Verdict(); v.Status != harness.Violated || !strings.Contains(v.Detail, "without index 6, which member 1 applied at 200ms (committed by term 2)") {
		t.Fatalf("a leader of term 3 missing an entry committed in term 2 judged %s: %s", v.Status, v.Detail)
	}
}

// The term an entry was committed by is the lowest any applier reported:
// one applier in a later term does not excuse a leader that lacks it.
func TestRaftSafetyCommitTermIsTheLowestSeen(t *testing.T) {
	c := NewRaftSafety()
	c.Reset(1, 0)
	c.Reset(2, 0)
	c.Applied(ms(10), 2, 1, 1, 5, 3) // member 2 learned of it late, in term 3
	c.Applied(ms(20), 1, 1, 1, 5, 1) // member 1 applied it in term 1
	c.Leader(ms(30), 3, 2)
	c.LeaderLog(ms(30), 3, 2, 1, func(uint64) (uint64, bool) { return 0, false })
	if v := c.Verdict(); v.Status != harness.Violated || !strings.Contains(v.Detail, "committed by term 1") {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
}
