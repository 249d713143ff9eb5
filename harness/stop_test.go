package harness

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Tests of stop notifications (OnStop) and declared transports.

func TestOnStopTellsEveryStopOnce(t *testing.T) {
	var heard []string
	res, log := runScripted(t, runSpec{seed: 1, duration: 10 * time.Second,
		sched: "at 1s kill h1/a for 1s\nat 3s term h2/b\nat 4s term h2/c for 1s\nat 5s crash h3 for 1s",
		build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2", "h3")
			a := addScripted(s, log, "h1", "a", nil)
			b := addTerminator(s, log, "h2", "b", true, exitAfterStop(nil, 100*time.Millisecond))
			c := addScripted(s, log, "h2", "c", nil)
			d := addScripted(s, log, "h3", "d", nil)
			e := addScripted(s, log, "h1", "e", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
				7 * time.Second: func(_ *scriptedProc, ctx *Ctx) { ctx.Exit(-1) },
			}))
			for _, p := range []ProcID{a, b, c, d, e} {
				s.OnStop(p, func(st Stopped) {
					if st.Instance == nil || s.Instance(st.Proc) != nil {
						t.Errorf("%s: the observer should see the stopped instance, and none running", s.ProcName(st.Proc))
					}
					heard = append(heard, fmt.Sprintf("%s %s#%d %s", FormatTime(s.Now()), s.ProcName(st.Proc), st.Incarnation, st.Reason))
				})
			}
			// A second observer of one process runs after the first.
			s.OnStop(a, func(st Stopped) { heard = append(heard, "second observer of "+s.ProcName(st.Proc)) })
		}})
	want := []string{
		"1.000000000 h1/a#1 killed",
		"second observer of h1/a",
		"3.100000000 h2/b#1 exit",
		"4.000000000 h2/c#1 terminated",
		"5.000000000 h3/d#1 host-crash",
		"7.000000000 h1/e#1 exit",
	}
	if !reflect.DeepEqual(heard, want) {
		t.Fatalf("stop observers heard\n  %s\nwant\n  %s\ntrace:\n%s", strings.Join(heard, "\n  "), strings.Join(want, "\n  "), log.dump())
	}
	// Each stop the observers heard is the one the trace shows.
	if got := len(traceLinesWith(res, " stop ")); got != 5 {
		t.Fatalf("the trace shows %d stops, the observers heard 5", got)
	}
}

func TestAddProcessWantsATransport(t *testing.T) {
	s := NewSim(1, TraceOptions{})
	s.AddHost(HostConfig{Name: "h1"})
	msg := panicMessage(t, func() { s.AddProcess("h1", "p", 0, func() Process { return &scriptedProc{} }) })
	if !strings.Contains(msg, "h1/p") || !strings.Contains(msg, "not declared") {
		t.Fatalf("panic %q should name the process and say its transport is not declared", msg)
	}
	for tr, name := range map[Transport]string{Datagrams: "datagrams", Streams: "streams", Connection: "connection", 9: "Transport(9)"} {
		if tr.String() != name {
			t.Errorf("Transport(%d).String() = %q, want %q", tr, tr.String(), name)
		}
	}
}
