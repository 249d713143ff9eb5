package checkers

import (
	"fmt"
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
// Scenarios report every acting interval (Start and Stop as they happen,
// or Tenure) and every successful write an actor made under a lease. A
// write by X under lease L is judged against X's tenure under L that
// covers its issue (start ≤ Issued ≤ end, both inclusive; if several do,
// the one lasting longest):
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
//
// The checker streams: it judges each write once some call reports a time
// later than its landing (by then every tenure that began or ended by the
// landing is known), or at Verdict. Tenures must therefore be reported no
// later than the writes they bear on: Start and Stop as they happen (and
// Write as writes land), or Tenure before the writes (a recorded history,
// tenures first). It keeps the open tenures and those that ended within
// MaxCall, per writer the last of its older tenures, counts, and the
// first violations.
type DeposedWrites struct {
	name harness.CheckName
	// MaxCall bounds how long a write takes from issue to landing [10m]:
	// tenures that ended longer ago than that are dropped, so a write
	// issued earlier than MaxCall before the latest time reported may be
	// misjudged.
	MaxCall time.Duration

	tenures []depTenure          // open ones and those ended within MaxCall
	acting  map[depWho]int       // Start's open tenure → its index in tenures
	last    map[depWho]depTenure // of the dropped tenures of each writer, the one that ended last
	nTen    int                  // tenures recorded
	tseq    int                  // tenure insertion order

	now    time.Duration // the latest time reported
	dated  bool
	tidyAt time.Duration
	wait   []depWrite // writes landing at or after now: not yet judged
	wseq   int

	writes int
	leases map[string]bool
	late   int
	bad    examples[depBad]
}

// depLastCap bounds how many writers' last dropped tenures are kept (for
// the wording of writes made without the lease): identities come and go
// with restarts.
const depLastCap = 256

type depWho struct{ lease, who string }

type depTenure struct {
	lease, who string
	start, end time.Duration // end -1: still acting at the end of the run
	seq        int
	started    bool // opened by Start: Stop closes it
}

// depWrite is a write with its order of recording.
type depWrite struct {
	ActorWrite
	seq int
}

// depBad is one offending write: text when fully told, else a write made
// without the lease whose wording waits on its writer's next tenure.
type depBad struct {
	w                 depWrite
	text              string
	prev, next, other *depTenure
}

func depBadBefore(x, y depBad) bool {
	a, b := x.w, y.w
	switch {
	case a.Landed != b.Landed:
		return a.Landed < b.Landed
	case a.Issued != b.Issued:
		return a.Issued < b.Issued
	case a.Who != b.Who:
		return a.Who < b.Who
	case a.Lease != b.Lease:
		return a.Lease < b.Lease
	case a.What != b.What:
		return a.What < b.What
	}
	return a.seq < b.seq
}

// acting reports whether the tenure covers t.
func (t depTenure) acting(at time.Duration) bool {
	return t.start <= at && (t.end < 0 || at <= t.end)
}

// depSorted is the order tenures are considered in: by start, lease,
// identity, then as recorded.
func depSorted(a, b depTenure) bool {
	switch {
	case a.start != b.start:
		return a.start < b.start
	case a.lease != b.lease:
		return a.lease < b.lease
	case a.who != b.who:
		return a.who < b.who
	}
	return a.seq < b.seq
}

// NewDeposedWrites returns a checker whose verdicts carry the check name
// name, e.g. "no-deposed-writes".
func NewDeposedWrites(name harness.CheckName) *DeposedWrites {
	return &DeposedWrites{name: name, MaxCall: 10 * time.Minute,
		acting: map[depWho]int{}, last: map[depWho]depTenure{}, leases: map[string]bool{}}
}

// clock notes a time reported: writes that landed before it are judged,
// and tenures no write can need any more dropped now and then.
func (c *DeposedWrites) clock(t time.Duration) {
	if c.dated && t <= c.now {
		return
	}
	if !c.dated {
		c.dated = true
		c.tidyAt = t + c.MaxCall
	}
	c.now = t
	if len(c.wait) > 0 {
		kept := c.wait[:0]
		for _, w := range c.wait {
			if w.Landed < c.now {
				c.judged(w)
			} else {
				kept = append(kept, w)
			}
		}
		clear(c.wait[len(kept):])
		c.wait = kept
	}
	if c.now >= c.tidyAt {
		c.tidy(c.now - c.MaxCall)
		c.tidyAt = c.now + max(c.MaxCall/8, time.Second)
	}
}

// Write records one successful write made under a lease, as it lands.
func (c *DeposedWrites) Write(w ActorWrite) {
	dw := depWrite{ActorWrite: w, seq: c.wseq}
	c.wseq++
	c.writes++
	c.leases[w.Lease] = true
	if c.dated && w.Landed < c.now {
		c.judged(dw)
	} else {
		c.wait = append(c.wait, dw)
	}
	c.clock(w.Landed)
}

// Start records that who began acting under lease at true time at. A
// second start of an identity already acting under the lease is ignored.
func (c *DeposedWrites) Start(lease, who string, at time.Duration) {
	k := depWho{lease, who}
	if _, ok := c.acting[k]; !ok {
		c.acting[k] = len(c.tenures)
		c.add(depTenure{lease: lease, who: who, start: at, end: -1, started: true})
	}
	c.clock(at)
}

// Stop records that who stopped acting under lease at true time at.
func (c *DeposedWrites) Stop(lease, who string, at time.Duration) {
	k := depWho{lease, who}
	if i, ok := c.acting[k]; ok {
		delete(c.acting, k)
		c.tenures[i].end = max(at, c.tenures[i].start)
	}
	c.clock(at)
}

// Tenure records that who acted under lease from start to end (end < 0:
// still acting at the end of the run). An end before start is taken as
// start. For a recorded history: every tenure first, then the writes, in
// about the order they landed (within MaxCall).
func (c *DeposedWrites) Tenure(lease, who string, start, end time.Duration) {
	if end >= 0 && end < start {
		end = start
	}
	if end < 0 {
		end = -1
	}
	c.add(depTenure{lease: lease, who: who, start: start, end: end})
}

// add records a tenure; a write made without the lease by its identity
// and kept as an example may now read "its tenure began only at …".
func (c *DeposedWrites) add(t depTenure) {
	t.seq = c.tseq
	c.tseq++
	c.nTen++
	c.tenures = append(c.tenures, t)
	for i := range c.bad.items {
		b := &c.bad.items[i]
		if b.text != "" || b.prev != nil || b.w.Lease != t.lease || b.w.Who != t.who || t.start <= b.w.Issued {
			continue
		}
		if b.next == nil || depSorted(t, *b.next) {
			n := t
			b.next = &n
		}
	}
}

// tidy drops the tenures that ended before cut, keeping per writer the
// one that ended last.
func (c *DeposedWrites) tidy(cut time.Duration) {
	kept := c.tenures[:0]
	for _, t := range c.tenures {
		if t.end < 0 || t.end >= cut {
			kept = append(kept, t)
			continue
		}
		k := depWho{t.lease, t.who}
		if p, ok := c.last[k]; !ok || t.end > p.end || t.end == p.end && depSorted(t, p) {
			c.last[k] = t
		}
	}
	clear(c.tenures[len(kept):])
	c.tenures = kept
	clear(c.acting)
	for i, t := range c.tenures {
		if t.started && t.end < 0 {
			c.acting[depWho{t.lease, t.who}] = i
		}
	}
	for len(c.last) > depLastCap {
		var oldest depWho
		first := true
		for k, t := range c.last {
			o := c.last[oldest]
			if first || t.end < o.end || t.end == o.end && (k.lease < oldest.lease || k.lease == oldest.lease && k.who < oldest.who) {
				oldest, first = k, false
			}
		}
		delete(c.last, oldest)
	}
}

// judged counts a write whose fate is known.
func (c *DeposedWrites) judged(w depWrite) {
	bad, late := c.judge(w)
	if late {
		c.late++
	}
	if bad != nil {
		c.bad.add(*bad, depBadBefore)
	}
}

// judge judges w against the tenures known: whether it offended, and
// whether it landed after its writer stopped.
func (c *DeposedWrites) judge(w depWrite) (bad *depBad, late bool) {
	var cover *depTenure
	for i := range c.tenures {
		t := &c.tenures[i]
		if t.lease != w.Lease || t.who != w.Who || !t.acting(w.Issued) {
			continue
		}
		if cover == nil || depLonger(*t, *cover) || !depLonger(*cover, *t) && depSorted(*t, *cover) {
			cover = t
		}
	}
	if cover == nil {
		// Of the dropped tenures, the one that ended last lasts longest.
		if t, ok := c.last[depWho{w.Lease, w.Who}]; ok && t.acting(w.Issued) {
			cover = &t
		}
	}
	if cover == nil {
		return c.without(w), false
	}
	x := *cover
	if x.acting(w.Landed) {
		return nil, false
	}
	var succ *depTenure
	for i := range c.tenures {
		t := &c.tenures[i]
		if t.lease != w.Lease {
			continue
		}
		if t.who == w.Who {
			if t.acting(w.Landed) {
				return nil, false // acting again
			}
			continue
		}
		if t.start <= w.Landed && (t.end < 0 || t.end > x.end) && (succ == nil || depSorted(*t, *succ)) {
			succ = t
		}
	}
	if succ == nil {
		return nil, true
	}
	y := *succ
	began := "began acting"
	if y.start <= x.end {
		began = "had been acting" // it overlapped the writer's tenure
	}
	return &depBad{w: w, text: fmt.Sprintf("%s stopped acting under %s at %s, but its write %q issued at %s landed at %s, %s after %s %s at %s",
		w.Who, w.Lease, fmtT(x.end), w.What, fmtT(w.Issued), fmtT(w.Landed), fmtT(w.Landed-y.start), y.who, began, fmtT(y.start))}, true
}

// without gathers what tells a write made without the lease: the
// writer's last tenure ended before, else its first begun after (which a
// later tenure may still provide), and who was acting instead.
func (c *DeposedWrites) without(w depWrite) *depBad {
	b := &depBad{w: w}
	for i := range c.tenures {
		t := c.tenures[i]
		if t.lease != w.Lease {
			continue
		}
		if t.who != w.Who {
			if t.acting(w.Issued) && (b.other == nil || depSorted(t, *b.other)) {
				b.other = &t
			}
			continue
		}
		if t.end >= 0 && t.end < w.Issued && (b.prev == nil || t.end > b.prev.end || t.end == b.prev.end && depSorted(t, *b.prev)) {
			b.prev = &t
		}
		if t.start > w.Issued && (b.next == nil || depSorted(t, *b.next)) {
			b.next = &t
		}
	}
	if b.prev == nil {
		if t, ok := c.last[depWho{w.Lease, w.Who}]; ok && t.end < w.Issued {
			b.prev = &t
		}
	}
	return b
}

// tell words an offending write.
func (b depBad) tell() string {
	if b.text != "" {
		return b.text
	}
	w := b.w
	var held string
	switch {
	case b.prev != nil:
		held = fmt.Sprintf("its tenure had ended at %s", fmtT(b.prev.end))
	case b.next != nil:
		held = fmt.Sprintf("its tenure began only at %s", fmtT(b.next.start))
	default:
		held = "it never held the lease"
	}
	if b.other != nil {
		held += fmt.Sprintf("; %s was acting (since %s)", b.other.who, fmtT(b.other.start))
	}
	return fmt.Sprintf("%s acted without the lease %s: its write %q issued at %s (landed at %s), %s",
		w.Who, w.Lease, w.What, fmtT(w.Issued), fmtT(w.Landed), held)
}

// Verdict judges the run, which ended at true time end (tenures still open
// last until then, or later if some write is later): violated with the
// offending writes (at most a few, then how many more), in order of
// landing; unknown when there were no writes; ok with the number of writes
// judged. It may be asked again, after more calls.
func (c *DeposedWrites) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: c.name}
	late := c.late
	bad := examples[depBad]{n: c.bad.n, items: append([]depBad(nil), c.bad.items...)}
	for _, w := range c.wait {
		b, l := c.judge(w)
		if l {
			late++
		}
		if b != nil {
			bad.add(*b, depBadBefore)
		}
	}
	switch {
	case bad.n > 0:
		items := make([]string, len(bad.items))
		for i, b := range bad.items {
			items[i] = b.tell()
		}
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %d writes landed after their writer was deposed or were made without the lease: %s",
			bad.n, c.writes, joinCapped(items, bad.n, "; "))
		// The examples are the earliest to land, first first: an offending
		// write does its harm when it lands.
		v.At = bad.items[0].w.Landed
	case c.writes == 0:
		v.Status, v.Detail = harness.Unknown, fmt.Sprintf("no writes (%s)", countOf(c.nTen, "tenure"))
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s under %s judged: each was made under its lease and landed while its writer still acted or before a successor began (%d landed after their writer stopped, with no successor yet); run ended at %s",
			countOf(c.writes, "write"), countOf(len(c.leases), "lease"), late, fmtT(end))
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
