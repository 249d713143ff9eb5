package harness

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A signal reaches the process it names when it fires (Arg 1) and when it
// is undone (Arg 0), unless the process has restarted since: a new
// incarnation never hears the end of a signal it did not hear begin. A
// signal to a process that is not running is skipped.
func TestSignalsReachTheirProcess(t *testing.T) {
	res, log := runScripted(t, runSpec{seed: 1, duration: 10 * time.Second,
		sched: "at 1s signal h1/a watch-gap for 1s\nat 3s signal h1/a watch-gap for 2s\nat 4s kill h1/a for 500ms\nat 6s kill h2/b\nat 7s signal h2/b watch-gap",
		build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2")
			addScripted(s, log, "h1", "a", nil)
			addScripted(s, log, "h2", "b", nil)
			s.AddSignal("watch-gap")
		}})
	var got []string
	for _, e := range log.kind("h1/a", InputSignal) {
		got = append(got, fmt.Sprintf("%s %s %s #%d", FormatTime(e.At), e.Tag, map[uint64]string{0: "off", 1: "on"}[e.Arg], e.Inc))
	}
	want := []string{"1.000000000 watch-gap on #1", "2.000000000 watch-gap off #1", "3.000000000 watch-gap on #1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("h1/a heard %v, want %v", got, want)
	}
	if n := len(log.kind("h2/b", InputSignal)); n != 0 {
		t.Fatalf("h2/b, stopped, heard %d signals", n)
	}
	last := res.Faults[len(res.Faults)-1]
	if len(last.Skipped) != 1 || !strings.Contains(last.Skipped[0], "not running") {
		t.Fatalf("the signal to a stopped process: skipped %v, want it said not running", last.Skipped)
	}
}

// Signals are written "signal PROC NAME", take "for", name only signals
// the scenario declared, and need a process, not a host.
func TestSignalSchedules(t *testing.T) {
	topo := staticTopo{hosts: []string{"h1"}, procs: []string{"h1/a"}, roles: []string{"r"}, signals: []string{"watch-gap"}}
	for _, c := range []struct{ text, err string }{
		{"at 1s signal h1/a watch-gap for 2s", ""},
		{"at 1s signal @r watch-gap", ""},
		{"at 1s signal h1/a nope", `unknown signal "nope" (this scenario plays: watch-gap)`},
		{"at 1s signal h1 watch-gap", "h1 is a host; signal takes a process"},
		{"at 1s signal h1/a", "expected the signal's name"},
	} {
		s, err := ParseSchedule(c.text)
		if err == nil {
			err = s.Validate(topo, time.Minute)
		}
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.text, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one with %q", c.text, err, c.err)
		case err == nil && strings.TrimSpace(s.String()) != c.text:
			t.Errorf("%q prints as %q", c.text, s.String())
		}
	}
	// Generated entries draw signals from GenOptions.Signals.
	o := GenOptions{Duration: 10 * time.Minute, Hosts: []string{"h1"}, Procs: []string{"h1/a"}, Kinds: []string{KindSignal}, AllEnabled: true,
		Signals: []SignalSpec{{Name: "watch-gap", Roles: []Role{"r"}, Procs: []string{"h1/a"}}}, Roles: []Role{"r"}}
	sched := Generate(NewRand(3, "faults"), o)
	if len(sched) == 0 || !strings.Contains(sched.String(), "signal ") {
		t.Fatalf("generated %q, want signal entries", sched)
	}
	if err := sched.Validate(o.Topology(), o.Duration); err != nil {
		t.Fatalf("generated schedule invalid: %v", err)
	}
}
