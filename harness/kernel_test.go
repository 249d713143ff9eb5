package harness

import (
	"bytes"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const tms = time.Millisecond

// --- events and timers ---

func TestEventQueueOrdersByTimeThenSeq(t *testing.T) {
	r := NewRand(1, "queue-test")
	var q eventQueue
	var pushed []event
	for i := 0; i < 2000; i++ {
		// Few distinct times, so that many events tie on time.
		e := event{at: time.Duration(r.Intn(50)), seq: uint64(i + 1), ref: uint32(i)}
		q.push(e)
		pushed = append(pushed, e)
		if i%7 == 0 { // interleave pops with pushes
			want := pushed
			sort.SliceStable(want, func(a, b int) bool { return want[a].before(&want[b]) })
			got := q.pop()
			if got != want[0] {
				t.Fatalf("pop after %d pushes = (at %d, seq %d), want (at %d, seq %d)", i+1, got.at, got.seq, want[0].at, want[0].seq)
			}
			pushed = want[1:]
		}
	}
	sort.SliceStable(pushed, func(a, b int) bool { return pushed[a].before(&pushed[b]) })
	for i, want := range pushed {
		got := q.pop()
		if got != want {
			t.Fatalf("pop %d = (at %d, seq %d), want (at %d, seq %d)", i, got.at, got.seq, want.at, want.seq)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("queue not empty after popping everything: %d left", q.Len())
	}
}

func TestProbesRunByTimeThenRegistration(t *testing.T) {
	var order []string
	rec := func(s *Sim, name string) func() {
		return func() { order = append(order, fmt.Sprintf("%s@%s", name, s.Now())) }
	}
	runScripted(t, runSpec{duration: 5 * time.Second, build: func(s *Sim, _ *scriptLog) {
		s.At(3*time.Second, rec(s, "c1"))
		s.At(time.Second, rec(s, "a1"))
		s.At(2*time.Second, func() {
			order = append(order, "b@"+s.Now().String())
			// A probe for the past runs now, after everything already queued for now.
			s.At(time.Second, rec(s, "late"))
		})
		s.At(2*time.Second, rec(s, "b2"))
		s.At(time.Second, rec(s, "a2"))
		s.At(3*time.Second, rec(s, "c2"))
	}})
	want := []string{"a1@1s", "a2@1s", "b@2s", "b2@2s", "late@2s", "c1@3s", "c2@3s"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("probes ran in order %v, want %v", order, want)
	}
}

func TestTimerFollowsLocalClockRate(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 5 * time.Second, build: func(s *Sim, log *scriptLog) {
		s.AddHost(HostConfig{Name: "fast", Rate: 2 * RateOne})
		s.AddHost(HostConfig{Name: "slow", Rate: 500_000, Offset: 10 * time.Second})
		s.AddHost(HostConfig{Name: "skew", Rate: 1_300_000})
		once := func(p *scriptedProc, ctx *Ctx, in Input) {
			if in.Kind == InputStart {
				ctx.After(time.Second, "t", 0)
			}
		}
		addScripted(s, log, "fast", "p", once)
		addScripted(s, log, "slow", "p", once)
		addScripted(s, log, "skew", "p", once)
	}})
	for _, c := range []struct {
		proc      string
		at, local time.Duration
	}{
		{"fast/p", 500 * tms, time.Second},
		{"slow/p", 2 * time.Second, 11 * time.Second},
		// 1s of a 1.3x clock takes ceil(1s/1.3) = 769230770ns of true time,
		// when the clock reads floor(769230770*1.3) = 1.000000001s.
		{"skew/p", 769_230_770, time.Second + 1},
	} {
		got := log.kind(c.proc, InputTimer)
		if len(got) != 1 || got[0].At != c.at || got[0].Local != c.local {
			t.Errorf("%s: a 1s timer fired %v, want once at true %s (local %s)", c.proc, got, c.at, c.local)
		}
	}
	wantTraceLines(t, res, "0.500000000 timer fast/p t 0", "0.769230770 timer skew/p t 0", "2.000000000 timer slow/p t 0")
}

func TestClockFaultsRetimeTimers(t *testing.T) {
	for _, c := range []struct {
		name      string
		sched     string
		at, local time.Duration // when h1's 10s timer fires, true and local
	}{
		{"no fault", "", 10 * time.Second, 10 * time.Second},
		// Jumps move the wall clock only: timers run on the monotonic one.
		{"jump forward leaves timers", "at 2s clock h1 jump +5s", 10 * time.Second, 10 * time.Second},
		{"jump backward leaves timers", "at 2s clock h1 jump -3s", 10 * time.Second, 10 * time.Second},
		{"jump past the deadline leaves timers", "at 2s clock h1 jump +20s", 10 * time.Second, 10 * time.Second},
		{"rate 2x for a while", "at 2s clock h1 rate 2x for 2s", 8 * time.Second, 10 * time.Second},
		{"rate 0.5x for a while", "at 2s clock h1 rate 0.5x for 4s", 12 * time.Second, 10 * time.Second},
		{"rate change then jump", "at 1s clock h1 rate 2x\nat 3s clock h1 jump -1s", 5500 * tms, 10 * time.Second},
		// 2x from 1s, 0.5x from 2s to 3s (the newer fault wins), 2x again
		// until 5s, then 1x: the clock reads 1+2+0.5+4 = 7.5s at 5s.
		{"overlapping rates", "at 1s clock h1 rate 2x for 4s\nat 2s clock h1 rate 0.5x for 1s", 7500 * tms, 10 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, log := runScripted(t, runSpec{duration: 15 * time.Second, sched: c.sched, build: func(s *Sim, log *scriptLog) {
				addHosts(s, "h1", "h2")
				once := func(p *scriptedProc, ctx *Ctx, in Input) {
					if in.Kind == InputStart {
						ctx.After(10*time.Second, "t", 0)
					}
				}
				addScripted(s, log, "h1", "p", once)
				addScripted(s, log, "h2", "p", once)
			}})
			got := log.kind("h1/p", InputTimer)
			if len(got) != 1 || got[0].At != c.at || got[0].Local != c.local {
				t.Fatalf("h1/p's 10s timer fired %v, want once at true %s, local %s\n%s", got, c.at, c.local, res.Trace)
			}
			other := log.kind("h2/p", InputTimer)
			if len(other) != 1 || other[0].At != 10*time.Second {
				t.Fatalf("h2/p's timer must not be affected by h1's clock: fired %v, want once at 10s", other)
			}
		})
	}
}

