package checkers

import (
	"fmt"
	"strings"
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
//
// The checker streams: States come in order of time, and a call is judged
// as soon as a State later than its end plus Resolution is recorded (or at
// Verdict, which is given an end no earlier than the last State). It keeps
// the calls not yet judgeable, the current span and the spans of the last
// availKeep (for calls recorded late), counts, and the first failures as
// examples.
type Availability struct {
	name  harness.CheckName
	grace time.Duration
	// Resolution is how finely the scenario samples the state: a call
	// ending within it of a state change is not judged, since the change
	// may have come first.
	Resolution time.Duration

	spans    []availSpan   // by from; the last one open
	stated   bool          // some State was recorded
	now      time.Duration // the latest State's time
	prunedTo time.Duration // spans before it were dropped (when pruned)
	pruned   bool
	calls    []availCall // not yet judgeable, in order of recording
	seq      int         // calls recorded
	judged   int
	failed   examples[availFail]
	// firstFail is the earliest end of a failed call judged (when
	// failed.n > 0): where a timeline marks the violation.
	firstFail time.Duration
}

// availKeep is how long closed spans are kept after they end, for calls
// recorded late (a scenario records a call when it ends).
const availKeep = 2 * time.Minute

type availSpan struct {
	from, to time.Duration // to -1: open
	serving  bool
	state    string
}

type availCall struct {
	start, end time.Duration
	ok         bool
	what       string
	seq        int
}

// availFail is one failed call judged, in order of recording.
type availFail struct {
	seq  int
	text string
}

func availFailBefore(a, b availFail) bool { return a.seq < b.seq }

// NewAvailability returns a checker named name with the given grace.
func NewAvailability(name harness.CheckName, grace time.Duration) *Availability {
	return &Availability{name: name, grace: grace}
}

// State records the system's ground truth from true time at on: whether it
// can serve, and a description of the state (compared for changes).
// States come in order of time.
func (a *Availability) State(at time.Duration, serving bool, state string) {
	if !a.stated || at > a.now {
		a.now = at
	}
	a.stated = true
	if n := len(a.spans); n > 0 {
		last := &a.spans[n-1]
		if !(last.serving == serving && last.state == state) {
			last.to = at
			a.spans = append(a.spans, availSpan{from: at, to: -1, serving: serving, state: state})
		}
	} else {
		a.spans = append(a.spans, availSpan{from: at, to: -1, serving: serving, state: state})
	}
	// Judge what has become judgeable.
	kept := a.calls[:0]
	for _, c := range a.calls {
		if !a.settle(c) {
			kept = append(kept, c)
		}
	}
	clear(a.calls[len(kept):])
	a.calls = kept
	// Drop the spans no call can need any more.
	n := 0
	for n < len(a.spans)-1 && a.spans[n].to < a.now-availKeep {
		n++
	}
	if n > 0 {
		a.prunedTo, a.pruned = a.spans[n].from, true
		m := copy(a.spans, a.spans[n:])
		clear(a.spans[m:])
		a.spans = a.spans[:m]
	}
}

// Call records one call: issued at start, answered (or given up) at end.
func (a *Availability) Call(start, end time.Duration, ok bool, what string) {
	c := availCall{start: start, end: end, ok: ok, what: what, seq: a.seq}
	a.seq++
	if !a.settle(c) {
		a.calls = append(a.calls, c)
	}
}

// settle judges c if its fate is known, and reports whether it was.
func (a *Availability) settle(c availCall) bool {
	if !a.stated || c.start >= a.now {
		return false // a later State may still cover its start
	}
	s, lost := a.spanAt(c.start)
	switch {
	case lost:
		// Its span was dropped, having ended more than availKeep before
		// the latest State: the call would count only had it ended before
		// its span did, i.e. were it recorded over availKeep after its
		// end, which a scenario recording calls as they end never does.
		return true
	case s == nil || !s.serving || c.start < s.from+a.grace:
		return true
	case s.to >= 0:
		a.count(c, s, c.end+a.Resolution < s.to)
		return true
	case c.end+a.Resolution < a.now:
		a.count(c, s, true)
		return true
	}
	return false
}

// count records the judgement of c, made in span s.
func (a *Availability) count(c availCall, s *availSpan, judged bool) {
	if !judged {
		return
	}
	a.judged++
	if !c.ok {
		if a.failed.n == 0 || c.end < a.firstFail {
			a.firstFail = c.end
		}
		a.failed.add(availFail{seq: c.seq, text: availDescribe(c, s)}, availFailBefore)
	}
}

func availDescribe(c availCall, s *availSpan) string {
	return fmt.Sprintf("%s failed at %s (issued %s), %s after the system could serve (%s)",
		c.what, c.end, c.start, c.start-s.from, s.state)
}

// Verdict judges every call that lies wholly inside a serving span, at
// least Grace after the span began. It may be asked again, after more
// calls and states.
func (a *Availability) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: a.name}
	judged := a.judged
	failed := examples[availFail]{n: a.failed.n, items: append([]availFail(nil), a.failed.items...)}
	firstFail := a.firstFail
	for _, c := range a.calls {
		s, lost := a.spanAt(c.start)
		if lost || s == nil || !s.serving || c.start < s.from+a.grace {
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
			if failed.n == 0 || c.end < firstFail {
				firstFail = c.end
			}
			failed.add(availFail{seq: c.seq, text: availDescribe(c, s)}, availFailBefore)
		}
	}
	switch {
	case failed.n > 0:
		items := make([]string, len(failed.items))
		for i, f := range failed.items {
			items[i] = f.text
		}
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %s failed although the system could serve: %s", failed.n, countOf(judged, "call"), joinCapped(items, failed.n, "; "))
		v.At = firstFail
	case judged == 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("no call was made while the system had been able to serve for at least %s", a.grace)
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s answered while the system could serve (grace %s after each change)", countOf(judged, "call"), a.grace)
	}
	return v
}

