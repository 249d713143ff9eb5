package store

import (
	"fmt"
	"strconv"
	"time"

	"hasim/checkers"
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
	// NoWorkload leaves out the workload clients (tests drive their own).
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

// Scenario is a store-only cluster under a key-value workload; it
// implements harness.Scenario. One value serves one run at a time.
type Scenario struct {
	Cfg Config

	sim     *harness.Sim
	members []harness.ProcID
	safety  *checkers.RaftSafety
	history *History
	stopped bool
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
	sc.safety = checkers.NewRaftSafety()
	sc.history = NewHistory(s.Now)
	sc.members = nil
	sc.stopped = false
	hosts := MemberHosts(c)
	for _, h := range hosts {
		s.AddHost(harness.HostConfig{Name: h, SyncLatency: c.SyncLatency})
	}
	peers := make([]harness.ProcID, len(hosts))
	for i, h := range hosts {
		mc := &MemberConfig{ID: uint64(i + 1), Peers: peers, SnapshotCount: c.SnapshotCount,
			CatchUpEntries: c.CatchUpEntries, Bugs: c.Bugs, Safety: sc.safety, Now: s.Now}
		peers[i] = s.AddProcess(h, MemberProc, NewMember(mc))
	}
	sc.members = peers
	rate := time.Duration(int64(time.Second) * int64(c.Clients) / int64(c.Rate))
	for i := 0; i < c.Clients && !c.NoWorkload; i++ {
		h := "c" + strconv.Itoa(i+1)
		s.AddHost(harness.HostConfig{Name: h})
		id := i + 1
		s.AddProcess(h, "kv", func() harness.Process {
			return &workload{sc: sc, id: id, every: rate,
				client: Client{Endpoints: rotate(peers, id-1), Timeout: c.ClientTimeout, ID: id, History: sc.history}}
		})
	}
	s.AddRole("raft-leader", sc.Leader)
	s.At(s.Duration()-c.Settle/2, func() { sc.stopped = true; s.Notef("workload stops") })
	return nil
}

func rotate(p []harness.ProcID, k int) []harness.ProcID {
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
	return harness.GenOptions{Duration: duration, Settle: c.Settle, Hosts: hosts, Procs: procs, Roles: []string{"raft-leader"}}
}

// Check implements harness.Scenario.
func (sc *Scenario) Check(s *harness.Sim) []harness.Verdict {
	return []harness.Verdict{sc.safety.Verdict()}
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
	key := "k" + strconv.Itoa(r.Intn(w.sc.Cfg.Keys))
	w.n++
	val := "c" + strconv.Itoa(w.id) + "-" + strconv.Itoa(w.n)
	var txn Txn
	switch x := r.Intn(100); {
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
