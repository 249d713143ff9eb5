package checkers

import (
	"fmt"
	"time"

	"hasim/harness"
)

// Availability checks that a service answers whenever it could: calls that
// fail while the system has been able to serve for at least Grace (its
// detection and fail-over time: health checks, elections) are violations.
//
// The scenario tells the checker, as true time passes, whether the system
// could serve (a ground truth it computes from hosts, processes and links:
// e.g. "the load balancer is up and some API server behind it reaches a
// quorum of etcd") and under which state: any change of state, even
// between two serving states, restarts the grace, since the system must
// notice it. Calls report their start, end and outcome.
type Availability struct {
	name  string
	grace time.Duration
	// Resolution is how finely the scenario samples the state: a call
	// ending within it of a state change is not judged, since the change
	// may have come first.
	Resolution time.Duration
	spans      []availSpan
	calls      []availCall
}

type availSpan struct {
	from, to time.Duration // to -1: open
	serving  bool
	state    string
}

type availCall struct {
	start, end time.Duration
	ok         bool
	what       string
}

// NewAvailability returns a checker named name with the given grace.
func NewAvailability(name string, grace time.Duration) *Availability {
	return &Availability{name: name, grace: grace}
}

// State records the system's ground truth from true time at on: whether it
// can serve, and a description of the state (compared for changes).
func (a *Availability) State(at time.Duration, serving bool, state string) {
	if n := len(a.spans); n > 0 {
		last := &a.spans[n-1]
		if last.serving == serving && last.state == state {
			return
		}
		last.to = at
	}
	a.spans = append(a.spans, availSpan{from: at, to: -1, serving: serving, state: state})
}

// Call records one call: issued at start, answered (or given up) at end.
func (a *Availability) Call(start, end time.Duration, ok bool, what string) {
	a.calls = append(a.calls, availCall{start: start, end: end, ok: ok, what: what})
}

// Verdict judges every call that lies wholly inside a serving span, at
// least Grace after the span began.
func (a *Availability) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: a.name}
	var bad []string
	judged := 0
	for _, c := range a.calls {
		s := a.spanAt(c.start)
		if s == nil || !s.serving || c.start < s.from+a.grace {
			continue
		}
		to := s.to
		if to < 0 {
			to = end
		}
		if c.end+a.Resolution >= to {
			continue
		}
		judged++
		if !c.ok {
			bad = append(bad, fmt.Sprintf("%s failed at %s (issued %s), %s after the system could serve (%s)",
				c.what, c.end, c.start, c.start-s.from, s.state))
		}
	}
	switch {
	case len(bad) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %s failed although the system could serve: %s", len(bad), countOf(judged, "call"), joinExamples(bad, "; "))
	case judged == 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("no call was made while the system had been able to serve for at least %s", a.grace)
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s answered while the system could serve (grace %s after each change)", countOf(judged, "call"), a.grace)
	}
	return v
}

func (a *Availability) spanAt(t time.Duration) *availSpan {
	for i := len(a.spans) - 1; i >= 0; i-- {
		if a.spans[i].from <= t {
			return &a.spans[i]
		}
	}
	return nil
}

// Surplus checks that a controller never creates more replicas than
// wanted: a pod created while its owner already had at least as many pods
// as the most it wanted lately (within Window) is a violation. A surplus
// left by a scale-down is not: only growth above the bound counts.
type Surplus struct {
	name   string
	window time.Duration
	want   map[string][]wantAt
	count  map[string]int
	bad    []string
	seen   int
}

type wantAt struct {
	at   time.Duration
	want int
}

// NewSurplus returns a checker named name.
func NewSurplus(name string, window time.Duration) *Surplus {
	return &Surplus{name: name, window: window, want: map[string][]wantAt{}, count: map[string]int{}}
}

// Sample records, at true time at, an owner's desired count and how many
// pods it has.
func (s *Surplus) Sample(at time.Duration, owner string, want, pods int) {
	hist := append(s.want[owner], wantAt{at, want})
	for len(hist) > 1 && hist[1].at <= at-s.window {
		hist = hist[1:]
	}
	s.want[owner] = hist
	bound := 0
	for _, w := range hist {
		bound = max(bound, w.want)
	}
	prev, known := s.count[owner]
	s.count[owner] = pods
	s.seen++
	if known && pods > prev && pods > bound {
		s.bad = append(s.bad, fmt.Sprintf("%s grew to %d pods at %s, wanting at most %d within %s", owner, pods, at, bound, s.window))
	}
}

// Verdict judges the samples.
func (s *Surplus) Verdict() harness.Verdict {
	v := harness.Verdict{Check: s.name}
	switch {
	case len(s.bad) > 0:
		v.Status, v.Detail = harness.Violated, fmt.Sprintf("%s: %s", countOf(len(s.bad), "surplus creation"), joinExamples(s.bad, "; "))
	case s.seen == 0:
		v.Status, v.Detail = harness.Unknown, "no workload was sampled"
	default:
		v.Status, v.Detail = harness.OK, fmt.Sprintf("%d samples; no owner ever grew past what it wanted", s.seen)
	}
	return v
}
