package harness

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Aimed entries, cues, the coverage marks of struck states and messages in
// flight, and the generator that draws them.

func TestAimedEntryText(t *testing.T) {
	for _, text := range []string{
		"at 10s on read-index pause @cued for 2s",
		"at 10s on lease-expiring -500ms within 30s pause @cued + isolate @cued hold for 1s",
		"at 1m0s on renew-failing +1.5s within 2m0s partition {@cued} -> {m1 m2} hold for 4s",
		"at 0s on election-due within 5s kill @raft-leader for 1s",
		"at 20s on 3rd fleet-write within 1m0s kill @cued",
		"at 20s on 2nd fleet-write +20ms isolate @cued hold for 30s",
		"at 1s on 11th go pause @cued for 1s",
		"at 1s on 22nd go pause @cued for 1s",
	} {
		s := mustParseSchedule(t, text)
		checkRoundTrip(t, s)
		if got := strings.TrimSuffix(s.String(), "\n"); got != text {
			t.Errorf("printed %q, want %q", got, text)
		}
		if !s[0].Aimed() {
			t.Errorf("%q: not aimed", text)
		}
	}
	e := mustParseSchedule(t, "at 10s on x -2s within 30s crash m1 for 5s")[0]
	if e.On != "x" || e.Offset != -2*time.Second || e.Within != 30*time.Second || e.End() != 10*time.Second+30*time.Second+5*time.Second {
		t.Fatalf("%+v, end %s", e, e.End())
	}
	for _, c := range []struct{ text, field, msg string }{
		{"at 1s on", "on", "missing cue name"},
		{"at 1s on Read pause m1", "on", "cue"},
		{"at 1s on x +soon pause m1", "on", `offset "+soon" is not a signed duration`},
		{"at 1s on x within pause m1", "within", `"pause" is not a duration`},
		{"at 1s on x within 0s pause m1", "within", "duration must be positive"},
		{"at 1s on x", "fault", "missing fault"},
		{"at 1s on 0th x pause m1", "on", `ordinal must be 1st or later, got "0th"`},
		{"at 1s on 3rd", "on", "missing cue name"},
	} {
		_, err := ParseSchedule(c.text)
		pe, ok := err.(*ParseError)
		if !ok || pe.Field != c.field || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%q: got %v, want field %s with %q", c.text, err, c.field, c.msg)
		}
	}
}

func TestOrdinals(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 102: "102nd", 111: "111th"} {
		if got := Ordinal(n); got != want {
			t.Errorf("Ordinal(%d) = %q, want %q", n, got, want)
		}
		if back, ok := parseOrdinal(want); !ok || back != n {
			t.Errorf("parseOrdinal(%q) = %d, %v", want, back, ok)
		}
	}
	for _, tok := range []string{"x", "3", "rd", "3x", "3rdx", "write-1st"} {
		if _, ok := parseOrdinal(tok); ok {
			t.Errorf("%q read as an ordinal", tok)
		}
	}
	// The first cue is the default: "on 1st go" prints as "on go".
	if got := mustParseSchedule(t, "at 1s on 1st go pause @cued for 1s").String(); got != "at 1s on go pause @cued for 1s\n" {
		t.Errorf("printed %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a cue named like an ordinal was declared")
		}
	}()
	NewSim(1, TraceOptions{Off: true}).AddCue("2nd")
}

