package kube

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hasim/harness"
	"hasim/model"
)

// The load balancer's tests run it between fake API servers, which answer
// the protocol and whose /healthz code the test sets, and a fake client
// that sends a fixed script of messages.

// lbGot is one input a fake process was handed.
type lbGot struct {
	at      time.Duration
	from    string
	p       harness.Payload
	refused bool
}

func (g lbGot) String() string {
	if g.refused {
		return fmt.Sprintf("%s refused %s", harness.FormatTime(g.at), g.p)
	}
	return fmt.Sprintf("%s from %s: %s", harness.FormatTime(g.at), g.from, g.p)
}

// lbFakeAPIState outlives a fake API server's incarnations.
type lbFakeAPIState struct {
	name string
	code int // what /healthz answers; 0 means 200
	got  []lbGot
}

type lbFakeKey struct {
	from harness.ProcID
	conn uint64
}

type lbFakeWatch struct {
	key lbFakeKey
	id  uint64
	n   int
}

// lbFakeAPI answers Open, Close, Ping, Healthz (on any connection) and any
// other request with 200; a watch sends an ADDED event every second until
// its connection closes. A message on a connection it does not know gets a
// Reset.
type lbFakeAPI struct {
	st      *lbFakeAPIState
	conns   map[lbFakeKey]bool
	watches []lbFakeWatch
}

func (f *lbFakeAPI) Step(ctx *harness.Ctx, in harness.Input) {
	switch in.Kind {
	case harness.InputMessage:
	case harness.InputTimer:
		w := &f.watches[in.Arg]
		if !f.conns[w.key] {
			return
		}
		w.n++
		ctx.Send(w.key.from, Event{Conn: w.key.conn, ID: w.id, Type: Added,
			Obj: Object{Kind: Pods, Name: fmt.Sprintf("default/p%d", w.n), RV: int64(w.n)}})
		ctx.After(time.Second, "event", in.Arg)
		return
	default:
		return
	}
	f.st.got = append(f.st.got, lbGot{at: ctx.Now(), from: "?", p: in.Msg.Payload})
	c, _ := connOf(in.Msg.Payload)
	key := lbFakeKey{in.Msg.From, c}
	switch m := in.Msg.Payload.(type) {
	case Open:
		f.conns[key] = true
	case Close:
		delete(f.conns, key)
	case Request:
		if m.Verb == Healthz {
			code := f.st.code
			if code == 0 {
				code = StatusOK
			}
			ctx.Send(in.Msg.From, Response{Conn: c, ID: m.ID, Code: code, Server: f.st.name})
			return
		}
		if !f.conns[key] {
			ctx.Send(in.Msg.From, Reset{Conn: c})
			return
		}
		ctx.Send(in.Msg.From, Response{Conn: c, ID: m.ID, Code: StatusOK, Server: f.st.name})
		if m.Verb == Watch {
			f.watches = append(f.watches, lbFakeWatch{key: key, id: m.ID})
			ctx.After(time.Second, "event", uint64(len(f.watches)-1))
		}
	case Ping:
		if !f.conns[key] {
			ctx.Send(in.Msg.From, Reset{Conn: c})
			return
		}
		ctx.Send(in.Msg.From, Pong{Conn: c, N: m.N})
	}
}

// healthz returns the codes the fake answered /healthz with, and when.
func (st *lbFakeAPIState) healthz() []lbGot {
	var out []lbGot
	for _, g := range st.got {
		if r, ok := g.p.(Request); ok && r.Verb == Healthz {
			out = append(out, g)
		}
	}
	return out
}

// lbAct is one step of the fake client's script: at local time at, send p
// to the load balancer.
type lbAct struct {
	at time.Duration
	p  harness.Payload
}

type lbFakeClientState struct {
	script []lbAct
	got    []lbGot
}

type lbFakeClient struct{ st *lbFakeClientState }

func (f *lbFakeClient) Step(ctx *harness.Ctx, in harness.Input) {
	switch in.Kind {
	case harness.InputStart:
		for i, a := range f.st.script {
			ctx.After(a.at-ctx.Now(), "act", uint64(i))
		}
	case harness.InputTimer:
		ctx.Send(ctx.Lookup("lb/lb"), f.st.script[in.Arg].p)
	case harness.InputMessage:
		f.st.got = append(f.st.got, lbGot{at: ctx.Now(), from: "lb", p: in.Msg.Payload})
	case harness.InputRefused:
		f.st.got = append(f.st.got, lbGot{at: ctx.Now(), refused: true, p: in.Msg.Payload})
	}
}