func TestCtxCancel(t *testing.T) {
	var pTimers struct{ a, b, d TimerID }
	var results []string
	res, log := runScripted(t, runSpec{duration: 6 * time.Second, build: func(s *Sim, log *scriptLog) {
		addHosts(s, "h1", "h2")
		addScripted(s, log, "h1", "p", func(p *scriptedProc, ctx *Ctx, in Input) {
			switch {
			case in.Kind == InputStart:
				pTimers.a = ctx.After(time.Second, "a", 1)
				pTimers.b = ctx.After(2*time.Second, "b", 2)
				pTimers.d = ctx.After(5*time.Second, "d", 4)
				results = append(results, fmt.Sprintf("cancel pending b: %v", ctx.Cancel(pTimers.b)))
				results = append(results, fmt.Sprintf("cancel b again: %v", ctx.Cancel(pTimers.b)))
			case in.Kind == InputTimer && in.Tag == "a":
				if in.Timer != pTimers.a {
					results = append(results, "timer a came with a different TimerID")
				}
				results = append(results, fmt.Sprintf("cancel fired a: %v", ctx.Cancel(pTimers.a)))
				c := ctx.After(time.Second, "c", 3) // may reuse a's slot
				results = append(results, fmt.Sprintf("cancel a after reuse: %v", ctx.Cancel(pTimers.a)))
				if c == pTimers.a {
					results = append(results, "a new timer got a fired timer's ID")
				}
			}
		})
		addScripted(s, log, "h2", "q", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
			1500 * tms: func(_ *scriptedProc, ctx *Ctx) {
				results = append(results, fmt.Sprintf("cancel another process's timer: %v", ctx.Cancel(pTimers.d)))
			},
		}))
	}})
	want := []string{
		"cancel pending b: true", "cancel b again: false",
		"cancel fired a: false", "cancel a after reuse: false",
		"cancel another process's timer: false",
	}
	if !reflect.DeepEqual(results, want) {
		t.Fatalf("Cancel results:\n%s\nwant:\n%s", strings.Join(results, "\n"), strings.Join(want, "\n"))
	}
	var fired []string
	for _, e := range log.kind("h1/p", InputTimer) {
		fired = append(fired, fmt.Sprintf("%s@%s", e.Tag, e.At))
	}
	if want := []string{"a@1s", "c@2s", "d@5s"}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("h1/p's timers fired %v, want %v (b cancelled)", fired, want)
	}
	noTraceLineWith(t, res, "timer h1/p b")
}

// --- pause ---

// pingWorld is three hosts h1..h3 (configured by cfgs where given), each
// running a pinger p that sends seqMsg{k} to the two others at its k-th
// 100ms tick.
func pingWorld(extra func(s *Sim, log *scriptLog), cfgs ...HostConfig) func(s *Sim, log *scriptLog) {
	return func(s *Sim, log *scriptLog) {
		for _, h := range []string{"h1", "h2", "h3"} {
			c := HostConfig{Name: h}
			for _, o := range cfgs {
				if o.Name == h {
					c = o
				}
			}
			s.AddHost(c)
		}
		names := []string{"h1/p", "h2/p", "h3/p"}
		for i, h := range []string{"h1", "h2", "h3"} {
			var peers []string
			for j, n := range names {
				if j != i {
					peers = append(peers, n)
				}
			}
			addScripted(s, log, h, "p", pingHandler(100*tms, peers...))
		}
		if extra != nil {
			extra(s, log)
		}
	}
}

func TestPauseDefersInputsUntilResume(t *testing.T) {
	for _, c := range []struct{ name, sched, pauseFault, resumeFault string }{
		{"pause for", "at 1s pause h2 for 1s", "1.000000000 fault #1 pause h2 for 1s", "2.000000000 fault-end #1 pause h2 for 1s"},
		{"pause then resume", "at 1s pause h2\nat 2s resume h2", "1.000000000 fault #1 pause h2", "2.000000000 fault #2 resume h2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var probes []string
			res, log := runScripted(t, runSpec{duration: 2950 * tms, sched: c.sched, build: func(s *Sim, log *scriptLog) {
				pingWorld(nil, HostConfig{Name: "h2", Offset: 7 * time.Second})(s, log)
				s.At(1500*tms, func() {
					probes = append(probes, fmt.Sprintf("paused=%v local=%s", s.HostPaused("h2"), s.LocalNow("h2")))
				})
			}})
			if want := []string{"paused=true local=8.5s"}; !reflect.DeepEqual(probes, want) {
				t.Fatalf("mid-pause probe saw %v, want %v (a paused host's clock keeps going)", probes, want)
			}
			var during, atResume []seenInput
			for _, e := range log.of("h2/p") {
				switch {
				case e.At > time.Second && e.At < 2*time.Second:
					during = append(during, e)
				case e.At == 2*time.Second:
					atResume = append(atResume, e)
				}
			}
			if len(during) > 0 {
				t.Fatalf("paused h2/p ran %d steps while paused, first: %s", len(during), during[0])
			}
			// At resume: the timer due at 1.0s first, then the 20 messages that
			// arrived from 1.001s to 1.901s, in arrival order.
			if len(atResume) != 21 {
				t.Fatalf("h2/p ran %d steps at resume, want 21 (1 timer + 20 messages):\n%s", len(atResume), log.dump())
			}
			if e := atResume[0]; e.Kind != InputTimer || e.Arg != 10 || e.Local != 9*time.Second {
				t.Fatalf("first step at resume = %s, want the ping timer 10 with the local clock at 9s", e)
			}
			var got []string
			for _, e := range atResume[1:] {
				got = append(got, fmt.Sprintf("%s:%s", e.From, e.Msg.Payload))
			}
			var want []string
			for k := 10; k <= 19; k++ {
				want = append(want, fmt.Sprintf("h1/p:seq %d", k), fmt.Sprintf("h3/p:seq %d", k))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("messages at resume in order\n%v\nwant arrival order\n%v", got, want)
			}
			// Nothing was lost: h2 got every ping, and its own pings resumed
			// where they stopped.
			for _, from := range []string{"h1/p", "h3/p"} {
				if got := log.seqsFrom("h2/p", from); !equalInts(got, seqRange(1, 29)) {
					t.Fatalf("h2/p got seqs %v from %s, want 1..29", got, from)
				}
			}
			if got := log.seqsFrom("h1/p", "h2/p"); !equalInts(got, seqRange(1, 19)) {
				t.Fatalf("h1/p got seqs %v from h2/p, want 1..19 (h2 ticks 10 timers late)", got)
			}
			wantTraceLines(t, res, c.pauseFault, "2.000000000 resume h2 backlog=21")
			wantTraceLines(t, res, c.resumeFault)
		})
	}
}

// TestCrashWhilePaused: a crash ends the pause and drops what waited in the
// backlog; the pause's undo then finds nothing to resume.
func TestCrashWhilePaused(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 3950 * tms, sched: "at 1s pause h2 for 2s\nat 1500ms crash h2 for 1s", build: pingWorld(nil)})
	// Messages of ticks 10..14 from h1 and h3 waited in the backlog.
	if n := len(traceLinesWith(res, "(host-crash)")); n != 10 {
		t.Fatalf("%d backlogged messages dropped by the crash, want 10", n)
	}
	wantTraceLines(t, res,
		"1.500000000 drop #55 h1/p->h2/p (host-crash) seq 10",
		"1.500000000 crash h2 lost-writes=0",
		"2.500000000 boot h2",
		"2.500000000 start h2/p incarnation=2",
		"3.000000000 fault-end #1 pause h2 for 2s",
	)
	noTraceLineWith(t, res, "resume h2")
	for _, e := range log.of("h2/p") {
		if e.At > time.Second && e.At < 2500*tms {
			t.Fatalf("h2/p ran while paused or down: %s", e)
		}
	}
	// The second incarnation hears the pings sent from its boot at 2.5s on.
	if got := log.seqsFrom("h2/p", "h1/p"); !equalInts(got, concatInts(seqRange(1, 9), seqRange(25, 39))) {
		t.Fatalf("h2/p got from h1/p %v, want 1..9 then 25..39", got)
	}
}

// TestPauseUndoAfterCrashKeepsLaterPause: once the host crashed, an earlier
// pause's undo must not end a pause that a later entry started.
func TestPauseUndoAfterCrashKeepsLaterPause(t *testing.T) {
	var probes []string
	res, _ := runScripted(t, runSpec{
		duration: 5 * time.Second, sched: "at 1s pause h2 for 3s\nat 1500ms crash h2 for 500ms\nat 2500ms pause h2 for 2s",
		build: func(s *Sim, log *scriptLog) {
			pingWorld(nil)(s, log)
			s.At(4200*tms, func() { probes = append(probes, fmt.Sprintf("paused=%v", s.HostPaused("h2"))) })
		},
	})
	if want := []string{"paused=true"}; !reflect.DeepEqual(probes, want) {
		t.Fatalf("at 4.2s h2 %v, want %v: the first pause's undo ended the second pause", probes, want)
	}
	wantTraceLines(t, res, "4.000000000 fault-end #1 pause h2 for 3s", "4.500000000 resume h2 backlog=41", "4.500000000 fault-end #3 pause h2 for 2s")
	if n := len(traceLinesWith(res, "resume h2")); n != 1 {
		t.Fatalf("h2 resumed %d times, want once", n)
	}
}

