package harness

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// Tests of the Term fault (graceful stop with a grace period) and of
// Connection receiver (a reorder fault only delays what a receiver on one
// ordered connection gets).

// termProc is a scripted process that handles InputStop when terminates.
type termProc struct {
	*scriptedProc
	terminates bool
}

func (p *termProc) Terminates() bool { return p.terminates }

// addTerminator adds a scripted process that implements Terminator.
func addTerminator(s *Sim, log *scriptLog, host, name string, terminates bool, on scriptHandler) ProcID {
	return s.AddProcess(host, name, Datagrams, func() Process {
		return &termProc{scriptedProc: &scriptedProc{log: log, on: on}, terminates: terminates}
	})
}

// onStop runs base for every input and stop for InputStop.
func onStop(base scriptHandler, stop func(p *scriptedProc, ctx *Ctx)) scriptHandler {
	return func(p *scriptedProc, ctx *Ctx, in Input) {
		if in.Kind == InputStop {
			if stop != nil {
				stop(p, ctx)
			}
			return
		}
		if base != nil {
			base(p, ctx, in)
		}
	}
}

// exitAfterStop is a stop handler that exits (for good) d after InputStop;
// d == 0 exits in the InputStop step itself.
func exitAfterStop(base scriptHandler, d time.Duration) scriptHandler {
	return func(p *scriptedProc, ctx *Ctx, in Input) {
		switch {
		case in.Kind == InputStop && d == 0:
			ctx.Exit(-1)
		case in.Kind == InputStop:
			ctx.After(d, "bye", 0)
		case in.Kind == InputTimer && in.Tag == "bye":
			ctx.Exit(-1)
		case base != nil:
			base(p, ctx, in)
		}
	}
}

// tickHandler sets a "tick" timer every period, forever.
func tickHandler(every time.Duration) scriptHandler {
	return func(p *scriptedProc, ctx *Ctx, in Input) {
		switch {
		case in.Kind == InputStart:
			ctx.After(every, "tick", 1)
		case in.Kind == InputTimer && in.Tag == "tick":
			ctx.After(every, "tick", in.Arg+1)
		}
	}
}

// termWorld: n1/p (built by mk) ticks every 100ms, and n2/q pings it every
// 100ms.
func termWorld(mk func(s *Sim, log *scriptLog)) func(s *Sim, log *scriptLog) {
	return func(s *Sim, log *scriptLog) {
		addHosts(s, "n1", "n2")
		mk(s, log)
		addScripted(s, log, "n2", "q", pingHandler(100*tms, "n1/p"))
	}
}

func inputsBetween(in []seenInput, from, to time.Duration) int {
	n := 0
	for _, e := range in {
		if e.At > from && e.At < to {
			n++
		}
	}
	return n
}

func lastInput(in []seenInput) time.Duration {
	if len(in) == 0 {
		return -1
	}
	return in[len(in)-1].At
}

// --- schedule text and validation ---

func TestTermParsePrintRoundTrip(t *testing.T) {
	const text = "at 5s term n1/p for 10s"
	s := mustParseSchedule(t, text)
	want := Schedule{{At: 5 * time.Second, For: 10 * time.Second, Faults: []Fault{Term{HostT("n1/p")}}}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("ParseSchedule(%q) = %#v, want %#v", text, s, want)
	}
	if got := s.String(); got != text+"\n" {
		t.Fatalf("printed as %q, want %q", got, text+"\n")
	}
	checkRoundTrip(t, s)
	checkRoundTrip(t, mustParseSchedule(t, "at 1s term @leader + kill m2/etcd\nat 1m30s term m1/etcd\n"))
	if !(Term{}).Reversible() {
		t.Fatalf("term is not reversible, so it cannot take \"for\"")
	}
	if got := (Term{RoleT("leader")}).String(); got != "term @leader" {
		t.Fatalf("Term{@leader}.String() = %q", got)
	}
}

func TestTermValidateErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		text  string
		entry int
		field string
		msg   string
	}{
		{"unknown process", "at 1s term m1/nope", 1, "term", `unknown process "m1/nope" (known: m1/api m1/etcd m2/etcd m3/etcd)`},
		{"host where a process is meant", "at 1s term m1", 1, "term", "m1 is a host; term takes a process (host/name)"},
		{"unknown role", "at 1s term @boss", 1, "term", "unknown role @boss (known: leader)"},
		{"term of a terminated process", "at 1s term m1/etcd\nat 2s term m1/etcd", 2, "term", "when it fires at 2s, process m1/etcd is already stopped"},
		{"term inside an earlier term's window", "at 1s term m1/etcd for 3s\nat 2s term m1/etcd", 2, "term", "process m1/etcd is already stopped"},
		{"term of a killed process", "at 1s kill m1/etcd for 3s\nat 2s term m1/etcd", 2, "term", "process m1/etcd is already stopped"},
		{"kill of a terminated process", "at 1s term m1/etcd for 3s\nat 2s kill m1/etcd", 2, "kill", "process m1/etcd is already stopped"},
		{"term on a down host", "at 1s crash m1 for 3s\nat 2s term m1/api", 2, "term", "when it fires at 2s, its host m1 is down"},
		{"start of a running process after the term's undo", "at 1s term m1/etcd for 1s\nat 3s start m1/etcd", 2, "start", "process m1/etcd is running"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustParseSchedule(t, c.text)
			err := s.Validate(valTopo, 0)
			if err == nil {
				t.Fatalf("Validate accepted\n%s", s)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is a %T, want *ValidationError", err, err)
			}
			if ve.Entry != c.entry || ve.Field != c.field || !strings.Contains(ve.Msg, c.msg) {
				t.Fatalf("Validate:\n got entry %d, field %q, msg %q\nwant entry %d, field %q, msg containing %q", ve.Entry, ve.Field, ve.Msg, c.entry, c.field, c.msg)
			}
			if ve.Text != s[c.entry-1].String() {
				t.Fatalf("error names the entry %q, want %q", ve.Text, s[c.entry-1].String())
			}
			// valTopo's processes do not handle InputStop, so a term stops
			// them at once: what Validate rejects when it fires, the kernel
			// skips.
			if strings.HasPrefix(ve.Msg, "when it fires") {
				trace := runUnvalidated(t, s)
				if want := fmt.Sprintf(" fault-part-skipped #%d %s", c.entry, c.field); !strings.Contains(trace, want) {
					t.Fatalf("Validate rejects entry %d, but the kernel applies it (no %q):\n%s", c.entry, want, trace)
				}
			}
		})
	}
}

func TestTermValidateAccepts(t *testing.T) {
	for _, text := range []string{
		"at 1s term m1/etcd for 1s\nat 2.5s term m1/etcd",
		"at 1s term m1/etcd\nat 2s start m1/etcd\nat 3s kill m1/etcd",
		"at 1s term m1/etcd\nat 2s crash m1 for 1s\nat 4s term m1/etcd", // the reboot restarted it
		"at 1s term m1/etcd + term m1/api + kill m2/etcd for 2s",
		"at 1s term @leader for 1s\nat 1s term @leader",
	} {
		s := mustParseSchedule(t, text)
		if err := s.Validate(valTopo, 10*time.Second); err != nil {
			t.Errorf("Validate rejected\n%s: %v", text, err)
			continue
		}
		if !hasRoleTarget(s) {
			if trace := runUnvalidated(t, s); strings.Contains(trace, "skipped") {
				t.Errorf("Validate accepted\n%s\nbut the kernel skipped part of it:\n%s", text, trace)
			}
		}
	}
}

// --- kernel ---

