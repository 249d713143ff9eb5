package checkers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"hasim/harness"
)

// SingleActive checks that at most one process acts for a lease at any true
// instant: the safety promise of leader election (controller-manager,
// scheduler). Processes report when they start and stop acting; a process
// that crashes stops acting at that instant (the scenario reports it).
type SingleActive struct {
	name   harness.CheckName
	spans  []actSpan
	open   map[string]int // process → index of its open span
	ended  time.Duration
	closed bool
}

type actSpan struct {
	who        string
	start, end time.Duration
}

// NewSingleActive returns a checker for one lease (name: the check's name,
// e.g. "single-active/kube-controller-manager").
func NewSingleActive(name harness.CheckName) *SingleActive {
	return &SingleActive{name: name, open: map[string]int{}}
}

// Start records that who began acting at true time at.
func (c *SingleActive) Start(at time.Duration, who string) {
	if _, ok := c.open[who]; ok {
		return
	}
	c.open[who] = len(c.spans)
	c.spans = append(c.spans, actSpan{who: who, start: at, end: -1})
}

// Stop records that who stopped acting at true time at.
func (c *SingleActive) Stop(at time.Duration, who string) {
	if i, ok := c.open[who]; ok {
		c.spans[i].end = at
		delete(c.open, who)
	}
}

// ActedAt reports whether who was acting at true time t.
func (c *SingleActive) ActedAt(who string, t time.Duration) bool {
	for _, s := range c.spans {
		if s.who == who && s.start <= t && (s.end < 0 || t < s.end) {
			return true
		}
	}
	return false
}

// Spans returns the acting intervals (end -1: still acting), for timelines.
func (c *SingleActive) Spans() (who []string, start, end []time.Duration) {
	for _, s := range c.spans {
		who, start, end = append(who, s.who), append(start, s.start), append(end, s.end)
	}
	return
}

// Verdict judges the run, which ended at end: violated with every overlap
// (who, from when, for how long), ok with the number of tenures, unknown
// when nobody ever acted.
func (c *SingleActive) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: c.name}
	spans := append([]actSpan(nil), c.spans...)
	for i := range spans {
		if spans[i].end < 0 {
			spans[i].end = end
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var problems []string
	var first time.Duration // when the earliest overlap began
	overlaps := 0
	for i := range spans {
		for j := i + 1; j < len(spans) && spans[j].start < spans[i].end; j++ {
			if spans[j].who == spans[i].who {
				continue
			}
			overlap := min(spans[i].end, spans[j].end) - spans[j].start
			if overlap <= 0 {
				continue
			}
			if overlaps == 0 || spans[j].start < first {
				first = spans[j].start
			}
			overlaps++
			if len(problems) < MaxProblems {
				problems = append(problems, fmt.Sprintf("%s and %s both acted for %s from %s (%s since %s, %s since %s)",
					spans[i].who, spans[j].who, overlap, spans[j].start, spans[i].who, spans[i].start, spans[j].who, spans[j].start))
			}
		}
	}
	switch {
	case len(problems) > 0:
		v.Status, v.Detail = harness.Violated, strings.Join(problems, "; ")
		v.At = first
	case len(spans) == 0:
		v.Status, v.Detail = harness.Unknown, "nobody ever acted"
	default:
		v.Status, v.Detail = harness.OK, fmt.Sprintf("%d tenures, never two at once", len(spans))
	}
	return v
}