// TestStartOnPausedHostWaitsForResume: a process started (by a kill's undo
// or a start fault) while its host is paused runs nothing until the host
// resumes.
func TestStartOnPausedHostWaitsForResume(t *testing.T) {
	for _, c := range []struct{ name, sched string }{
		{"kill undone while paused", "at 1s pause h1 for 2s\nat 1500ms kill h1/p for 500ms"},
		{"start while paused", "at 1s pause h1 for 2s\nat 1200ms kill h1/p\nat 1500ms start h1/p"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, log := runScripted(t, runSpec{duration: 4 * time.Second, sched: c.sched, build: func(s *Sim, log *scriptLog) {
				addHosts(s, "h1", "h2")
				addScripted(s, log, "h1", "p", pingHandler(100*tms, "h2/q"))
				addScripted(s, log, "h2", "q", nil)
			}})
			starts := log.kind("h1/p", InputStart)
			if len(starts) != 2 || starts[1].At != 3*time.Second || starts[1].Inc != 2 {
				t.Fatalf("h1/p started %v, want incarnation 2 to start when h1 resumes at 3s\n%s", starts, res.Trace)
			}
			for _, e := range log.of("h1/p") {
				if e.At > time.Second && e.At < 3*time.Second {
					t.Fatalf("h1/p ran while its host was paused: %s", e)
				}
			}
			// The backlog holds the deferred start and the killed incarnation's
			// stale ping timer (discarded when it runs).
			wantTraceLines(t, res, "3.000000000 resume h1 backlog=2", "3.000000000 start h1/p incarnation=2")
			if n := len(traceLinesWith(res, "3.000000000 timer h1/p ping 10")); n != 0 {
				t.Fatalf("the killed incarnation's timer fired after the resume")
			}
		})
	}
}

// --- crash, kill, exit, disk ---

// storeWorld: h1/c sends writes to h2/s; h3/z sends one message over a slow
// link that arrives at 2.3s. s appends each write to its disk; "w:" writes
// are synced, "u:" ones are not.
type storeRun struct {
	diskAtStart map[int][]any // incarnation -> disk contents at its start
	freshStart  map[int]bool  // incarnation -> the instance had seenInput nothing before
	durable     []any
}

func storeWorld(sr *storeRun, extraSends map[time.Duration]string) func(s *Sim, log *scriptLog) {
	return func(s *Sim, log *scriptLog) {
		addHosts(s, "h1", "h2", "h3")
		s.Network().SetLink("h3", "h2", LinkParams{Latency: 1500 * tms})
		sr.diskAtStart = map[int][]any{}
		sr.freshStart = map[int]bool{}
		addScripted(s, log, "h2", "s", func(p *scriptedProc, ctx *Ctx, in Input) {
			switch in.Kind {
			case InputStart:
				sr.diskAtStart[ctx.Incarnation()] = ctx.Disk().Read("log")
				sr.freshStart[ctx.Incarnation()] = p.inputs == 1 && p.n == 0
				ctx.After(1500*tms, "t1", 0)
				ctx.After(5*time.Second, "t5", 0)
			case InputMessage:
				kind, val, _ := strings.Cut(in.Msg.Payload.String(), ":")
				ctx.Disk().Append("log", val)
				if kind == "w" {
					ctx.Disk().Sync("sync", uint64(p.n))
				}
				p.n++
			}
		})
		sends := map[time.Duration]string{
			100 * tms: "w:a", 500 * tms: "w:c", 998 * tms: "w:d", 998500 * time.Microsecond: "u:b", 999500 * time.Microsecond: "u:e",
		}
		for k, v := range extraSends {
			sends[k] = v
		}
		actions := map[time.Duration]func(*scriptedProc, *Ctx){}
		for k, v := range sends {
			v := v
			actions[k] = func(_ *scriptedProc, ctx *Ctx) { ctx.Send(ctx.Lookup("h2/s"), ptext(v)) }
		}
		addScripted(s, log, "h1", "c", atLocal(actions))
		addScripted(s, log, "h3", "z", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
			800 * tms: func(_ *scriptedProc, ctx *Ctx) { ctx.Send(ctx.Lookup("h2/s"), ptext("u:z")) },
		}))
		s.At(7900*tms, func() { sr.durable = s.Durable("h2", "s/log") })
	}
}

func describeSeen(es []seenInput) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.String() + "\n")
	}
	return b.String()
}

func TestHostCrashLosesVolatileState(t *testing.T) {
	var sr storeRun
	res, log := runScripted(t, runSpec{duration: 8 * time.Second, sched: "at 1s crash h2 for 1s", build: storeWorld(&sr, nil)})
	got := describeSeen(log.of("h2/s"))
	want := strings.Join([]string{
		"0.000000000 h2/s#1 local=0.000000000 start",
		"0.101000000 h2/s#1 local=0.101000000 msg #1 from h1/c: w:a",
		"0.103000000 h2/s#1 local=0.103000000 synced sync 0",
		"0.501000000 h2/s#1 local=0.501000000 msg #2 from h1/c: w:c",
		"0.503000000 h2/s#1 local=0.503000000 synced sync 1",
		"0.999000000 h2/s#1 local=0.999000000 msg #4 from h1/c: w:d",
		"0.999500000 h2/s#1 local=0.999500000 msg #5 from h1/c: u:b",
		// The crash at 1s loses the sync in flight (d), the unsynced write
		// (b), both timers, and the message in flight (#6). After the
		// restart the old incarnation's timers never fire.
		"2.000000000 h2/s#2 local=2.000000000 start",
		"3.500000000 h2/s#2 local=3.500000000 timer t1 0",
		"7.000000000 h2/s#2 local=7.000000000 timer t5 0",
	}, "\n") + "\n"
	if got != want {
		t.Fatalf("h2/s saw\n%s\nwant\n%s\ntrace:\n%s", got, want, res.Trace)
	}
	if d := sr.diskAtStart[2]; !reflect.DeepEqual(d, []any{"a", "c"}) {
		t.Fatalf("after the crash the disk reads %v, want only the synced writes [a c]", d)
	}
	if !sr.freshStart[2] {
		t.Fatalf("incarnation 2 did not start from a fresh instance")
	}
	starts := log.kind("h2/s", InputStart)
	if starts[0].Inst == starts[1].Inst {
		t.Fatalf("the restart reused the crashed instance")
	}
	if !reflect.DeepEqual(sr.durable, []any{"a", "c"}) {
		t.Fatalf("durable image at the end = %v, want [a c]", sr.durable)
	}
	wantTraceLines(t, res,
		"1.000000000 fault #1 crash h2 for 1s",
		"1.000000000 stop h2/s host-crash",
		"1.000000000 crash h2 lost-writes=2",
		"1.000500000 drop #6 h1/c->h2/s (host-down) u:e",
		"2.000000000 boot h2",
		"2.000000000 start h2/s incarnation=2",
		"2.000000000 fault-end #1 crash h2 for 1s",
		"2.300000000 drop #3 h3/z->h2/s (receiver-restarted) u:z",
	)
	noTraceLineWith(t, res, "synced h2/s sync 2")
	if !res.Sim.HostUp("h2") || !res.Sim.Running(res.Sim.MustLookup("h2/s")) {
		t.Fatalf("h2/s is not running again at the end")
	}
}