// A process that does not handle InputStop (not a Terminator, or one that
// says no, or one on a paused host) stops at the term's instant.
func TestTermStopsNonTerminatorAtOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		sched string
		mk    func(s *Sim, log *scriptLog)
	}{
		{"not a Terminator", "at 2s term n1/p", func(s *Sim, log *scriptLog) {
			addScripted(s, log, "n1", "p", tickHandler(100*tms))
		}},
		{"Terminates false", "at 2s term n1/p", func(s *Sim, log *scriptLog) {
			addTerminator(s, log, "n1", "p", false, exitAfterStop(tickHandler(100*tms), time.Second))
		}},
		{"Terminator on a paused host", "at 1500ms pause n1 for 2s\nat 2s term n1/p", func(s *Sim, log *scriptLog) {
			addTerminator(s, log, "n1", "p", true, exitAfterStop(tickHandler(100*tms), time.Second))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, log := runScripted(t, runSpec{duration: 40 * time.Second, sched: c.sched, build: termWorld(c.mk)})
			entry := len(mustParseSchedule(t, c.sched))
			wantTraceLines(t, res,
				fmt.Sprintf("2.000000000 fault #%d term n1/p", entry),
				"2.000000000 stop n1/p terminated",
			)
			if l := traceLinesWith(res, "stop n1/p"); len(l) != 1 {
				t.Fatalf("n1/p stopped %d times (%v), want once", len(l), l)
			}
			if got := log.kind("n1/p", InputStop); len(got) != 0 {
				t.Fatalf("n1/p was handed InputStop %v; it should have been stopped at once", got)
			}
			if last := lastInput(log.of("n1/p")); last > 2*time.Second {
				t.Fatalf("n1/p was handed an input at %s, after it was terminated at 2s", last)
			}
			p := res.Sim.MustLookup("n1/p")
			if res.Sim.Running(p) || res.Sim.Incarnation(p) != 1 {
				t.Fatalf("at the end n1/p running=%v incarnation=%d, want stopped after one incarnation", res.Sim.Running(p), res.Sim.Incarnation(p))
			}
			noTraceLineWith(t, res, "grace")
			noTraceLineWith(t, res, "skipped")
		})
	}
}

// A Terminator is handed InputStop, keeps running (timers, messages) and
// exits when it is done.
func TestTermTerminatorExitsWhenDone(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 40 * time.Second, sched: "at 2s term n1/p", build: termWorld(func(s *Sim, log *scriptLog) {
		addTerminator(s, log, "n1", "p", true, exitAfterStop(tickHandler(100*tms), 2*time.Second))
	})})
	stops := log.kind("n1/p", InputStop)
	if len(stops) != 1 || stops[0].At != 2*time.Second || stops[0].Inc != 1 {
		t.Fatalf("n1/p was handed InputStop %v, want once at 2s in incarnation 1", stops)
	}
	// It keeps working through its grace: its own timers and its peer's
	// messages reach it between the term and its exit.
	if n := inputsBetween(log.kind("n1/p", InputTimer), 2*time.Second, 4*time.Second); n < 15 {
		t.Fatalf("n1/p got %d timers between the term and its exit, want about 20", n)
	}
	if n := inputsBetween(log.kind("n1/p", InputMessage), 2*time.Second, 4*time.Second); n < 15 {
		t.Fatalf("n1/p got %d messages between the term and its exit, want about 20", n)
	}
	if last := lastInput(log.of("n1/p")); last != 4*time.Second {
		t.Fatalf("n1/p's last input was at %s, want its exit at 4s", last)
	}
	wantTraceLines(t, res,
		"2.000000000 fault #1 term n1/p",
		"4.000000000 timer n1/p bye 0",
		"4.000000000 stop n1/p exit",
	)
	if l := traceLinesWith(res, "stop n1/p"); len(l) != 1 {
		t.Fatalf("n1/p stopped %d times (%v), want once", len(l), l)
	}
	noTraceLineWith(t, res, "grace") // not at 32s either: it had exited
	p := res.Sim.MustLookup("n1/p")
	if res.Sim.Running(p) || res.Sim.Incarnation(p) != 1 {
		t.Fatalf("at the end n1/p running=%v incarnation=%d, want stopped after one incarnation", res.Sim.Running(p), res.Sim.Incarnation(p))
	}
	// After the exit a message to it is refused, like to a killed process.
	if len(traceLinesWith(res, "refused")) == 0 {
		t.Fatalf("no message to the exited n1/p was refused")
	}

	// Exiting in the InputStop step itself stops it at the term's instant.
	res, _ = runScripted(t, runSpec{duration: 5 * time.Second, sched: "at 2s term n1/p", build: termWorld(func(s *Sim, log *scriptLog) {
		addTerminator(s, log, "n1", "p", true, exitAfterStop(tickHandler(100*tms), 0))
	})})
	wantTraceLines(t, res, "2.000000000 fault #1 term n1/p", "2.000000000 stop n1/p exit")
}

