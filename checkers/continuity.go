package checkers

import (
	"fmt"
	"sort"
	"time"

	"hasim/harness"
)

// StopCause says why a pod stopped running.
type StopCause string

// The explained stop causes; any other cause (e.g. "api-unreachable") is an
// unexplained stop.
const (
	// StopDeleted: the kubelet saw the pod deleted through the API.
	StopDeleted StopCause = "deleted"
	// StopHostDown: the node's host crashed or was powered off.
	StopHostDown StopCause = "host-down"
)

// Continuity checks workload continuity: running pods keep running, in
// particular while the control plane is down. A pod may stop only because
// it was deleted through the API (StopDeleted) or because its host went
// down (StopHostDown); any other stop is a violation, whenever it happens.
//
// Scenarios report each start and stop of a pod on a node, and the
// intervals when every master was down; the latter are evidence only (a
// violation says whether it happened with every master down) and measure
// what the workload survived. Overlapping or touching intervals are merged.
//
// The checker streams, in memory bounded by how many pods run and stop
// within contLag: it keeps the running pods, the pods stopped within
// contLag, the all-masters-down intervals that ended within contLag (older
// ones are summed up: how many, and the longest some pod ran through),
// counts, and the first unexplained stops. Calls may come out of order of
// their times by up to contLag, and an interval is reported once it ended
// (or, open, at the end), after any interval it overlaps.
type Continuity struct {
	name   harness.CheckName
	open   map[contPod]time.Duration // running pod → since
	closed []contSpan                // stopped within contLag of now
	down   [][2]time.Duration        // intervals not yet summed up, to -1: until the end
	now    time.Duration             // the latest time reported
	dated  bool
	tidyAt time.Duration // when next to sum up and drop what is old

	started, deleted, hostDown, stops int
	bad                               examples[contStop] // unexplained stops, by time
	seq                               int                // stops recorded

	// Older all-masters-down intervals, merged: how many, and the longest
	// some pod ran through from start to end (the first if several).
	doneN    int
	doneBest contOutage
	doneAny  bool // doneBest is set
}

// contLag bounds how far out of order calls may come, and how long what
// they may still need is kept.
const contLag = 10 * time.Minute

type contPod struct{ node, pod string }

type contSpan struct {
	contPod
	start, end time.Duration // end -1: still running
}

type contStop struct {
	contPod
	at      time.Duration
	cause   StopCause
	started bool // a start of the pod was seen before
	since   time.Duration
	seq     int
	// Once the all-masters-down interval holding it is summed up: whether
	// there was one, and since when.
	placed bool
	down   bool
	from   time.Duration
}

func contStopBefore(a, b contStop) bool {
	switch {
	case a.at != b.at:
		return a.at < b.at
	case a.node != b.node:
		return a.node < b.node
	case a.pod != b.pod:
		return a.pod < b.pod
	}
	return a.seq < b.seq
}

// NewContinuity returns a checker whose verdicts carry the check name name,
// e.g. "pods-keep-running".
func NewContinuity(name harness.CheckName) *Continuity {
	return &Continuity{name: name, open: map[contPod]time.Duration{}}
}

// clock notes a time reported, and sums up and drops what is older than
// contLag now and then.
func (c *Continuity) clock(t time.Duration) {
	if !c.dated || t > c.now {
		c.now = t
	}
	if !c.dated {
		c.dated = true
		c.tidyAt = c.now + contLag
	}
	if c.now >= c.tidyAt {
		c.tidy(c.now - contLag)
		c.tidyAt = c.now + contLag/8
	}
}

// Started records that pod began running on node at true time at. A second
// start of a pod already running is ignored.
func (c *Continuity) Started(at time.Duration, node, pod string) {
	p := contPod{node, pod}
	if _, ok := c.open[p]; !ok {
		c.open[p] = at
		c.started++
	}
	c.clock(at)
}

// Stopped records that pod stopped running on node at true time at, and
// why. A stop without a start is still judged.
func (c *Continuity) Stopped(at time.Duration, node, pod string, cause StopCause) {
	p := contPod{node, pod}
	s := contStop{contPod: p, at: at, cause: cause, seq: c.seq}
	c.seq++
	if since, ok := c.open[p]; ok {
		delete(c.open, p)
		c.closed = append(c.closed, contSpan{contPod: p, start: since, end: at})
		s.started, s.since = true, since
	}
	c.stops++
	switch cause {
	case StopDeleted:
		c.deleted++
	case StopHostDown:
		c.hostDown++
	default:
		c.bad.add(s, contStopBefore)
	}
	c.clock(at)
}

// MastersDown records that every master was down from true time from to
// true time to (to < 0: until the end of the run).
func (c *Continuity) MastersDown(from, to time.Duration) {
	c.down = append(c.down, [2]time.Duration{from, to})
	c.clock(max(from, to))
}

// contOutage is a merged all-masters-down interval.
type contOutage struct {
	from, to time.Duration
	pods     int // pods running from its start to its end
}

// outages merges the intervals not yet summed up, open ones ending at end,
// and counts the pods that ran through each.
func (c *Continuity) outages(end time.Duration) []contOutage {
	var out []contOutage
	ds := make([][2]time.Duration, len(c.down))
	for i, d := range c.down {
		if d[1] < 0 {
			d[1] = max(end, d[0])
		}
		ds[i] = d
	}
	sort.Slice(ds, func(i, j int) bool {
		if ds[i][0] != ds[j][0] {
			return ds[i][0] < ds[j][0]
		}
		return ds[i][1] < ds[j][1]
	})
	for _, d := range ds {
		if n := len(out); n > 0 && d[0] <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, d[1])
			continue
		}
		out = append(out, contOutage{from: d[0], to: max(d[1], d[0])})
	}
	for i := range out {
		o := &out[i]
		for _, since := range c.open {
			if since <= o.from {
				o.pods++
			}
		}
		for _, s := range c.closed {
			if s.start <= o.from && s.end >= o.to {
				o.pods++
			}
		}
	}
	return out
}

