package harness

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Span is an interval on a run's timeline, drawn for people reading a
// failure: a fault, a host's trouble, a leader's tenure, an outage. Lane
// groups spans into one row ("faults", "m1", "raft leader"); Class says how
// to draw it ("fault", "host", "leader", "up", "down", ...).
type Span struct {
	Lane  string        `json:"lane"`
	Class string        `json:"class"`
	Label string        `json:"label"`
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// FaultSpans draws the schedule as it happened: one span per entry in the
// "faults" lane, and one in the lane of every host it acted on (a fault
// never undone lasts to the end of the run).
func FaultSpans(s *Sim) []Span {
	var out []Span
	for _, f := range s.faultLog {
		end := f.End
		if end < f.At {
			end = s.now
		}
		label := f.Text
		if len(f.Skipped) > 0 {
			label += " (skipped: " + strings.Join(f.Skipped, "; ") + ")"
		}
		out = append(out, Span{Lane: "faults", Class: "fault", Label: label, Start: f.At, End: end})
		hosts := append([]string(nil), f.Hosts...)
		sort.Strings(hosts)
		for _, h := range hosts {
			out = append(out, Span{Lane: "host " + h, Class: "host", Label: f.Text, Start: f.At, End: end})
		}
	}
	return out
}

// SpanClass is a class spans are drawn with, and what a timeline's legend
// says it means.
type SpanClass struct {
	Class, Meaning string
}

// SpanClasses are the classes the scenarios draw with, in the order a
// legend lists them. A scenario drawing a new class adds it here, so that
// the legend can explain it.
var SpanClasses = []SpanClass{
	{"fault", "a schedule entry, from when it acted until it was undone"},
	{"host", "a fault acting on this host"},
	{"leader", "who held the role (raft leader, active controller, VIP)"},
	{"up", "working: writes succeed, calls answered, backend up"},
	{"down", "failing: writes or calls fail"},
}

// tickSteps are the intervals an axis may be marked at: each reads as a
// round number of its unit.
var tickSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// MaxTicks bounds how many intervals AxisTicks divides a run into: more
// labels would crowd a page's width.
const MaxTicks = 10

// AxisTicks returns where to mark a time axis from 0 to end: the
// multiples, from 0 up to end, of the smallest round step of which end
// holds at most MaxTicks. A run too long for the largest step is marked
// in whole days.
func AxisTicks(end time.Duration) (step time.Duration, ticks []time.Duration) {
	if end <= 0 {
		return 0, []time.Duration{0}
	}
	step = tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if end/s <= MaxTicks {
			step = s
			break
		}
	}
	for end/step > MaxTicks {
		step += 24 * time.Hour
	}
	for t := time.Duration(0); t <= end; t += step {
		ticks = append(ticks, t)
	}
	return step, ticks
}

// TickLabel writes t, a multiple of an axis's step, as briefly as the step
// allows: "0s", "45s", "1m30s", "2h", "1.5s", "0.25s".
func TickLabel(t, step time.Duration) string {
	if t == 0 {
		return "0s"
	}
	if step < time.Second {
		decimals := 1
		if step < 10*time.Millisecond {
			decimals = 3
		} else if step < 100*time.Millisecond {
			decimals = 2
		}
		return strconv.FormatFloat(t.Seconds(), 'f', decimals, 64) + "s"
	}
	var b strings.Builder
	h, m, s := t/time.Hour, (t%time.Hour)/time.Minute, (t%time.Minute)/time.Second
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}