// A Terminator that never exits is stopped TermGrace after the term.
func TestTermKillsAfterGrace(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 40 * time.Second, sched: "at 1s term n1/p", build: termWorld(func(s *Sim, log *scriptLog) {
		addTerminator(s, log, "n1", "p", true, onStop(tickHandler(100*tms), nil))
	})})
	if stops := log.kind("n1/p", InputStop); len(stops) != 1 || stops[0].At != time.Second {
		t.Fatalf("n1/p was handed InputStop %v, want once at 1s", stops)
	}
	killedAt := time.Second + TermGrace
	wantTraceLines(t, res,
		"1.000000000 fault #1 term n1/p",
		FormatTime(killedAt)+" stop n1/p killed after the grace period",
	)
	if l := traceLinesWith(res, "stop n1/p"); len(l) != 1 {
		t.Fatalf("n1/p stopped %d times (%v), want once", len(l), l)
	}
	if n := inputsBetween(log.kind("n1/p", InputTimer), killedAt-time.Second, killedAt); n < 8 {
		t.Fatalf("n1/p got only %d timers in the last second of its grace", n)
	}
	if last := lastInput(log.of("n1/p")); last > killedAt {
		t.Fatalf("n1/p was handed an input at %s, after the grace ended at %s", last, killedAt)
	}
	if res.Sim.Running(res.Sim.MustLookup("n1/p")) {
		t.Fatalf("n1/p still runs at the end")
	}
	if d := res.Sim.Disturbed(); !reflect.DeepEqual(d, []string{"process n1/p not running"}) {
		t.Fatalf("Disturbed() = %v, want n1/p not running", d)
	}
}

// "for D" starts the process again (a new incarnation) D after the term,
// whether it exited itself, was stopped at once, or was killed after the
// grace; the first incarnation's grace never touches the second.
func TestTermForRestarts(t *testing.T) {
	for _, c := range []struct {
		name      string
		sched     string
		dur       time.Duration
		mk        func(s *Sim, log *scriptLog)
		stopLine  string
		startLine string
	}{
		{"exits, restarted before the grace ends", "at 2s term n1/p for 5s", 40 * time.Second,
			func(s *Sim, log *scriptLog) {
				addTerminator(s, log, "n1", "p", true, exitAfterStop(tickHandler(100*tms), 2*time.Second))
			},
			"4.000000000 stop n1/p exit", "7.000000000 start n1/p incarnation=2"},
		{"stopped at once", "at 2s term n1/p for 10s", 20 * time.Second,
			func(s *Sim, log *scriptLog) { addScripted(s, log, "n1", "p", tickHandler(100*tms)) },
			"2.000000000 stop n1/p terminated", "12.000000000 start n1/p incarnation=2"},
		{"killed after the grace", "at 2s term n1/p for 40s", 50 * time.Second,
			func(s *Sim, log *scriptLog) {
				addTerminator(s, log, "n1", "p", true, onStop(tickHandler(100*tms), nil))
			},
			"32.000000000 stop n1/p killed after the grace period", "42.000000000 start n1/p incarnation=2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, log := runScripted(t, runSpec{duration: c.dur, sched: c.sched, build: termWorld(c.mk)})
			wantTraceLines(t, res, c.stopLine, c.startLine)
			end := strings.Fields(c.startLine)[0] + " fault-end #1 " + strings.SplitN(c.sched, " ", 3)[2]
			wantTraceLines(t, res, end)
			p := res.Sim.MustLookup("n1/p")
			if !res.Sim.Running(p) || res.Sim.Incarnation(p) != 2 {
				t.Fatalf("at the end n1/p running=%v incarnation=%d, want running its 2nd incarnation", res.Sim.Running(p), res.Sim.Incarnation(p))
			}
			if l := traceLinesWith(res, "stop n1/p"); len(l) != 1 {
				t.Fatalf("n1/p stopped %d times (%v), want once", len(l), l)
			}
			starts := log.kind("n1/p", InputStart)
			if len(starts) != 2 || starts[1].Inc != 2 {
				t.Fatalf("n1/p starts %v, want two, the second as incarnation 2", starts)
			}
			if starts[1].Inst == starts[0].Inst {
				t.Fatalf("the restart reused the terminated instance")
			}
			// The new incarnation works: it ticks and gets messages until the end.
			if n := inputsBetween(log.kind("n1/p", InputMessage), c.dur-time.Second, c.dur+1); n < 8 {
				t.Fatalf("the restarted n1/p got %d messages in the last second", n)
			}
			if len(log.kind("n1/p", InputStop)) > 1 {
				t.Fatalf("InputStop handed more than once")
			}
			if d := res.Sim.Disturbed(); len(d) != 0 {
				t.Fatalf("still disturbed at the end: %v", d)
			}
			if len(res.Faults) != 1 || res.Faults[0].End != mustParseSchedule(t, c.sched)[0].End() || len(res.Faults[0].Skipped) != 0 {
				t.Fatalf("fault log %+v", res.Faults)
			}
		})
	}
}