func TestKillKeepsPageCache(t *testing.T) {
	var sr storeRun
	res, log := runScripted(t, runSpec{
		duration: 8 * time.Second, sched: "at 1s kill h2/s for 1s",
		build: storeWorld(&sr, map[time.Duration]string{1500 * tms: "u:f"}),
	})
	if d := sr.diskAtStart[2]; !reflect.DeepEqual(d, []any{"a", "c", "d", "b"}) {
		t.Fatalf("after the kill the disk reads %v, want every write [a c d b]: the page cache survives a process crash", d)
	}
	// d's sync was in flight at the kill: the device completes it anyway;
	// b was never synced.
	if !reflect.DeepEqual(sr.durable, []any{"a", "c", "d"}) {
		t.Fatalf("durable image at the end = %v, want [a c d]", sr.durable)
	}
	for _, e := range log.kind("h2/s", InputSynced) {
		if e.At > time.Second {
			t.Fatalf("the killed incarnation got a sync notification: %s", e)
		}
	}
	for _, e := range log.kind("h2/s", InputTimer) {
		if e.Inc == 1 {
			t.Fatalf("a timer of the killed incarnation fired: %s", e)
		}
	}
	wantTraceLines(t, res,
		"1.000000000 fault #1 kill h2/s for 1s",
		"1.000000000 stop h2/s killed",
		"1.000500000 drop #6 h1/c->h2/s (receiver-restarted) u:e",
		// Sent while nothing listens on the live host: refused, not lost.
		"1.501000000 refused #7 h1/c->h2/s (not-running) u:f",
		"2.000000000 start h2/s incarnation=2",
		"2.000000000 fault-end #1 kill h2/s for 1s",
		"2.300000000 drop #3 h3/z->h2/s (receiver-restarted) u:z",
	)
	noTraceLineWith(t, res, "crash h2")
	noTraceLineWith(t, res, "boot h2")
	refused := log.kind("h1/c", InputRefused)
	if len(refused) != 1 || refused[0].Msg.ID != 7 || refused[0].At != 1502*tms {
		t.Fatalf("the sender was told of refusals %v, want #7 at 1.502s", refused)
	}
}

func TestDiskSyncLatencyAndOrder(t *testing.T) {
	var probes []string
	var reads []string
	_, log := runScripted(t, runSpec{duration: time.Second, build: func(s *Sim, log *scriptLog) {
		s.AddHost(HostConfig{Name: "h1", SyncLatency: 10 * tms})
		addScripted(s, log, "h1", "p", func(p *scriptedProc, ctx *Ctx, in Input) {
			d := ctx.Disk()
			switch {
			case in.Kind == InputStart:
				d.Append("f", "x")
				d.Sync("s", 1)
				ctx.After(3*tms, "more", 0)
			case in.Kind == InputTimer:
				d.Append("f", "y")
				reads = append(reads, fmt.Sprintf("read=%v pending=%d", d.Read("f"), d.Pending()))
				d.Sync("s", 2)
			case in.Kind == InputSynced && in.Arg == 2:
				d.Replace("f", "z")
				d.Append("g", "1")
				d.Remove("g")
				reads = append(reads, fmt.Sprintf("read=%v g=%v", d.Read("f"), d.Read("g")))
				d.Sync("s", 3)
			}
		})
		for _, at := range []time.Duration{5 * tms, 11 * tms, 14 * tms, 30 * tms} {
			at := at
			s.At(at, func() {
				probes = append(probes, fmt.Sprintf("%s f=%v g=%v", at, s.Durable("h1", "p/f"), s.Durable("h1", "p/g")))
			})
		}
	}})
	var synced []string
	for _, e := range log.kind("h1/p", InputSynced) {
		synced = append(synced, fmt.Sprintf("%s %d@%s", e.Tag, e.Arg, e.At))
	}
	if want := []string{"s 1@10ms", "s 2@13ms", "s 3@23ms"}; !reflect.DeepEqual(synced, want) {
		t.Fatalf("syncs completed %v, want %v (after SyncLatency, in issue order)", synced, want)
	}
	if want := []string{"read=[x y] pending=2", "read=[z] g=[]"}; !reflect.DeepEqual(reads, want) {
		t.Fatalf("reads before sync saw %v, want %v (pending writes are visible)", reads, want)
	}
	if want := []string{"5ms f=[] g=[]", "11ms f=[x] g=[]", "14ms f=[x y] g=[]", "30ms f=[z] g=[]"}; !reflect.DeepEqual(probes, want) {
		t.Fatalf("durable image over time %v, want %v", probes, want)
	}
}

// TestDiskSlowFault: syncs issued while the fault holds take its latency;
// afterwards they take the host's own again, still completing in the order
// they were issued.
func TestDiskSlowFault(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 2200 * tms, sched: "at 1s disk h1 latency 50ms for 1s", build: func(s *Sim, log *scriptLog) {
		addHosts(s, "h1")
		addScripted(s, log, "h1", "p", func(p *scriptedProc, ctx *Ctx, in Input) {
			if in.Kind == InputStart || in.Kind == InputTimer {
				if in.Kind == InputTimer {
					ctx.Disk().Append("f", in.Arg)
					ctx.Disk().Sync("s", in.Arg)
				}
				ctx.After(20*tms, "tick", in.Arg+1)
			}
		})
	}})
	var prev time.Duration
	var last uint64
	for _, e := range log.kind("h1/p", InputSynced) {
		issued := time.Duration(e.Arg) * 20 * tms
		lat := DefaultSyncLatency
		if issued >= time.Second && issued < 2*time.Second {
			lat = 50 * tms
		}
		want := max(issued+lat, prev)
		if e.At != want || e.Arg != last+1 {
			t.Fatalf("sync %d issued at %s completed at %s, want %s (after sync %d)", e.Arg, issued, e.At, want, last)
		}
		prev, last = e.At, e.Arg
	}
	if last < 100 {
		t.Fatalf("only %d syncs completed", last)
	}
	wantTraceLines(t, res, "1.070000000 synced h1/p s 51", "2.030000000 synced h1/p s 100", "2.030000000 synced h1/p s 101", "2.042000000 synced h1/p s 102")
	if d := res.Sim.Disturbed(); len(d) > 0 {
		t.Fatalf("disturbed after the undo: %v", d)
	}
}

func TestExitRestartsAfterLocalDelay(t *testing.T) {
	var incs []string
	res, log := runScripted(t, runSpec{duration: 10 * time.Second, build: func(s *Sim, log *scriptLog) {
		s.AddHost(HostConfig{Name: "h1", Rate: 2 * RateOne})
		addScripted(s, log, "h1", "x", func(p *scriptedProc, ctx *Ctx, in Input) {
			switch in.Kind {
			case InputStart:
				incs = append(incs, fmt.Sprintf("%d@%s", ctx.Incarnation(), ctx.s.Now()))
				if ctx.Incarnation() == 1 {
					ctx.After(100*tms, "never", 0)
					ctx.Exit(3 * time.Second) // 3s local = 1.5s true
					return
				}
				ctx.After(time.Second, "bye", 0)
			case InputTimer:
				if in.Tag == "bye" {
					ctx.Exit(-1)
				}
			}
		})
	}})
	if want := []string{"1@0s", "2@1.5s"}; !reflect.DeepEqual(incs, want) {
		t.Fatalf("starts %v, want %v: restart after 3s of a 2x clock, and never after Exit(-1)", incs, want)
	}
	timers := log.kind("h1/x", InputTimer)
	if len(timers) != 1 || timers[0].Tag != "bye" || timers[0].At != 2*time.Second {
		t.Fatalf("timers fired %v, want only bye at 2s (an exited incarnation's timers are gone)", timers)
	}
	if res.Sim.Running(res.Sim.MustLookup("h1/x")) {
		t.Fatalf("h1/x runs at the end after Exit(-1)")
	}
	wantTraceLines(t, res,
		"0.000000000 start h1/x incarnation=1",
		"0.000000000 stop h1/x exit",
		"1.500000000 start h1/x incarnation=2",
		"2.000000000 timer h1/x bye 0",
		"2.000000000 stop h1/x exit",
	)
	if n := len(traceLinesWith(res, "start h1/x")); n != 2 {
		t.Fatalf("h1/x started %d times, want 2", n)
	}
}