// lbChange is one call of the BackendState hook.
type lbChange struct {
	at      time.Duration
	backend int
	up      bool
}

// lbEnv is one test run: three fake API servers m1..m3, the LB on host lb,
// a client on c1.
type lbEnv struct {
	api     []*lbFakeAPIState
	client  *lbFakeClientState
	changes []lbChange
	lbID    harness.ProcID
	sim     *harness.Sim
	trace   string
	// probes run at true times, to change the fakes' health.
	probes map[time.Duration]func(e *lbEnv)
}

type lbScenario struct {
	env  *lbEnv
	bugs model.Bugs
}

func (sc *lbScenario) Name() string { return "lb-test" }

func (sc *lbScenario) Build(s *harness.Sim) error {
	e := sc.env
	s.AddHost(harness.HostConfig{Name: "lb"})
	var backends []harness.ProcID
	var names []string
	for i := 1; i <= 3; i++ {
		h := fmt.Sprintf("m%d", i)
		s.AddHost(harness.HostConfig{Name: h})
		st := &lbFakeAPIState{name: h + "/apiserver"}
		e.api = append(e.api, st)
		backends = append(backends, s.AddProcess(h, "apiserver", harness.Streams, func() harness.Process {
			return &lbFakeAPI{st: st, conns: map[lbFakeKey]bool{}}
		}))
		names = append(names, st.name)
	}
	cfg := LBConfig{Backends: backends, Names: names, Bugs: sc.bugs,
		BackendState: func(ctx *harness.Ctx, b int, up bool) {
			e.changes = append(e.changes, lbChange{ctx.Now(), b, up})
		}}
	e.lbID = s.AddProcess("lb", "lb", harness.Connection, func() harness.Process { return NewLB(cfg) })
	s.AddHost(harness.HostConfig{Name: "c1"})
	s.AddProcess("c1", "client", harness.Streams, func() harness.Process { return &lbFakeClient{st: e.client} })
	for _, t := range harness.SortedKeys(e.probes) {
		f := e.probes[t]
		s.At(t, func() { f(e) })
	}
	return nil
}

func (sc *lbScenario) Check(s *harness.Sim) []harness.Verdict { return nil }

func runLB(t *testing.T, bugs model.Bugs, script []lbAct, probes map[time.Duration]func(*lbEnv), sched string, d time.Duration) *lbEnv {
	t.Helper()
	sch, err := harness.ParseSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	e := &lbEnv{client: &lbFakeClientState{script: script}, probes: probes}
	res, err := harness.Run(harness.Config{Scenario: &lbScenario{env: e, bugs: bugs}, Duration: d,
		Trace: harness.TraceOptions{Keep: true}}, 1, sch)
	if err != nil {
		t.Fatal(err)
	}
	e.sim = res.Sim
	e.trace = string(res.Trace)
	return e
}

func (e *lbEnv) lb() *LB {
	lb, _ := e.sim.Instance(e.lbID).(*LB)
	return lb
}

// servers returns, in arrival order, which server answered each non-health
// Response the client got, as "conn:server".
func (e *lbEnv) servers() []string {
	var out []string
	for _, g := range e.client.got {
		if r, ok := g.p.(Response); ok {
			out = append(out, fmt.Sprintf("%d:%s", r.Conn, strings.TrimSuffix(r.Server, "/apiserver")))
		}
	}
	return out
}

// changesAfterStart returns the hook calls after the start-up ones.
func (e *lbEnv) changesAfterStart() []lbChange {
	var out []lbChange
	for _, c := range e.changes {
		if c.at > 0 {
			out = append(out, c)
		}
	}
	return out
}

func lbGet(conn, id uint64) Request {
	return Request{Conn: conn, ID: id, Verb: Get, Kind: Pods, Name: "default/x"}
}

func lbMS(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func lbWithin(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s at %s; want within [%s, %s]", what, got, lo, hi)
	}
}

