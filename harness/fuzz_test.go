package harness

import (
	"reflect"
	"testing"
)

// FuzzParseSchedule feeds arbitrary text to the schedule parser: it must
// never panic, and whatever it accepts must print to a canonical form that
// parses back to the same schedule.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{
		"at 12.4s partition {m1} | {m2 m3}\nat 20s heal\n",
		"at 1s pause @raft-leader + isolate @raft-leader hold for 8s",
		"at 0s clock m1 jump -500ms\nat 1s clock m2 rate 1.3x for 10s",
		"at 2s net delay 200ms jitter 50ms loss 10% dup 1% reorder 5% between {a} | {b} for 1s",
		"at 3s net reset\nat 4s kill m1/etcd for 2s\nat 9s crash m2\nat 10s restart m2",
		"# comment\n\nat 1m30s start m1/cm\nat 2m resume m3",
		"at 1s partition {a} -> {b c} hold",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSchedule(text)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		again, err := ParseSchedule(s.String())
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, s)
		}
		if len(s) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip changed the schedule:\n%s\n---\n%s", s, again)
		}
	})
}
