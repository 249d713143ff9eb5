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
type Continuity struct {
	name  string
	spans []contSpan
	open  map[contPod]int // pod → index of its open span
	stops []contStop
	down  [][2]time.Duration // all-masters-down intervals, to -1: until the end
}

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
}

// NewContinuity returns a checker whose verdicts carry the check name name,
// e.g. "pods-keep-running".
func NewContinuity(name string) *Continuity {
	return &Continuity{name: name, open: map[contPod]int{}}
}

// Started records that pod began running on node at true time at. A second
// start of a pod already running is ignored.
func (c *Continuity) Started(at time.Duration, node, pod string) {
	p := contPod{node, pod}
	if _, ok := c.open[p]; ok {
		return
	}
	c.open[p] = len(c.spans)
	c.spans = append(c.spans, contSpan{contPod: p, start: at, end: -1})
}

// Stopped records that pod stopped running on node at true time at, and
// why. A stop without a start is still judged.
func (c *Continuity) Stopped(at time.Duration, node, pod string, cause StopCause) {
	p := contPod{node, pod}
	s := contStop{contPod: p, at: at, cause: cause}
	if i, ok := c.open[p]; ok {
		c.spans[i].end = at
		delete(c.open, p)
		s.started, s.since = true, c.spans[i].start
	}
	c.stops = append(c.stops, s)
}

// MastersDown records that every master was down from true time from to
// true time to (to < 0: until the end of the run).
func (c *Continuity) MastersDown(from, to time.Duration) {
	c.down = append(c.down, [2]time.Duration{from, to})
}

// contOutage is a merged all-masters-down interval.
type contOutage struct {
	from, to time.Duration
	pods     int // pods running from its start to its end
}

// outages merges the all-masters-down intervals, open ones ending at end.
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
	return out
}

// Verdict judges the run, which ended at true time end: violated with every
// unexplained stop (node, pod, when, the cause, whether every master was
// down then; at most a few, then how many more); unknown when no pod ever
// started; ok with the counts and the longest all-masters-down interval
// some pod ran through from start to end.
func (c *Continuity) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: c.name}
	outs := c.outages(end)
	for i := range outs {
		for _, s := range c.spans {
			se := s.end
			if se < 0 {
				se = max(end, outs[i].to)
			}
			if s.start <= outs[i].from && se >= outs[i].to {
				outs[i].pods++
			}
		}
	}

	stops := append([]contStop(nil), c.stops...)
	sort.SliceStable(stops, func(i, j int) bool {
		a, b := stops[i], stops[j]
		switch {
		case a.at != b.at:
			return a.at < b.at
		case a.node != b.node:
			return a.node < b.node
		}
		return a.pod < b.pod
	})
	var deleted, hostDown int
	var bad []string
	for _, s := range stops {
		switch s.cause {
		case StopDeleted:
			deleted++
		case StopHostDown:
			hostDown++
		default:
			bad = append(bad, c.describeStop(s, outs))
		}
	}

	switch {
	case len(bad) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%s stopped for no good reason: %s", countOf(len(bad), "pod"), joinExamples(bad, "; "))
	case len(c.spans) == 0:
		v.Status, v.Detail = harness.Unknown, "no pod ever started"
		if len(stops) > 0 {
			v.Detail += fmt.Sprintf(" (%s seen: %d deleted, %d lost with their host)", countOf(len(stops), "stop"), deleted, hostDown)
		}
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s started; %d deleted, %d lost with their host; %d still running at %s; %s",
			countOf(len(c.spans), "pod"), deleted, hostDown, len(c.open), fmtT(end), contSurvived(outs))
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
	for _, o := range outs {
		if o.from <= s.at && s.at <= o.to {
			masters = fmt.Sprintf("while every master was down (since %s, %s before)", fmtT(o.from), fmtT(s.at-o.from))
			break
		}
	}
	return fmt.Sprintf("pod %s on node %s stopped at %s (%s)%s, %s", s.pod, s.node, fmtT(s.at), cause, ran, masters)
}

// contSurvived says what the workload ran through.
func contSurvived(outs []contOutage) string {
	if len(outs) == 0 {
		return "the masters were never all down"
	}
	best := -1
	for i, o := range outs {
		if o.pods > 0 && (best < 0 || o.to-o.from > outs[best].to-outs[best].from) {
			best = i
		}
	}
	if best < 0 {
		return fmt.Sprintf("no pod ran through any of %s", countOf(len(outs), "all-masters-down interval"))
	}
	o := outs[best]
	pl := countOf(o.pods, "pod")
	return fmt.Sprintf("pods kept running through %s with every master down (%s through the outage from %s to %s)",
		fmtT(o.to-o.from), pl, fmtT(o.from), fmtT(o.to))
}