func TestLBRoundRobinAndClose(t *testing.T) {
	var script []lbAct
	for c := uint64(1); c <= 6; c++ {
		at := lbMS(100 * int(c))
		script = append(script, lbAct{at, Open{Conn: c}}, lbAct{at + lbMS(10), lbGet(c, 1)})
	}
	script = append(script, lbAct{lbMS(1000), Ping{Conn: 2, N: 7}}, lbAct{lbMS(1100), Close{Conn: 6}})
	e := runLB(t, model.Bugs{}, script, nil, "", 3*time.Second)
	want := "1:m1 2:m2 3:m3 4:m1 5:m2 6:m3"
	if got := strings.Join(e.servers(), " "); got != want {
		t.Fatalf("responses %q; want %q", got, want)
	}
	var pong bool
	for _, g := range e.client.got {
		if p, ok := g.p.(Pong); ok && p.Conn == 2 && p.N == 7 {
			pong = true
		}
	}
	if !pong {
		t.Errorf("no pong on conn 2: %v", e.client.got)
	}
	// m3 got Open, Request, Close on the LB's numbers for conns 3 and 6.
	var m3 []string
	for _, g := range e.api[2].got {
		if r, ok := g.p.(Request); ok && r.Verb == Healthz {
			continue
		}
		m3 = append(m3, g.p.String())
	}
	if got, want := strings.Join(m3, "; "), "open conn=1000000003; api get conn=1000000003 id=1 pods/default/x; "+
		"open conn=1000000006; api get conn=1000000006 id=1 pods/default/x; close conn=1000000006"; got != want {
		t.Errorf("m3 got %q; want %q", got, want)
	}
	if n := e.lb().Conns(); n != 5 {
		t.Errorf("LB proxies %d connections; want 5", n)
	}
	if b, ok := e.lb().BackendOf(e.sim.MustLookup("c1/client"), 4); !ok || b != 0 {
		t.Errorf("conn 4 on backend %d %v; want 0", b, ok)
	}
	if len(e.changes) != 3 || len(e.changesAfterStart()) != 0 {
		t.Errorf("hook calls %v; want three at start", e.changes)
	}
	for i := 0; i < 3; i++ {
		if !e.lb().Up(i) {
			t.Errorf("backend %d down", i)
		}
	}
}

// m2 answers /healthz with 500 from 10s to 20s: its checks run at
// 0.667s + 2s·k, so the failed ones are at 10.667, 12.667 and 14.667s,
// when it is marked down; 20.667 and 22.667s succeed and bring it back.
// A connection opened on it before stays there; new ones avoid it.
func TestLBHealthCheckDownAndUp(t *testing.T) {
	script := []lbAct{
		{lbMS(5000), Open{Conn: 1}}, {lbMS(5100), Open{Conn: 2}},
		{lbMS(16000), Open{Conn: 3}}, {lbMS(16100), Open{Conn: 4}}, {lbMS(16200), Open{Conn: 5}}, {lbMS(16300), Open{Conn: 6}},
		{lbMS(17000), lbGet(2, 1)},
	}
	for c := uint64(3); c <= 6; c++ {
		script = append(script, lbAct{lbMS(17000 + 100*int(c)), lbGet(c, 1)})
	}
	script = append(script, lbAct{lbMS(24000), Open{Conn: 7}}, lbAct{lbMS(24100), lbGet(7, 1)})
	probes := map[time.Duration]func(*lbEnv){
		10 * time.Second: func(e *lbEnv) { e.api[1].code = StatusInternal },
		20 * time.Second: func(e *lbEnv) { e.api[1].code = 0 },
	}
	e := runLB(t, model.Bugs{}, script, probes, "", 26*time.Second)
	ch := e.changesAfterStart()
	if len(ch) != 2 || ch[0].backend != 1 || ch[0].up || ch[1].backend != 1 || !ch[1].up {
		t.Fatalf("state changes %v; want m2 down then up", ch)
	}
	lbWithin(t, "m2 down", ch[0].at, lbMS(14667), lbMS(14670))
	lbWithin(t, "m2 up", ch[1].at, lbMS(22667), lbMS(22670))
	// Exactly Fall failed checks before it went down.
	failed := 0
	for _, g := range e.api[1].healthz() {
		if g.at >= 10*time.Second && g.at < ch[0].at {
			failed++
		}
	}
	if failed != DefaultLBFall {
		t.Errorf("%d failed checks before down; want %d", failed, DefaultLBFall)
	}
	if !strings.Contains(e.trace, "note lb/lb backend m2/apiserver DOWN after 3 failed checks") ||
		!strings.Contains(e.trace, "note lb/lb backend m2/apiserver UP after 2 successful checks") {
		t.Errorf("trace lacks the state-change notes")
	}
	want := "2:m2 3:m3 4:m1 5:m3 6:m1 7:m2"
	if got := strings.Join(e.servers(), " "); got != want {
		t.Errorf("responses %q; want %q (conn 2 pinned to m2, 3-6 avoiding it, 7 back on it)", got, want)
	}
}

