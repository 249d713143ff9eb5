// Package counter is hasim's demonstration scenario: a replicated counter
// (a grow-only CRDT) on three or more hosts, with a client that increments it
// through random replicas. It is small enough to read in one sitting and
// exercises every part of the kernel: messages, timers on skewable local
// clocks, a disk with fsync latency, crashes that lose unsynced writes,
// pauses, partitions and role-relative faults.
//
// Each replica keeps one slot per replica. An increment goes to the
// receiving replica's own slot, is appended to its disk, and is acknowledged
// once the write is durable. Replicas gossip their slots every GossipEvery
// and merge by taking the maximum of each slot. The value is the sum.
//
// Checks, judged once every fault has been undone and the cluster has had
// Settle to converge:
//   - acked-durable: every replica counts at least every acknowledged
//     increment, and no more than were ever attempted;
//   - converged: every replica reports the same value.
package counter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
)

// BugLazyFsync makes replicas acknowledge increments as soon as they are
// written and fsync only every LazyFsyncEvery, a classic durability bug.
const BugLazyFsync = "counter-lazy-fsync"

// LazyFsyncEvery is the fsync period of a replica under BugLazyFsync.
const LazyFsyncEvery = 2 * time.Second

func init() {
	model.Register(model.Bug{
		Name:      BugLazyFsync,
		Scenarios: []string{"counter"},
		Plants:    "counter replicas acknowledge an increment once written and fsync only every 2s",
		Caught:    []harness.CheckName{model.CheckAckedDurable},
	})
}

// Config shapes the counter scenario.
type Config struct {
	// Replicas is the number of replica hosts (n1..nN); default 3.
	Replicas int
	// GossipEvery is the replicas' gossip period (local time); default 500ms.
	GossipEvery time.Duration
	// IncEvery is the client's mean time between increments; default 100ms.
	IncEvery time.Duration
	// ClientTimeout is how long the client waits for an ack; default 1s.
	ClientTimeout time.Duration
	// Settle is the quiet time after the last fault that the checks wait
	// for before judging; default 5s.
	Settle time.Duration
	// Bugs turned on.
	Bugs model.Bugs
	// Network is the condition of every link between two hosts; zero
	// means harness.DefaultLink.
	Network harness.LinkParams
}

func (c *Config) fill() {
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.GossipEvery == 0 {
		c.GossipEvery = 500 * time.Millisecond
	}
	if c.IncEvery == 0 {
		c.IncEvery = 100 * time.Millisecond
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = time.Second
	}
	if c.Settle == 0 {
		c.Settle = 5 * time.Second
	}
}

// Scenario is the counter scenario; it implements harness.Scenario. One
// value serves one run at a time.
type Scenario struct {
	Cfg Config

	sim      *harness.Sim
	replicas []harness.ProcID
	hist     history
	stopped  bool
}

type history struct {
	attempted int
	acked     int
	timedOut  int
}

// Name implements harness.Scenario.
func (sc *Scenario) Name() string { return "counter" }

// ReplicaHosts returns the replica host names for a config.
func ReplicaHosts(c Config) []string {
	c.fill()
	out := make([]string, c.Replicas)
	for i := range out {
		out[i] = "n" + strconv.Itoa(i+1)
	}
	return out
}

// Build implements harness.Scenario.
func (sc *Scenario) Build(s *harness.Sim) error {
	sc.Cfg.fill()
	if sc.Cfg.Replicas < 1 || sc.Cfg.Replicas > 99 {
		return fmt.Errorf("replicas: %d out of range [1, 99]", sc.Cfg.Replicas)
	}
	if err := sc.Cfg.Network.Validate(); err != nil {
		return fmt.Errorf("network: %v", err)
	}
	if sc.Cfg.Network != (harness.LinkParams{}) {
		s.Network().SetDefault(sc.Cfg.Network)
	}
	sc.sim = s
	sc.hist = history{}
	sc.replicas = nil
	hosts := ReplicaHosts(sc.Cfg)
	for _, h := range hosts {
		s.AddHost(harness.HostConfig{Name: h})
	}
	s.AddHost(harness.HostConfig{Name: "client"})
	for i, h := range hosts {
		i := i
		sc.replicas = append(sc.replicas, s.AddProcess(h, "counter", harness.Datagrams, func() harness.Process {
			return &replica{sc: sc, idx: i}
		}))
	}
	s.AddProcess("client", "load", harness.Datagrams, func() harness.Process { return &client{sc: sc, out: map[uint64]harness.TimerID{}} })
	s.AddRole(RoleBusiest, sc.busiest)
	// The workload stops a quiet period before the end, so that the checks
	// judge a cluster that had the time to converge.
	sc.stopped = false
	s.At(s.Duration()-sc.Cfg.Settle, func() {
		sc.stopped = true
		s.Notef("workload stops")
	})
	return nil
}

