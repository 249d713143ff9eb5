package harness

import (
	"sort"
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