func TestAimedEntryValidation(t *testing.T) {
	topo := staticTopo{hosts: []string{"m1", "m2"}, procs: []string{"m1/p", "m2/p"}, roles: []string{"leader"}, cues: []string{"read-index"}}
	for _, c := range []struct{ text, want string }{
		{"at 1s on write pause @cued for 1s", `on: unknown cue "write" (this scenario gives: read-index)`},
		{"at 1s pause @cued for 1s", "@cued names the process that gave an aimed entry's cue; this entry has no cue"},
		{"at 1s on read-index +2h pause m1 for 1s", "offset 2h0m0s is beyond ±1h0m0s"},
		{"at 1s on read-index kill @cued + crash @leader", ""},
		{"at 1s on 4th read-index kill @cued", ""},
	} {
		err := mustParseSchedule(t, c.text).Validate(topo, time.Minute)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.text, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
	bad := Schedule{{At: time.Second, Nth: 2, Faults: []Fault{Kill{HostT("m1/p")}}}}
	if err := bad.Validate(topo, time.Minute); err == nil || !strings.Contains(err.Error(), "an offset, an ordinal or \"within\" needs a cue") {
		t.Errorf("an ordinal without a cue: got %v", err)
	}
	bad = Schedule{{At: time.Second, On: "read-index", Nth: -1, Faults: []Fault{Kill{HostT("m1/p")}}}}
	if err := bad.Validate(topo, time.Minute); err == nil || !strings.Contains(err.Error(), "negative ordinal") {
		t.Errorf("a negative ordinal: got %v", err)
	}
	// An aimed entry fires at a time only its cue decides, so the walk over
	// concrete hosts leaves it out: a crash of a host another entry
	// crashes too is judged (and skipped if need be) when it fires.
	s := mustParseSchedule(t, "at 1s crash m1 for 10s\nat 2s on read-index crash m1 for 1s")
	if err := s.Validate(topo, time.Minute); err != nil {
		t.Fatalf("aimed crash of a crashed host rejected before it fires: %v", err)
	}
	// The same without a cue is rejected.
	if err := mustParseSchedule(t, "at 1s crash m1 for 10s\nat 2s crash m1 for 1s").Validate(topo, time.Minute); err == nil {
		t.Fatal("a second crash of a crashed host was accepted")
	}
}

// cueWorld has h1/giver give the cue "go" at local times 1s, 3s and 5s
// (the last with a deadline 2s ahead), and h2/other give it at 4s.
func cueWorld(s *Sim, log *scriptLog) {
	addHosts(s, "h1", "h2")
	s.AddCue("go")
	addScripted(s, log, "h1", "giver", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
		time.Second:     func(_ *scriptedProc, ctx *Ctx) { ctx.Cue("go", 0) },
		3 * time.Second: func(_ *scriptedProc, ctx *Ctx) { ctx.Cue("go", 0) },
		5 * time.Second: func(_ *scriptedProc, ctx *Ctx) { ctx.Cue("go", 2*time.Second) },
	}))
	addScripted(s, log, "h2", "other", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){
		4 * time.Second: func(_ *scriptedProc, ctx *Ctx) { ctx.Cue("go", 0) },
	}))
}

func TestAimedEntryFiresOnItsCue(t *testing.T) {
	res, _ := runScripted(t, runSpec{duration: 10 * time.Second, build: cueWorld, sched: "" +
		"at 2s on go +100ms pause @cued for 500ms\n" + // the cue at 3s: h1
		"at 3500ms on go pause @cued for 200ms\n" + // the cue at 4s: h2
		"at 4500ms on go -500ms kill @cued for 1s\n" + // the cue at 5s names 7s: fires at 6.5s
		"at 5500ms on go within 1s pause h2 for 100ms\n" + // the next cue, at 8.5s, is too late
		"at 9s on go within 1s pause h1 for 1s\n"}) // no cue by the end
	wantFired(t, res,
		FormatTime(3100*time.Millisecond)+" pause @cued for 500ms [@cued=h1/giver]",
		FormatTime(4*time.Second)+" pause @cued for 200ms [@cued=h2/other]",
		FormatTime(6500*time.Millisecond)+" kill @cued for 1s [@cued=h1/giver]")
	wantTraceLines(t, res,
		FormatTime(3*time.Second)+" cue #1 go by h1/giver in 0s: fires at 3.1s",
		FormatTime(5*time.Second)+" cue #3 go by h1/giver in 2s: fires at 6.5s")
	oneTraceLineWith(t, res, "fault-expired #4 no cue go within 1s", "the entry whose cue came too late is traced as expired")
	oneTraceLineWith(t, res, "fault-unfired #5", "the entry whose cue never came is traced as unfired")
}

// An entry on the Nth cue lets the first N-1 from its At pass, whoever
// gives them, and tells in the trace how many came when the Nth never does.
func TestAimedEntryFiresOnItsNthCue(t *testing.T) {
	res, _ := runScripted(t, runSpec{duration: 10 * time.Second, build: cueWorld, sched: "" +
		"at 500ms on 2nd go pause @cued for 100ms\n" + // cues at 1s and 3s: fires at 3s on h1
		"at 600ms on 2nd go within 2s pause h2 for 100ms\n" + // the 2nd cue, at 3s, is past 2.6s
		"at 2s on 3rd go pause @cued for 100ms\n" + // cues at 3s (h1), 4s (h2), 5s (h1, 2s ahead): fires at 7s
		"at 3500ms on 4th go pause @cued for 100ms\n"}) // cues at 4s and 5s only
	wantFired(t, res,
		FormatTime(3*time.Second)+" pause @cued for 100ms [@cued=h1/giver]",
		FormatTime(7*time.Second)+" pause @cued for 100ms [@cued=h1/giver]")
	oneTraceLineWith(t, res, "fault-unfired #4 no cue go (2 of 4 came)", "the entry whose 4th cue never came is traced as unfired with its count")
	oneTraceLineWith(t, res, "fault-expired #2 no cue go within 2s", "the entry whose 2nd cue came too late is traced as expired")
}