// busiest resolves @busiest: the running replica that took the most
// increments (the lowest-numbered on a tie).
func (sc *Scenario) busiest() (harness.ProcID, bool) {
	best, bestN := harness.NoProc, uint64(0)
	for _, p := range sc.replicas {
		r, ok := sc.sim.Instance(p).(*replica)
		if !ok {
			continue
		}
		if best == harness.NoProc || r.vec[r.idx] > bestN {
			best, bestN = p, r.vec[r.idx]
		}
	}
	return best, best != harness.NoProc
}

// GenOptions returns fault-generation options fit for this scenario.
func (sc *Scenario) GenOptions(duration time.Duration) harness.GenOptions {
	c := sc.Cfg
	c.fill()
	hosts := ReplicaHosts(c)
	var procs []string
	for _, h := range hosts {
		procs = append(procs, h+"/counter")
	}
	return harness.GenOptions{Duration: duration, Settle: 2 * c.Settle, Hosts: hosts, Procs: procs, Roles: []harness.Role{RoleBusiest}}
}

// RoleBusiest is the replica that has served the most increments.
const RoleBusiest harness.Role = "busiest"

// Check implements harness.Scenario.
func (sc *Scenario) Check(s *harness.Sim) []harness.Verdict {
	durable := harness.Verdict{Check: model.CheckAckedDurable}
	conv := harness.Verdict{Check: model.CheckConverged}
	quiet := s.Now() - max(s.LastFaultEnd(), s.Duration()-sc.Cfg.Settle)
	if quiet < sc.Cfg.Settle {
		msg := fmt.Sprintf("the last fault ended at %s, %s before the end; judging needs %s of quiet", s.LastFaultEnd(), s.Now()-s.LastFaultEnd(), sc.Cfg.Settle)
		durable.Status, durable.Detail = harness.Unknown, msg
		conv.Status, conv.Detail = harness.Unknown, msg
		return []harness.Verdict{durable, conv}
	}
	if dist := s.Disturbed(); len(dist) > 0 {
		msg := "faults still in effect at the end: " + strings.Join(dist, ", ")
		durable.Status, durable.Detail = harness.Unknown, msg
		conv.Status, conv.Detail = harness.Unknown, msg
		return []harness.Verdict{durable, conv}
	}
	var up []string
	values := map[string]uint64{}
	var down []string
	for _, p := range sc.replicas {
		name := s.ProcName(p)
		r, ok := s.Instance(p).(*replica)
		if !ok {
			down = append(down, name)
			continue
		}
		up = append(up, name)
		values[name] = r.value()
	}
	h := sc.hist
	if len(up) == 0 {
		durable.Status, durable.Detail = harness.Unknown, "no replica is running at the end"
	} else {
		var bad []string
		for _, n := range up {
			v := values[n]
			if v < uint64(h.acked) {
				bad = append(bad, fmt.Sprintf("%s counts %d but %d increments were acknowledged (%d acknowledged increments lost)", n, v, h.acked, uint64(h.acked)-v))
			} else if v > uint64(h.attempted) {
				bad = append(bad, fmt.Sprintf("%s counts %d but only %d increments were ever attempted", n, v, h.attempted))
			}
		}
		if len(bad) > 0 {
			durable.Status, durable.Detail = harness.Violated, strings.Join(bad, "; ")
		} else {
			durable.Status = harness.OK
			durable.Detail = fmt.Sprintf("%d acknowledged, %d attempted, %d timed out; every running replica counts between", h.acked, h.attempted, h.timedOut)
		}
	}
	switch {
	case len(down) > 0:
		conv.Status, conv.Detail = harness.Unknown, "replicas not running at the end: "+strings.Join(down, " ")
	default:
		var parts []string
		same := true
		for _, n := range up {
			parts = append(parts, fmt.Sprintf("%s=%d", n, values[n]))
			same = same && values[n] == values[up[0]]
		}
		if same {
			conv.Status, conv.Detail = harness.OK, fmt.Sprintf("every replica reads %d", values[up[0]])
		} else {
			conv.Status, conv.Detail = harness.Violated, fmt.Sprintf("replicas disagree %s after %s of quiet", strings.Join(parts, " "), quiet)
		}
	}
	return []harness.Verdict{durable, conv}
}

// Messages.

type incReq struct{ id uint64 }

func (m incReq) String() string { return "inc id=" + strconv.FormatUint(m.id, 10) }

type incAck struct{ id, value uint64 }

func (m incAck) String() string {
	return "ack id=" + strconv.FormatUint(m.id, 10) + " value=" + strconv.FormatUint(m.value, 10)
}

