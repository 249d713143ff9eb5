package harness

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Shared helpers for the kernel, schedule and clock tests: a scriptable
// process that records every input it is handed, a scenario built from a
// closure, and ways to look at a run's trace.

// ptext is a payload that prints as itself.
type ptext string

func (p ptext) String() string { return string(p) }

// seqMsg is a numbered payload: pingers send them so that receivers can tell
// exactly which messages arrived, and in what order.
type seqMsg struct{ N int }

func (m seqMsg) String() string { return "seq " + strconv.Itoa(m.N) }

// seenInput is one input a scripted process was handed, with the true and
// local times at which it was handed over.
type seenInput struct {
	At    time.Duration // true time
	Local time.Duration // the host's local clock
	Proc  string
	Inc   int // Ctx.Incarnation
	Kind  InputKind
	Tag   string
	Arg   uint64
	Msg   Message
	From  string // sender's name, for messages
	Inst  *scriptedProc
}

func (e seenInput) String() string {
	what := ""
	switch e.Kind {
	case InputStart:
		what = "start"
	case InputMessage:
		what = fmt.Sprintf("msg #%d from %s: %s", e.Msg.ID, e.From, e.Msg.Payload)
	case InputTimer:
		what = fmt.Sprintf("timer %s %d", e.Tag, e.Arg)
	case InputSynced:
		what = fmt.Sprintf("synced %s %d", e.Tag, e.Arg)
	case InputRefused:
		what = fmt.Sprintf("refused #%d: %s", e.Msg.ID, e.Msg.Payload)
	default:
		what = fmt.Sprintf("input kind %d", e.Kind)
	}
	return fmt.Sprintf("%s %s#%d local=%s %s", FormatTime(e.At), e.Proc, e.Inc, FormatTime(e.Local), what)
}

// scriptLog collects what every scripted process saw during a run.
type scriptLog struct {
	all []seenInput
}

// of returns what the named process saw, in order.
func (l *scriptLog) of(proc string) []seenInput {
	var out []seenInput
	for _, e := range l.all {
		if e.Proc == proc {
			out = append(out, e)
		}
	}
	return out
}

