package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
)

// Topology says where members live.
type Topology string

const (
	// Stacked: each master host runs a member (hosts m1..mN).
	Stacked Topology = "stacked"
	// External: members on dedicated hosts (e1..eN).
	External Topology = "external"
)

// Config shapes a store-only cluster with a key-value workload.
type Config struct {
	// Members: 1, 3 or 5 (even sizes run but are flagged); default 3.
	Members int
	// Topology: default Stacked.
	Topology Topology
	// Clients: sequential workload clients on hosts c1..cK; default 3.
	Clients int
	// Rate is the workload's total operations per second; default 20.
	Rate int
	// Keys is the size of the key space; default 5.
	Keys int
	// ClientTimeout is each call's deadline; default 5s.
	ClientTimeout time.Duration
	// SyncLatency is the members' fsync latency; default harness's.
	SyncLatency time.Duration
	// SnapshotCount and CatchUpEntries: see MemberConfig.
	SnapshotCount, CatchUpEntries uint64
	// Settle is the quiet tail left free of faults; default 15s.
	Settle time.Duration
	// Bugs turned on.
	Bugs model.Bugs
	// Network is the condition of every link between two hosts (a
	// latency regime: one datacenter, zones, a WAN); zero means
	// harness.DefaultLink.
	Network harness.LinkParams
	// NoWorkload leaves out the workload clients and the liveness prober
	// (tests drive their own).
	NoWorkload bool
}

func (c *Config) fill() {
	if c.Members == 0 {
		c.Members = 3
	}
	if c.Topology == "" {
		c.Topology = Stacked
	}
	if c.Clients == 0 {
		c.Clients = 3
	}
	if c.Rate == 0 {
		c.Rate = 20
	}
	if c.Keys == 0 {
		c.Keys = 5
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = 5 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 15 * time.Second
	}
}

func (c *Config) validate() error {
	switch {
	case c.Members < 1 || c.Members > 9:
		return fmt.Errorf("members: %d out of range [1, 9]", c.Members)
	case c.Topology != Stacked && c.Topology != External:
		return fmt.Errorf("topology: %q is neither %q nor %q", c.Topology, Stacked, External)
	case c.Clients < 1 || c.Clients > 100:
		return fmt.Errorf("clients: %d out of range [1, 100]", c.Clients)
	case c.Rate < 1 || c.Rate > 100000:
		return fmt.Errorf("rate: %d ops/s out of range [1, 100000]", c.Rate)
	case c.Keys < 1:
		return fmt.Errorf("keys: must be positive, got %d", c.Keys)
	case c.ClientTimeout < 100*time.Millisecond:
		return fmt.Errorf("client timeout: %s is below 100ms", c.ClientTimeout)
	}
	if err := c.Network.Validate(); err != nil {
		return fmt.Errorf("network: %v", err)
	}
	return nil
}

// Warnings lists what is legal but unwise in the config.
func (sc *Scenario) Warnings() []string {
	c := sc.Cfg
	c.fill()
	if c.Members%2 == 0 {
		return []string{fmt.Sprintf("%d members tolerate no more failures than %d: even cluster sizes add load, not fault tolerance", c.Members, c.Members-1)}
	}
	return nil
}

// MemberHosts returns the member host names of a config.
func MemberHosts(c Config) []string {
	c.fill()
	prefix := "m"
	if c.Topology == External {
		prefix = "e"
	}
	out := make([]string, c.Members)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}

// Scenario is a store-only cluster under a key-value workload. It wires
// the run and reports facts (the clients' calls, what the prober gets,
// who leads, raft's log); it judges nothing: a judged scenario (the
// registry's) sets Observer and Raft before Build and gives the verdicts.
// One value serves one run at a time.
//
// Long runs keep flat memory: the workload and the prober move to fresh
// keys every KeyEpoch of their local clocks and never return to old ones,
// so an observer can judge a key's complete history once every client has
// moved past its epoch, and have the history forget its calls. At the end
// the prober reads every workload key once (FinalRead), so that a write
// lost after its key was judged is still found.
type Scenario struct {
	Cfg Config
	// Observer hears the clients' calls, the prober's findings and the
	// leader samples; may be nil.
	Observer Observer
	// Raft hears what the members report of their raft logs; nil leaves
	// them unobserved.
	Raft RaftObserver

	sim     *harness.Sim
	members []harness.ProcID
	history *History
	stopped bool
	verify  bool
	// unknown counts the indeterminate writes per key. It is never
	// cleared: it holds at most Keys entries per KeyEpoch, a few thousand
	// in a day's run.
	unknown  map[string]int
	finalIdx int // history index of the end-of-run read, -1 before
	leaders  []LeaderSpan
	avail    []availSample
}

