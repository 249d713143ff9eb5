package checkers

import (
	"fmt"
	"strings"
	"time"

	"hasim/harness"
)

// RaftSafety checks raft's safety properties on a run, from what the members
// report as they go:
//
//   - election safety: at most one leader per term;
//   - state machine safety: every member applies, at each index, the same
//     entry (same term and content), in order, with no gaps (a snapshot
//     restore moves a member forward past what the snapshot covers);
//   - leader completeness: a leader of term T holds every entry committed
//     in a term before T (a committed entry never changes or disappears,
//     across crashes and restarts). Raft states it per term, not per
//     instant: a member paused with votes queued may become leader of an
//     old term after entries of later terms were applied, and step down at
//     once; its log need not hold those. A member reports with each applied
//     entry its own term at the time, an upper bound on the term that
//     committed the entry (it learned the commit from a leader of that term
//     or an earlier one); the lowest such bound over all appliers is kept,
//     and a new leader is held to the entries whose bound is below its term.
//     An entry committed in an earlier term but first applied after the
//     leader was checked escapes this check (the check never guesses);
//   - a member's store revision never decreases, across restarts too;
//   - no member panics (raft panics when its durable state was lost, e.g.
//     "tocommit is out of range").
//
// Violations are kept with their first evidence; the verdict lists them.
//
// The applied entries are kept from KeepBehind entries below the lowest
// index some member (running or down) must apply next, up to the highest
// applied: memory does not grow with the log while the members keep up.
type RaftSafety struct {
	// OnRevision, if set, hears every revision a member reports, with the
	// true time: scenarios learn when a write was applied in the store.
	OnRevision func(at time.Duration, rev int64)
	// KeepBehind is how many entries below the lowest next index of any
	// member stay comparable [8192]: a member that restarts replays from
	// its last snapshot (up to SnapshotCount entries behind what it had
	// applied), and a new leader's log reaches back to its compaction
	// point (SnapshotCount + CatchUpEntries behind). An entry applied
	// further behind is not compared, nor is a new leader's log there.
	KeepBehind uint64

	leaders   map[uint64]leaderAt // term → first leader seen
	canonical []entryID           // index-base → the first applied entry there
	base      uint64              // the index of canonical[0]
	top       uint64              // the highest index applied
	next      map[uint64]uint64   // member → next index it must apply
	rev       map[uint64]int64    // member → highest revision reported
	problems  []string
	firstAt   time.Duration // when the first problem was seen
	leaderN   int
	applied   int
}

type leaderAt struct {
	member uint64
	at     time.Duration
}

type entryID struct {
	term   uint64
	digest uint64
	member uint64
	at     time.Duration
	// by is the lowest term any applier was in when it applied the entry:
	// the entry was committed in this term or an earlier one.
	by uint64
}

// MaxProblems bounds how many violations a checker keeps.
const MaxProblems = 20

// NewRaftSafety returns an empty checker.
func NewRaftSafety() *RaftSafety {
	return &RaftSafety{KeepBehind: 8192, base: 1,
		leaders: map[uint64]leaderAt{}, next: map[uint64]uint64{}, rev: map[uint64]int64{}}
}