// The same with the bug on: no checks, m2 stays in rotation.
func TestLBBugNoHealthCheck(t *testing.T) {
	script := []lbAct{{lbMS(16000), Open{Conn: 1}}, {lbMS(16100), Open{Conn: 2}}, {lbMS(16200), lbGet(1, 1)}, {lbMS(16300), lbGet(2, 1)}}
	probes := map[time.Duration]func(*lbEnv){10 * time.Second: func(e *lbEnv) { e.api[1].code = StatusInternal }}
	e := runLB(t, model.MustBugs(BugLBNoHealthCheck), script, probes, "", 20*time.Second)
	if ch := e.changesAfterStart(); len(ch) != 0 {
		t.Errorf("state changes %v; want none", ch)
	}
	for i, st := range e.api {
		if n := len(st.healthz()); n != 0 {
			t.Errorf("backend %d got %d health checks; want none", i, n)
		}
	}
	if got, want := strings.Join(e.servers(), " "), "1:m1 2:m2"; got != want {
		t.Errorf("responses %q; want %q", got, want)
	}
	if !e.lb().Up(1) {
		t.Errorf("m2 out of rotation")
	}
}

// m3 cut off from the LB at 10s: its checks (1.333s + 2s·k) sent at
// 11.333, 13.333 and 15.333s time out 2s later, so it goes down at
// 17.333s; after the heal at 20s the check of 19.333s still times out,
// those of 21.333 and 23.333s succeed.
func TestLBHealthCheckTimeouts(t *testing.T) {
	e := runLB(t, model.Bugs{}, nil, nil, "at 10s partition {lb} | {m3} for 10s", 25*time.Second)
	ch := e.changesAfterStart()
	if len(ch) != 2 || ch[0].backend != 2 || ch[0].up || ch[1].backend != 2 || !ch[1].up {
		t.Fatalf("state changes %v; want m3 down then up", ch)
	}
	lbWithin(t, "m3 down", ch[0].at, lbMS(17333), lbMS(17334))
	lbWithin(t, "m3 up", ch[1].at, lbMS(23333), lbMS(23335))
	if !strings.Contains(e.trace, "DOWN after 3 failed checks (last: timed out)") {
		t.Errorf("trace lacks the timeout note")
	}
}

// m1's API server killed at 9.5s (its host stays up): its checks at 10, 12
// and 14s are refused, so it is down at 14s; a request on a connection
// pinned to it is refused and the client gets a Reset. Restarted at
// 19.5s, it is back up after the checks at 20 and 22s.
func TestLBKilledBackend(t *testing.T) {
	script := []lbAct{{lbMS(1000), Open{Conn: 1}}, {lbMS(1100), lbGet(1, 1)}, {lbMS(11000), lbGet(1, 2)}, {lbMS(11500), Open{Conn: 2}}, {lbMS(11600), lbGet(2, 1)}}
	e := runLB(t, model.Bugs{}, script, nil, "at 9500ms kill m1/apiserver for 10s", 23*time.Second)
	ch := e.changesAfterStart()
	if len(ch) != 2 || ch[0].backend != 0 || ch[0].up || ch[1].backend != 0 || !ch[1].up {
		t.Fatalf("state changes %v; want m1 down then up", ch)
	}
	lbWithin(t, "m1 down", ch[0].at, lbMS(14000), lbMS(14002))
	lbWithin(t, "m1 up", ch[1].at, lbMS(22000), lbMS(22002))
	var resets []string
	for _, g := range e.client.got {
		if r, ok := g.p.(Reset); ok {
			resets = append(resets, fmt.Sprintf("%d@%s", r.Conn, harness.FormatTime(g.at)))
		}
	}
	if len(resets) != 1 || !strings.HasPrefix(resets[0], "1@11.0") {
		t.Errorf("resets %v; want one on conn 1 just after 11s", resets)
	}
	// Conn 2, opened while m1 was not yet marked down, went round robin to
	// m2 all the same (conn 1 took m1).
	if got, want := strings.Join(e.servers(), " "), "1:m1 2:m2"; got != want {
		t.Errorf("responses %q; want %q", got, want)
	}
	if n := e.lb().Conns(); n != 1 {
		t.Errorf("LB proxies %d connections; want 1", n)
	}
}