// Observer hears the facts the store scenario reports as it runs.
type Observer interface {
	// Begin: history call i is made; c is the history's record.
	Begin(i int, c *Call)
	// End: history call i returned (or was given up: see Call).
	End(i int, c *Call)
	// Sampled: every 200ms of true time, who leads ("none": no member).
	Sampled(s *harness.Sim, leader string)
	// Probed: the prober's write (ProbeWrite) or the read that follows it
	// (ProbeRead) got through or not, with what it got.
	Probed(at time.Duration, what string, ok bool, detail string)
}

// What the prober reports it tried (Observer.Probed).
const (
	ProbeWrite = "write succeeds"
	ProbeRead  = "linearizable read succeeds"
)

// KeyEpoch is how often the workload and the prober move to fresh keys,
// by their local clocks: a workload key is "k<epoch>.<n>", a probe key
// "probe-<epoch>-<n>".
const KeyEpoch = 5 * time.Minute

// KeyEpochOf returns the epoch of a workload or probe key; -1 for any
// other.
func KeyEpochOf(key string) int {
	var rest string
	if r, ok := strings.CutPrefix(key, "k"); ok {
		rest, _, _ = strings.Cut(r, ".")
	} else if r, ok := strings.CutPrefix(key, "probe-"); ok {
		rest, _, _ = strings.Cut(r, "-")
	} else {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return n
}

// LeaderSpan is one member's time as the sampled raft leader.
type LeaderSpan struct {
	Who      string
	From, To time.Duration
}

// Leaders returns the run's raft leaders as sampled, in order.
func (sc *Scenario) Leaders() []LeaderSpan { return sc.leaders }

// FinalRead is the prober's end-of-run read of every workload key (nil
// before it is made).
func (sc *Scenario) FinalRead() *Call {
	if sc.finalIdx < 0 {
		return nil
	}
	return sc.history.Call(sc.finalIdx)
}

// Name implements harness.Scenario.
func (sc *Scenario) Name() string { return "store" }

// History returns the client calls of the last run.
func (sc *Scenario) History() *History { return sc.history }

// Members returns the member processes.
func (sc *Scenario) Members() []harness.ProcID { return sc.members }

// Build implements harness.Scenario.
func (sc *Scenario) Build(s *harness.Sim) error {
	sc.Cfg.fill()
	if err := sc.Cfg.validate(); err != nil {
		return err
	}
	c := sc.Cfg
	sc.sim = s
	sc.history = NewHistory(s.Now)
	sc.finalIdx = -1
	sc.history.OnBegin = func(i int, c *Call) {
		if len(c.Txn.Success) == 1 && c.Txn.Success[0].Kind == OpRange && c.Txn.Success[0].Prefix && c.Txn.Success[0].Key == "k" {
			sc.finalIdx = i
		}
		if sc.Observer != nil {
			sc.Observer.Begin(i, c)
		}
	}
	sc.history.OnEnd = func(i int, c *Call) {
		if sc.Observer != nil {
			sc.Observer.End(i, c)
		}
	}
	sc.members = nil
	sc.stopped, sc.verify = false, false
	sc.unknown = map[string]int{}
	hosts := MemberHosts(c)
	for _, h := range hosts {
		s.AddHost(harness.HostConfig{Name: h, SyncLatency: c.SyncLatency})
	}
	if c.Network != (harness.LinkParams{}) {
		s.Network().SetDefault(c.Network)
	}
	for _, cue := range Cues() {
		s.AddCue(cue.Name)
	}
	peers := make([]harness.ProcID, len(hosts))
	for i, h := range hosts {
		mc := &MemberConfig{ID: uint64(i + 1), Peers: peers, SnapshotCount: c.SnapshotCount,
			CatchUpEntries: c.CatchUpEntries, Bugs: c.Bugs, Safety: sc.Raft, Now: s.Now}
		// Members talk to each other (rafthttp) and to clients (gRPC) over
		// TCP, which never hands the application the same message twice:
		// were a network duplicate delivered, raft would append a forwarded
		// proposal twice and a request would run twice.
		peers[i] = s.AddProcess(h, MemberProc, harness.Streams, NewMember(mc))
	}
	sc.members = peers
	rate := time.Duration(int64(time.Second) * int64(c.Clients) / int64(c.Rate))
	for i := 0; i < c.Clients && !c.NoWorkload; i++ {
		h := "c" + strconv.Itoa(i+1)
		s.AddHost(harness.HostConfig{Name: h})
		id := i + 1
		s.AddProcess(h, "kv", harness.Datagrams, func() harness.Process {
			return &workload{sc: sc, id: id, every: rate,
				client: Client{Endpoints: Rotate(peers, id-1), Timeout: c.ClientTimeout, ID: id, History: sc.history}}
		})
	}
	s.AddRole(RoleLeader, sc.Leader)
	s.At(s.Duration()-c.Settle/2, func() { sc.stopped = true; s.Notef("workload stops") })
	s.At(s.Duration()-c.Settle/4, func() { sc.verify = true })
	sc.leaders, sc.avail = nil, nil
	s.At(0, func() { sc.observe(s) })
	if !c.NoWorkload {
		s.AddHost(harness.HostConfig{Name: "p1"})
		s.AddProcess("p1", "probe", harness.Datagrams, func() harness.Process {
			return &prober{sc: sc, client: Client{Endpoints: peers, Timeout: 2 * time.Second, History: sc.history}}
		})
	}
	return nil
}

// RoleLeader is the raft leader: the member that leads when a fault fires.
const RoleLeader harness.Role = "raft-leader"

// Rotate returns p starting at its k-th element (each client or API server
// starts its round robin at a different member).
func Rotate(p []harness.ProcID, k int) []harness.ProcID {
	out := make([]harness.ProcID, len(p))
	for i := range p {
		out[i] = p[(i+k)%len(p)]
	}
	return out
}

// Leader resolves @raft-leader: the running member that leads the highest
// term.
func (sc *Scenario) Leader() (harness.ProcID, bool) {
	best, term := harness.NoProc, uint64(0)
	for _, p := range sc.members {
		m, ok := sc.sim.Instance(p).(*Member)
		if !ok || !m.IsLeader() {
			continue
		}
		if t := m.Status().GetTerm(); best == harness.NoProc || t > term {
			best, term = p, t
		}
	}
	return best, best != harness.NoProc
}

// GenOptions returns fault-generation options fit for this scenario.
func (sc *Scenario) GenOptions(duration time.Duration) harness.GenOptions {
	c := sc.Cfg
	c.fill()
	hosts := MemberHosts(c)
	var procs []string
	for _, h := range hosts {
		procs = append(procs, h+"/"+MemberProc)
	}
	return harness.GenOptions{Duration: duration, Settle: c.Settle, Hosts: hosts, Procs: procs, Roles: []harness.Role{RoleLeader},
		Cues: Cues(RoleLeader)}
}

// MaxIndeterminatePerKey bounds the writes of unknown outcome per key: a
// workload client stops writing a key that has this many, which keeps
// histories checkable.
const MaxIndeterminatePerKey = 3

// Timeline draws the run for people: the faults, the raft leaders, and
// whether the prober's writes got through (availability as a client sees it).
func (sc *Scenario) Timeline(s *harness.Sim) []harness.Span {
	out := harness.FaultSpans(s)
	for _, l := range sc.leaders {
		out = append(out, harness.Span{Lane: "raft leader", Class: "leader", Label: l.Who, Start: l.From, End: l.To})
	}
	for i, a := range sc.avail {
		end := s.Now()
		if i+1 < len(sc.avail) {
			end = sc.avail[i+1].at
		}
		class, label := "up", "writes succeed"
		if !a.ok {
			class, label = "down", "writes fail: "+a.detail
		}
		if n := len(out); n > 0 && out[n-1].Lane == "availability" && out[n-1].Class == class {
			out[n-1].End = end
			continue
		}
		out = append(out, harness.Span{Lane: "availability", Class: class, Label: label, Start: a.at, End: end})
	}
	return out
}

type availSample struct {
	at     time.Duration
	ok     bool
	detail string
}

// observe samples the cluster every 200ms of true time: who leads (for
// the observer, and the timeline).
func (sc *Scenario) observe(s *harness.Sim) {
	who := "none"
	if p, ok := sc.Leader(); ok {
		who = s.ProcName(p)
	}
	if sc.Observer != nil {
		sc.Observer.Sampled(s, who)
	}
	if n := len(sc.leaders); n > 0 && sc.leaders[n-1].Who == who {
		sc.leaders[n-1].To = s.Now()
	} else if who != "none" {
		sc.leaders = append(sc.leaders, LeaderSpan{Who: who, From: s.Now(), To: s.Now()})
	}
	if next := s.Now() + 200*time.Millisecond; next < s.Duration() {
		s.At(next, func() { sc.observe(s) })
	}
}

// prober writes and reads a key of its own every second, through every
// member in turn, so that liveness is judged by what a client gets; at
// the end it also reads every workload key once (so that a write lost at
// the very end is seen).
type prober struct {
	sc     *Scenario
	client Client
	n      int
	key    int  // the probe key in use (a fresh one after a timed-out put)
	final  bool // the end-of-run read is out
	// Like kube-apiserver, the prober compacts the store every
	// CompactEvery, up to the revision it saw at the previous round, so a
	// long run keeps a bounded MVCC history.
	latest       int64 // the newest revision the prober has seen
	prevRound    int64 // the newest it had seen at the previous round
	sinceCompact time.Duration
}

// CompactEvery is the prober's compaction period (kube-apiserver's default).
const CompactEvery = 5 * time.Minute

func (p *prober) Step(ctx *harness.Ctx, in harness.Input) {
	if p.client.Handle(ctx, in) {
		return
	}
	switch in.Kind {
	case harness.InputStart:
		p.client.ID = ctx.ClientID(0)
		ctx.After(time.Second, "probe", 0)
	case harness.InputTimer:
		if in.Tag != "probe" {
			return
		}
		ctx.After(time.Second, "probe", 0)
		if p.client.Pending() > 0 {
			return
		}
		if p.sinceCompact += time.Second; p.sinceCompact >= CompactEvery {
			p.sinceCompact = 0
			rev := p.prevRound
			p.prevRound = p.latest
			if rev > 1 {
				ctx.Mark("compacted")
				p.client.Compact(ctx, rev, nil)
				return
			}
		}
		if p.sc.verify && !p.final {
			// One linearizable read of every workload key, of every
			// epoch: writes lost after their key went idle show here.
			p.client.Do(ctx, Txn{Success: []Op{{Kind: OpRange, Key: "k", Prefix: true}}}, false, nil)
			p.final = true
			return
		}
		p.n++
		key := "probe-" + strconv.FormatInt(int64(ctx.Now()/KeyEpoch), 10) + "-" + strconv.Itoa(p.key)
		val := "p-" + strconv.Itoa(p.n)
		p.client.Do(ctx, Txn{Success: []Op{{Kind: OpPut, Key: key, Value: val}}}, false, func(r Response) {
			p.sc.probed(ProbeWrite, r.Err == CodeOK, "put "+val+": "+describe(r))
			if n := len(p.sc.avail); n == 0 || p.sc.avail[n-1].ok != (r.Err == CodeOK) {
				// Changes only: a long run keeps flat memory.
				p.sc.avail = append(p.sc.avail, availSample{at: p.sc.sim.Now(), ok: r.Err == CodeOK, detail: describe(r)})
			}
			if r.Err == CodeTimeout {
				// A write of unknown outcome stays open in the
				// history; the next probes use a fresh key so that
				// the history stays checkable.
				p.key++
				return
			}
			p.client.Do(ctx, Txn{Success: []Op{{Kind: OpRange, Key: key}}}, false, func(r Response) {
				p.sc.probed(ProbeRead, r.Err == CodeOK, "get: "+describe(r))
			})
			if r.Err == CodeOK {
				p.latest = max(p.latest, r.Result.Revision)
			}
		})
	}
}

func (sc *Scenario) probed(what string, ok bool, detail string) {
	if sc.Observer != nil {
		sc.Observer.Probed(sc.sim.Now(), what, ok, detail)
	}
}

func describe(r Response) string {
	if r.Err != CodeOK {
		return string(r.Err)
	}
	return "ok at revision " + strconv.FormatInt(r.Result.Revision, 10)
}

// workload is one sequential client: at most one call in flight, a mix of
// puts (unique values), linearizable gets, deletes and compare-and-swap
// transactions over a small key space.
type workload struct {
	sc     *Scenario
	id     int
	every  time.Duration
	client Client
	n      int
	// lastMod remembers the mod revision last seen per key, for CAS.
	lastMod map[string]int64
}

func (w *workload) Step(ctx *harness.Ctx, in harness.Input) {
	if w.client.Handle(ctx, in) {
		return
	}
	switch in.Kind {
	case harness.InputStart:
		w.lastMod = map[string]int64{}
		ctx.After(ctx.Rand().Between(0, 2*w.every), "op", 0)
	case harness.InputTimer:
		if in.Tag != "op" || w.sc.stopped {
			return
		}
		ctx.After(ctx.Rand().Between(w.every/2, w.every*3/2), "op", 0)
		if w.client.Pending() > 0 {
			return
		}
		w.issue(ctx)
	}
}

func (w *workload) issue(ctx *harness.Ctx) {
	r := ctx.Rand()
	key := "k" + strconv.FormatInt(int64(ctx.Now()/KeyEpoch), 10) + "." + strconv.Itoa(r.Intn(w.sc.Cfg.Keys))
	w.n++
	val := "c" + strconv.Itoa(w.id) + "-" + strconv.Itoa(w.n)
	var txn Txn
	x := r.Intn(100)
	if w.sc.unknown[key] >= MaxIndeterminatePerKey {
		// Every write whose outcome is unknown stays "in flight" for the
		// linearizability checker to the end of the history; past a few
		// per key the search explodes. The key is only read from now on.
		x = 50
	}
	switch {
	case x < 40:
		txn = Txn{Success: []Op{{Kind: OpPut, Key: key, Value: val}}}
	case x < 80:
		txn = Txn{Success: []Op{{Kind: OpRange, Key: key}}}
	case x < 90:
		txn = Txn{Success: []Op{{Kind: OpDelete, Key: key}}}
	default:
		txn = Txn{
			Compares: []Compare{{Key: key, Target: TargetMod, Result: Equal, Num: w.lastMod[key]}},
			Success:  []Op{{Kind: OpPut, Key: key, Value: val}},
			Failure:  []Op{{Kind: OpRange, Key: key}},
		}
	}
	w.client.Do(ctx, txn, false, func(resp Response) {
		if resp.Err == CodeTimeout && txn.IsWrite() {
			w.sc.unknown[key]++
		}
		if resp.Err != CodeOK {
			return
		}
		branch := txn.Success
		if !resp.Result.Succeeded {
			branch = txn.Failure
		}
		for i, op := range branch {
			switch {
			case op.Kind == OpPut:
				w.lastMod[key] = resp.Result.Revision
			case op.Kind == OpDelete:
				w.lastMod[key] = 0
			case i < len(resp.Result.Results) && len(resp.Result.Results[i].KVs) > 0:
				w.lastMod[key] = resp.Result.Results[i].KVs[0].ModRevision
			default:
				w.lastMod[key] = 0
			}
		}
	})
}