// A term of a process that is not running is skipped, like a kill.
func TestTermOfStoppedProcessIsSkipped(t *testing.T) {
	sched := mustParseSchedule(t, "at 1s kill m1/etcd\nat 2s term m1/etcd")
	trace := runUnvalidated(t, sched)
	if !strings.Contains(trace, "2.000000000 fault-part-skipped #2 term m1/etcd: process m1/etcd is not running") {
		t.Fatalf("the term of a stopped process was not skipped:\n%s", trace)
	}
}

// --- generated schedules and determinism ---

func TestGenerateScheduleTerm(t *testing.T) {
	for _, k := range AllKinds {
		if k == KindTerm {
			t.Fatalf("AllKinds has %q; scenarios opt in to it", KindTerm)
		}
	}
	names := []string{"m1", "m2", "m3", "m4", "m5"}
	var procs []string
	for _, n := range names {
		procs = append(procs, n+"/p")
	}
	topo := staticTopo{hosts: names, procs: procs}
	const dur = 60 * time.Second
	terms, withOthers := 0, 0
	for seed := uint64(1); seed <= 50; seed++ {
		for _, kinds := range [][]string{{KindTerm}, {KindTerm, KindKill, KindCrash, KindPause}} {
			s := GenerateSchedule(NewRand(seed, "faults"), GenOptions{Duration: dur, Settle: 10 * time.Second, Hosts: names, Procs: procs, Kinds: kinds, Entries: 10})
			if err := s.Validate(topo, dur); err != nil {
				t.Fatalf("seed %d, kinds %v: generated schedule does not validate: %v\n%s", seed, kinds, err, s)
			}
			checkRoundTrip(t, s)
			for _, e := range s {
				f, ok := e.Faults[0].(Term)
				if !ok {
					if len(kinds) == 1 {
						t.Fatalf("seed %d: entry %s is not a term, asked only for terms", seed, e)
					}
					withOthers++
					continue
				}
				terms++
				if len(e.Faults) != 1 || f.Proc.Role || e.For <= 0 || e.End() > dur-10*time.Second {
					t.Fatalf("seed %d: generated term entry %s: want one concrete process, undone before the settle", seed, e)
				}
				if !strings.HasPrefix(e.String(), "at ") || !strings.Contains(e.String(), " term m") {
					t.Fatalf("seed %d: entry prints as %q", seed, e)
				}
			}
		}
	}
	if terms == 0 || withOthers == 0 {
		t.Fatalf("generated %d term entries and %d others", terms, withOthers)
	}
}

// termPingWorld: five hosts pinging each other; odd ones are Terminators
// that exit exitAfter after InputStop, even ones stop at once.
func termPingWorld(names []string, exitAfter time.Duration) func(s *Sim, log *scriptLog) {
	return func(s *Sim, log *scriptLog) {
		addHosts(s, names...)
		for i, n := range names {
			var peers []string
			for j, m := range names {
				if j != i {
					peers = append(peers, m+"/p")
				}
			}
			h := pingHandler(100*tms, peers...)
			if i%2 == 0 {
				addTerminator(s, log, n, "p", true, exitAfterStop(h, exitAfter))
			} else {
				addScripted(s, log, n, "p", h)
			}
		}
	}
}