// wantFired fails unless the run's faults fired at exactly these times
// with these texts ("<time> <fault text>"), in this order.
func wantFired(t *testing.T, res Result, want ...string) {
	t.Helper()
	var got []string
	for _, r := range res.Faults {
		got = append(got, FormatTime(r.At)+" "+r.Text)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fired:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A cue given with no entry waiting costs nothing and changes nothing: the
// trace is the same as without the cue.
func TestCueWithoutEntriesIsFree(t *testing.T) {
	a, _ := runScripted(t, runSpec{duration: 10 * time.Second, build: cueWorld, sched: "at 1s pause h2 for 1s"})
	b, _ := runScripted(t, runSpec{duration: 10 * time.Second, sched: "at 1s pause h2 for 1s", build: func(s *Sim, log *scriptLog) {
		addHosts(s, "h1", "h2")
		s.AddCue("go")
		noop := func(*scriptedProc, *Ctx) {}
		addScripted(s, log, "h1", "giver", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){time.Second: noop, 3 * time.Second: noop, 5 * time.Second: noop}))
		addScripted(s, log, "h2", "other", atLocal(map[time.Duration]func(*scriptedProc, *Ctx){4 * time.Second: noop}))
	}})
	if a.TraceHash != b.TraceHash {
		t.Fatal("giving cues no entry waits for changed the trace")
	}
}

// stateProc reports the state "busy" while its counter is odd.
type stateProc struct{ scriptedProc }

func (p *stateProc) States(_ time.Duration, dst []string) []string {
	if p.n%2 == 1 {
		dst = append(dst, "busy")
	}
	return dst
}

func TestFaultsMarkTheStatesTheyStrike(t *testing.T) {
	res, _ := runScripted(t, runSpec{duration: 10 * time.Second, sched: "" +
		"at 1500ms pause h1 for 100ms\n" + // h1 busy: marked
		"at 2500ms pause h1 for 100ms\n" + // h1 idle: not
		"at 3200ms isolate h2 for 100ms\n" + // h2 has no states
		"at 3500ms crash h1 for 1s\n", // busy again: marked before the crash stops it
		build: func(s *Sim, log *scriptLog) {
			addHosts(s, "h1", "h2")
			s.AddProcess("h1", "p", Datagrams, func() Process {
				return &stateProc{scriptedProc{log: log, on: func(p *scriptedProc, ctx *Ctx, in Input) {
					switch in.Kind {
					case InputStart:
						ctx.After(time.Second, "flip", 0)
					case InputTimer:
						p.n++
						ctx.After(time.Second, "flip", 0)
					}
				}}}
			})
			addScripted(s, log, "h2", "q", nil)
		}})
	if got := res.Marks["fault-during/busy"]; got != 2 {
		t.Fatalf("fault-during/busy = %d, want 2 (marks %v)", got, res.Marks)
	}
}

func TestFaultsMarkMessagesInFlight(t *testing.T) {
	run := func(sched string) map[string]int {
		res, _ := runScripted(t, runSpec{duration: 5 * time.Second, sched: sched, network: &LinkParams{Latency: 100 * time.Millisecond},
			build: func(s *Sim, log *scriptLog) {
				addHosts(s, "h1", "h2", "h3")
				addScripted(s, log, "h1", "p", pingHandler(time.Second, "h2/p"))
				addScripted(s, log, "h2", "p", nil)
				addScripted(s, log, "h3", "p", nil)
			}})
		return res.Marks
	}
	// Pings leave h1 at 1s, 2s, ... and take 100ms.
	m := run("at 1050ms pause h2 for 1s\nat 2050ms isolate h1 for 10ms\nat 3050ms crash h2 for 1s")
	if m["pause-mid-flight"] != 1 || m["cut-mid-flight"] != 1 || m["crash-mid-flight"] != 1 {
		t.Fatalf("marks %v, want one pause, one cut and one crash mid-flight", m)
	}
	m = run("at 1500ms pause h2 for 100ms\nat 2050ms pause h3 for 10ms\nat 3500ms isolate h1 for 10ms")
	if m["pause-mid-flight"]+m["cut-mid-flight"] != 0 {
		t.Fatalf("marks %v with nothing in flight to or from the hosts struck", m)
	}
}