// --- network ---

func TestNetworkFaults(t *testing.T) {
	all := seqRange(1, 29)
	gap := concatInts(seqRange(1, 9), seqRange(20, 29))
	pairs := [][2]string{{"h1/p", "h2/p"}, {"h2/p", "h1/p"}, {"h1/p", "h3/p"}, {"h3/p", "h1/p"}, {"h2/p", "h3/p"}, {"h3/p", "h2/p"}}
	type want map[[2]string][]int // receiver, sender -> seqs; unlisted pairs get all
	for _, c := range []struct {
		name  string
		sched string
		want  want
		lines []string
	}{
		{"partition drops", "at 1s partition {h1} | {h2} for 1s",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap},
			[]string{"1.000000000 drop #55 h1/p->h2/p (partition) seq 10", "1.000000000 drop #57 h2/p->h1/p (partition) seq 10"}},
		{"partition holds", "at 1s partition {h1} | {h2} hold for 1s",
			want{},
			[]string{"1.000000000 hold #55 h1/p->h2/p seq 10", "2.000000000 release #55 h1/p->h2/p seq 10", "2.001000000 deliver #55 h1/p->h2/p seq 10"}},
		{"one way", "at 1s partition {h1} -> {h2} for 1s",
			want{{"h2/p", "h1/p"}: gap},
			[]string{"1.000000000 drop #55 h1/p->h2/p (partition) seq 10", "1.001000000 deliver #57 h2/p->h1/p seq 10"}},
		{"one way by groups", "at 1s partition {h1 h3} -> {h2} for 1s",
			want{{"h2/p", "h1/p"}: gap, {"h2/p", "h3/p"}: gap},
			nil},
		{"isolate", "at 1s isolate h2 for 1s",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap, {"h2/p", "h3/p"}: gap, {"h3/p", "h2/p"}: gap},
			nil},
		{"heal", "at 1s partition {h1} | {h2}\nat 2s heal",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap},
			[]string{"2.000000000 fault #2 heal"}},
		{"heal releases held", "at 1s isolate h2 hold\nat 2s heal",
			want{},
			[]string{"2.000000000 release #55 h1/p->h2/p seq 10"}},
		{"loss 100%", "at 1s net loss 100% for 1s",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap, {"h1/p", "h3/p"}: gap, {"h3/p", "h1/p"}: gap, {"h2/p", "h3/p"}: gap, {"h3/p", "h2/p"}: gap},
			[]string{"1.000000000 drop #55 h1/p->h2/p (loss) seq 10"}},
		{"loss between", "at 1s net loss 100% between {h1} | {h3} for 1s",
			want{{"h1/p", "h3/p"}: gap, {"h3/p", "h1/p"}: gap},
			nil},
		{"net reset", "at 1s net loss 100%\nat 2s net reset",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap, {"h1/p", "h3/p"}: gap, {"h3/p", "h1/p"}: gap, {"h2/p", "h3/p"}: gap, {"h3/p", "h2/p"}: gap},
			nil},
		{"net reset between", "at 1s net loss 100%\nat 2s net reset between {h1} | {h2}",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap,
				{"h1/p", "h3/p"}: seqRange(1, 9), {"h3/p", "h1/p"}: seqRange(1, 9), {"h2/p", "h3/p"}: seqRange(1, 9), {"h3/p", "h2/p"}: seqRange(1, 9)},
			nil},
		// The loss ends at 2s; the delay, applied later, lasts until 2.5s,
		// and FIFO order holds seq 25 and 26 back behind seq 24 (2.7s).
		{"overlapping net faults", "at 1s net loss 100% for 1s\nat 1500ms net delay 300ms for 1s",
			want{{"h2/p", "h1/p"}: gap, {"h1/p", "h2/p"}: gap, {"h1/p", "h3/p"}: gap, {"h3/p", "h1/p"}: gap, {"h2/p", "h3/p"}: gap, {"h3/p", "h2/p"}: gap},
			[]string{"2.300000000 deliver #115 h1/p->h2/p seq 20", "2.700000000 deliver #151 h1/p->h2/p seq 26"}},
		{"delay", "at 1s net delay 300ms between {h1} | {h2} for 1s",
			want{},
			[]string{"1.300000000 deliver #55 h1/p->h2/p seq 10"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, log := runScripted(t, runSpec{duration: 2950 * tms, sched: c.sched, build: pingWorld(nil)})
			for _, pr := range pairs {
				w, ok := c.want[pr]
				if !ok {
					w = all
				}
				if got := log.seqsFrom(pr[0], pr[1]); !equalInts(got, w) {
					t.Errorf("%s got seqs from %s:\n%v\nwant\n%v", pr[0], pr[1], got, w)
				}
			}
			if c.lines != nil {
				wantTraceLines(t, res, c.lines...)
			}
		})
	}
}

func TestHoldDeliversInOrderAfterHeal(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 2950 * tms, sched: "at 1s partition {h1} | {h2} hold for 1s", build: pingWorld(nil)})
	for _, pr := range [][2]string{{"h2/p", "h1/p"}, {"h1/p", "h2/p"}} {
		for _, e := range log.kind(pr[0], InputMessage) {
			if e.From != pr[1] {
				continue
			}
			n := e.Msg.Payload.(seqMsg).N
			if n >= 10 && n <= 19 && e.At != 2001*tms {
				t.Errorf("%s got held seq %d from %s at %s, want 2.001s (released at the heal)", pr[0], n, pr[1], e.At)
			}
		}
	}
	if h, r := len(traceLinesWith(res, " hold #")), len(traceLinesWith(res, " release #")); h != 20 || r != 20 {
		t.Fatalf("%d hold and %d release lines, want 20 of each", h, r)
	}
	noTraceLineWith(t, res, "(partition)")
}

func TestLoopbackIgnoresNetworkFaults(t *testing.T) {
	res, log := runScripted(t, runSpec{
		duration: 2950 * tms, sched: "at 1s isolate h1 + net loss 100% for 1s",
		build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2")
			addScripted(s, log, "h1", "a", pingHandler(100*tms, "h1/b", "h2/c"))
			addScripted(s, log, "h1", "b", nil)
			addScripted(s, log, "h2", "c", nil)
		},
	})
	if got := log.seqsFrom("h1/b", "h1/a"); !equalInts(got, seqRange(1, 29)) {
		t.Fatalf("h1/b got %v from h1/a on its own host, want 1..29 whatever the network does", got)
	}
	if got := log.seqsFrom("h2/c", "h1/a"); !equalInts(got, concatInts(seqRange(1, 9), seqRange(20, 29))) {
		t.Fatalf("h2/c got %v from h1/a, want the isolation's gap", got)
	}
	for _, e := range log.kind("h1/b", InputMessage) {
		if e.At%(100*tms) != LoopbackLatency {
			t.Fatalf("loopback delivery at %s, want %s after the send", e.At, LoopbackLatency)
		}
	}
	wantTraceLines(t, res, "1.000020000 deliver #19 h1/a->h1/b seq 10")
}

