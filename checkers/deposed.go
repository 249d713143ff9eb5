package checkers

import (
	"fmt"
	"sort"
	"time"

	"hasim/harness"
)

// ActorWrite is one write a leader-elected actor (controller-manager,
// scheduler) made while it believed it held a lease.
type ActorWrite struct {
	Who    string        // the writer's identity
	Lease  string        // the lease it acted under
	What   string        // e.g. "create pods/default/web-abcde"
	Issued time.Duration // true time the writer sent it
	Landed time.Duration // true time the store applied it (the API server saw success)
}

// DeposedWrites checks for writes that land after their writer was deposed.
// Leader election gives no fencing: a write sent while its writer held the
// lease may still be applied after the writer stopped acting and a
// successor began, and clobber what the successor did.
//
// Scenarios report every acting interval (Tenure) and every successful
// write an actor made under a lease. A write by X under lease L is judged
// against X's tenure under L that covers its issue (start ≤ Issued ≤ end,
// both inclusive; if several do, the one lasting longest):
//
//   - no tenure of X under L covers Issued: X acted without the lease,
//     violated (whether or not anybody else acted then);
//   - the write landed no later than that tenure's end, or while X was
//     acting under L again (another tenure of X covers Landed): fine;
//   - otherwise it landed at t after X stopped: violated if some other
//     identity Y acted under L after X stopped and no later than t (a
//     tenure of Y that started at or before t and ended, if at all, after X
//     stopped) — Y is the successor (the earliest to start, if several),
//     named with how long before t it began.
//     A late write with no such Y harmed no one: counted, not flagged.
//     (Predecessors whose tenure ended while X was acting do not count;
//     tenures overlapping within X's are SingleActive's business.)
type DeposedWrites struct {
	name    string
	writes  []ActorWrite
	tenures []depTenure
}

type depTenure struct {
	lease, who string
	start, end time.Duration // end -1: still acting at the end of the run
}

// acting reports whether the tenure covers t.
func (t depTenure) acting(at time.Duration) bool {
	return t.start <= at && (t.end < 0 || at <= t.end)
}

// NewDeposedWrites returns a checker whose verdicts carry the check name
// name, e.g. "no-deposed-writes".
func NewDeposedWrites(name string) *DeposedWrites {
	return &DeposedWrites{name: name}
}

// Write records one successful write made under a lease.
func (c *DeposedWrites) Write(w ActorWrite) {
	c.writes = append(c.writes, w)
}

// Tenure records that who acted under lease from start to end (end < 0:
// still acting at the end of the run). An end before start is taken as
// start.
func (c *DeposedWrites) Tenure(lease, who string, start, end time.Duration) {
	if end >= 0 && end < start {
		end = start
	}
	if end < 0 {
		end = -1
	}
	c.tenures = append(c.tenures, depTenure{lease: lease, who: who, start: start, end: end})
}

// Verdict judges the run, which ended at true time end (tenures still open
// last until then, or later if some write is later): violated with the
// offending writes (at most a few, then how many more), in order of
// landing; unknown when there were no writes; ok with the number of writes
// judged.
func (c *DeposedWrites) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: c.name}
	tenures := append([]depTenure(nil), c.tenures...)
	sort.SliceStable(tenures, func(i, j int) bool {
		a, b := tenures[i], tenures[j]
		switch {
		case a.start != b.start:
			return a.start < b.start
		case a.lease != b.lease:
			return a.lease < b.lease
		}
		return a.who < b.who
	})
	writes := append([]ActorWrite(nil), c.writes...)
	sort.SliceStable(writes, func(i, j int) bool {
		a, b := writes[i], writes[j]
		switch {
		case a.Landed != b.Landed:
			return a.Landed < b.Landed
		case a.Issued != b.Issued:
			return a.Issued < b.Issued
		case a.Who != b.Who:
			return a.Who < b.Who
		case a.Lease != b.Lease:
			return a.Lease < b.Lease
		}
		return a.What < b.What
	})

	var bad []string
	late := 0
	leases := map[string]bool{}
	for _, w := range writes {
		leases[w.Lease] = true
		cover := -1
		for i, t := range tenures {
			if t.lease != w.Lease || t.who != w.Who || !t.acting(w.Issued) {
				continue
			}
			if cover < 0 || depLonger(t, tenures[cover]) {
				cover = i
			}
		}
		if cover < 0 {
			bad = append(bad, depWithout(w, tenures))
			continue
		}
		x := tenures[cover]
		if x.acting(w.Landed) {
			continue
		}
		again := false
		for _, t := range tenures {
			if t.lease == w.Lease && t.who == w.Who && t.acting(w.Landed) {
				again = true
				break
			}
		}
		if again {
			continue
		}
		late++
		succ := -1
		for i, t := range tenures {
			if t.lease == w.Lease && t.who != w.Who && t.start <= w.Landed && (t.end < 0 || t.end > x.end) {
				succ = i // tenures are sorted by start: the first is the earliest
				break
			}
		}
		if succ < 0 {
			continue
		}
		y := tenures[succ]
		began := "began acting"
		if y.start <= x.end {
			began = "had been acting" // it overlapped the writer's tenure
		}
		bad = append(bad, fmt.Sprintf("%s stopped acting under %s at %s, but its write %q issued at %s landed at %s, %s after %s %s at %s",
			w.Who, w.Lease, fmtT(x.end), w.What, fmtT(w.Issued), fmtT(w.Landed), fmtT(w.Landed-y.start), y.who, began, fmtT(y.start)))
	}

	switch {
	case len(bad) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %d writes landed after their writer was deposed or were made without the lease: %s",
			len(bad), len(writes), joinExamples(bad, "; "))
	case len(writes) == 0:
		v.Status, v.Detail = harness.Unknown, fmt.Sprintf("no writes (%s)", countOf(len(tenures), "tenure"))
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s under %s judged: each was made under its lease and landed while its writer still acted or before a successor began (%d landed after their writer stopped, with no successor yet); run ended at %s",
			countOf(len(writes), "write"), countOf(len(leases), "lease"), late, fmtT(end))
	}
	return v
}

// depLonger reports whether tenure a lasts longer than b (open is longest).
func depLonger(a, b depTenure) bool {
	switch {
	case b.end < 0:
		return false
	case a.end < 0:
		return true
	}
	return a.end > b.end
}

// depWithout tells a write made without the lease.
func depWithout(w ActorWrite, tenures []depTenure) string {
	var prev, next *depTenure
	var other *depTenure
	for i := range tenures {
		t := &tenures[i]
		if t.lease != w.Lease {
			continue
		}
		if t.who != w.Who {
			if other == nil && t.acting(w.Issued) {
				other = t
			}
			continue
		}
		if t.end >= 0 && t.end < w.Issued && (prev == nil || t.end > prev.end) {
			prev = t
		}
		if t.start > w.Issued && next == nil {
			next = t
		}
	}
	var held string
	switch {
	case prev != nil:
		held = fmt.Sprintf("its tenure had ended at %s", fmtT(prev.end))
	case next != nil:
		held = fmt.Sprintf("its tenure began only at %s", fmtT(next.start))
	default:
		held = "it never held the lease"
	}
	if other != nil {
		held += fmt.Sprintf("; %s was acting (since %s)", other.who, fmtT(other.start))
	}
	return fmt.Sprintf("%s acted without the lease %s: its write %q issued at %s (landed at %s), %s",
		w.Who, w.Lease, w.What, fmtT(w.Issued), fmtT(w.Landed), held)
}
