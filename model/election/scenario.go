package election

import (
	"strconv"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// Config shapes the election scenario: a stacked store cluster with a
// controller replica on every master host, each talking to its local
// member (as kubeadm wires kube-controller-manager to its local API server
// and that to its local etcd).
type Config struct {
	// Masters is the number of master hosts (m1..mN); default 3.
	Masters int
	// Timings default to client-go's (Defaults).
	Timings Timings
	// Settle is the quiet tail left free of faults; default 40s.
	Settle time.Duration
	// Bugs turned on.
	Bugs model.Bugs
	// Network is the condition of every link between two hosts; zero
	// means harness.DefaultLink.
	Network harness.LinkParams
}

func (c *Config) fill() {
	if c.Masters == 0 {
		c.Masters = 3
	}
	if c.Timings == (Timings{}) {
		c.Timings = Defaults
	}
	if c.Settle == 0 {
		c.Settle = 40 * time.Second
	}
}

// Lease is the key the controllers elect through.
const Lease = "leases/kube-system/kube-controller-manager"

// Scenario is a store cluster with a controller replica per master. It
// wires the run and reports facts (who acts when, raft's log); it judges
// nothing: checkers observe it (a judged scenario, as the registry
// builds, sets Observer and Raft before Build and gives the verdicts).
type Scenario struct {
	Cfg Config
	// Observer hears who acts when; may be nil.
	Observer Observer
	// Raft hears what the store members report of their raft logs; nil
	// leaves them unobserved.
	Raft store.RaftObserver

	store   store.Scenario
	sim     *harness.Sim
	procs   []harness.ProcID
	leaders []actor   // currently acting, in the order they began
	tenures TenureLog // every tenure of the run, in the order they began
	race    Race
}

// Observer hears the facts the election scenario reports as it runs.
type Observer interface {
	// Acting: at true time at, identity began (on) or stopped (off)
	// acting: leading, or its process died while it led.
	Acting(at time.Duration, identity string, on bool)
}

// Tenure is one controller's time acting; End is -1 while it acts.
type Tenure struct {
	Identity   string
	Start, End time.Duration
}

// Tenures returns the tenures of the run (so far), in the order they began.
func (sc *Scenario) Tenures() []Tenure { return sc.tenures.List }

// TenureLog records who acts when, as acting replicas report it: a start
// of an identity that acts already, or a stop of one that does not, is no
// change.
type TenureLog struct {
	// List holds the tenures in the order they began.
	List []Tenure
	open map[string]int // identity → index of its open tenure
}

// Start records that who began acting at true time at; it reports whether
// that changed anything.
func (l *TenureLog) Start(at time.Duration, who string) bool {
	if _, ok := l.open[who]; ok {
		return false
	}
	if l.open == nil {
		l.open = map[string]int{}
	}
	l.open[who] = len(l.List)
	l.List = append(l.List, Tenure{Identity: who, Start: at, End: -1})
	return true
}

// Stop records that who stopped acting at true time at; it reports
// whether that changed anything.
func (l *TenureLog) Stop(at time.Duration, who string) bool {
	i, ok := l.open[who]
	if !ok {
		return false
	}
	l.List[i].End = at
	delete(l.open, who)
	return true
}

// ActedAt reports whether who acted at true time t.
func (l *TenureLog) ActedAt(who string, t time.Duration) bool {
	for _, s := range l.List {
		if s.Identity == who && s.Start <= t && (s.End < 0 || t < s.End) {
			return true
		}
	}
	return false
}

func (sc *Scenario) acting(identity string, on bool) {
	now := sc.sim.Now()
	changed := false
	if on {
		changed = sc.tenures.Start(now, identity)
	} else {
		changed = sc.tenures.Stop(now, identity)
	}
	if !changed {
		return
	}
	if sc.Observer != nil {
		sc.Observer.Acting(now, identity, on)
	}
}

type actor struct {
	identity string
	proc     harness.ProcID
	inc      int
}

// Name implements harness.Scenario.
func (sc *Scenario) Name() string { return "election" }

// Build implements harness.Scenario.
func (sc *Scenario) Build(s *harness.Sim) error {
	sc.Cfg.fill()
	c := sc.Cfg
	sc.store = store.Scenario{Cfg: store.Config{Members: c.Masters, Bugs: c.Bugs, Network: c.Network, NoWorkload: true}, Raft: sc.Raft}
	if err := sc.store.Build(s); err != nil {
		return err
	}
	for _, cue := range Cues(c.Timings) {
		s.AddCue(cue.Name)
	}
	sc.race = Race{Alive: func(p harness.ProcID, inc int) bool { return s.Running(p) && s.Incarnation(p) == inc }}
	s.OnFault(func(harness.FaultRecord) {
		if sc.race.Racing() {
			s.Mark(MarkFaultDuringRace)
		}
	})
	sc.sim = s
	sc.procs, sc.leaders, sc.tenures = nil, nil, TenureLog{}
	for i, h := range store.MemberHosts(sc.store.Cfg) {
		member := sc.store.Members()[i]
		id := 2000 + i
		var p harness.ProcID
		p = s.AddProcess(h, "cm", harness.Datagrams, func() harness.Process {
			return &controller{sc: sc, proc: p, client: store.Client{Endpoints: []harness.ProcID{member}, Timeout: c.Timings.ClientTimeout, ID: id}}
		})
		sc.procs = append(sc.procs, p)
	}
	s.AddRole(RoleActive, sc.active)
	s.At(0, func() { sc.watch(s) })
	return nil
}

// active resolves @active-cm: the controller that began acting last.
func (sc *Scenario) active() (harness.ProcID, bool) {
	if n := len(sc.leaders); n > 0 {
		return sc.leaders[n-1].proc, true
	}
	return harness.NoProc, false
}

// watch closes the tenure of a controller whose process died (a crash or a
// kill: it stops acting then), sampling every 100ms of true time.
func (sc *Scenario) watch(s *harness.Sim) {
	n := 0
	for _, a := range sc.leaders {
		if cur, ok := s.Instance(a.proc).(*controller); !ok || cur.inc != a.inc {
			sc.acting(a.identity, false)
			continue
		}
		sc.leaders[n] = a
		n++
	}
	sc.leaders = sc.leaders[:n]
	if next := s.Now() + 100*time.Millisecond; next < s.Duration() {
		s.At(next, func() { sc.watch(s) })
	}
}

// GenOptions returns fault-generation options fit for this scenario.
func (sc *Scenario) GenOptions(duration time.Duration) harness.GenOptions {
	c := sc.Cfg
	c.fill()
	hosts := store.MemberHosts(store.Config{Members: c.Masters})
	var procs []string
	for _, h := range hosts {
		procs = append(procs, h+"/"+store.MemberProc, h+"/cm")
	}
	return harness.GenOptions{Duration: duration, Settle: c.Settle, Hosts: hosts, Procs: procs, Roles: []harness.Role{store.RoleLeader, RoleActive},
		Cues: append(store.Cues(store.RoleLeader), Cues(c.Timings, RoleActive)...)}
}

// RoleActive is the controller that acts (the election scenario's
// controllers run as <host>/cm).
const RoleActive harness.Role = "active-cm"

// Timeline draws the faults, the raft leaders' store and the controllers'
// tenures.
func (sc *Scenario) Timeline(s *harness.Sim) []harness.Span {
	out := sc.store.Timeline(s)
	for _, t := range sc.tenures.List {
		e := t.End
		if e < 0 {
			e = s.Now()
		}
		out = append(out, harness.Span{Lane: "active controller", Class: "leader", Label: t.Identity, Start: t.Start, End: e})
	}
	return out
}

// controller is one kube-controller-manager replica: it campaigns, and
// while it leads it acts (a write every second, as a controller's work).
type controller struct {
	sc      *Scenario
	proc    harness.ProcID
	inc     int
	client  store.Client
	elector Elector
	n       int
}

// States implements harness.StateReporter.
func (c *controller) States(now time.Duration, dst []string) []string {
	return c.elector.States(now, dst)
}

func (c *controller) Step(ctx *harness.Ctx, in harness.Input) {
	if in.Kind == harness.InputStart {
		c.inc = ctx.Incarnation()
		sc := c.sc
		c.elector = Elector{Identity: Identity(ctx), Timings: sc.Cfg.Timings, Lock: StoreLock{Key: Lease, Client: &c.client}, Bugs: sc.Cfg.Bugs,
			Hooks: Hooks{
				Acquiring: sc.race.Acquiring,
				StartedLeading: func(ctx *harness.Ctx, id string) {
					sc.acting(id, true)
					sc.leaders = append(sc.leaders, actor{identity: id, proc: c.proc, inc: c.inc})
					ctx.After(time.Second, "work", 0)
				},
				StoppedLeading: func(_ *harness.Ctx, id string) {
					sc.acting(id, false)
					for i, a := range sc.leaders {
						if a.identity == id {
							sc.leaders = append(sc.leaders[:i], sc.leaders[i+1:]...)
							break
						}
					}
				},
			}}
		c.elector.Start(ctx)
		return
	}
	if c.elector.Handle(ctx, in) {
		return
	}
	if in.Kind == harness.InputTimer && in.Tag == "work" && c.elector.Leading() {
		c.n++
		c.client.Do(ctx, store.Txn{Success: []store.Op{{Kind: store.OpPut, Key: "work/cm", Value: c.elector.Identity + "-" + strconv.Itoa(c.n)}}}, false, nil)
		ctx.After(time.Second, "work", 0)
	}
}
