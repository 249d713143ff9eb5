package checkers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

// availEvent is one call on an Availability checker: a State or a Call.
type availEvent struct {
	state      bool
	at, end    float64
	serving    bool
	ok         bool
	desc, what string
}

func aState(at float64, serving bool, desc string) availEvent {
	return availEvent{state: true, at: at, serving: serving, desc: desc}
}

// aCall: a call issued at start, answered (ok) or failed at end.
func aCall(start, end float64, ok bool, what string) availEvent {
	return availEvent{at: start, end: end, ok: ok, what: what}
}

func availApply(a *Availability, evs []availEvent) {
	for _, e := range evs {
		if e.state {
			a.State(ttSec(e.at), e.serving, e.desc)
		} else {
			a.Call(ttSec(e.at), ttSec(e.end), e.ok, e.what)
		}
	}
}

func TestAvailability(t *testing.T) {
	const up, down = "lb up, quorum", "no quorum"
	tests := []struct {
		name   string
		grace  float64 // seconds; 5 unless set
		events []availEvent
		end    float64
		want   harness.Status
		substr []string
		absent []string
	}{
		{
			name: "calls answered while serving",
			events: []availEvent{
				aState(0, true, up),
				aCall(6, 7, true, "get a"), aCall(10, 11, true, "get b"),
			},
			end: 20, want: harness.OK,
			substr: []string{"2 calls answered while the system could serve (grace 5s after each change)"},
		},
		{
			name: "a failed call while serving",
			events: []availEvent{
				aState(0, true, up),
				aCall(6, 7, false, "get a"), aCall(10, 11, true, "get b"),
			},
			end: 20, want: harness.Violated,
			substr: []string{"1 of 2 calls failed although the system could serve: " +
				"get a failed at " + ttSec(7).String() + " (issued " + ttSec(6).String() +
				"), 6s after the system could serve (" + up + ")"},
			absent: []string{"get b"},
		},
		{
			name:   "no call at all",
			events: []availEvent{aState(0, true, up)},
			end:    20, want: harness.Unknown,
			substr: []string{"no call was made while the system had been able to serve for at least 5s"},
		},
		{
			name:   "nothing recorded",
			end:    20,
			want:   harness.Unknown,
			substr: []string{"no call was made"},
		},
		{
			name: "calls only while not serving",
			events: []availEvent{
				aState(0, false, down),
				aCall(10, 11, false, "get a"), aCall(12, 13, true, "get b"),
			},
			end: 20, want: harness.Unknown,
		},
		{
			name: "calls with no State at all are not judged",
			events: []availEvent{
				aCall(10, 11, false, "get a"),
			},
			end: 20, want: harness.Unknown,
		},
		{
			name: "failures inside the grace are not judged",
			events: []availEvent{
				aState(0, false, down),
				aCall(2, 3, false, "get a"),
				aState(10, true, up),
				aCall(10, 11, false, "get b"), aCall(14, 14.9, false, "get c"),
				aCall(14.999, 16, false, "get d"), // issued just inside the grace
				aCall(16, 17, true, "get e"),
			},
			end: 30, want: harness.OK,
			substr: []string{"1 call answered"},
		},
		{
			name: "a call issued exactly when the grace ends is judged",
			events: []availEvent{
				aState(0, false, down),
				aState(10, true, up),
				aCall(15, 15.5, false, "get a"),
			},
			end: 30, want: harness.Violated,
			substr: []string{"1 of 1 call failed", "get a failed at " + ttSec(15.5).String(), "5s after the system could serve"},
		},
		{
			name:  "zero grace judges a call issued at the change",
			grace: -1,
			events: []availEvent{
				aState(0, false, down),
				aState(10, true, up),
				aCall(10, 10.5, false, "get a"),
			},
			end: 30, want: harness.Violated,
			substr: []string{"get a failed", "0s after the system could serve"},
		},
		{
			name: "only calls inside the grace",
			events: []availEvent{
				aState(0, true, up),
				aCall(1, 2, false, "get a"), aCall(3, 4, true, "get b"),
			},
			end: 20, want: harness.Unknown,
			substr: []string{"at least 5s"},
		},
		{
			name: "a change between two serving states restarts the grace",
			events: []availEvent{
				aState(0, true, "leader n1"),
				aCall(10, 11, true, "get a"),
				aState(20, true, "leader n2"),
				aCall(21, 22, false, "get b"), aCall(24, 24.5, false, "get c"),
				aCall(26, 27, true, "get d"),
			},
			end: 40, want: harness.OK,
			substr: []string{"2 calls answered"},
		},
		{
			name: "after the restarted grace, failures count against the new state",
			events: []availEvent{
				aState(0, true, "leader n1"),
				aState(20, true, "leader n2"),
				aCall(27, 28, false, "get a"),
			},
			end: 40, want: harness.Violated,
			substr: []string{"get a failed", "7s after the system could serve (leader n2)"},
			absent: []string{"leader n1"},
		},
		{
			name: "a change back to an earlier state also restarts the grace",
			events: []availEvent{
				aState(0, true, "leader n1"),
				aState(20, true, "leader n2"),
				aState(30, true, "leader n1"),
				aCall(31, 32, false, "get a"),
				aCall(36, 37, true, "get b"),
			},
			end: 40, want: harness.OK,
			substr: []string{"1 call answered"},
		},
		{
			name: "repeating the same state does not restart the grace",
			events: []availEvent{
				aState(0, true, up),
				aState(10, true, up),
				aState(20, true, up),
				aCall(21, 22, false, "get a"),
			},
			end: 40, want: harness.Violated,
			substr: []string{"get a failed", "21s after the system could serve (" + up + ")"},
		},
		{
			name: "the same description, serving or not, is a change",
			events: []availEvent{
				aState(0, true, "n1"),
				aState(20, false, "n1"),
				aState(21, true, "n1"),
				aCall(22, 23, false, "get a"),
			},
			end: 40, want: harness.Unknown,
		},
		{
			name: "calls spanning the end of a serving span are not judged",
			events: []availEvent{
				aState(0, true, up),
				aCall(10, 11, true, "get a"),
				aCall(18, 21, false, "get b"),  // answered after the span ended
				aCall(19, 25, false, "get c"),  // likewise, far after
				aCall(21, 22, false, "get d"),  // not serving
				aCall(12, 200, false, "get e"), // spans into the next serving span
				aState(20, false, down),
				aState(30, true, up),
			},
			end: 40, want: harness.OK,
			substr: []string{"1 call answered"},
			absent: []string{"get b", "get c", "get d", "get e"},
		},
		{
			name: "a call ending exactly as its span ends is not judged (the change may have come first)",
			events: []availEvent{
				aState(0, true, up),
				aState(20, false, down),
				aCall(18, 20, false, "get a"),
			},
			end: 40, want: harness.Unknown,
		},
		{
			name: "a call issued before any State is not judged",
			events: []availEvent{
				aCall(1, 2, false, "get a"),
				aCall(3, 12, false, "get b"), // issued before, answered after the first State
				aState(5, true, up),
				aCall(11, 12, true, "get c"),
			},
			end: 40, want: harness.OK,
			substr: []string{"1 call answered"},
			absent: []string{"get a", "get b"},
		},
		{
			name: "the open last span is judged up to the end",
			events: []availEvent{
				aState(0, true, up),
				aCall(10, 11, true, "get a"),
				aCall(38, 41, false, "get b"), // answered after the end
				aCall(45, 46, false, "get c"), // issued after the end
			},
			end: 40, want: harness.OK,
			substr: []string{"1 call answered"},
		},
		{
			name: "a call ending just before the end is judged",
			events: []availEvent{
				aState(0, true, up),
				aCall(38, 39, false, "get b"),
			},
			end: 40, want: harness.Violated,
			substr: []string{"1 of 1 call failed", "get b failed at 39s"},
		},
		{
			name: "the open last span after changes",
			events: []availEvent{
				aState(0, false, down),
				aState(10, true, "leader n1"),
				aState(20, false, down),
				aState(30, true, "leader n2"),
				aCall(16, 18, true, "get a"),
				aCall(36, 39, false, "get b"),
				aCall(39, 41, false, "get c"),
			},
			end: 40, want: harness.Violated,
			substr: []string{"1 of 2 calls failed", "get b failed", "6s after the system could serve (leader n2)"},
			absent: []string{"get c"},
		},
		{
			name: "two states at one instant: the later one holds",
			events: []availEvent{
				aState(0, true, up),
				aState(10, false, down),
				aState(10, true, "leader n2"),
				aCall(12, 13, false, "get a"),
				aCall(16, 17, true, "get b"),
			},
			end: 40, want: harness.OK,
			substr: []string{"1 call answered"},
		},
		{
			name: "the order of State and Call does not matter",
			events: []availEvent{
				aCall(16, 17, false, "get a"),
				aState(0, false, down),
				aCall(8, 9, true, "get b"),
				aState(10, true, up),
			},
			end: 40, want: harness.Violated,
			substr: []string{"1 of 1 call failed", "get a failed", "6s after the system could serve"},
		},
		{
			name: "many failures: counted, evidence bounded",
			events: func() []availEvent {
				evs := []availEvent{aState(0, true, up)}
				for i := range 7 {
					evs = append(evs, aCall(float64(10+i), float64(10+i)+0.5, false, fmt.Sprintf("get k%d", i)))
				}
				return append(evs, aCall(20, 21, true, "get ok"))
			}(),
			end: 40, want: harness.Violated,
			substr: []string{"7 of 8 calls failed", "get k0 failed", "get k4 failed", "; and 2 more"},
			absent: []string{"get k5", "get k6"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grace := 5 * time.Second
			if tc.grace < 0 {
				grace = 0
			} else if tc.grace > 0 {
				grace = ttSec(tc.grace)
			}
			a := NewAvailability("api-available", grace)
			availApply(a, tc.events)
			v := a.Verdict(ttSec(tc.end))
			if v.Check != "api-available" {
				t.Errorf("check %q", v.Check)
			}
			ttWant(t, v, tc.want, tc.substr, tc.absent)
		})
	}
}