// tidy sums up the all-masters-down intervals that ended before cut (none
// may merge with them any more, and the pods that ran through them are
// known), then drops the pods stopped before cut.
func (c *Continuity) tidy(cut time.Duration) {
	// An open interval may still merge with any interval ending at or
	// after its start.
	hold := cut
	for _, d := range c.down {
		if d[1] < 0 {
			hold = min(hold, d[0])
		}
	}
	done := map[[2]time.Duration]bool{}
	for _, o := range c.outages(0) {
		if o.to >= cut || o.to >= hold || o.from > o.to {
			continue
		}
		done[[2]time.Duration{o.from, o.to}] = true
		c.doneN++
		if o.pods > 0 && (!c.doneAny || o.to-o.from > c.doneBest.to-c.doneBest.from) {
			c.doneBest, c.doneAny = o, true
		}
		for i := range c.bad.items {
			if s := &c.bad.items[i]; !s.placed && o.from <= s.at && s.at <= o.to {
				s.placed, s.down, s.from = true, true, o.from
			}
		}
	}
	if len(done) > 0 {
		kept := c.down[:0]
		for _, d := range c.down {
			if d[1] >= 0 && d[1] < cut && d[1] < hold && c.inDone(d, done) {
				continue
			}
			kept = append(kept, d)
		}
		c.down = kept
	}
	kept := c.closed[:0]
	for _, s := range c.closed {
		if s.end >= cut {
			kept = append(kept, s)
		}
	}
	clear(c.closed[len(kept):])
	c.closed = kept
}

// inDone reports whether interval d lies in one of the merged intervals done.
func (c *Continuity) inDone(d [2]time.Duration, done map[[2]time.Duration]bool) bool {
	for o := range done {
		if o[0] <= d[0] && d[1] <= o[1] {
			return true
		}
	}
	return false
}

// Verdict judges the run, which ended at true time end: violated with every
// unexplained stop (node, pod, when, the cause, whether every master was
// down then; at most a few, then how many more); unknown when no pod ever
// started; ok with the counts and the longest all-masters-down interval
// some pod ran through from start to end.
func (c *Continuity) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: c.name}
	outs := c.outages(end)
	switch {
	case c.bad.n > 0:
		bad := make([]string, len(c.bad.items))
		for i, s := range c.bad.items {
			bad[i] = c.describeStop(s, outs)
		}
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%s stopped for no good reason: %s", countOf(c.bad.n, "pod"), joinCapped(bad, c.bad.n, "; "))
		v.At = c.bad.items[0].at // the examples are the earliest stops, first first
	case c.started == 0:
		v.Status, v.Detail = harness.Unknown, "no pod ever started"
		if c.stops > 0 {
			v.Detail += fmt.Sprintf(" (%s seen: %d deleted, %d lost with their host)", countOf(c.stops, "stop"), c.deleted, c.hostDown)
		}
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s started; %d deleted, %d lost with their host; %d still running at %s; %s",
			countOf(c.started, "pod"), c.deleted, c.hostDown, len(c.open), fmtT(end), c.survived(outs))
	}
	return v
}

// describeStop tells one unexplained stop.
func (c *Continuity) describeStop(s contStop, outs []contOutage) string {
	cause := string(s.cause)
	if cause == "" {
		cause = "no cause given"
	}
	var ran string
	if s.started {
		ran = fmt.Sprintf(", running since %s", fmtT(s.since))
	} else {
		ran = ", never seen starting"
	}
	masters := "with some master up"
	if s.placed {
		if s.down {
			masters = fmt.Sprintf("while every master was down (since %s, %s before)", fmtT(s.from), fmtT(s.at-s.from))
		}
	} else {
		for _, o := range outs {
			if o.from <= s.at && s.at <= o.to {
				masters = fmt.Sprintf("while every master was down (since %s, %s before)", fmtT(o.from), fmtT(s.at-o.from))
				break
			}
		}
	}
	return fmt.Sprintf("pod %s on node %s stopped at %s (%s)%s, %s", s.pod, s.node, fmtT(s.at), cause, ran, masters)
}

// survived says what the workload ran through: the intervals summed up
// came before those still kept.
func (c *Continuity) survived(outs []contOutage) string {
	n := c.doneN + len(outs)
	best, any := c.doneBest, c.doneAny
	for _, o := range outs {
		if o.pods > 0 && (!any || o.to-o.from > best.to-best.from) {
			best, any = o, true
		}
	}
	return contSurvived(n, best, any)
}

// contSurvived says what the workload ran through: of n all-masters-down
// intervals, best (when any) is the longest some pod ran through.
func contSurvived(n int, best contOutage, any bool) string {
	if n == 0 {
		return "the masters were never all down"
	}
	if !any {
		return fmt.Sprintf("no pod ran through any of %s", countOf(n, "all-masters-down interval"))
	}
	o := best
	pl := countOf(o.pods, "pod")
	return fmt.Sprintf("pods kept running through %s with every master down (%s through the outage from %s to %s)",
		fmtT(o.to-o.from), pl, fmtT(o.from), fmtT(o.to))
}