// spanAt returns the span covering t, nil before the first State; lost
// when it was dropped.
func (a *Availability) spanAt(t time.Duration) (s *availSpan, lost bool) {
	for i := len(a.spans) - 1; i >= 0; i-- {
		if a.spans[i].from <= t {
			return &a.spans[i], false
		}
	}
	return nil, a.pruned && t < a.prunedTo
}

// Surplus checks that a controller never creates more replicas than
// wanted: a pod created while its owner already had at least as many pods
// as the most it wanted lately (within Window) is a violation. A surplus
// left by a scale-down is not: only growth above the bound counts. Growth
// whose new pods the scenario excuses (with a reason: a deposed
// controller's create that landed late, a decision made from a stale
// cache) is counted apart and named in the verdict, not a violation.
type Surplus struct {
	name    harness.CheckName
	window  time.Duration
	want    map[string][]wantAt
	count   map[string]int
	bad     examples[string] // the first surplus creations
	badAt   time.Duration    // the earliest surplus sample (when bad.n > 0)
	excused map[string]int   // reason → surplus creations excused
	seen    int
	skipped int // samples the scenario could not take (Skip)
}

// Skip counts a sample the scenario could not take: the truth it reads was
// unknown then (the store it would read was behind what it had read).
func (s *Surplus) Skip() { s.skipped++ }

type wantAt struct {
	at   time.Duration
	want int
}

// NewSurplus returns a checker named name.
func NewSurplus(name harness.CheckName, window time.Duration) *Surplus {
	return &Surplus{name: name, window: window, want: map[string][]wantAt{}, count: map[string]int{}, excused: map[string]int{}}
}

// Sample records, at true time at, an owner's desired count and how many
// pods it has; excuses gives, for each pod new since the last sample that
// the scenario excuses, why.
func (s *Surplus) Sample(at time.Duration, owner string, want, pods int, excuses ...string) {
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
		if surplus := pods - max(prev, bound); len(excuses) >= surplus {
			for _, why := range excuses[:surplus] {
				s.excused[why]++
			}
			return
		}
		if s.bad.n == 0 || at < s.badAt {
			s.badAt = at
		}
		s.bad.add(fmt.Sprintf("%s grew to %d pods at %s, wanting at most %d within %s", owner, pods, at, bound, s.window), func(string, string) bool { return false })
	}
}

// Verdict judges the samples.
func (s *Surplus) Verdict() harness.Verdict {
	v := harness.Verdict{Check: s.name}
	switch {
	case s.bad.n > 0:
		v.Status, v.Detail = harness.Violated, fmt.Sprintf("%s: %s", countOf(s.bad.n, "surplus creation"), joinCapped(s.bad.items, s.bad.n, "; "))
		v.At = s.badAt
	case s.seen == 0:
		v.Status, v.Detail = harness.Unknown, "no workload was sampled"
	default:
		v.Status, v.Detail = harness.OK, fmt.Sprintf("%d samples; no owner ever grew past what it wanted", s.seen)
	}
	if s.skipped > 0 {
		v.Detail += fmt.Sprintf("; %d samples skipped while the truth was unknown (the store member that had got furthest was down)", s.skipped)
	}
	if len(s.excused) > 0 {
		var parts []string
		for _, why := range harness.SortedKeys(s.excused) {
			parts = append(parts, fmt.Sprintf("%d %s", s.excused[why], why))
		}
		v.Detail += "; surplus creations excused: " + strings.Join(parts, ", ")
	}
	return v
}