// genOpts are options over five hosts with processes, roles and cues.
func genOpts(d time.Duration) GenOptions {
	hosts := []string{"m1", "m2", "m3", "m4", "m5"}
	var procs []string
	for _, h := range hosts {
		procs = append(procs, h+"/p")
	}
	return GenOptions{Duration: d, Settle: 10 * time.Second, Hosts: hosts, Procs: procs, Roles: []Role{"leader"},
		Cues: []CueSpec{{Name: "tick", Late: 50 * time.Millisecond}, {Name: "deadline", Early: -2 * time.Second, Late: time.Second, Ahead: 10 * time.Second, Roles: []Role{"leader"}}}}
}

func genTopo(o GenOptions) Topology { return genTopology{o} }

// Faults come at a rate: twice as long a fault window gets about twice as
// many entries, not the same number spread thinner.
func TestGenerateKeepsFaultDensity(t *testing.T) {
	count := func(d time.Duration) int {
		n := 0
		for seed := uint64(1); seed <= 300; seed++ {
			o := genOpts(d)
			o.Rate, o.AllEnabled, o.Kinds = 240, true, []string{KindClockJump} // always valid: nothing dropped
			n += len(Generate(NewRand(seed, "faults"), o))
		}
		return n
	}
	short, long := count(5*time.Minute+10*time.Second), count(10*time.Minute+10*time.Second)
	// 4 a minute over 5 and 10 minutes: 20 and 40 on average.
	if short < 300*18 || short > 300*22 || long < 300*37 || long > 300*43 {
		t.Fatalf("%d entries over 300 five-minute windows and %d over ten-minute ones; want about 6000 and 12000", short, long)
	}
}

// Every form the issue names is drawn: partitions of all four forms (also
// in composites and against roles), composites of several faults on one
// target, role-relative faults, aimed entries; and every drawn schedule
// validates, ends before the settle window, and stays within its bounds.
func TestGenerateReachesEveryForm(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 400; seed++ {
		o := genOpts(3 * time.Minute)
		o.MinClock, o.MaxClock, o.MaxPause = 950_000, 1_050_000, time.Second
		s := Generate(NewRand(seed, "faults"), o)
		if err := s.Validate(genTopo(o), o.Duration); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, s)
		}
		checkRoundTrip(t, s)
		for _, e := range s {
			if e.End() > o.Duration-o.Settle {
				t.Fatalf("seed %d: %s may end at %s, in the settle window", seed, e, e.End())
			}
			if e.Aimed() {
				seen["aimed"]++
				seen["aimed at "+e.On]++
			}
			if len(e.Faults) > 1 {
				seen["composite"]++
			}
			for _, f := range e.Faults {
				switch f := f.(type) {
				case Partition:
					form := "both"
					if f.OneWay {
						form = "one-way"
					}
					if f.Hold {
						form += " hold"
					}
					seen["partition "+form]++
					if len(e.Faults) > 1 {
						seen["composite partition "+form]++
					}
					if f.A[0].Role || f.B[0].Role {
						seen["partition of a role"]++
					}
				case Isolate:
					if f.Hold && len(e.Faults) > 1 {
						seen["composite isolate hold"]++
					}
				case Pause:
					if e.For > o.MaxPause {
						t.Fatalf("seed %d: %s pauses past MaxPause", seed, e)
					}
					if f.Host.Role {
						seen["role pause"]++
					}
				case ClockRate:
					if f.Rate < o.MinClock || f.Rate > o.MaxClock || f.Rate == RateOne {
						t.Fatalf("seed %d: %s: rate out of bounds", seed, e)
					}
				}
			}
		}
	}
	for _, want := range []string{"aimed", "aimed at tick", "aimed at deadline", "composite", "partition both", "partition one-way",
		"partition both hold", "partition one-way hold", "composite partition one-way hold", "composite partition both",
		"partition of a role", "composite isolate hold", "role pause"} {
		if seen[want] == 0 {
			t.Errorf("never drew: %s (drawn: %v)", want, seen)
		}
	}
}

// Swarm testing: without AllEnabled each schedule uses a subset of the
// kinds, and some runs draw only one or two kinds.
func TestGenerateSwarmsKinds(t *testing.T) {
	few := 0
	for seed := uint64(1); seed <= 200; seed++ {
		o := genOpts(10 * time.Minute)
		o.Rate = 960
		kinds := map[string]bool{}
		for _, e := range Generate(NewRand(seed, "faults"), o) {
			kinds[strings.Fields(e.Faults[0].String())[0]] = true
		}
		if len(kinds) > 0 && len(kinds) <= 3 {
			few++
		}
	}
	if few < 10 {
		t.Fatalf("only %d of 200 runs used three kinds or fewer: kinds are not swarmed", few)
	}
}