// fail records a problem seen at true time at.
func (c *RaftSafety) fail(at time.Duration, format string, args ...any) {
	if len(c.problems) == 0 || at < c.firstAt {
		c.firstAt = at
	}
	if len(c.problems) < MaxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// Leader records that member became leader of term at true time at.
func (c *RaftSafety) Leader(at time.Duration, member, term uint64) {
	c.leaderN++
	if prev, ok := c.leaders[term]; ok && prev.member != member {
		c.fail(at, "two leaders in term %d: member %d at %s and member %d at %s", term, prev.member, fmtT(prev.at), member, fmtT(at))
		return
	}
	if _, ok := c.leaders[term]; !ok {
		c.leaders[term] = leaderAt{member, at}
	}
}

// Reset says member's next applied entry will be index+1: after a restart
// (replay from its snapshot) or a snapshot restore.
func (c *RaftSafety) Reset(member, index uint64) {
	c.next[member] = index + 1
	c.trim()
}

// trim drops the entries no member may apply or lead with any more.
func (c *RaftSafety) trim() {
	if len(c.next) == 0 {
		return
	}
	low := uint64(0)
	first := true
	for _, n := range c.next {
		if first || n < low {
			low, first = n, false
		}
	}
	keep := uint64(1)
	if low > c.KeepBehind+1 {
		keep = low - c.KeepBehind
	}
	keep = min(keep, c.top+1)
	if keep <= c.base {
		return
	}
	// Reslicing costs nothing; append moves the live part to a new array
	// once the old one is full, so memory stays proportional to it.
	c.canonical = c.canonical[keep-c.base:]
	c.base = keep
}

// Applied records that member applied the entry at index with term and a
// digest of its type and content; by is the member's own raft term when it
// learned the entry was committed (the term of the Ready that handed the
// entry over), which bounds the term that committed it from above.
func (c *RaftSafety) Applied(at time.Duration, member, index, term, digest, by uint64) {
	c.applied++
	if want, ok := c.next[member]; ok && index != want {
		c.fail(at, "member %d applied index %d at %s, expected %d (applies out of order or with a gap)", member, index, fmtT(at), want)
	}
	c.next[member] = index + 1
	defer c.trim()
	if index == 0 || index < c.base {
		return // dropped: KeepBehind entries behind every member
	}
	if index <= c.top {
		e := &c.canonical[index-c.base]
		if e.term == 0 {
			// A hole left by a snapshot restore: the first applier fills it.
			*e = entryID{term: term, digest: digest, member: member, at: at, by: by}
			return
		}
		if e.term != term || e.digest != digest {
			c.fail(at, "index %d: member %d applied term %d digest %016x at %s, but member %d applied term %d digest %016x at %s",
				index, member, term, digest, fmtT(at), e.member, e.term, e.digest, fmtT(e.at))
		}
		e.by = min(e.by, by)
		return
	}
	for c.base+uint64(len(c.canonical)) < index {
		// A member restored from a snapshot applies past entries nobody
		// reported yet; keep a hole that the first applier fills.
		c.canonical = append(c.canonical, entryID{})
	}
	c.canonical = append(c.canonical, entryID{term: term, digest: digest, member: member, at: at, by: by})
	c.top = index
}

// LeaderLog checks a new leader's log against the applied entries
// committed before its term: term returns the term of the leader's entry
// at an index (false when the index is outside its log), and first is the
// first index its log still holds (entries before are covered by its
// snapshot).
func (c *RaftSafety) LeaderLog(at time.Duration, member, leaderTerm, first uint64, term func(uint64) (uint64, bool)) {
	for i := max(first, c.base); i <= c.top; i++ {
		e := c.canonical[i-c.base]
		if e.term == 0 || e.by >= leaderTerm {
			continue // a hole, or possibly committed in leaderTerm or later
		}
		t, ok := term(i)
		if !ok {
			c.fail(at, "leader completeness: member %d became leader of term %d at %s without index %d, which member %d applied at %s (committed by term %d)",
				member, leaderTerm, fmtT(at), i, e.member, fmtT(e.at), e.by)
			return
		}
		if t != e.term {
			c.fail(at, "leader completeness: member %d became leader of term %d at %s with term %d at index %d, where member %d applied term %d at %s (committed by term %d)",
				member, leaderTerm, fmtT(at), t, i, e.member, e.term, fmtT(e.at), e.by)
			return
		}
	}
}

// Revision records a member's store revision as others can observe it (at
// the end of each of its steps).
func (c *RaftSafety) Revision(at time.Duration, member uint64, rev int64) {
	if c.OnRevision != nil {
		c.OnRevision(at, rev)
	}
	if prev, ok := c.rev[member]; ok && rev < prev {
		c.fail(at, "member %d's revision went back from %d to %d at %s", member, prev, rev, fmtT(at))
	}
	c.rev[member] = rev
}

// Panicked records that a member's raft panicked.
func (c *RaftSafety) Panicked(at time.Duration, member uint64, msg string) {
	c.fail(at, "member %d panicked at %s: %s", member, fmtT(at), msg)
}

// Committed returns the highest log index some member applied.
func (c *RaftSafety) Committed() int { return int(c.top) }

// Verdict judges the run.
func (c *RaftSafety) Verdict() harness.Verdict {
	v := harness.Verdict{Check: "raft-safety"}
	if len(c.problems) > 0 {
		v.Status = harness.Violated
		v.Detail = strings.Join(c.problems, "; ")
		v.At = c.firstAt
		return v
	}
	if c.applied == 0 {
		v.Status = harness.Unknown
		v.Detail = "no member applied any entry"
		return v
	}
	v.Status = harness.OK
	v.Detail = fmt.Sprintf("%d leaders over %d terms, %d entries applied consistently", c.leaderN, len(c.leaders), c.top)
	return v
}

func fmtT(t time.Duration) string { return t.String() }
