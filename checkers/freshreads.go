package checkers

import (
	"fmt"
	"time"

	"hasim/harness"
)

// FreshReads judges quorum reads of objects against the store's own
// timeline of each object: a read is linearizable when the state it
// returned (a resourceVersion, or no object) was the object's state at
// some instant between the read's issue and its answer. The store is
// judged linearizable on its own (the store scenario's check), so its
// order of revisions is the order the writes took effect in; a read that
// returns a state already replaced before it was issued, or one not yet
// reached when it was answered, is not linearizable with them.
//
// The scenario reports the timeline as it learns it (Changed: from a
// snapshot of the store's ground truth, taken each time the store reaches
// a new revision) and every read as its answer comes (Read). A state's
// start is known within a window: no earlier than the snapshot before the
// one that showed it (Lo) and no later than the one that did (Hi); a
// state never seen in a snapshot (replaced within one step) began and
// ended within the window of the state that followed it. Deviation,
// named: a state begins when a store member first applied it, not at the
// instant raft committed it, so a read issued between the commit of a
// newer state and its first application, that returned the older one,
// passes.
type FreshReads struct {
	name  harness.CheckName
	keys  map[string][]objState
	reads int
	// unjudged counts reads of a state the timeline had not shown yet
	// (the ground truth was unknown when it was reached).
	unjudged int
	stale    int
	first    string
	at       time.Duration
}

// objState is one state of an object: a resourceVersion (RV > 0), or none
// (Gone: deleted, RV the store revision that showed it gone), beginning
// within [Lo, Hi].
type objState struct {
	rv     int64
	gone   bool
	lo, hi time.Duration
}

// NewFreshReads returns a checker whose verdict is named name.
func NewFreshReads(name harness.CheckName) *FreshReads {
	return &FreshReads{name: name, keys: map[string][]objState{}}
}

// Changed records that key's state changed: it holds resourceVersion rv
// (0: it no longer exists, as store revision rev showed) from some instant
// within [lo, hi]. Reports come in order of the store's revisions.
func (f *FreshReads) Changed(lo, hi time.Duration, key string, rv, rev int64) {
	st := objState{rv: rv, lo: lo, hi: hi}
	if rv == 0 {
		st.rv, st.gone = rev, true
	}
	f.keys[key] = append(f.keys[key], st)
}

// Read judges a read of key issued at start and answered at end that
// returned resourceVersion rv (0: the object was not found).
func (f *FreshReads) Read(start, end time.Duration, key string, rv int64) {
	f.reads++
	tl := f.keys[key]
	// The state the read returned: [from, until) with from's window start
	// and until's window end (an open end is after every read).
	var from time.Duration
	until := time.Duration(-1)
	if rv == 0 {
		// Absent: before the first state, or after a deletion. Any such
		// period that overlaps the read will do.
		ok := len(tl) == 0 || start <= tl[0].hi
		for i := 0; !ok && i < len(tl); i++ {
			if tl[i].gone && tl[i].lo <= end && (i+1 == len(tl) || tl[i+1].hi >= start) {
				ok = true
			}
		}
		if !ok {
			f.fail(start, end, key, "not found, but it existed throughout")
		}
		return
	}
	i := 0
	for i < len(tl) && (tl[i].gone || tl[i].rv < rv) {
		i++
	}
	switch {
	case i == len(tl):
		f.unjudged++
		return
	case tl[i].rv == rv:
		from = tl[i].lo
		if i+1 < len(tl) {
			until = tl[i+1].hi
		}
	default: // never seen: it began and ended within the next state's window
		from, until = tl[i].lo, tl[i].hi
		if i > 0 {
			from = tl[i-1].lo
		}
	}
	switch {
	case from > end:
		f.fail(start, end, key, fmt.Sprintf("resourceVersion %d, a state the store reached only after %s", rv, harness.FormatTime(from)))
	case until >= 0 && until < start:
		f.fail(start, end, key, fmt.Sprintf("resourceVersion %d, a state the store had replaced by %s", rv, harness.FormatTime(until)))
	}
}

func (f *FreshReads) fail(start, end time.Duration, key, what string) {
	if f.stale++; f.stale == 1 {
		f.first = fmt.Sprintf("a read of %s issued at %s and answered at %s returned %s", key, harness.FormatTime(start), harness.FormatTime(end), what)
		f.at = end
	}
}

// Verdict is the check's verdict: violated by the first read that was not
// linearizable; unknown when no read was judged.
func (f *FreshReads) Verdict() harness.Verdict {
	v := harness.Verdict{Check: f.name}
	judged := f.reads - f.unjudged
	switch {
	case f.stale > 0:
		v.Status, v.At = harness.Violated, f.at
		v.Detail = fmt.Sprintf("%s (%d of %d quorum reads of %d objects not linearizable)", f.first, f.stale, judged, len(f.keys))
	case f.reads == 0:
		v.Status, v.Detail = harness.Unknown, "no quorum read of an object was made"
	case judged == 0:
		v.Status, v.Detail = harness.Unknown, fmt.Sprintf("none of the %d quorum reads of objects could be judged: the ground truth was unknown", f.reads)
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%d quorum reads of %d objects each returned a state the store held while the read was in flight (%d unjudged)", judged, len(f.keys), f.unjudged)
	}
	return v
}