// Progress hears the simulated time as the run goes, and changes nothing.
func TestProgressChangesNothing(t *testing.T) {
	build := func(s *Sim, log *scriptLog) {
		addHosts(s, "h1", "h2")
		addScripted(s, log, "h1", "p", pingHandler(time.Millisecond, "h2/p"))
		addScripted(s, log, "h2", "p", nil)
	}
	a, _ := runScripted(t, runSpec{duration: 5 * time.Minute, build: build})
	var heard []time.Duration
	log := &scriptLog{}
	res, err := Run(Config{Scenario: &scriptedScenario{build: func(s *Sim) error { build(s, log); return nil }},
		Duration: 5 * time.Minute, Network: &quietLink, Trace: TraceOptions{Keep: true},
		Progress: func(now time.Duration) { heard = append(heard, now) }}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.TraceHash != a.TraceHash {
		t.Fatal("a progress callback changed the run")
	}
	if len(heard) < 3 || heard[len(heard)-1] <= heard[0] {
		t.Fatalf("progress heard %v", heard)
	}
}

// A cue's Kinds decide what an entry aimed at it strikes with, and its Nth
// how many of its cues the entry may let pass; other entries are as
// before.
func TestGenerateHonoursCueKindsAndNth(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		o := genOpts(3 * time.Minute)
		o.Aim = 50
		o.Cues = append(o.Cues, CueSpec{Name: "write", Late: 20 * time.Millisecond, Weight: 4, Kinds: []string{KindKill, KindIsolate}, Nth: 3})
		s := Generate(NewRand(seed, "faults"), o)
		if err := s.Validate(genTopo(o), o.Duration); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, s)
		}
		checkRoundTrip(t, s)
		for _, e := range s {
			kind := strings.Fields(e.Faults[0].String())[0]
			switch {
			case e.On == "write":
				if kind != KindKill && kind != KindIsolate {
					t.Fatalf("seed %d: %s: aimed at write, which takes kill and isolate", seed, e)
				}
				if e.Nth == 1 || e.Nth > 3 {
					t.Fatalf("seed %d: %s: ordinal %d", seed, e, e.Nth)
				}
				seen["write "+kind]++
				seen["write nth "+Ordinal(max(e.Nth, 1))]++
			case e.Aimed():
				if e.Nth != 0 {
					t.Fatalf("seed %d: %s: an ordinal on a cue that takes none", seed, e)
				}
				seen["other "+kind]++
			}
		}
	}
	for _, want := range []string{"write kill", "write isolate", "write nth 1st", "write nth 2nd", "write nth 3rd", "other pause", "other crash"} {
		if seen[want] == 0 {
			t.Errorf("never drew: %s (drawn: %v)", want, seen)
		}
	}
}

// A cue's MinFor and Hold shape only the entries aimed at it: they last at
// least MinFor and their cuts and isolations hold what they catch, while
// the rest keep their short and dropping faults.
func TestGenerateHonoursCueMinForAndHold(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		o := genOpts(3 * time.Minute)
		o.Aim = 50
		o.Cues = append(o.Cues, CueSpec{Name: "status", Late: 3 * time.Millisecond, Weight: 4,
			Kinds: []string{KindPartition, KindIsolate}, Hold: true, MinFor: 19 * time.Second})
		s := Generate(NewRand(seed, "faults"), o)
		if err := s.Validate(genTopo(o), o.Duration); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, s)
		}
		checkRoundTrip(t, s)
		for _, e := range s {
			var holds []bool
			for _, f := range e.Faults {
				switch f := f.(type) {
				case Partition:
					holds = append(holds, f.Hold)
				case Isolate:
					holds = append(holds, f.Hold)
				}
			}
			label := "other"
			if e.On == "status" {
				label = "status"
				if e.For < 19*time.Second {
					t.Fatalf("seed %d: %s: aimed at status, which wants faults of 19s or more", seed, e)
				}
				if len(holds) == 0 || slices.Contains(holds, false) {
					t.Fatalf("seed %d: %s: aimed at status, whose cuts and isolations hold", seed, e)
				}
			}
			if e.For < 19*time.Second {
				seen[label+" short"]++
			}
			for _, h := range holds {
				seen[fmt.Sprintf("%s hold=%t", label, h)]++
			}
		}
	}
	for _, want := range []string{"status hold=true", "other short", "other hold=true", "other hold=false"} {
		if seen[want] == 0 {
			t.Errorf("never drew: %s (drawn: %v)", want, seen)
		}
	}
}
