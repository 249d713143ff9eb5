package harness

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// --- (a) round trips ---

var (
	genHosts = []string{"m1", "m2", "etcd-3", "n_4", "lb.1"}
	genProcs = []string{"m1/etcd", "etcd-3/api-server", "lb.1/haproxy", "n_4/x.y"}
	genRoles = []Role{"raft-leader", "cm", "a.b_c-d"}
)

// drawName draws any valid name. "for" and "hold" are left out: the parser
// reads them as keywords where a target may stand.
func drawName(t *rapid.T, label string) string {
	return rapid.StringMatching(`[a-z0-9._-]{1,10}`).
		Filter(func(s string) bool { return s != "for" && s != "hold" }).
		Draw(t, label)
}

func drawTarget(t *rapid.T, label string) Target {
	switch rapid.IntRange(0, 3).Draw(t, label+"/kind") {
	case 0:
		return HostT(rapid.SampledFrom(genHosts).Draw(t, label))
	case 1:
		return HostT(rapid.SampledFrom(genProcs).Draw(t, label))
	case 2:
		return RoleT(rapid.SampledFrom(genRoles).Draw(t, label))
	}
	n := drawName(t, label)
	switch rapid.IntRange(0, 2).Draw(t, label+"/form") {
	case 0:
		return RoleT(Role(n))
	case 1:
		return HostT(n + "/" + drawName(t, label+"/proc"))
	}
	return HostT(n)
}

func drawGroup(t *rapid.T, label string) []Target {
	n := rapid.IntRange(1, 4).Draw(t, label+"/len")
	var g []Target
	for i := 0; i < n; i++ {
		g = append(g, drawTarget(t, fmt.Sprintf("%s[%d]", label, i)))
	}
	return g
}

// drawDuration draws a non-negative duration: round values often, any
// nanosecond count up to about 3 hours otherwise.
func drawDuration(t *rapid.T, label string) time.Duration {
	return time.Duration(rapid.OneOf(
		rapid.SampledFrom([]int64{0, 1, int64(time.Microsecond), int64(time.Millisecond), int64(1500 * time.Millisecond),
			int64(time.Second), int64(90 * time.Second), int64(time.Hour), int64(25 * time.Hour)}),
		rapid.Int64Range(0, 1e13),
	).Draw(t, label))
}

func drawProb(t *rapid.T, label string) Prob {
	return Prob(rapid.OneOf(
		rapid.SampledFrom([]int64{0, 1, 2_500, 50_000, int64(ProbOne)}),
		rapid.Int64Range(0, int64(ProbOne)),
	).Draw(t, label))
}

func drawBetween(t *rapid.T, label string) ([]Target, []Target) {
	if rapid.Bool().Draw(t, label) {
		return drawGroup(t, label+"/a"), drawGroup(t, label+"/b")
	}
	return nil, nil
}

// faultTypes names every fault type, in the order drawFault knows them.
var faultTypes = []string{"Partition", "Isolate", "Heal", "Crash", "Restart", "Kill", "Start", "Pause", "Resume", "ClockJump", "ClockRate", "NetFault", "NetReset", "DiskSlow"}

