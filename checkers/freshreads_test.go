package checkers

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func TestFreshReads(t *testing.T) {
	s := time.Second
	// w1: created at rev 5 (seen at 10s), updated at rev 9 (seen at 20s),
	// deleted (seen gone at rev 12, 30s), created again at rev 15 (40s).
	// Rev 7 of w1 was never seen: it began and ended between 10s and 20s.
	timeline := func(f *FreshReads) {
		f.Changed(9*s, 10*s, "w1", 5, 5)
		f.Changed(19*s, 20*s, "w1", 9, 9)
		f.Changed(29*s, 30*s, "w1", 0, 12)
		f.Changed(39*s, 40*s, "w1", 15, 15)
	}
	for _, c := range []struct {
		name       string
		start, end time.Duration
		key        string
		rv         int64
		want       string // "" passes; else a piece of the violation
	}{
		{"the current state", 12 * s, 13 * s, "w1", 5, ""},
		{"a state replaced while the read was in flight", 15 * s, 25 * s, "w1", 5, ""},
		{"a state replaced before the read was issued", 25 * s, 26 * s, "w1", 5, "had replaced by 20.000000000"},
		{"a state not reached by the answer", 5 * s, 8 * s, "w1", 9, "reached only after 19.000000000"},
		{"a state never seen, within its window", 18 * s, 18 * s, "w1", 7, ""},
		{"a state never seen, read after its window", 21 * s, 22 * s, "w1", 7, "had replaced by 20.000000000"},
		{"absent before the create", 1 * s, 2 * s, "w1", 0, ""},
		{"absent while deleted", 33 * s, 34 * s, "w1", 0, ""},
		{"absent, but it existed throughout", 12 * s, 13 * s, "w1", 0, "existed throughout"},
		{"the recreated object", 41 * s, 42 * s, "w1", 15, ""},
		{"an object never seen is absent", 12 * s, 13 * s, "w9", 0, ""},
	} {
		f := NewFreshReads("api-linearizable/objects")
		timeline(f)
		f.Read(c.start, c.end, c.key, c.rv)
		v := f.Verdict()
		switch {
		case c.want == "" && v.Status != harness.OK:
			t.Errorf("%s: %s %s", c.name, v.Status, v.Detail)
		case c.want != "" && (v.Status != harness.Violated || !strings.Contains(v.Detail, c.want) || v.At != c.end):
			t.Errorf("%s: %s %s (at %s), want violated saying %q", c.name, v.Status, v.Detail, v.At, c.want)
		}
	}
	f := NewFreshReads("api-linearizable/objects")
	timeline(f)
	f.Read(50*s, 51*s, "w1", 20) // a state the timeline has not shown
	if v := f.Verdict(); v.Status != harness.Unknown || !strings.Contains(v.Detail, "none of the 1 quorum reads") {
		t.Errorf("a read of an unseen revision: %s %s", v.Status, v.Detail)
	}
	if v := NewFreshReads("api-linearizable/objects").Verdict(); v.Status != harness.Unknown || !strings.Contains(v.Detail, "no quorum read") {
		t.Errorf("no reads: %s %s", v.Status, v.Detail)
	}
}