// Generated term schedules run: every term applies, is undone on time, and
// the cluster is whole again at the end.
func TestGeneratedTermSchedulesRun(t *testing.T) {
	names := []string{"m1", "m2", "m3", "m4", "m5"}
	var procs []string
	for _, n := range names {
		procs = append(procs, n+"/p")
	}
	const dur = 30 * time.Second
	for seed := uint64(1); seed <= 20; seed++ {
		sched := GenerateSchedule(NewRand(seed, "faults"), GenOptions{Duration: dur, Settle: 5 * time.Second, Hosts: names, Procs: procs, Kinds: []string{KindTerm, KindKill}})
		res, _ := runScripted(t, runSpec{seed: seed, duration: dur, sched: sched.String(), network: &DefaultLink,
			build: termPingWorld(names, 100*tms)})
		for _, r := range res.Faults {
			e := sched[r.Entry-1]
			if len(r.Skipped) > 0 || r.End != e.End() {
				t.Fatalf("seed %d: entry %d (%s): skipped %v, ended at %s, want %s\n%s", seed, r.Entry, e, r.Skipped, r.End, e.End(), sched)
			}
		}
		if d := res.Sim.Disturbed(); len(d) > 0 {
			t.Fatalf("seed %d: still disturbed at the end: %v\n%s", seed, d, sched)
		}
	}
}

func TestTermDeterministic(t *testing.T) {
	names := []string{"m1", "m2", "m3"}
	sched := "at 1s term m1/p for 5s\nat 1.5s net loss 10% reorder 30% jitter 2ms for 10s\nat 2s term m2/p for 3s\nat 3s term m3/p for 40s"
	run := func(seed uint64) Result {
		res, _ := runScripted(t, runSpec{seed: seed, duration: 50 * time.Second, sched: sched, network: &DefaultLink,
			build: func(s *Sim, log *scriptLog) {
				addHosts(s, names...)
				// m1/p exits after a random delay of its own; m3/p never
				// exits and is killed after the grace; m2/p stops at once.
				addTerminator(s, log, "m1", "p", true, func(p *scriptedProc, ctx *Ctx, in Input) {
					if in.Kind == InputStop {
						ctx.After(ctx.Rand().Between(100*tms, 3*time.Second), "bye", 0)
						return
					}
					if in.Kind == InputTimer && in.Tag == "bye" {
						ctx.Exit(-1)
						return
					}
					pingHandler(100*tms, "m2/p", "m3/p")(p, ctx, in)
				})
				addScripted(s, log, "m2", "p", pingHandler(100*tms, "m1/p", "m3/p"))
				addTerminator(s, log, "m3", "p", true, onStop(pingHandler(100*tms, "m1/p", "m2/p"), nil))
			}})
		return res
	}
	a, b := run(7), run(7)
	if a.TraceHash == "" || a.TraceHash != b.TraceHash || !reflect.DeepEqual(a.Trace, b.Trace) {
		t.Fatalf("the same seed gave trace hashes %s and %s", a.TraceHash, b.TraceHash)
	}
	if a.Events != b.Events || !reflect.DeepEqual(a.Faults, b.Faults) {
		t.Fatalf("the same seed gave %d and %d events, fault logs %+v and %+v", a.Events, b.Events, a.Faults, b.Faults)
	}
	for _, want := range []string{"stop m1/p exit", "stop m2/p terminated", "33.000000000 stop m3/p killed after the grace period", "43.000000000 start m3/p incarnation=2"} {
		if len(traceLinesWith(a, want)) != 1 {
			t.Fatalf("trace lacks %q:\n%s", want, a.Trace)
		}
	}
	if c := run(8); c.TraceHash == a.TraceHash {
		t.Fatalf("seeds 7 and 8 gave the same trace hash under a lossy network")
	}
}

// --- Declared transports ---

// burstHandler sends seqMsg 1..per*ticks to every peer, per messages each
// tick of its local clock.
func burstHandler(every time.Duration, per, ticks int, peers ...string) scriptHandler {
	return func(p *scriptedProc, ctx *Ctx, in Input) {
		switch {
		case in.Kind == InputStart:
			ctx.After(every, "burst", 1)
		case in.Kind == InputTimer && in.Tag == "burst":
			k := int(in.Arg)
			for i := 1; i <= per; i++ {
				for _, peer := range peers {
					ctx.Send(ctx.Lookup(peer), seqMsg{N: (k-1)*per + i})
				}
			}
			if k < ticks {
				ctx.After(every, "burst", in.Arg+1)
			}
		}
	}
}