func drawFault(t *rapid.T, label string) Fault {
	switch k := rapid.IntRange(0, len(faultTypes)-1).Draw(t, label+"/type"); faultTypes[k] {
	case "Partition":
		return Partition{A: drawGroup(t, label+"/a"), B: drawGroup(t, label+"/b"),
			OneWay: rapid.Bool().Draw(t, label+"/oneway"), Hold: rapid.Bool().Draw(t, label+"/hold")}
	case "Isolate":
		return Isolate{Host: drawTarget(t, label+"/host"), Hold: rapid.Bool().Draw(t, label+"/hold")}
	case "Heal":
		return Heal{}
	case "Crash":
		return Crash{drawTarget(t, label+"/host")}
	case "Restart":
		return Restart{drawTarget(t, label+"/host")}
	case "Kill":
		return Kill{drawTarget(t, label+"/proc")}
	case "Start":
		return Start{drawTarget(t, label+"/proc")}
	case "Pause":
		return Pause{drawTarget(t, label+"/host")}
	case "Resume":
		return Resume{drawTarget(t, label+"/host")}
	case "ClockJump":
		by := drawDuration(t, label+"/by")
		if rapid.Bool().Draw(t, label+"/back") {
			by = -by
		}
		return ClockJump{Host: drawTarget(t, label+"/host"), By: by}
	case "ClockRate":
		r := rapid.OneOf(
			rapid.SampledFrom([]int64{int64(MinRate), 700_000, int64(RateOne), 1_300_000, int64(MaxRate)}),
			rapid.Int64Range(int64(MinRate), int64(MaxRate)),
		).Draw(t, label+"/rate")
		return ClockRate{Host: drawTarget(t, label+"/host"), Rate: Rate(r)}
	case "NetFault":
		f := NetFault{Set: uint8(rapid.IntRange(1, 31).Draw(t, label+"/set"))}
		if f.Set&SetDelay != 0 {
			f.Delay = drawDuration(t, label+"/delay")
		}
		if f.Set&SetJitter != 0 {
			f.Jitter = drawDuration(t, label+"/jitter")
		}
		if f.Set&SetLoss != 0 {
			f.Loss = drawProb(t, label+"/loss")
		}
		if f.Set&SetDup != 0 {
			f.Dup = drawProb(t, label+"/dup")
		}
		if f.Set&SetReorder != 0 {
			f.Reorder = drawProb(t, label+"/reorder")
		}
		f.A, f.B = drawBetween(t, label+"/between")
		return f
	case "NetReset":
		a, b := drawBetween(t, label+"/between")
		return NetReset{A: a, B: b}
	case "DiskSlow":
		return DiskSlow{Host: drawTarget(t, label+"/host"), Latency: drawDuration(t, label+"/latency")}
	}
	panic("unreachable")
}

// drawSchedule draws an arbitrary schedule that the parser accepts (not
// necessarily one that validates): any fault type, any targets, composite
// entries, with and without "for", in non-decreasing time order.
func drawSchedule(t *rapid.T) Schedule {
	n := rapid.IntRange(0, 8).Draw(t, "entries")
	var s Schedule
	var at time.Duration
	for i := 0; i < n; i++ {
		label := fmt.Sprintf("entry%d", i)
		if !rapid.Bool().Draw(t, label+"/same-time") {
			at += drawDuration(t, label+"/delta")
		}
		e := Entry{At: at}
		k := rapid.IntRange(1, 3).Draw(t, label+"/faults")
		for j := 0; j < k; j++ {
			e.Faults = append(e.Faults, drawFault(t, fmt.Sprintf("%s/fault%d", label, j)))
		}
		if rapid.Bool().Draw(t, label+"/has-for") {
			e.For = drawDuration(t, label+"/for")
			if e.For == 0 {
				e.For = 1
			}
		}
		s = append(s, e)
	}
	return s
}