type gossip struct{ vec []uint64 }

func (m gossip) String() string {
	var b strings.Builder
	b.WriteString("gossip [")
	for i, v := range m.vec {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(v, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// replica is one counter replica.
type replica struct {
	sc      *Scenario
	idx     int
	vec     []uint64
	pending []pendingAck
	// seen holds the request IDs already counted: the network may
	// duplicate a request, and counting it twice would be a phantom
	// increment. It is rebuilt from the disk on restart.
	seen map[uint64]bool
}

// incRecord is what a replica writes per increment.
type incRecord struct{ own, id uint64 }

type pendingAck struct {
	client harness.ProcID
	id     uint64
	own    uint64 // own-slot value that must be durable first
}

func (r *replica) value() uint64 {
	var v uint64
	for _, x := range r.vec {
		v += x
	}
	return v
}

func (r *replica) Step(ctx *harness.Ctx, in harness.Input) {
	cfg := &r.sc.Cfg
	lazy := cfg.Bugs.Has(BugLazyFsync)
	switch in.Kind {
	case harness.InputStart:
		r.vec = make([]uint64, len(r.sc.replicas))
		r.seen = map[uint64]bool{}
		for _, rec := range ctx.Disk().Read("incs") {
			ir := rec.(incRecord)
			r.vec[r.idx] = ir.own
			r.seen[ir.id] = true
		}
		ctx.Notef("recovered own=%d", r.vec[r.idx])
		ctx.After(ctx.Rand().Between(0, cfg.GossipEvery), "gossip", 0)
		if lazy {
			ctx.After(LazyFsyncEvery, "fsync", 0)
		}
	case harness.InputMessage:
		switch m := in.Msg.Payload.(type) {
		case incReq:
			if r.seen[m.id] {
				ctx.Notef("duplicate inc id=%d ignored", m.id)
				return
			}
			r.seen[m.id] = true
			r.vec[r.idx]++
			own := r.vec[r.idx]
			ctx.Disk().Append("incs", incRecord{own: own, id: m.id})
			if lazy {
				ctx.Send(in.Msg.From, incAck{id: m.id, value: r.value()})
				return
			}
			r.pending = append(r.pending, pendingAck{client: in.Msg.From, id: m.id, own: own})
			ctx.Disk().Sync("incs", own)
		case gossip:
			for i, v := range m.vec {
				if v > r.vec[i] {
					r.vec[i] = v
				}
			}
		}
	case harness.InputTimer:
		switch in.Tag {
		case "gossip":
			for _, p := range r.sc.replicas {
				if p != ctx.Self() {
					ctx.Send(p, gossip{vec: append([]uint64(nil), r.vec...)})
				}
			}
			ctx.After(cfg.GossipEvery, "gossip", 0)
		case "fsync":
			ctx.Disk().Sync("lazy", 0)
			ctx.After(LazyFsyncEvery, "fsync", 0)
		}
	case harness.InputSynced:
		if in.Tag != "incs" {
			return
		}
		n := 0
		for _, p := range r.pending {
			if p.own <= in.Arg {
				ctx.Send(p.client, incAck{id: p.id, value: r.value()})
				continue
			}
			r.pending[n] = p
			n++
		}
		r.pending = r.pending[:n]
	}
}

// client increments the counter through random replicas.
type client struct {
	sc     *Scenario
	nextID uint64
	out    map[uint64]harness.TimerID
}

func (c *client) Step(ctx *harness.Ctx, in harness.Input) {
	cfg := &c.sc.Cfg
	switch in.Kind {
	case harness.InputStart:
		ctx.After(ctx.Rand().Between(0, 2*cfg.IncEvery), "inc", 0)
	case harness.InputTimer:
		switch in.Tag {
		case "inc":
			if c.sc.stopped {
				return
			}
			c.nextID++
			to := c.sc.replicas[ctx.Rand().Intn(len(c.sc.replicas))]
			ctx.Send(to, incReq{id: c.nextID})
			c.sc.hist.attempted++
			c.out[c.nextID] = ctx.After(cfg.ClientTimeout, "timeout", c.nextID)
			ctx.After(ctx.Rand().Between(0, 2*cfg.IncEvery), "inc", 0)
		case "timeout":
			if _, ok := c.out[in.Arg]; ok {
				delete(c.out, in.Arg)
				c.sc.hist.timedOut++
			}
		}
	case harness.InputMessage:
		if m, ok := in.Msg.Payload.(incAck); ok {
			if t, ok := c.out[m.id]; ok {
				ctx.Cancel(t)
				delete(c.out, m.id)
				c.sc.hist.acked++
			}
		}
	}
}