func TestConnectionKeepsOrderUnderReorder(t *testing.T) {
	receivers := []string{"h2/ord", "h2/stream", "h2/plain", "h2/unordered"}
	run := func(seed uint64, sched string) (Result, *scriptLog) {
		return runScripted(t, runSpec{seed: seed, duration: time.Second, sched: sched, build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2")
			// 200 messages to each receiver: 10 every millisecond, on a
			// 1ms link without jitter.
			addScripted(s, log, "h1", "a", burstHandler(tms, 10, 20, receivers...))
			s.AddProcess("h2", "ord", Connection, func() Process {
				return &scriptedProc{log: log}
			})
			s.AddProcess("h2", "stream", Streams, func() Process { return &scriptedProc{log: log} })
			addScripted(s, log, "h2", "plain", nil)
			s.AddProcess("h2", "unordered", Streams, func() Process {
				return &scriptedProc{log: log}
			})
		}})
	}
	all := seqRange(1, 200)
	for seed := uint64(1); seed <= 5; seed++ {
		res, log := run(seed, "at 0s net reorder 50% between {h1} | {h2}")
		for _, r := range receivers {
			got := log.seqsFrom(r, "h1/a")
			sorted := append([]int(nil), got...)
			sort.Ints(sorted)
			if !equalInts(sorted, all) {
				t.Fatalf("seed %d: %s received %d messages %v, want each of 1..200 once", seed, r, len(got), got)
			}
			inOrder := equalInts(got, all)
			if r == "h2/ord" && !inOrder {
				t.Fatalf("seed %d: the Connection receiver got the stream out of order: %v", seed, got)
			}
			if r != "h2/ord" && inOrder {
				t.Fatalf("seed %d: %s got all 200 messages in order under reorder 50%%", seed, r)
			}
		}
		// The ordered receiver's messages were delayed, not just passed on:
		// some arrived later than the 1ms the link takes (message n was
		// sent at ceil(n/10) ms).
		late := 0
		for _, e := range log.kind("h2/ord", InputMessage) {
			sent := time.Duration((e.Msg.Payload.(seqMsg).N+9)/10) * tms
			if e.At < sent+tms {
				t.Fatalf("seed %d: %s arrived before the link latency", seed, e)
			}
			if e.At > sent+tms {
				late++
			}
		}
		if late == 0 {
			t.Fatalf("seed %d: reorder 50%% delayed none of the ordered receiver's messages", seed)
		}
		noTraceLineWith(t, res, "drop")
	}
	// Without the fault every receiver gets the stream in order, on time.
	_, log := run(1, "")
	for _, r := range receivers {
		if got := log.seqsFrom(r, "h1/a"); !equalInts(got, all) {
			t.Fatalf("without reordering %s got %v", r, got)
		}
	}
}

// A reorder fault on other links leaves the ordered receiver's link alone,
// and once the fault is undone nothing is delayed any more.
func TestConnectionFaultScope(t *testing.T) {
	_, log := runScripted(t, runSpec{seed: 3, duration: 2 * time.Second, sched: "at 0s net reorder 100% between {h1} | {h3} for 500ms",
		build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2", "h3")
			addScripted(s, log, "h1", "a", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
				100 * tms: func(_ *scriptedProc, ctx *Ctx) {
					for i := 1; i <= 50; i++ {
						ctx.Send(ctx.Lookup("h2/ord"), seqMsg{N: i})
						ctx.Send(ctx.Lookup("h3/ord"), seqMsg{N: i})
					}
				},
				time.Second: func(_ *scriptedProc, ctx *Ctx) {
					for i := 51; i <= 100; i++ {
						ctx.Send(ctx.Lookup("h3/ord"), seqMsg{N: i})
					}
				},
			}))
			for _, h := range []string{"h2", "h3"} {
				s.AddProcess(h, "ord", Connection, func() Process {
					return &scriptedProc{log: log}
				})
			}
		}})
	for _, e := range log.kind("h2/ord", InputMessage) {
		if e.At != 101*tms {
			t.Fatalf("h2/ord is not behind the faulty link, yet %s", e)
		}
	}
	h3 := log.kind("h3/ord", InputMessage)
	if got := log.seqsFrom("h3/ord", "h1/a"); !equalInts(got, seqRange(1, 100)) {
		t.Fatalf("h3/ord got %v, want 1..100 in order", got)
	}
	delayed := 0
	for _, e := range h3 {
		n := e.Msg.Payload.(seqMsg).N
		if n > 50 && e.At != time.Second+tms {
			t.Fatalf("after the fault's undo %s", e)
		}
		if n <= 50 && e.At > 101*tms {
			delayed++
		}
	}
	if delayed == 0 {
		t.Fatalf("reorder 100%% delayed none of h3/ord's messages")
	}
}