func checkRoundTrip(t interface {
	Helper()
	Fatalf(string, ...any)
}, s Schedule) {
	t.Helper()
	text := s.String()
	again, err := ParseSchedule(text)
	if err != nil {
		t.Fatalf("the printed schedule does not parse: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(again, s) {
		t.Fatalf("ParseSchedule(s.String()) differs from s:\n%s\nparsed back as\n%#v\nwant\n%#v", text, again, s)
	}
	if again.String() != text {
		t.Fatalf("printing again changed the text:\n%s\nvs\n%s", text, again.String())
	}
}

func TestScheduleRoundTripGenerated(t *testing.T) {
	typesSeen := map[string]bool{}
	composite, withFor, roles := false, false, false
	rapid.Check(t, func(rt *rapid.T) {
		s := drawSchedule(rt)
		checkRoundTrip(rt, s)
		for _, e := range s {
			composite = composite || len(e.Faults) > 1
			withFor = withFor || e.For > 0
			for _, f := range e.Faults {
				typesSeen[reflect.TypeOf(f).Name()] = true
				for _, tg := range f.targets() {
					roles = roles || tg.Role
				}
			}
		}
	})
	for _, ft := range faultTypes {
		if !typesSeen[ft] {
			t.Errorf("the generator never drew a %s", ft)
		}
	}
	if !composite || !withFor || !roles {
		t.Errorf("the generator never drew: composite=%v for=%v roles=%v", composite, withFor, roles)
	}
}

func TestScheduleRoundTripExamples(t *testing.T) {
	for _, text := range []string{
		"at 0s heal\n",
		"at 12.4s partition {m1} | {m2 m3}\nat 20s heal\n",
		"at 1s pause @raft-leader + isolate @raft-leader hold for 8s\n",
		"at 0s clock m1 jump -500ms\nat 1s clock m2 rate 1.3x for 10s\n",
		"at 2s net delay 200ms jitter 50ms loss 10% dup 1% reorder 5% between {a} | {b c} for 1s\n",
		"at 2s disk m1 latency 250ms + disk @leader latency 1.5s for 10s\n",
		"at 3s net reset\nat 3s net reset between {m1} | {@x}\nat 4s kill m1/etcd for 2s\nat 9s crash m2\nat 10s restart m2\n",
		"at 1m30s start m1/cm\nat 2m0s resume m3\n",
		"at 1s partition {a} -> {b c} hold\n",
		"at 1.000000001s clock m1 jump +1ns + clock @cm rate 0.100001x\n",
		"at 1h0m0s net loss 0.0001%\n",
	} {
		s := mustParseSchedule(t, text)
		checkRoundTrip(t, s)
	}
	// The canonical form of a non-canonical text.
	s := mustParseSchedule(t, "  at 90s   pause m1 +  isolate m1 for 1500ms  # comment\n")
	if got, want := s.String(), "at 1m30s pause m1 + isolate m1 for 1.5s\n"; got != want {
		t.Fatalf("canonical form %q, want %q", got, want)
	}
}

func TestParseAcceptsCommentsAndBlankLines(t *testing.T) {
	text := "# a schedule\n\n   \n\tat 1s crash m1 for 2s   # the first fault\r\n# at 2s heal\nat 5s heal#no space\n\n"
	s, err := ParseSchedule(text)
	if err != nil {
		t.Fatal(err)
	}
	want := Schedule{
		{At: time.Second, Faults: []Fault{Crash{HostT("m1")}}, For: 2 * time.Second},
		{At: 5 * time.Second, Faults: []Fault{Heal{}}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("parsed %#v, want %#v", s, want)
	}
	for _, empty := range []string{"", "\n\n", "# nothing\n  # at all"} {
		if s, err := ParseSchedule(empty); err != nil || len(s) != 0 {
			t.Fatalf("ParseSchedule(%q) = %v, %v; want an empty schedule", empty, s, err)
		}
	}
}

func TestGeneratedSchedulesRoundTripAndValidate(t *testing.T) {
	hostsN := []string{"m1", "m2", "m3", "m4", "m5"}
	var procs []string
	for _, h := range hostsN {
		procs = append(procs, h+"/etcd", h+"/api")
	}
	kinds := map[string]bool{}
	total := 0
	for seed := uint64(1); seed <= 500; seed++ {
		o := GenOptions{Duration: 2 * time.Minute, Settle: 10 * time.Second, Hosts: hostsN, Procs: procs}
		switch seed % 4 {
		case 1:
			o.Roles = []Role{"raft-leader", "cm-leader"}
		case 2:
			o.Entries = 25
			o.Roles = []Role{"raft-leader"}
		case 3:
			o.Hosts = hostsN[:3]
			o.Procs = procs[:6]
			o.MaxFor = 5 * time.Second
		}
		topo := staticTopo{hosts: hostsN, procs: procs, roles: []string{"cm-leader", "raft-leader"}}
		s := GenerateSchedule(NewRand(seed, "faults"), o)
		if again := GenerateSchedule(NewRand(seed, "faults"), o); !reflect.DeepEqual(again, s) {
			t.Fatalf("seed %d: GenerateSchedule is not deterministic", seed)
		}
		checkRoundTrip(t, s)
		if err := s.Validate(topo, o.Duration); err != nil {
			t.Fatalf("seed %d: generated schedule does not validate: %v\n%s", seed, err, s)
		}
		if end := s.LastEnd(); end > o.Duration-o.Settle {
			t.Fatalf("seed %d: the last fault ends at %s, after the settle period starts at %s\n%s", seed, end, o.Duration-o.Settle, s)
		}
		// At most MaxDown hosts crashed or paused at any one time.
		maxDown := (len(o.Hosts) - 1) / 2
		type window struct{ from, to time.Duration }
		var downs []window
		for _, e := range s {
			total++
			kinds[genKindOf(e)] = true
			if genKindOf(e) == KindPowerLoss || e.Aimed() {
				continue // a power loss takes a majority down on purpose; an aimed entry's time is its cue's
			}
			for _, f := range e.Faults {
				switch f.(type) {
				case Crash, Pause:
					downs = append(downs, window{e.At, e.End()})
				}
			}
		}
		for _, w := range downs {
			n := 0
			for _, x := range downs {
				if x.from <= w.from && w.from < x.to {
					n++
				}
			}
			if n > maxDown {
				t.Fatalf("seed %d: %d hosts down or paused at %s, more than %d\n%s", seed, n, w.from, maxDown, s)
			}
		}
	}
	for _, k := range AllKinds {
		if !kinds[k] {
			t.Errorf("no generated entry of kind %s in %d entries", k, total)
		}
	}
}

func genKindOf(e Entry) string {
	if len(e.Faults) > 1 {
		for _, f := range e.Faults {
			if _, crash := f.(Crash); !crash {
				return KindComposite
			}
		}
		return KindPowerLoss
	}
	switch e.Faults[0].(type) {
	case Partition:
		return KindPartition
	case Isolate:
		return KindIsolate
	case Crash:
		return KindCrash
	case Kill:
		return KindKill
	case Pause:
		return KindPause
	case ClockJump:
		return KindClockJump
	case ClockRate:
		return KindClockRate
	case NetFault:
		return KindNet
	case DiskSlow:
		return KindDisk
	}
	return "?"
}

// --- (b) parse errors ---

func TestParseScheduleErrors(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		field, msg string
	}{
		{"missing at", "crash m1 at 1s", 1, "at", `an entry starts with "at <time>", got "crash"`},
		{"missing time", "at", 1, "at", "missing time"},
		{"bad time", "at soon crash m1", 1, "at", `"soon" is not a duration`},
		{"negative time", "at -1s crash m1", 1, "at", "negative duration -1s"},
		{"missing fault", "at 1s", 1, "fault", "missing fault after the time"},
		{"unknown fault", "at 1s explode m1", 1, "fault", `unknown fault "explode"`},
		{"missing target", "at 1s crash", 1, "crash", "missing target"},
		{"keyword as target", "at 1s crash for 1s", 1, "crash", `expected a host, process or @role, got "for"`},
		{"bad host name", "at 1s pause M1", 1, "pause", "use lower-case letters"},
		{"bad role name", "at 1s crash @", 1, "crash", "role empty name"},
		{"process path too deep", "at 1s kill a/b/c", 1, "kill", "a process is written host/name"},
		{"group without braces", "at 1s partition m1 | m2", 1, "partition", `expected a group "{host ...}", got "m1"`},
		{"unterminated group", "at 1s partition {m1} | {m2 m3", 1, "partition", `group is missing its closing "}"`},
		{"separator inside group", "at 1s partition {m1 | {m2}", 1, "partition", `expected a host, process or @role, got "|"`},
		{"empty group", "at 1s partition {} | {m2}", 1, "partition", "empty group {}"},
		{"bad separator", "at 1s partition {m1} , {m2}", 1, "partition", `expected "|" (both ways) or "->" (one way) between the groups, got ","`},
		{"clock without jump or rate", "at 1s clock m1 skew 2s", 1, "clock", `expected "jump" or "rate" after the host, got "skew"`},
		{"bad rate", "at 1s clock m1 rate fast", 1, "clock rate", `rate "fast" must end in x`},
		{"rate out of range", "at 1s clock m1 rate 20x", 1, "clock rate", "rate 20x out of range [0.1x, 10x]"},
		{"rate too small", "at 1s clock m1 rate 0.05x", 1, "clock rate", "out of range"},
		{"jump without sign", "at 1s clock m1 jump 2s", 1, "clock jump", `expected a signed duration such as +2s or -500ms, got "2s"`},
		{"jump without duration", "at 1s clock m1 jump", 1, "clock jump", `got ""`},
		{"jump not a duration", "at 1s clock m1 jump +2parsecs", 1, "clock jump", `"+2parsecs" is not a duration`},
		{"probability over 100%", "at 1s net loss 100.5%", 1, "net loss", "probability 100.5% out of range [0%, 100%]"},
		{"probability without %", "at 1s net dup 5", 1, "net dup", `probability "5" must end in %`},
		{"bad delay", "at 1s net delay fast", 1, "net delay", `"fast" is not a duration`},
		{"negative jitter", "at 1s net jitter -1ms", 1, "net jitter", "negative duration -1ms"},
		{"disk without latency", "at 1s disk m1 speed 5ms", 1, "disk", `expected "latency" after the host, got "speed"`},
		{"disk latency missing", "at 1s disk m1 latency", 1, "disk latency", "missing duration"},
		{"disk latency negative", "at 1s disk m1 latency -5ms", 1, "disk latency", "negative duration -5ms"},
		{"net with no parameter", "at 1s net", 1, "net", `expected reset or at least one of delay, jitter, loss, dup, reorder; got ""`},
		{"net with unknown parameter", "at 1s net latency 5ms", 1, "net", `got "latency"`},
		{"parameter given twice", "at 1s net loss 1% delay 1ms loss 2%", 1, "net loss", "given twice"},
		{"between without bar", "at 1s net loss 1% between {m1} {m2}", 1, "net", `expected "|" between the groups, got "{"`},
		{"reset between without group", "at 1s net reset between m1", 1, "net reset", `expected a group`},
		{"for without duration", "at 1s crash m1 for", 1, "for", "missing duration"},
		{"for zero", "at 1s crash m1 for 0s", 1, "for", "duration must be positive"},
		{"for negative", "at 1s crash m1 for -1s", 1, "for", "negative duration -1s"},
		{"for not a duration", "at 1s crash m1 for ever", 1, "for", `"ever" is not a duration`},
		{"trailing garbage", "at 1s heal now", 1, "entry", `unexpected "now" after the last fault`},
		{"for twice", "at 1s crash m1 for 1s for 2s", 1, "entry", `unexpected "for"`},
		{"dangling plus", "at 1s heal +", 1, "fault", "missing fault"},
		{"out of order", "at 2s heal\nat 1s heal", 2, "at", "1s is before the previous entry's 2s (entries must be in time order)"},
		{"line numbers count comments and blanks", "# header\n\nat 1s heal\n   # note\nat 2s boom m1", 5, "fault", `unknown fault "boom"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSchedule(c.text)
			if err == nil {
				t.Fatalf("ParseSchedule(%q) = %v, want an error", c.text, s)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, want *ParseError", err, err)
			}
			if pe.Line != c.line || pe.Field != c.field || !strings.Contains(pe.Msg, c.msg) {
				t.Fatalf("ParseSchedule(%q):\n got line %d, field %q, msg %q\nwant line %d, field %q, msg containing %q", c.text, pe.Line, pe.Field, pe.Msg, c.line, c.field, c.msg)
			}
			if want := fmt.Sprintf("schedule line %d: %s: ", c.line, c.field); !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Error() = %q, want it to start with %q", err.Error(), want)
			}
		})
	}
}

// --- (c) validation errors ---

var valTopo = staticTopo{
	hosts: []string{"m1", "m2", "m3"},
	procs: []string{"m1/etcd", "m1/api", "m2/etcd", "m3/etcd"},
	roles: []string{"leader"},
}

func TestValidateErrors(t *testing.T) {
	sec := time.Second
	for _, c := range []struct {
		name     string
		text     string   // parsed, unless sched is set
		sched    Schedule // for schedules the parser would not produce
		duration time.Duration
		entry    int
		field    string
		msg      string
	}{
		{name: "unknown host", text: "at 1s crash m9", entry: 1, field: "crash", msg: `unknown host "m9" (known: m1 m2 m3)`},
		{name: "unknown host in a group", text: "at 1s heal\nat 2s partition {m1} | {m2 m7}", entry: 2, field: "partition", msg: `unknown host "m7"`},
		{name: "unknown process", text: "at 1s kill m1/nope", entry: 1, field: "kill", msg: `unknown process "m1/nope" (known: m1/api m1/etcd m2/etcd m3/etcd)`},
		{name: "unknown role", text: "at 1s pause @boss", entry: 1, field: "pause", msg: "unknown role @boss (known: leader)"},
		{name: "process where a host is meant", text: "at 1s crash m1/etcd", entry: 1, field: "crash", msg: "m1/etcd is a process; crash takes a host"},
		{name: "process in a partition", text: "at 1s partition {m1/etcd} | {m2}", entry: 1, field: "partition", msg: "m1/etcd is a process; partition takes a host"},
		{name: "host where a process is meant", text: "at 1s kill m1", entry: 1, field: "kill", msg: "m1 is a host; kill takes a process (host/name)"},
		{name: "host given to start", text: "at 1s start m2", entry: 1, field: "start", msg: "m2 is a host; start takes a process"},
		{name: "negative time", sched: Schedule{{At: -sec, Faults: []Fault{Heal{}}}}, entry: 1, field: "at", msg: "negative time -1s"},
		{name: "out of order", sched: Schedule{{At: 2 * sec, Faults: []Fault{Heal{}}}, {At: sec, Faults: []Fault{Heal{}}}}, entry: 2, field: "at", msg: "1s is before the previous entry's 2s"},
		{name: "past the end", text: "at 5s heal\nat 11s heal", duration: 10 * sec, entry: 2, field: "at", msg: "11s is past the end of the run (10s)"},
		{name: "no fault", sched: Schedule{{At: sec}}, entry: 1, field: "faults", msg: "at least one fault"},
		{name: "negative for", sched: Schedule{{At: sec, Faults: []Fault{Crash{HostT("m1")}}, For: -sec}}, entry: 1, field: "for", msg: "negative duration -1s"},
		{name: "for on heal", text: "at 1s heal for 2s", entry: 1, field: "for", msg: `"heal" cannot be undone`},
		{name: "for on restart", text: "at 1s crash m1\nat 2s restart m1 for 1s", entry: 2, field: "for", msg: `"restart" cannot be undone`},
		{name: "for on clock jump", text: "at 1s clock m1 jump +1s for 1s", entry: 1, field: "for", msg: `"clock" cannot be undone`},
		{name: "for on a composite with resume", text: "at 1s pause m1\nat 2s resume m1 + isolate m1 for 1s", entry: 2, field: "for", msg: `"resume" cannot be undone`},
		{name: "for on net reset", text: "at 1s net reset for 1s", entry: 1, field: "for", msg: `"net" cannot be undone`},
		{name: "rate out of range", sched: Schedule{{At: sec, Faults: []Fault{ClockRate{HostT("m1"), 50_000}}}}, entry: 1, field: "clock rate", msg: "0.05x out of range [0.1x, 10x]"},
		{name: "zero jump", text: "at 1s clock m2 jump +0s", entry: 1, field: "clock jump", msg: "a jump of zero does nothing"},
		{name: "jump too far", text: "at 1s clock m2 jump -25h", entry: 1, field: "clock jump", msg: "beyond ±24h"},
		{name: "partition group empty", sched: Schedule{{At: sec, Faults: []Fault{Partition{A: []Target{HostT("m1")}}}}}, entry: 1, field: "partition", msg: "both groups must name at least one host"},
		{name: "host in both partition groups", text: "at 1s partition {m1 m2} | {m3 m2}", entry: 1, field: "partition", msg: "m2 is named twice"},
		{name: "role twice in a partition", text: "at 1s partition {@leader} | {@leader}", entry: 1, field: "partition", msg: "@leader is named twice"},
		{name: "net between one group", sched: Schedule{{At: sec, Faults: []Fault{NetFault{Set: SetLoss, A: []Target{HostT("m1")}}}}}, entry: 1, field: "net between", msg: "both groups must be given, or neither"},
		{name: "net with no parameter", sched: Schedule{{At: sec, Faults: []Fault{NetFault{}}}}, entry: 1, field: "net", msg: "sets no parameter"},
		{name: "net loss out of range", sched: Schedule{{At: sec, Faults: []Fault{NetFault{Set: SetLoss, Loss: ProbOne + 1}}}}, entry: 1, field: "net loss", msg: "100.0001% out of range [0%, 100%]"},
		{name: "net delay too long", text: "at 1s net delay 2h", entry: 1, field: "net delay", msg: "2h0m0s out of range [0, 1h0m0s]"},
		{name: "net host in both groups", text: "at 1s net dup 1% between {m1} | {m1}", entry: 1, field: "net between", msg: "m1 is named twice"},
		{name: "net reset one group", sched: Schedule{{At: sec, Faults: []Fault{NetReset{B: []Target{HostT("m1")}}}}}, entry: 1, field: "net reset between", msg: "both groups must be given, or neither"},
		{name: "disk latency zero", text: "at 1s disk m1 latency 0s", entry: 1, field: "disk latency", msg: "0s out of range (0, 10m0s]"},
		{name: "disk latency too long", text: "at 1s disk m1 latency 11m", entry: 1, field: "disk latency", msg: "out of range"},
		{name: "disk of a process", text: "at 1s disk m1/etcd latency 1s", entry: 1, field: "disk", msg: "m1/etcd is a process; disk takes a host"},
		{name: "restart of a live host", text: "at 1s restart m1", entry: 1, field: "restart", msg: "when it fires at 1s, host m1 is up; restart takes a crashed host"},
		{name: "restart after the crash was undone", text: "at 1s crash m1 for 1s\nat 3s restart m1", entry: 2, field: "restart", msg: "host m1 is up"},
		{name: "crash of a crashed host", text: "at 1s crash m1\nat 2s crash m1", entry: 2, field: "crash", msg: "when it fires at 2s, host m1 is already down"},
		{name: "crash inside an earlier crash's window", text: "at 1s crash m1 for 5s\nat 3s crash m1", entry: 2, field: "crash", msg: "host m1 is already down"},
		{name: "crash when the window ends (the entry fires before the undo)", text: "at 1s crash m1 for 5s\nat 6s crash m1", entry: 2, field: "crash", msg: "host m1 is already down"},
		{name: "pause of a down host", text: "at 1s crash m2\nat 2s pause m2", entry: 2, field: "pause", msg: "host m2 is down"},
		{name: "pause of a paused host", text: "at 1s pause m2 for 5s\nat 2s pause m2", entry: 2, field: "pause", msg: "host m2 is already paused"},
		{name: "resume of a running host", text: "at 1s resume m3", entry: 1, field: "resume", msg: "host m3 is not paused"},
		{name: "resume after the pause ended", text: "at 1s pause m3 for 1s\nat 2.5s resume m3", entry: 2, field: "resume", msg: "host m3 is not paused"},
		{name: "pause while a later pause outlives an earlier one's undo", text: "at 1s pause m2 for 3s\nat 1.5s crash m2 for 500ms\nat 2.5s pause m2 for 2s\nat 4.2s pause m2",
			entry: 4, field: "pause", msg: "host m2 is already paused"},
		{name: "kill of a process stopped after an explicit restart", text: "at 1s crash m1 for 5s\nat 2s restart m1\nat 3s kill m1/etcd\nat 7s kill m1/etcd",
			entry: 4, field: "kill", msg: "process m1/etcd is already stopped"},
		{name: "kill of a stopped process", text: "at 1s kill m1/etcd for 3s\nat 2s kill m1/etcd", entry: 2, field: "kill", msg: "process m1/etcd is already stopped"},
		{name: "kill on a down host", text: "at 1s crash m1 for 3s\nat 2s kill m1/api", entry: 2, field: "kill", msg: "its host m1 is down"},
		{name: "start of a running process", text: "at 1s start m1/etcd", entry: 1, field: "start", msg: "process m1/etcd is running"},
		{name: "start after the host rebooted it", text: "at 1s kill m1/etcd\nat 2s crash m1 for 1s\nat 4s start m1/etcd", entry: 3, field: "start", msg: "process m1/etcd is running"},
		{name: "start on a down host", text: "at 1s kill m1/etcd\nat 2s crash m1\nat 3s start m1/etcd", entry: 3, field: "start", msg: "its host m1 is down"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.sched
			if s == nil {
				s = mustParseSchedule(t, c.text)
			}
			err := s.Validate(valTopo, c.duration)
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
			if want := fmt.Sprintf("schedule entry %d (%s): %s: ", c.entry, ve.Text, c.field); !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Error() = %q, want it to start with %q", err.Error(), want)
			}
			// What Validate says cannot apply when it fires, the kernel
			// indeed skips when it runs the schedule unvalidated.
			if strings.HasPrefix(ve.Msg, "when it fires") {
				trace := runUnvalidated(t, s)
				if want := fmt.Sprintf(" fault-part-skipped #%d %s", c.entry, c.field); !strings.Contains(trace, want) {
					t.Fatalf("Validate rejects entry %d, but the kernel applies it (no %q):\n%s", c.entry, want, trace)
				}
			}
		})
	}
}

// runUnvalidated runs a schedule on valTopo's hosts and processes without
// validating it first, and returns the trace.
func runUnvalidated(t *testing.T, sched Schedule) string {
	t.Helper()
	s := NewSim(1, TraceOptions{Keep: true})
	log := &scriptLog{}
	for _, h := range valTopo.hosts {
		s.AddHost(HostConfig{Name: h})
	}
	for _, p := range valTopo.procs {
		h, name, _ := strings.Cut(p, "/")
		addScripted(s, log, h, name, nil)
	}
	s.AddRole("leader", func() (ProcID, bool) { return s.MustLookup("m2/etcd"), true })
	s.load(sched)
	s.start()
	s.runUntil(sched.LastEnd() + time.Second)
	s.tr.sum()
	return string(s.tr.all)
}

func hasRoleTarget(s Schedule) bool {
	for _, e := range s {
		for _, f := range e.Faults {
			for _, t := range f.targets() {
				if t.Role {
					return true
				}
			}
		}
	}
	return false
}

func TestValidateAccepts(t *testing.T) {
	for _, text := range []string{
		"",
		"at 0s heal",
		"at 1s crash m1 for 5s\nat 6.001s crash m1",        // after the undo
		"at 1s crash m1\nat 2s restart m1\nat 3s crash m1", // explicit restart
		"at 1s pause m2\nat 2s resume m2\nat 3s pause m2 for 1s",
		"at 1s kill m1/etcd for 1s\nat 2.5s kill m1/etcd\nat 3s start m1/etcd",
		"at 1s kill m1/etcd\nat 2s crash m1 for 1s\nat 4s kill m1/etcd", // the reboot restarted it
		// Role targets are checked when they fire, not here.
		"at 1s restart @leader\nat 1s resume @leader\nat 2s crash @leader + crash @leader",
		"at 1s pause @leader + isolate @leader hold for 8s",
		"at 1s partition {m1} -> {m2 m3} hold for 1s\nat 1s net loss 5% between {m1} | {@leader} for 1s",
		"at 1s clock m1 rate 0.1x for 1s\nat 2s clock m1 rate 10x\nat 3s clock m1 jump -24h\nat 4s net delay 1h jitter 1h",
		"at 10s heal", // exactly at the end of the run
		// The crash ended the first pause, so its undo leaves the second
		// pause alone and the resume finds m2 paused.
		"at 1s pause m2 for 3s\nat 1.5s crash m2 for 500ms\nat 2.5s pause m2 for 2s\nat 4.2s resume m2",
		// The crash's undo finds m1 up (restarted by hand) and does nothing,
		// so the process killed meanwhile is still stopped.
		"at 1s crash m1 for 5s\nat 2s restart m1\nat 3s kill m1/etcd\nat 7s start m1/etcd",
	} {
		s := mustParseSchedule(t, text)
		if err := s.Validate(valTopo, 10*time.Second); err != nil {
			t.Errorf("Validate rejected\n%s: %v", text, err)
			continue
		}
		// A valid schedule of concrete targets applies in full.
		if !hasRoleTarget(s) {
			if trace := runUnvalidated(t, s); strings.Contains(trace, "skipped") {
				t.Errorf("Validate accepted\n%s\nbut the kernel skipped part of it:\n%s", text, trace)
			}
		}
	}
	if err := mustParseSchedule(t, "at 1h heal").Validate(valTopo, 0); err != nil {
		t.Errorf("with no duration limit Validate rejected a late entry: %v", err)
	}
}

func TestGenerateScheduleEdges(t *testing.T) {
	r := func() *Rand { return NewRand(1, "faults") }
	if s := GenerateSchedule(r(), GenOptions{Duration: time.Minute}); s != nil {
		t.Fatalf("no hosts: got %v, want no schedule", s)
	}
	if s := GenerateSchedule(r(), GenOptions{Duration: 11 * time.Second, Settle: 10 * time.Second, Hosts: []string{"m1"}}); s != nil {
		t.Fatalf("a 1s horizon: got %v, want no schedule", s)
	}
	// Horizons just above one second must not panic.
	for _, h := range []time.Duration{time.Second + 1, time.Second + 500*time.Microsecond, time.Second + time.Millisecond, 1600 * time.Millisecond} {
		s := GenerateSchedule(r(), GenOptions{Duration: h, Hosts: []string{"m1", "m2", "m3"}, Entries: 5})
		if err := s.Validate(staticTopo{hosts: []string{"m1", "m2", "m3"}}, h); err != nil {
			t.Fatalf("horizon %s: %v", h, err)
		}
	}
	// Only the kinds asked for.
	for seed := uint64(1); seed <= 50; seed++ {
		s := GenerateSchedule(NewRand(seed, "faults"), GenOptions{Duration: time.Minute, Hosts: []string{"m1", "m2", "m3"}, Kinds: []string{KindClockJump, KindNet}, Entries: 10})
		for _, e := range s {
			if k := genKindOf(e); k != KindClockJump && k != KindNet {
				t.Fatalf("seed %d: entry %s of kind %s, asked only for clock jumps and net faults", seed, e, k)
			}
			if _, jump := e.Faults[0].(ClockJump); jump && e.For != 0 {
				t.Fatalf("seed %d: clock jump with for: %s", seed, e)
			}
		}
	}
	// With one host nothing is ever crashed or paused (no minority to take
	// down), and there is nothing to partition.
	for seed := uint64(1); seed <= 50; seed++ {
		for _, e := range GenerateSchedule(NewRand(seed, "faults"), GenOptions{Duration: time.Minute, Hosts: []string{"m1"}, Entries: 10}) {
			for _, f := range e.Faults {
				switch f.(type) {
				case Crash, Pause, Partition:
					t.Fatalf("seed %d: a single-host schedule has %s", seed, e)
				}
			}
		}
	}
}