func TestReorderAndFIFO(t *testing.T) {
	burst := func(sched string, jitter time.Duration) []int {
		_, log := runScripted(t, runSpec{
			seed: 5, duration: time.Second, sched: sched, network: &LinkParams{Latency: time.Millisecond, Jitter: jitter},
			build: func(s *Sim, log *scriptLog) {
				addHosts(s, "h1", "h2")
				addScripted(s, log, "h1", "a", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
					100 * tms: func(_ *scriptedProc, ctx *Ctx) {
						for i := 1; i <= 50; i++ {
							ctx.Send(ctx.Lookup("h2/b"), seqMsg{N: i})
						}
					},
				}))
				addScripted(s, log, "h2", "b", nil)
			},
		})
		return log.seqsFrom("h2/b", "h1/a")
	}
	if got := burst("", 5*tms); !equalInts(got, seqRange(1, 50)) {
		t.Fatalf("with jitter and no reordering a burst arrived as %v, want FIFO order", got)
	}
	got := burst("at 0s net reorder 100%", 0)
	sorted := append([]int(nil), got...)
	sort.Ints(sorted)
	if !equalInts(sorted, seqRange(1, 50)) {
		t.Fatalf("with reordering the burst arrived as %v, want every message once", got)
	}
	if equalInts(got, seqRange(1, 50)) {
		t.Fatalf("with reorder 100%% a burst of 50 still arrived in order")
	}
}

// TestHoldDropsMessagesOfDeadSender: held messages belong to their
// sender's connection; if the sender dies before the heal they are dropped,
// while what its next incarnation sent is delivered.
func TestHoldDropsMessagesOfDeadSender(t *testing.T) {
	res, log := runScripted(t, runSpec{
		duration: 2950 * tms, sched: "at 1s partition {h1} | {h2} hold for 1s\nat 1550ms kill h1/p for 100ms",
		build: pingWorld(nil),
	})
	// Incarnation 1 sent seqs 10..15 during the cut; incarnation 2 starts at
	// 1.65s and sends seqs 1..3 before the heal.
	if n := len(traceLinesWith(res, "(sender-restarted)")); n != 6 {
		t.Fatalf("%d held messages dropped as sender-restarted, want 6 (seqs 10..15 of h1/p's first incarnation)", n)
	}
	wantTraceLines(t, res, "2.000000000 drop #55 h1/p->h2/p (sender-restarted) seq 10")
	got := log.seqsFrom("h2/p", "h1/p")
	want := concatInts(seqRange(1, 9), seqRange(1, 12)) // 1..3 released at 2s, then 4..12 live
	if !equalInts(got, want) {
		t.Fatalf("h2/p got from h1/p %v, want %v", got, want)
	}
	for _, e := range log.kind("h2/p", InputMessage) {
		if e.From == "h1/p" && e.At > time.Second && e.At < 2*time.Second {
			t.Fatalf("h2/p got a message through the held cut: %s", e)
		}
	}
}

func TestDuplicateKeepsMessageID(t *testing.T) {
	res, log := runScripted(t, runSpec{duration: 2950 * tms, sched: "at 1s net dup 100% for 1s", build: pingWorld(nil)})
	for _, pr := range [][2]string{{"h1/p", "h2/p"}, {"h2/p", "h1/p"}, {"h3/p", "h1/p"}} {
		var got []int
		ids := map[int][]uint64{}
		for _, e := range log.kind(pr[0], InputMessage) {
			if e.From != pr[1] {
				continue
			}
			n := e.Msg.Payload.(seqMsg).N
			got = append(got, n)
			ids[n] = append(ids[n], e.Msg.ID)
		}
		var want []int
		for k := 1; k <= 29; k++ {
			want = append(want, k)
			if k >= 10 && k <= 19 {
				want = append(want, k)
			}
		}
		if !equalInts(got, want) {
			t.Fatalf("%s got from %s %v, want every seq once and 10..19 twice:\n%v", pr[0], pr[1], got, want)
		}
		for k := 10; k <= 19; k++ {
			if ids[k][0] != ids[k][1] {
				t.Fatalf("the duplicate of seq %d has ID %d, the original %d", k, ids[k][1], ids[k][0])
			}
		}
	}
	if n := len(traceLinesWith(res, "' h")); n != 60 {
		t.Fatalf("%d duplicate deliveries in the trace, want 60", n)
	}
	wantTraceLines(t, res, "1.001000000 deliver #55 h1/p->h2/p seq 10", "1.001000000 deliver #55' h1/p->h2/p seq 10")
}

// --- roles and composite entries ---

// roleWorld is pingWorld with a role "leader" held by *holder (NoProc: none)
// and a role "other" that nobody ever holds; calls counts resolutions.
func roleWorld(holder *string, calls *int) func(s *Sim, log *scriptLog) {
	return pingWorld(func(s *Sim, _ *scriptLog) {
		s.AddRole("leader", func() (ProcID, bool) {
			*calls++
			if *holder == "" {
				return NoProc, false
			}
			return s.MustLookup(*holder), true
		})
		s.AddRole("other", func() (ProcID, bool) { return NoProc, false })
	})
}

func TestCompositeRoleEntryResolvesOnce(t *testing.T) {
	holder, calls := "h2/p", 0
	var probes []string
	res, log := runScripted(t, runSpec{
		duration: 3950 * tms, sched: "at 1s pause @leader + isolate @leader for 2s",
		build: func(s *Sim, log *scriptLog) {
			roleWorld(&holder, &calls)(s, log)
			// The role moves while the fault is in effect: the undo must act
			// on the host the entry resolved.
			s.At(1500*tms, func() { holder = "h3/p" })
			s.At(2*time.Second, func() {
				probes = append(probes, fmt.Sprintf("h2 paused=%v h3 paused=%v", s.HostPaused("h2"), s.HostPaused("h3")))
			})
		},
	})
	if calls != 1 {
		t.Fatalf("the role was resolved %d times, want once for the whole entry", calls)
	}
	text := "pause @leader + isolate @leader for 2s [@leader=h2/p]"
	want := []FaultRecord{{Entry: 1, At: time.Second, End: 3 * time.Second, Text: text, Hosts: []string{"h2"}, Resolved: map[string]string{"leader": "h2/p"},
		Faults: []Fault{Pause{RoleT("leader")}, Isolate{Host: RoleT("leader")}}}}
	if !reflect.DeepEqual(res.Faults, want) {
		t.Fatalf("fault log %+v, want %+v", res.Faults, want)
	}
	if !reflect.DeepEqual(res.Sim.FaultLog(), res.Faults) {
		t.Fatalf("Sim.FaultLog() and Result.Faults differ")
	}
	if want := []string{"h2 paused=true h3 paused=false"}; !reflect.DeepEqual(probes, want) {
		t.Fatalf("mid-fault probe %v, want %v", probes, want)
	}
	wantTraceLines(t, res,
		"1.000000000 fault #1 "+text,
		"3.000000000 resume h2 backlog=1",
		"3.000000000 fault-end #1 "+text,
	)
	for _, e := range log.of("h2/p") {
		if e.At > time.Second && e.At < 3*time.Second {
			t.Fatalf("h2/p ran while paused: %s", e)
		}
	}
	// Isolated: h2 got nothing sent during the fault; its own pings resumed
	// late, none lost. h3 (the later holder) was never touched.
	gap := concatInts(seqRange(1, 9), seqRange(30, 39))
	for _, c := range []struct {
		to, from string
		want     []int
	}{
		{"h2/p", "h1/p", gap}, {"h2/p", "h3/p", gap},
		{"h1/p", "h2/p", seqRange(1, 19)}, {"h3/p", "h2/p", seqRange(1, 19)},
		{"h3/p", "h1/p", seqRange(1, 39)}, {"h1/p", "h3/p", seqRange(1, 39)},
	} {
		if got := log.seqsFrom(c.to, c.from); !equalInts(got, c.want) {
			t.Errorf("%s got from %s %v, want %v", c.to, c.from, got, c.want)
		}
	}
	if res.Sim.HostPaused("h2") || len(res.Sim.net.cuts) != 0 {
		t.Fatalf("after the undo h2 paused=%v, cuts=%d; want both undone", res.Sim.HostPaused("h2"), len(res.Sim.net.cuts))
	}
}