// A term undone while its process is still stopping restarts the process
// as soon as it has stopped: on its own exit, or at the grace kill.
func TestTermUndoneWhileStopping(t *testing.T) {
	for _, c := range []struct {
		name, sched string
		mk          func(s *Sim, log *scriptLog)
		stop, start string
	}{
		{"exits after the undo", "at 2s term n1/p for 1s",
			func(s *Sim, log *scriptLog) {
				addTerminator(s, log, "n1", "p", true, exitAfterStop(tickHandler(100*tms), 2*time.Second))
			},
			"4.000000000 stop n1/p exit", "4.000000000 start n1/p incarnation=2"},
		{"killed after the undo", "at 2s term n1/p for 5s",
			func(s *Sim, log *scriptLog) {
				addTerminator(s, log, "n1", "p", true, onStop(tickHandler(100*tms), nil))
			},
			"32.000000000 stop n1/p killed after the grace period", "32.000000000 start n1/p incarnation=2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := runScripted(t, runSpec{duration: 40 * time.Second, sched: c.sched, build: termWorld(c.mk)})
			wantTraceLines(t, res, c.stop, c.start)
			p := res.Sim.MustLookup("n1/p")
			if !res.Sim.Running(p) || res.Sim.Incarnation(p) != 2 {
				t.Fatalf("at the end n1/p running=%v incarnation=%d, want its 2nd incarnation running", res.Sim.Running(p), res.Sim.Incarnation(p))
			}
		})
	}
}

// An ordered connection's delays (a lost message resent one
// retransmission timeout late, a reorder turned into a delay) hold up only
// that connection: a plain receiver on the same host pair gets its
// messages on time. And a loss fault loses nothing on an ordered
// connection.
func TestOrderedConnectionDelaysStayOnIt(t *testing.T) {
	_, log := runScripted(t, runSpec{seed: 2, duration: time.Second, sched: "at 0s net loss 30% between {h1} | {h2}",
		build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2")
			addScripted(s, log, "h1", "a", burstHandler(tms, 10, 20, "h2/ord"))
			addScripted(s, log, "h1", "b", burstHandler(tms, 10, 20, "h2/plain"))
			s.AddProcess("h2", "ord", Connection, func() Process {
				return &scriptedProc{log: log}
			})
			addScripted(s, log, "h2", "plain", nil)
		}})
	if got := log.seqsFrom("h2/ord", "h1/a"); !equalInts(got, seqRange(1, 200)) {
		t.Fatalf("the ordered receiver got %d messages, out of order or with holes: %v", len(got), got)
	}
	late := false
	for _, e := range log.kind("h2/ord", InputMessage) {
		if sent := time.Duration((e.Msg.Payload.(seqMsg).N+9)/10) * tms; e.At >= sent+RetransmitTimeout {
			late = true
		}
	}
	if !late {
		t.Fatal("no ordered message came a retransmission timeout late under 30% loss")
	}
	plain := log.kind("h2/plain", InputMessage)
	if len(plain) == 0 || len(plain) == 200 {
		t.Fatalf("the plain receiver got %d of 200 messages under 30%% loss", len(plain))
	}
	for _, e := range plain {
		if sent := time.Duration((e.Msg.Payload.(seqMsg).N+9)/10) * tms; e.At > sent+2*tms {
			t.Fatalf("a plain message waited behind the ordered connection's resend: %s", e)
		}
	}
}
