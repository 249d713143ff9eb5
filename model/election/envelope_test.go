package election

import (
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func rec(at, end time.Duration, text string, faults []harness.Fault, resolved map[string]string, skipped ...string) harness.FaultRecord {
	return harness.FaultRecord{At: at, End: end, Text: text, Faults: faults, Resolved: resolved, Skipped: skipped}
}

func TestEnvelopeSlack(t *testing.T) {
	if s := Safe.Slack(Defaults); s <= 0 || s > time.Second {
		t.Fatalf("Safe leaves %s under client-go's timings; want a small positive margin", s)
	}
	if s := Naive.Slack(Defaults); s >= 0 {
		t.Fatalf("Naive leaves %s; it is not safe", s)
	}
}

func TestEnvelopeOutside(t *testing.T) {
	pause := func(h string) []harness.Fault { return []harness.Fault{harness.Pause{Host: harness.HostT(h)}} }
	rate := func(h string, r harness.Rate) []harness.Fault {
		return []harness.Fault{harness.ClockRate{Host: harness.HostT(h), Rate: r}}
	}
	for _, c := range []struct {
		name string
		recs []harness.FaultRecord
		want string // "" inside
	}{
		{"nothing", nil, ""},
		{"short pause and slight skew", []harness.FaultRecord{rec(0, time.Second, "", pause("m1"), nil), rec(0, time.Minute, "", rate("m2", 1_040_000), nil)}, ""},
		{"long pause", []harness.FaultRecord{rec(time.Second, 3*time.Second, "", pause("m1"), nil)}, "m1 paused 2s from 1s"},
		{"pauses back to back", []harness.FaultRecord{rec(0, 800*time.Millisecond, "", pause("m1"), nil), rec(800*time.Millisecond, 1600*time.Millisecond, "", pause("m1"), nil)}, "m1 paused 1.6s from 0s"},
		{"pause still on at the end", []harness.FaultRecord{rec(55*time.Second, -1, "", pause("m2"), nil)}, "m2 paused 5s from 55s"},
		// A pause ended by a resume entry of its own lasts until then.
		{"pause ended by a resume", []harness.FaultRecord{rec(10*time.Second, -1, "", pause("m1"), nil),
			rec(10*time.Second+100*time.Millisecond, -1, "", []harness.Fault{harness.Resume{Host: harness.HostT("m1")}}, nil)}, ""},
		{"long pause ended by a resume", []harness.FaultRecord{rec(10*time.Second, -1, "", pause("m1"), nil),
			rec(13*time.Second, -1, "", []harness.Fault{harness.Resume{Host: harness.HostT("m1")}}, nil)}, "m1 paused 3s from 10s"},
		{"a resume of another host ends nothing", []harness.FaultRecord{rec(10*time.Second, -1, "", pause("m1"), nil),
			rec(10*time.Second+100*time.Millisecond, -1, "", []harness.Fault{harness.Resume{Host: harness.HostT("m2")}}, nil)}, "m1 paused 50s from 10s"},
		// A crash ends a pause: what restarts holds no stale lease.
		{"pause ended by a crash", []harness.FaultRecord{rec(10*time.Second, 40*time.Second, "", pause("m1"), nil),
			rec(10*time.Second+500*time.Millisecond, 20*time.Second, "", []harness.Fault{harness.Crash{Host: harness.HostT("m1")}}, nil)}, ""},
		{"fast clock", []harness.FaultRecord{rec(0, time.Second, "", rate("m3", 1_200_000), nil)}, "clock m3 rate 1.2x at 0s"},
		{"a role's pause counts for its host", []harness.FaultRecord{rec(0, 2*time.Second, "", []harness.Fault{harness.Pause{Host: harness.RoleT("active-cm")}}, map[string]string{"active-cm": "m2/cm"})}, "m2 paused 2s"},
		{"a skipped pause counts for nothing", []harness.FaultRecord{rec(0, 5*time.Second, "", pause("m1"), nil, "pause m1: host m1 is down")}, ""},
		{"a skipped entry counts for nothing", []harness.FaultRecord{rec(0, 5*time.Second, "", []harness.Fault{harness.Pause{Host: harness.RoleT("x")}}, map[string]string{"x": ""}, "no holder for @x")}, ""},
	} {
		got := Safe.Outside(c.recs, time.Minute)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	slow := Defaults
	slow.LeaseDuration = 12 * time.Second
	if got := Safe.Judge(slow, nil, time.Minute); !strings.Contains(got, "the timings leave no margin") {
		t.Errorf("timings without slack judged %q", got)
	}
}

// The envelope narrows generation: every drawn schedule stays inside.
func TestEnvelopeBound(t *testing.T) {
	sc := &Scenario{}
	for seed := uint64(1); seed <= 100; seed++ {
		o := Safe.Bound(sc.GenOptions(2 * time.Minute))
		for _, e := range harness.Generate(harness.NewRand(seed, "faults"), o) {
			for _, f := range e.Faults {
				switch f := f.(type) {
				case harness.ClockRate:
					if f.Rate < Safe.MinRate || f.Rate > Safe.MaxRate {
						t.Fatalf("seed %d: %s", seed, e)
					}
				case harness.Pause:
					if e.For > Safe.MaxPause {
						t.Fatalf("seed %d: %s", seed, e)
					}
				}
			}
		}
	}
}

// Only what fired before a violation began can excuse it; a pause that
// began before it counts for its whole length, up to its resume.
func TestEnvelopeExcuse(t *testing.T) {
	pause := func(at, end time.Duration, h string) harness.FaultRecord {
		return rec(at, end, "", []harness.Fault{harness.Pause{Host: harness.HostT(h)}}, nil)
	}
	resume := func(at time.Duration, h string) harness.FaultRecord {
		return rec(at, -1, "", []harness.Fault{harness.Resume{Host: harness.HostT(h)}}, nil)
	}
	violated := func(at time.Duration) harness.Verdict {
		return harness.Verdict{Check: "single-active", Status: harness.Violated, At: at}
	}
	for _, c := range []struct {
		name    string
		v       harness.Verdict
		recs    []harness.FaultRecord
		outside bool
	}{
		{"a long pause after the violation", violated(30 * time.Second), []harness.FaultRecord{pause(40*time.Second, 50*time.Second, "m1")}, false},
		{"a long pause before it", violated(30 * time.Second), []harness.FaultRecord{pause(20*time.Second, 50*time.Second, "m1")}, true},
		{"a pause before it, resumed after it, long in all", violated(30 * time.Second), []harness.FaultRecord{pause(20*time.Second, -1, "m1"), resume(35*time.Second, "m1")}, true},
		{"a pause before it, resumed at once", violated(30 * time.Second), []harness.FaultRecord{pause(20*time.Second, -1, "m1"), resume(20*time.Second+time.Millisecond, "m1")}, false},
		{"a verdict without a time: every fault", violated(0), []harness.FaultRecord{pause(40*time.Second, 50*time.Second, "m1")}, true},
		{"an ok verdict is never excused", harness.Verdict{Status: harness.OK}, []harness.FaultRecord{pause(0, 50*time.Second, "m1")}, false},
	} {
		v := c.v
		Safe.Excuse(Defaults, &v, c.recs, time.Minute)
		if (v.Outside != "") != c.outside {
			t.Errorf("%s: Outside = %q, want outside=%v", c.name, v.Outside, c.outside)
		}
	}
}

// A pause that began 100ms before the overlap (well inside MaxPause then)
// cannot have caused it; its length after the violation began should not
// excuse it.
func TestExcuseCountsAPauseOnlyUpToTheViolation(t *testing.T) {
	recs := []harness.FaultRecord{rec(30*time.Second-100*time.Millisecond, 50*time.Second, "", []harness.Fault{harness.Pause{Host: harness.HostT("m1")}}, nil)}
	v := harness.Verdict{Check: "single-active", Status: harness.Violated, At: 30 * time.Second}
	Safe.Excuse(Defaults, &v, recs, time.Minute)
	if v.Outside != "" {
		t.Errorf("excused by a pause that was 100ms old when the violation began: %s", v.Outside)
	}
}