func TestRoleWithoutHolderSkipsEntry(t *testing.T) {
	for _, c := range []struct {
		name, holder, sched, text, skipped string
	}{
		{"no holder", "", "at 1s crash @leader for 1s", "crash @leader for 1s [@leader=none]", "no holder for @leader"},
		{"one role of two missing", "h2/p", "at 1s pause @leader + isolate @other for 1s",
			"pause @leader + isolate @other for 1s [@leader=h2/p @other=none]", "no holder for @other"},
	} {
		t.Run(c.name, func(t *testing.T) {
			holder, calls := c.holder, 0
			res, log := runScripted(t, runSpec{duration: 2950 * tms, sched: c.sched, build: roleWorld(&holder, &calls)})
			wantTraceLines(t, res, "1.000000000 fault-skipped #1 "+c.text)
			noTraceLineWith(t, res, "fault #1")
			noTraceLineWith(t, res, "fault-end")
			noTraceLineWith(t, res, "crash h")
			noTraceLineWith(t, res, "resume h")
			r := res.Faults
			if len(r) != 1 || r[0].End != -1 || r[0].Text != c.text || !reflect.DeepEqual(r[0].Skipped, []string{c.skipped}) || r[0].Hosts != nil {
				t.Fatalf("fault log %+v, want one skipped record %q with Skipped [%s]", r, c.text, c.skipped)
			}
			for _, from := range []string{"h1/p", "h3/p"} {
				if got := log.seqsFrom("h2/p", from); !equalInts(got, seqRange(1, 29)) {
					t.Fatalf("h2/p got %v from %s; a skipped entry must change nothing", got, from)
				}
			}
		})
	}
}

func TestRestartViaRole(t *testing.T) {
	t.Run("live host is skipped", func(t *testing.T) {
		holder, calls := "h2/p", 0
		res, _ := runScripted(t, runSpec{duration: 2 * time.Second, sched: "at 1s restart @leader", build: roleWorld(&holder, &calls)})
		wantTraceLines(t, res,
			"1.000000000 fault #1 restart @leader [@leader=h2/p]",
			"1.000000000 fault-part-skipped #1 restart @leader: host h2 is up",
		)
		noTraceLineWith(t, res, "boot")
		r := res.Faults
		if len(r) != 1 || !reflect.DeepEqual(r[0].Skipped, []string{"restart @leader: host h2 is up"}) || !reflect.DeepEqual(r[0].Hosts, []string{"h2"}) {
			t.Fatalf("fault log %+v, want the restart recorded as skipped on h2", r)
		}
		if n := len(traceLinesWith(res, "start h2/p")); n != 1 {
			t.Fatalf("h2/p started %d times, want once", n)
		}
	})
	t.Run("crashed host boots", func(t *testing.T) {
		holder, calls := "h2/p", 0
		res, _ := runScripted(t, runSpec{duration: 3 * time.Second, sched: "at 1s crash @leader for 1s\nat 1500ms restart @leader", build: roleWorld(&holder, &calls)})
		wantTraceLines(t, res,
			"1.000000000 crash h2 lost-writes=0",
			"1.500000000 fault #2 restart @leader [@leader=h2/p]",
			"1.500000000 boot h2",
			"1.500000000 start h2/p incarnation=2",
			"2.000000000 fault-end #1 crash @leader for 1s [@leader=h2/p]",
		)
		if n := len(traceLinesWith(res, "boot h2")); n != 1 {
			t.Fatalf("h2 booted %d times, want once (the crash's undo finds it up)", n)
		}
	})
}

// --- trace and runner ---

func TestTraceCanonicalLines(t *testing.T) {
	res, _ := runScripted(t, runSpec{seed: 42, duration: 2 * time.Second, sched: "at 1s crash h2 for 500ms", build: func(s *Sim, log *scriptLog) {
		addHosts(s, "h1", "h2")
		addScripted(s, log, "h1", "a", func(p *scriptedProc, ctx *Ctx, in Input) {
			switch in.Kind {
			case InputStart:
				ctx.Notef("hello %d", 1)
				ctx.After(100*tms, "send", 7)
			case InputTimer:
				ctx.Send(ctx.Lookup("h2/b"), ptext("hi"))
			}
		})
		addScripted(s, log, "h2", "b", nil)
		s.At(500*tms, func() { s.Notef("probe h2 up=%v", s.HostUp("h2")) })
	}})
	want := []string{
		"0.000000000 run seed=42 scenario=script duration=2s",
		"0.000000000 schedule at 1s crash h2 for 500ms",
		"0.000000000 start h1/a incarnation=1",
		"0.000000000 note h1/a hello 1",
		"0.000000000 start h2/b incarnation=1",
		"0.100000000 timer h1/a send 7",
		"0.101000000 deliver #1 h1/a->h2/b hi",
		"0.500000000 note sim probe h2 up=true",
		"1.000000000 fault #1 crash h2 for 500ms",
		"1.000000000 stop h2/b host-crash",
		"1.000000000 crash h2 lost-writes=0",
		"1.500000000 boot h2",
		"1.500000000 start h2/b incarnation=2",
		"1.500000000 fault-end #1 crash h2 for 500ms",
		"2.000000000 end events=" + strconv.FormatUint(res.Events, 10),
	}
	if got := keptLines(res); !reflect.DeepEqual(got, want) {
		t.Fatalf("trace\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Lines != uint64(len(want)) || res.Events != res.Sim.Steps() || res.SimTime != 2*time.Second || res.Seed != 42 || res.Scenario != "script" {
		t.Fatalf("result lines=%d events=%d (sim %d) simtime=%s seed=%d scenario=%q", res.Lines, res.Events, res.Sim.Steps(), res.SimTime, res.Seed, res.Scenario)
	}
}

func TestTraceHash(t *testing.T) {
	build := func(s *Sim, log *scriptLog) { pingWorld(nil)(s, log) }
	var file bytes.Buffer
	cfg := func(tr TraceOptions) Config {
		log := &scriptLog{}
		return Config{Scenario: &scriptedScenario{build: func(s *Sim) error { build(s, log); return nil }}, Duration: 60 * time.Second, Trace: tr}
	}
	sched := mustParseSchedule(t, "at 1s net loss 20% dup 10% reorder 30% jitter 2ms for 5s\nat 8s partition {h1} | {h2 h3} hold for 3s")
	kept, err := Run(cfg(TraceOptions{Keep: true, File: &file}), 9, sched)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.Trace) < 2*traceFlush {
		t.Fatalf("trace of %d bytes is too short to exercise flushing (want > %d)", len(kept.Trace), 2*traceFlush)
	}
	sum := sha256.Sum256(kept.Trace)
	if got := hex.EncodeToString(sum[:]); got != kept.TraceHash {
		t.Fatalf("SHA-256 of the kept trace is %s, TraceHash %s", got, kept.TraceHash)
	}
	if !bytes.Equal(file.Bytes(), kept.Trace) {
		t.Fatalf("the trace file (%d bytes) differs from the kept trace (%d bytes)", file.Len(), len(kept.Trace))
	}
	if n := uint64(bytes.Count(kept.Trace, []byte("\n"))); n != kept.Lines {
		t.Fatalf("trace has %d lines, Result.Lines = %d", n, kept.Lines)
	}
	hashOnly, err := Run(cfg(TraceOptions{}), 9, sched)
	if err != nil {
		t.Fatal(err)
	}
	if hashOnly.TraceHash != kept.TraceHash || hashOnly.Trace != nil {
		t.Fatalf("without Keep: hash %s (want %s), trace of %d bytes (want none)", hashOnly.TraceHash, kept.TraceHash, len(hashOnly.Trace))
	}
	other, err := Run(cfg(TraceOptions{}), 10, sched)
	if err != nil {
		t.Fatal(err)
	}
	if other.TraceHash == kept.TraceHash {
		t.Fatalf("seeds 9 and 10 gave the same trace hash under a lossy network")
	}
	off, err := Run(cfg(TraceOptions{Off: true, Keep: true}), 9, sched)
	if err != nil {
		t.Fatal(err)
	}
	if off.TraceHash != "" || len(off.Trace) != 0 || off.Lines != 0 || off.Events != kept.Events {
		t.Fatalf("trace off: hash %q, %d bytes, %d lines, %d events (want empty, and %d events)", off.TraceHash, len(off.Trace), off.Lines, off.Events, kept.Events)
	}
}