// Verdict does not consume anything: asked twice, or asked again after more
// calls, it judges everything recorded so far.
func TestAvailabilityVerdictRepeatable(t *testing.T) {
	a := NewAvailability("a", time.Second)
	a.State(0, true, "up")
	a.Call(ttSec(2), ttSec(3), true, "get a")
	first := a.Verdict(ttSec(10))
	ttWant(t, first, harness.OK, []string{"1 call answered"}, nil)
	if again := a.Verdict(ttSec(10)); again != first {
		t.Errorf("second verdict differs:\n%+v\n%+v", first, again)
	}
	a.Call(ttSec(4), ttSec(5), false, "get b")
	ttWant(t, a.Verdict(ttSec(10)), harness.Violated, []string{"1 of 2 calls failed", "get b failed"}, nil)
}

// surSample is one Sample on a Surplus checker.
type surSample struct {
	at         float64
	owner      string
	want, pods int
}

func sSample(at float64, owner string, want, pods int) surSample {
	return surSample{at: at, owner: owner, want: want, pods: pods}
}

func TestSurplus(t *testing.T) {
	const web, db = "deployment/web", "statefulset/db"
	tests := []struct {
		name    string
		window  float64 // seconds; 60 unless set
		samples []surSample
		want    harness.Status
		substr  []string
		absent  []string
	}{
		{
			name:   "nothing sampled",
			want:   harness.Unknown,
			substr: []string{"no workload was sampled"},
		},
		{
			name: "growing up to what is wanted",
			samples: []surSample{
				sSample(0, web, 3, 0), sSample(10, web, 3, 1), sSample(20, web, 3, 3), sSample(30, web, 3, 3),
			},
			want:   harness.OK,
			substr: []string{"4 samples; no owner ever grew past what it wanted"},
		},
		{
			name: "growth past what is wanted",
			samples: []surSample{
				sSample(0, web, 3, 3), sSample(10, web, 3, 3), sSample(20, web, 3, 4),
			},
			want: harness.Violated,
			substr: []string{"1 surplus creation: " + web + " grew to 4 pods at " + ttSec(20).String() +
				", wanting at most 3 within 1m0s"},
		},
		{
			name: "growth from below to above what is wanted",
			samples: []surSample{
				sSample(0, web, 3, 1), sSample(10, web, 3, 5),
			},
			want:   harness.Violated,
			substr: []string{web + " grew to 5 pods", "wanting at most 3"},
		},
		{
			name: "a scale-up: want and pods grow together",
			samples: []surSample{
				sSample(0, web, 3, 3), sSample(10, web, 5, 5), sSample(20, web, 8, 8),
			},
			want: harness.OK,
		},
		{
			name: "the first sample never violates",
			samples: []surSample{
				sSample(0, web, 1, 10),
			},
			want:   harness.OK,
			substr: []string{"1 samples"},
		},
		{
			name: "the first sample of each owner never violates",
			samples: []surSample{
				sSample(0, web, 3, 3), sSample(10, db, 1, 4), sSample(20, db, 1, 4),
			},
			want: harness.OK,
		},
		{
			name: "a scale-down surplus that does not grow",
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 5), sSample(20, web, 2, 5),
				sSample(100, web, 2, 5), // long after the window: still no growth
				sSample(110, web, 2, 4), sSample(120, web, 2, 3), sSample(130, web, 2, 2),
			},
			want: harness.OK,
		},
		{
			name: "a surplus that shrinks and regrows inside the window",
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 4),
				sSample(20, web, 2, 5), // 5 was wanted 20s ago
			},
			want: harness.OK,
		},
		{
			name: "regrowing a surplus past the window",
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 3),
				sSample(80, web, 2, 4),
			},
			want:   harness.Violated,
			substr: []string{web + " grew to 4 pods at " + ttSec(80).String() + ", wanting at most 2 within 1m0s"},
		},
		{
			// Desire 5 holds from 0 until it is superseded at 10: at 69 it
			// was still in force 60s before; at 70 it no longer was.
			name: "an old desire counts until it was superseded a window ago",
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 3),
				sSample(69, web, 2, 4),
			},
			want: harness.OK,
		},
		{
			name: "the window forgets a desire superseded exactly a window ago",
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 3),
				sSample(70, web, 2, 4),
			},
			want:   harness.Violated,
			substr: []string{"grew to 4 pods at " + ttSec(70).String(), "wanting at most 2"},
		},
		{
			name: "the window keeps the highest recent desire",
			samples: []surSample{
				sSample(0, web, 2, 2),
				sSample(10, web, 6, 2),
				sSample(20, web, 4, 2),
				sSample(30, web, 3, 6),
			},
			want: harness.OK,
		},
		{
			name: "the window forgets old higher desires one by one",
			samples: []surSample{
				sSample(0, web, 6, 6),
				sSample(10, web, 4, 4),
				sSample(20, web, 2, 2),
				sSample(75, web, 2, 4), // 6 gone (superseded at 10), 4 still held at 15
				sSample(85, web, 2, 5), // 4 gone too (superseded at 20)
			},
			want:   harness.Violated,
			substr: []string{"1 surplus creation: " + web + " grew to 5 pods at " + ttSec(85).String() + ", wanting at most 2"},
			absent: []string{"grew to 4"},
		},
		{
			name:   "a short window",
			window: 5,
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 3),
				sSample(20, web, 2, 4),
			},
			want:   harness.Violated,
			substr: []string{"wanting at most 2 within 5s"},
		},
		{
			name:   "a zero window: only the current desire counts",
			window: -1,
			samples: []surSample{
				sSample(0, web, 5, 5),
				sSample(10, web, 2, 3),
				sSample(10.001, web, 2, 4),
			},
			want:   harness.Violated,
			substr: []string{"wanting at most 2 within 0s"},
		},
		{
			name: "owners are judged apart",
			samples: []surSample{
				sSample(0, web, 9, 9), sSample(0, db, 1, 1),
				sSample(10, web, 9, 9), sSample(10, db, 1, 2),
			},
			want:   harness.Violated,
			substr: []string{"1 surplus creation: " + db + " grew to 2 pods", "wanting at most 1"},
			absent: []string{web},
		},
		{
			name: "many violations: counted, evidence bounded",
			samples: func() []surSample {
				var s []surSample
				for i := range 8 {
					s = append(s, sSample(float64(i), web, 1, 1+i))
				}
				return s
			}(),
			want:   harness.Violated,
			substr: []string{"7 surplus creations: " + web + " grew to 2 pods", "grew to 6 pods", "; and 2 more"},
			absent: []string{"grew to 7 pods", "grew to 8 pods"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			window := time.Minute
			if tc.window < 0 {
				window = 0
			} else if tc.window > 0 {
				window = ttSec(tc.window)
			}
			s := NewSurplus("no-surplus", window)
			for _, x := range tc.samples {
				s.Sample(ttSec(x.at), x.owner, x.want, x.pods)
			}
			v := s.Verdict()
			if v.Check != "no-surplus" {
				t.Errorf("check %q", v.Check)
			}
			ttWant(t, v, tc.want, tc.substr, tc.absent)
		})
	}
}

// Growth the scenario excuses is counted apart: only as many surplus pods
// as it has excuses for; one surplus pod more is a violation.
func TestSurplusExcuses(t *testing.T) {
	const web = "deployment/web"
	s := NewSurplus("no-surplus-pods", time.Minute)
	s.Sample(0, web, 3, 3)
	s.Sample(ttSec(10), web, 3, 5, "landed after its creator was deposed", "decided from a stale list")
	v := s.Verdict()
	if v.Status != harness.OK || !strings.Contains(v.Detail, "surplus creations excused: 1 decided from a stale list, 1 landed after its creator was deposed") {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
	s.Sample(ttSec(20), web, 3, 3)
	s.Sample(ttSec(30), web, 3, 5, "decided from a stale list")
	if v := s.Verdict(); v.Status != harness.Violated || !strings.Contains(v.Detail, "grew to 5 pods") {
		t.Fatalf("two surplus pods with one excuse: %s: %s", v.Status, v.Detail)
	}
}
