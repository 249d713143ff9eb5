package harness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTimelineAxisTicks(t *testing.T) {
	cases := []struct {
		end  time.Duration
		want string // the labels
	}{
		{3 * time.Minute, "0s 30s 1m 1m30s 2m 2m30s 3m"},
		{40 * time.Second, "0s 5s 10s 15s 20s 25s 30s 35s 40s"},
		{10 * time.Minute, "0s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m"},
		// The last tick need not reach the end.
		{107 * time.Second, "0s 10s 20s 30s 40s 50s 1m 1m10s 1m20s 1m30s 1m40s"},
		{2*time.Minute + 40*time.Second, "0s 15s 30s 45s 1m 1m15s 1m30s 1m45s 2m 2m15s 2m30s"},
		{4*time.Hour + 10*time.Minute, "0s 30m 1h 1h30m 2h 2h30m 3h 3h30m 4h"},
		{1500 * time.Millisecond, "0s 0.2s 0.4s 0.6s 0.8s 1.0s 1.2s 1.4s"},
		{30 * time.Millisecond, "0s 0.005s 0.010s 0.015s 0.020s 0.025s 0.030s"},
		{20 * 24 * time.Hour, "0s 48h 96h 144h 192h 240h 288h 336h 384h 432h 480h"},
		{0, "0s"},
	}
	for _, c := range cases {
		step, ticks := AxisTicks(c.end)
		var got []string
		for _, tk := range ticks {
			got = append(got, TickLabel(tk, step))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: ticks %q, want %q", c.end, g, c.want)
		}
		if len(ticks)-1 > MaxTicks {
			t.Errorf("%s: %d intervals, more than %d", c.end, len(ticks)-1, MaxTicks)
		}
	}
}

// Every class the harness itself draws with is one a legend explains.
func TestTimelineSpanClassesExplainFaultSpans(t *testing.T) {
	known := map[string]bool{}
	for _, c := range SpanClasses {
		if c.Class == "" || c.Meaning == "" || known[c.Class] {
			t.Errorf("bad or repeated legend entry %+v", c)
		}
		known[c.Class] = true
	}
	s := NewSim(1, TraceOptions{})
	s.faultLog = []FaultRecord{{At: time.Second, End: 2 * time.Second, Text: "crash m1", Hosts: []string{"m1"}}}
	for _, sp := range FaultSpans(s) {
		if !known[sp.Class] {
			t.Errorf("span class %q has no legend entry", sp.Class)
		}
	}
}

// A verdict's moment travels with it in JSON, and is left out when unknown.
func TestVerdictAtJSON(t *testing.T) {
	b, _ := json.Marshal(Verdict{Check: "c", Status: Violated, Detail: "d", At: 1500 * time.Millisecond})
	if !strings.Contains(string(b), `"at":1500000000`) {
		t.Errorf("At missing: %s", b)
	}
	b, _ = json.Marshal(Verdict{Check: "c", Status: OK, Detail: "d"})
	if strings.Contains(string(b), `"at"`) {
		t.Errorf("an unknown moment is written: %s", b)
	}
}