// kind returns the inputs of one kind the named process saw.
func (l *scriptLog) kind(proc string, k InputKind) []seenInput {
	var out []seenInput
	for _, e := range l.of(proc) {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// seqsFrom returns, in arrival order, the sequence numbers of the seqMsg
// messages proc received from sender.
func (l *scriptLog) seqsFrom(proc, sender string) []int {
	var out []int
	for _, e := range l.kind(proc, InputMessage) {
		if m, ok := e.Msg.Payload.(seqMsg); ok && e.From == sender {
			out = append(out, m.N)
		}
	}
	return out
}

func (l *scriptLog) dump() string {
	var b strings.Builder
	for _, e := range l.all {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// scriptHandler is a scripted process's behaviour; p holds the instance's
// volatile state.
type scriptHandler func(p *scriptedProc, ctx *Ctx, in Input)

// scriptedProc records every input into its log, then runs its scriptHandler.
type scriptedProc struct {
	log *scriptLog
	on  scriptHandler
	// Volatile state, lost with the instance: inputs counts the inputs
	// this instance was handed, n is the handler's own counter.
	inputs int
	n      int
}

func (p *scriptedProc) Step(ctx *Ctx, in Input) {
	e := seenInput{
		At: ctx.s.now, Local: ctx.Now(), Proc: ctx.Name(), Inc: ctx.Incarnation(),
		Kind: in.Kind, Tag: in.Tag, Arg: in.Arg, Msg: in.Msg, Inst: p,
	}
	if in.Kind == InputMessage {
		e.From = ctx.s.ProcName(in.Msg.From)
	}
	p.log.all = append(p.log.all, e)
	p.inputs++
	if p.on != nil {
		p.on(p, ctx, in)
	}
}

// addScripted adds a scripted process whose instances share log.
func addScripted(s *Sim, log *scriptLog, host, name string, on scriptHandler) ProcID {
	return s.AddProcess(host, name, Datagrams, func() Process {
		return &scriptedProc{log: log, on: on}
	})
}

// pingHandler returns a scriptHandler that sends seqMsg{k} to every peer at
// the k-th tick of its local clock (every period, k from 1), for each
// instance.
func pingHandler(every time.Duration, peers ...string) scriptHandler {
	return func(p *scriptedProc, ctx *Ctx, in Input) {
		switch in.Kind {
		case InputStart:
			ctx.After(every, "ping", 1)
		case InputTimer:
			if in.Tag != "ping" {
				return
			}
			for _, peer := range peers {
				ctx.Send(ctx.Lookup(peer), seqMsg{N: int(in.Arg)})
			}
			ctx.After(every, "ping", in.Arg+1)
		}
	}
}

// atLocal returns a scriptHandler that runs the given actions when the
// process's local clock has advanced by each key since its start.
func atLocal(actions map[time.Duration]func(p *scriptedProc, ctx *Ctx)) scriptHandler {
	keys := SortedKeys(actions)
	return func(p *scriptedProc, ctx *Ctx, in Input) {
		switch in.Kind {
		case InputStart:
			for i, k := range keys {
				ctx.After(k, "at", uint64(i))
			}
		case InputTimer:
			if in.Tag == "at" {
				actions[keys[in.Arg]](p, ctx)
			}
		}
	}
}

// scriptedScenario is a Scenario made of closures.
type scriptedScenario struct {
	build func(s *Sim) error
	check func(s *Sim) []Verdict
}

func (sc *scriptedScenario) Name() string { return "script" }

func (sc *scriptedScenario) Build(s *Sim) error {
	if sc.build == nil {
		return nil
	}
	return sc.build(s)
}

func (sc *scriptedScenario) Check(s *Sim) []Verdict {
	if sc.check == nil {
		return nil
	}
	return sc.check(s)
}

// quietLink is a link without jitter, so that delivery times are exact.
var quietLink = LinkParams{Latency: time.Millisecond}

// runSpec is one run of a scripted world.
type runSpec struct {
	seed     uint64
	duration time.Duration
	sched    string
	network  *LinkParams // nil: quietLink
	build    func(s *Sim, log *scriptLog)
}

// runScripted runs a scripted world with the trace kept and fails the test
// on any error.
func runScripted(t *testing.T, spec runSpec) (Result, *scriptLog) {
	t.Helper()
	log := &scriptLog{}
	sched := mustParseSchedule(t, spec.sched)
	net := spec.network
	if net == nil {
		net = &quietLink
	}
	if spec.duration == 0 {
		spec.duration = 10 * time.Second
	}
	cfg := Config{
		Scenario: &scriptedScenario{build: func(s *Sim) error { spec.build(s, log); return nil }},
		Duration: spec.duration,
		Network:  net,
		Trace:    TraceOptions{Keep: true},
	}
	res, err := Run(cfg, spec.seed, sched)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, log
}

func mustParseSchedule(t testing.TB, text string) Schedule {
	t.Helper()
	s, err := ParseSchedule(text)
	if err != nil {
		t.Fatalf("ParseSchedule(%q): %v", text, err)
	}
	return s
}

// addHosts adds hosts with default settings.
func addHosts(s *Sim, names ...string) {
	for _, n := range names {
		s.AddHost(HostConfig{Name: n})
	}
}

// keptLines splits a kept trace into lines.
func keptLines(res Result) []string {
	return strings.Split(strings.TrimSuffix(string(res.Trace), "\n"), "\n")
}

// wantTraceLines fails unless every line in want occurs in the trace, in this
// order (other lines may come between).
func wantTraceLines(t *testing.T, res Result, want ...string) {
	t.Helper()
	lines := keptLines(res)
	i := 0
	for _, w := range want {
		found := false
		for ; i < len(lines); i++ {
			if lines[i] == w {
				found = true
				i++
				break
			}
		}
		if !found {
			t.Fatalf("trace lacks the line %q (in order after the previous wanted lines); trace:\n%s", w, res.Trace)
		}
	}
}

// traceLinesWith returns the trace lines containing sub.
func traceLinesWith(res Result, sub string) []string {
	var out []string
	for _, l := range keptLines(res) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// oneTraceLineWith fails unless exactly one trace line contains sub;
// what says what that line tells.
func oneTraceLineWith(t *testing.T, res Result, sub, what string) {
	t.Helper()
	if l := traceLinesWith(res, sub); len(l) != 1 {
		t.Fatalf("%s: want one trace line containing %q, got %q", what, sub, l)
	}
}

// noTraceLineWith fails if some trace line contains sub.
func noTraceLineWith(t *testing.T, res Result, sub string) {
	t.Helper()
	if l := traceLinesWith(res, sub); len(l) > 0 {
		t.Fatalf("trace has %d unexpected line(s) containing %q, first: %q", len(l), sub, l[0])
	}
}

// seqRange returns the ints lo..hi inclusive.
func seqRange(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// concatInts joins int slices.
func concatInts(parts ...[]int) []int {
	var out []int
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func equalInts(a, b []int) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }

// staticTopo is a Topology for validation tests.
type staticTopo struct{ hosts, procs, roles, cues, signals []string }

func (t staticTopo) Hosts() []string   { return t.hosts }
func (t staticTopo) Procs() []string   { return t.procs }
func (t staticTopo) Roles() []string   { return t.roles }
func (t staticTopo) Cues() []string    { return t.cues }
func (t staticTopo) Signals() []string { return t.signals }

// panicMessage runs f and returns the panic's message; it fails if f returns.
func panicMessage(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("expected a panic, got none")
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}