func TestRunRejectsConcurrentSimulation(t *testing.T) {
	orig := crand.Reader
	inner := Config{Scenario: &scriptedScenario{}, Duration: time.Second}
	outer := Config{Scenario: &scriptedScenario{build: func(s *Sim) error {
		_, err := Run(inner, 2, nil)
		return err
	}}, Duration: time.Second}
	msg := panicMessage(t, func() { Run(outer, 1, nil) })
	if !strings.Contains(msg, "a second simulation started while another is running") || !strings.Contains(msg, "crypto/rand.Reader") {
		t.Fatalf("panic message %q does not explain the conflict", msg)
	}
	if crand.Reader != orig {
		t.Fatalf("crypto/rand.Reader was not restored after the panicking run: %T", crand.Reader)
	}
	if _, err := Run(inner, 3, nil); err != nil {
		t.Fatalf("a run after the rejected one failed: %v", err)
	}
	if crand.Reader != orig {
		t.Fatalf("crypto/rand.Reader was not restored after a run: %T", crand.Reader)
	}
}

func TestRunConfigErrors(t *testing.T) {
	if _, err := Run(Config{Duration: time.Second}, 1, nil); err == nil || !strings.Contains(err.Error(), "scenario") {
		t.Fatalf("Run without a scenario: err = %v", err)
	}
	if _, err := Run(Config{Scenario: &scriptedScenario{}}, 1, nil); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Fatalf("Run without a duration: err = %v", err)
	}
	build := &scriptedScenario{build: func(s *Sim) error { return fmt.Errorf("boom") }}
	if _, err := Run(Config{Scenario: build, Duration: time.Second}, 1, nil); err == nil || err.Error() != "scenario script: boom" {
		t.Fatalf("Run with a failing Build: err = %v", err)
	}
	bad := Schedule{{At: time.Second, Faults: []Fault{Crash{HostT("nowhere")}}}}
	_, err := Run(Config{Scenario: &scriptedScenario{build: func(s *Sim) error { addHosts(s, "h1"); return nil }}, Duration: time.Second}, 1, bad)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "crash" {
		t.Fatalf("Run with an invalid schedule: err = %v, want a ValidationError on crash", err)
	}
}

func TestRunInstallsDeterministicCryptoRand(t *testing.T) {
	orig := crand.Reader
	draw := func(seed uint64) string {
		var out string
		_, _ = runScripted(t, runSpec{seed: seed, duration: time.Second, build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1")
			addScripted(s, log, "h1", "raft", func(p *scriptedProc, ctx *Ctx, in Input) {
				if in.Kind != InputStart {
					return
				}
				if r, ok := crand.Reader.(*Rand); !ok || r != ctx.s.Rand("crypto") {
					out = fmt.Sprintf("crypto/rand.Reader is %T, not the run's crypto stream", crand.Reader)
					return
				}
				a := make([]byte, 32)
				if _, err := io.ReadFull(crand.Reader, a); err != nil {
					out = err.Error()
					return
				}
				b := make([]byte, 16)
				_, _ = crand.Read(b)
				n, err := crand.Int(crand.Reader, big.NewInt(1<<62))
				if err != nil {
					out = err.Error()
					return
				}
				out = fmt.Sprintf("%x %x %d", a, b, n)
			})
		}})
		if crand.Reader != orig {
			t.Fatalf("crypto/rand.Reader not restored after the run: %T", crand.Reader)
		}
		return out
	}
	a1, a2, b := draw(7), draw(7), draw(8)
	if strings.Contains(a1, "crypto") {
		t.Fatal(a1)
	}
	if a1 != a2 {
		t.Fatalf("seed 7 drew different crypto/rand bytes in two runs:\n%s\n%s", a1, a2)
	}
	if a1 == b {
		t.Fatalf("seeds 7 and 8 drew the same crypto/rand bytes: %s", a1)
	}
}

// TestGeneratedSchedulesRun runs generated schedules (with roles) on the
// ping world: no panic, every applied fault with "for" is undone on time,
// nothing is left disturbed, and every pair of hosts talks again at the end.
func TestGeneratedSchedulesRun(t *testing.T) {
	names := []string{"m1", "m2", "m3", "m4", "m5"}
	var procs []string
	for _, n := range names {
		procs = append(procs, n+"/p")
	}
	const dur = 30 * time.Second
	opts := GenOptions{Duration: dur, Settle: 5 * time.Second, Hosts: names, Procs: procs, Roles: []Role{"leader"}}
	for seed := uint64(1); seed <= 40; seed++ {
		sched := GenerateSchedule(NewRand(seed, "faults"), opts)
		log := &scriptLog{}
		sc := &scriptedScenario{build: func(s *Sim) error {
			addHosts(s, names...)
			for i, n := range names {
				var peers []string
				for j, p := range procs {
					if j != i {
						peers = append(peers, p)
					}
				}
				addScripted(s, log, n, "p", pingHandler(100*tms, peers...))
			}
			s.AddRole("leader", func() (ProcID, bool) {
				for _, p := range procs {
					if id := s.MustLookup(p); s.Running(id) {
						return id, true
					}
				}
				return NoProc, false
			})
			return nil
		}}
		res, err := Run(Config{Scenario: sc, Duration: dur}, seed, sched)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, sched)
		}
		for _, r := range res.Faults {
			e := sched[r.Entry-1]
			applied := len(r.Skipped) == 0 || !strings.HasPrefix(r.Skipped[0], "no holder")
			if applied && e.For > 0 && r.End != e.End() {
				t.Fatalf("seed %d: entry %d (%s) ended at %s, want %s", seed, r.Entry, e, r.End, e.End())
			}
		}
		if d := res.Sim.Disturbed(); len(d) > 0 {
			t.Fatalf("seed %d: still disturbed at the end: %v\n%s", seed, d, sched)
		}
		for _, to := range procs {
			for _, from := range procs {
				if to == from {
					continue
				}
				ok := false
				for _, e := range log.kind(to, InputMessage) {
					if e.From == from && e.At > dur-time.Second {
						ok = true
						break
					}
				}
				if !ok {
					t.Fatalf("seed %d: %s heard nothing from %s in the last second\n%s", seed, to, from, sched)
				}
			}
		}
	}
}