// Messages on connections the LB does not know: a client's gets a Reset
// (a Close gets nothing), a backend's gets a Close. The LB restarts at 5s
// and forgets conn 1, on which m1 keeps sending watch events: the new LB
// closes it on m1. Its new connections get numbers the old one never used.
func TestLBUnknownConnections(t *testing.T) {
	script := []lbAct{
		{lbMS(100), lbGet(42, 1)}, {lbMS(200), Close{Conn: 43}},
		{lbMS(1000), Open{Conn: 1}}, {lbMS(1100), Request{Conn: 1, ID: 9, Verb: Watch, Kind: Pods}},
		{lbMS(8000), Ping{Conn: 1, N: 1}}, {lbMS(8100), Open{Conn: 2}}, {lbMS(8200), lbGet(2, 1)},
	}
	e := runLB(t, model.Bugs{}, script, nil, "at 4500ms kill lb/lb for 1s", 10*time.Second)
	var client []string
	for _, g := range e.client.got {
		client = append(client, fmt.Sprintf("%s@%s", g.p, harness.FormatTime(g.at)))
	}
	got := strings.Join(client, "\n")
	for _, w := range []string{"reset conn=42@0.1", "reset conn=1@8.0", "api-event conn=1 id=9 ADDED pods/default/p3@3"} {
		if !strings.Contains(got, w) {
			t.Errorf("client got:\n%s\nwant a %q", got, w)
		}
	}
	if strings.Contains(got, "conn=43") || strings.Contains(got, "pods/default/p4") {
		t.Errorf("client got:\n%s\nwant nothing on conn 43, no event after the LB restarted", got)
	}
	var m1 []string
	for _, g := range e.api[0].got {
		switch g.p.(type) {
		case Open, Close:
			m1 = append(m1, fmt.Sprintf("%s@%s", g.p, harness.FormatTime(g.at)))
		}
	}
	// conn 1 on m1; the LB's second incarnation closes it when the event
	// of 6.1s reaches it, then puts conn 2 on m1 (round robin restarts).
	want := "open conn=1000000001@1.000"
	if len(m1) != 3 || !strings.HasPrefix(m1[0], want) || !strings.HasPrefix(m1[1], "close conn=1000000001@6.1") ||
		!strings.HasPrefix(m1[2], "open conn=2000000001@8.1") {
		t.Errorf("m1 got %v", m1)
	}
}

// A client killed while its watch streams: the LB's forward is refused, so
// it closes the backend side and forgets the connection.
func TestLBRefusedClient(t *testing.T) {
	script := []lbAct{{lbMS(1000), Open{Conn: 1}}, {lbMS(1100), Request{Conn: 1, ID: 1, Verb: Watch, Kind: Pods}}}
	e := runLB(t, model.Bugs{}, script, nil, "at 3500ms kill c1/client", 6*time.Second)
	var closes []lbGot
	for _, g := range e.api[0].got {
		if _, ok := g.p.(Close); ok {
			closes = append(closes, g)
		}
	}
	if len(closes) != 1 {
		t.Fatalf("m1 got closes %v; want one", closes)
	}
	lbWithin(t, "close", closes[0].at, lbMS(4100), lbMS(4103))
	if n := e.lb().Conns(); n != 0 {
		t.Errorf("LB proxies %d connections; want 0", n)
	}
}

// With every backend down, a new connection is reset at once.
func TestLBNoBackendUp(t *testing.T) {
	script := []lbAct{{lbMS(8000), Open{Conn: 1}}}
	probes := map[time.Duration]func(*lbEnv){0: func(e *lbEnv) {
		for _, st := range e.api {
			st.code = StatusUnavailable
		}
	}}
	e := runLB(t, model.Bugs{}, script, probes, "", 9*time.Second)
	if n := len(e.changesAfterStart()); n != 3 {
		t.Fatalf("state changes %v; want three downs", e.changesAfterStart())
	}
	if len(e.client.got) != 1 || e.client.got[0].p != (Reset{Conn: 1}) {
		t.Errorf("client got %v; want a reset", e.client.got)
	}
	if e.lb().UpCount() != 0 || e.lb().Conns() != 0 {
		t.Errorf("up %d conns %d", e.lb().UpCount(), e.lb().Conns())
	}
}
