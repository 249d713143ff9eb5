package kube

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
	"hasim/model/store"
)

// Config shapes a cluster.
type Config struct {
	// Masters: 1, 3 or 5 [3]; each runs an API server, a
	// controller-manager and a scheduler (and, stacked, an etcd member).
	Masters int
	// Topology: stacked [default] or external (etcd on hosts e1..eN).
	Topology store.Topology
	// Workers: worker hosts w1..wN with a kubelet each [3]; Capacity is
	// how many pods fit on each [10].
	Workers, Capacity int
	// Users on hosts u1..uN [2]; the first owns the workload. Keys is the
	// number of ConfigMaps they share [3]; CacheReads makes their reads
	// use resourceVersion "0".
	Users, Keys int
	CacheReads  bool
	// Replicas of the ReplicaSet at first [3], at most MaxReplicas [6] when
	// rescaled every ScaleEvery [60s].
	Replicas, MaxReplicas int
	ScaleEvery            time.Duration
	// StandbyLB adds a second load balancer on host lb2 and keepalived on
	// both, floating the virtual IP every kubeconfig points at.
	StandbyLB bool
	// Timings of leader election [client-go's].
	Timings election.Timings
	// Settle is the quiet tail left free of faults [2m].
	Settle time.Duration
	// Bugs turned on.
	Bugs model.Bugs
	// Network is the condition of every link between two hosts (a
	// latency regime); zero means harness.DefaultLink.
	Network harness.LinkParams
	// Components are elected components run besides the built-in
	// controller-manager and scheduler: a replica of each on every master
	// (see Elected).
	Components []Elected
	// Resources are generic resources the API serves besides the built-in
	// kinds, such as the custom resources of the components (see
	// generic.go).
	Resources []Resource
}

// components are the cluster's elected components: the built-in ones,
// then the registered ones.
func (c *Config) components() []Elected {
	return append([]Elected{ControllerManagerComponent, SchedulerComponent}, c.Components...)
}

func (c *Config) fill() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Masters, 3)
	def(&c.Workers, 3)
	def(&c.Capacity, 10)
	def(&c.Users, 2)
	def(&c.Keys, 3)
	def(&c.Replicas, 3)
	def(&c.MaxReplicas, 6)
	if c.Topology == "" {
		c.Topology = store.Stacked
	}
	if c.ScaleEvery == 0 {
		c.ScaleEvery = time.Minute
	}
	if c.Timings == (election.Timings{}) {
		c.Timings = election.Defaults
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Minute
	}
}

func (c *Config) validate() error {
	switch {
	case c.Masters < 1 || c.Masters > 9:
		return fmt.Errorf("masters: %d out of range [1, 9]", c.Masters)
	case c.Topology != store.Stacked && c.Topology != store.External:
		return fmt.Errorf("topology: %q is neither %q nor %q", c.Topology, store.Stacked, store.External)
	case c.Workers < 1 || c.Workers > 50:
		return fmt.Errorf("workers: %d out of range [1, 50]", c.Workers)
	case c.Users < 1 || c.Users > 20:
		return fmt.Errorf("users: %d out of range [1, 20]", c.Users)
	case c.Capacity < 1:
		return fmt.Errorf("capacity: must be positive, got %d", c.Capacity)
	case c.Replicas < 0 || c.MaxReplicas < 1:
		return fmt.Errorf("replicas: %d (max %d) out of range", c.Replicas, c.MaxReplicas)
	case c.Replicas > c.Workers*c.Capacity || c.MaxReplicas > c.Workers*c.Capacity:
		return fmt.Errorf("replicas: %d (max %d) do not fit on %d workers of %d pods", c.Replicas, c.MaxReplicas, c.Workers, c.Capacity)
	}
	kinds := map[Kind]bool{}
	for _, k := range Kinds {
		kinds[k] = true
	}
	for i, r := range c.Resources {
		field := fmt.Sprintf("resources[%d]", i)
		switch group, version, ok := strings.Cut(r.APIVersion, "/"); {
		case harness.ValidName(string(r.Kind)) != nil:
			return fmt.Errorf("%s.kind: %v", field, harness.ValidName(string(r.Kind)))
		case kinds[r.Kind]:
			return fmt.Errorf("%s.kind: %q is served already", field, r.Kind)
		case !ok || group == "" || version == "" || strings.Contains(version, "/"):
			return fmt.Errorf("%s.apiVersion: %q is not group/version", field, r.APIVersion)
		}
		kinds[r.Kind] = true
	}
	names, leases := map[string]bool{}, map[string]bool{}
	for i, e := range c.components() {
		k := i - 2 // index in c.Components
		if k >= 0 {
			if err := e.validate(k); err != nil {
				return err
			}
		}
		if names[e.Name] {
			return fmt.Errorf("components[%d].name: %q is registered twice", k, e.Name)
		}
		// The lease's name alone names the component's check, condition
		// and lane: it must be unique, whatever the namespace.
		if leases[e.LeaseName()] {
			return fmt.Errorf("components[%d].lease: %q has the name of another component's lease", k, e.LeaseRef())
		}
		names[e.Name], leases[e.LeaseName()] = true, true
	}
	return nil
}

// RSName is the workload's ReplicaSet.
const RSName = "default/web"

// Scenario is a whole control plane under a workload. Each of its roles
// has its own file: the wiring of hosts and processes here (Build); the
// ground truth, read outside the simulated network, in oracle.go and
// truth.go; the record of what replicas, kubelets and users did in
// recorder.go; the facts it reports to its Observer in observer.go. It
// judges nothing: a judged scenario (checkers/judge, as the registry
// builds) sets Observer and Raft before Build and gives the verdicts. One
// value serves one run at a time.
type Scenario struct {
	Cfg Config
	// Observer hears the facts of the run; nil leaves them unheard.
	Observer Observer
	// Raft hears what the store members report of their raft logs; nil
	// leaves them unobserved.
	Raft store.RaftObserver

	obs         Observer
	store       store.Scenario
	sim         *harness.Sim
	masters     []string
	workers     []string
	apiservers  []harness.ProcID
	lb          harness.ProcID
	lbs         []harness.ProcID // with a standby: lb, lb2
	vip         harness.ProcID   // the LB the virtual IP leads to
	vipSince    time.Duration
	comps       []Elected                      // the elected components
	tenures     map[string]*election.TenureLog // lease → its tenures
	actors      map[string][]actor             // lease → acting now, in order of starting
	running     map[string]map[string]bool     // node → pods running
	issuedAt    map[issueKey]issue
	races       map[string]*election.Race // lease → its candidates' takeover writes
	truthRev    int64                     // the highest store revision the observers read
	memberHosts []string                  // the store members' hosts
	truthBehind bool                      // the last read found the store behind truthRev
	surplusRev  int64                     // the store revision the last surplus sample read
	// creators: the pods controllers issued creates for, by name, until
	// seen in the store; seenPods: the workload's pods at the last sample,
	// with who created each and when it landed.
	creators map[string]creation
	seenPods map[string]seenPod
	// decisions: by identity, its last decision to create pods.
	decisions map[string]decision
	backendUp []time.Duration // since when backend i is up (-1: down)

	lastOK    time.Duration // last user call answered through the LB
	downSince time.Duration // every master down since (-1: not)
	spans     []harness.Span
	apiRuns   []apiRun // API availability through the LB, as users saw it: changes only
	applied   []revAt  // when the store first reached each new revision (recent ones)
}

// Name implements harness.Scenario.
func (sc *Scenario) Name() string { return "cluster" }

// Warnings lists what is legal but unwise in the config.
func (sc *Scenario) Warnings() []string {
	c := sc.Cfg
	c.fill()
	return (&store.Scenario{Cfg: store.Config{Members: c.Masters}}).Warnings()
}

// Masters returns the master host names of a config.
func Masters(c Config) []string {
	c.fill()
	return hostNames("m", c.Masters)
}

// Workers returns the worker host names of a config.
func Workers(c Config) []string {
	c.fill()
	return hostNames("w", c.Workers)
}

func hostNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}

// Build implements harness.Scenario.
func (sc *Scenario) Build(s *harness.Sim) error {
	sc.Cfg.fill()
	c := sc.Cfg
	if err := c.validate(); err != nil {
		return err
	}
	sc.obs = sc.Observer
	if sc.obs == nil {
		sc.obs = nobody{}
	}
	sc.store = store.Scenario{Cfg: store.Config{Members: c.Masters, Topology: c.Topology, Bugs: c.Bugs, Network: c.Network, NoWorkload: true},
		Raft: store.RevisionTap{Next: sc.Raft, Heard: sc.heardRevision}}
	if err := sc.store.Build(s); err != nil {
		return err
	}
	for _, cue := range sc.cues() {
		s.AddCue(cue.Name)
	}
	for _, e := range c.components() {
		// A schedule may aim at the built-in controllers' writes too.
		s.AddCue(e.WriteCue())
		s.AddCue(e.StatusWriteCue())
	}
	s.AddSignal(SignalWatchGap)
	alive := func(p harness.ProcID, inc int) bool { return s.Running(p) && s.Incarnation(p) == inc }
	sc.comps = c.components()
	sc.races, sc.tenures = map[string]*election.Race{}, map[string]*election.TenureLog{}
	for _, e := range sc.comps {
		sc.races[e.LeaseRef()] = &election.Race{Alive: alive}
		sc.tenures[e.LeaseRef()] = &election.TenureLog{}
	}
	s.OnFault(func(harness.FaultRecord) {
		for _, e := range sc.comps {
			if sc.races[e.LeaseRef()].Racing() {
				s.Mark(election.MarkFaultDuringRace)
			}
		}
	})
	sc.sim = s
	sc.applied, sc.truthRev, sc.surplusRev = nil, 0, 0
	sc.masters, sc.workers = Masters(c), Workers(c)
	sc.memberHosts = store.MemberHosts(sc.store.Cfg)
	sc.actors = map[string][]actor{}
	sc.running = map[string]map[string]bool{}
	sc.issuedAt = map[issueKey]issue{}
	sc.creators, sc.seenPods, sc.decisions = map[string]creation{}, map[string]seenPod{}, map[string]decision{}
	sc.spans, sc.apiservers, sc.apiRuns = nil, nil, nil
	sc.lastOK, sc.downSince = -1, -1

	if c.Topology == store.External {
		for _, h := range sc.masters {
			s.AddHost(harness.HostConfig{Name: h})
		}
	}
	members := sc.store.Members()
	for i, h := range sc.masters {
		etcd := members
		if c.Topology == store.Stacked {
			etcd = []harness.ProcID{members[i]}
		} else {
			etcd = store.Rotate(members, i)
		}
		cfg := APIServerConfig{Name: h + "/apiserver", Etcd: etcd, Bugs: c.Bugs, Resources: c.Resources, Wrote: sc.wrote}
		sc.apiservers = append(sc.apiservers, s.AddProcess(h, "apiserver", harness.Connection, func() harness.Process { return NewAPIServer(cfg) }))
	}
	for i, h := range sc.masters {
		for _, e := range sc.comps {
			var p harness.ProcID
			p = s.AddProcess(h, e.Name, harness.Connection, func() harness.Process {
				return &Replica{comp: e, hooks: sc, proc: p, server: sc.apiservers[i], timings: c.Timings, bugs: c.Bugs, res: c.Resources}
			})
			s.OnStop(p, func(st harness.Stopped) { sc.replicaStopped(e.LeaseRef(), st) })
		}
	}

	s.AddHost(harness.HostConfig{Name: "lb"})
	names := make([]string, len(sc.masters))
	for i, h := range sc.masters {
		names[i] = h + "/apiserver"
	}
	sc.backendUp = make([]time.Duration, len(sc.masters))
	lbCfg := LBConfig{Backends: sc.apiservers, Names: names, Bugs: c.Bugs, BackendState: sc.backendState}
	sc.lb = s.AddProcess("lb", "lb", harness.Connection, func() harness.Process { return NewLB(lbCfg) })
	sc.lbs, sc.vip, sc.vipSince = []harness.ProcID{sc.lb}, sc.lb, 0
	var resolve func() harness.ProcID
	if c.StandbyLB {
		s.AddHost(harness.HostConfig{Name: "lb2"})
		standby := lbCfg
		standby.BackendState = nil
		lb2 := s.AddProcess("lb2", "lb", harness.Connection, func() harness.Process { return NewLB(standby) })
		sc.lbs = append(sc.lbs, lb2)
		var ka1, ka2 harness.ProcID
		claim := func(_ *harness.Ctx, lb harness.ProcID) {
			if lb != sc.vip {
				sc.spans = append(sc.spans, harness.Span{Lane: "VIP", Class: "leader", Label: "VIP on " + s.ProcHost(sc.vip), Start: sc.vipSince, End: s.Now()})
				sc.vip, sc.vipSince = lb, s.Now()
			}
		}
		ka1 = s.AddProcess("lb", "keepalived", harness.Datagrams, func() harness.Process {
			return &Keepalived{Priority: 100, Peer: ka2, LB: sc.lb, Claim: claim}
		})
		ka2 = s.AddProcess("lb2", "keepalived", harness.Datagrams, func() harness.Process {
			return &Keepalived{Priority: 90, Peer: ka1, LB: lb2, Claim: claim}
		})
		resolve = func() harness.ProcID { return sc.vip }
	}

	for _, h := range sc.workers {
		s.AddHost(harness.HostConfig{Name: h})
		k := Kubelet{Node: h, Server: sc.lb, Resolve: resolve, Capacity: c.Capacity, Runtime: sc, Bugs: c.Bugs}
		s.AddProcess(h, "kubelet", harness.Connection, func() harness.Process { kc := k; return &kc })
	}
	for i := range c.Users {
		h := "u" + strconv.Itoa(i+1)
		s.AddHost(harness.HostConfig{Name: h})
		u := User{Name: h, Server: sc.lb, Resolve: resolve, Keys: c.Keys, CacheReads: c.CacheReads,
			Workload: i == 0, RS: RSName, Replicas: c.Replicas, MaxReplicas: c.MaxReplicas, ScaleEvery: c.ScaleEvery,
			Recorder: sc}
		s.AddProcess(h, "user", harness.Connection, func() harness.Process { uc := u; return &uc })
	}

	for _, e := range sc.comps {
		s.AddRole(e.Role(), func() (harness.ProcID, bool) { return sc.active(e.LeaseRef()) })
	}
	s.At(0, func() { sc.observe(s) })
	return nil
}

// The cluster's own liveness conditions (Conditions lists them all).
const (
	condLeader   = "raft leader"
	condAPI      = "API answers through the LB"
	condReplicas = "desired replicas running"
)

// Conditions lists the liveness conditions the cluster reports once a
// second (Observer.Condition), in order: a raft leader, the API answering,
// one active replica of each component, the desired replicas running,
// then each component's Recovered.
func (sc *Scenario) Conditions() []string {
	out := []string{condLeader, condAPI}
	comps := sc.Cfg.components()
	for _, e := range comps {
		out = append(out, e.activeCondition())
	}
	out = append(out, condReplicas)
	for _, e := range comps {
		if e.Recovered != nil {
			out = append(out, e.recoveredCondition())
		}
	}
	return out
}

// Components returns the cluster's elected components: the built-in
// controller-manager and scheduler, then the registered ones.
func (sc *Scenario) Components() []Elected { return sc.Cfg.components() }

// MastersDownSince tells whether every master is down or paused now, and
// since when.
func (sc *Scenario) MastersDownSince() (time.Duration, bool) { return sc.downSince, sc.downSince >= 0 }

// heardRevision notes when the store first reached each new revision
// (when writes landed).
func (sc *Scenario) heardRevision(at time.Duration, rev int64) {
	if n := len(sc.applied); n == 0 || rev > sc.applied[n-1].rev {
		sc.applied = append(sc.applied, revAt{rev, at})
	}
}

// GenOptions returns fault-generation options fit for this scenario:
// faults on the masters, the load balancer and the workers.
func (sc *Scenario) GenOptions(duration time.Duration) harness.GenOptions {
	c := sc.Cfg
	c.fill()
	hosts := append(append(store.MemberHosts(store.Config{Members: c.Masters, Topology: c.Topology}), "lb"), Workers(c)...)
	if c.StandbyLB {
		hosts = append(hosts, "lb2")
	}

	if c.Topology == store.External {
		hosts = append(hosts, Masters(c)...)
	}
	comps := c.components()
	var procs []string
	for _, h := range Masters(c) {
		procs = append(procs, h+"/apiserver")
		for _, e := range comps {
			procs = append(procs, h+"/"+e.Name)
		}
	}
	roles := []harness.Role{store.RoleLeader}
	for _, e := range comps {
		roles = append(roles, e.Role())
	}
	for _, h := range store.MemberHosts(store.Config{Members: c.Masters, Topology: c.Topology}) {
		procs = append(procs, h+"/"+store.MemberProc)
	}
	if c.StandbyLB {
		procs = append(procs, "lb/lb", "lb2/lb", "lb/keepalived", "lb2/keepalived")
	}
	kinds := append(append([]string(nil), harness.AllKinds...), harness.KindTerm)
	var signals []harness.SignalSpec
	if len(c.Components) > 0 {
		// The registered components' watches lose events now and then
		// (watch-gap); the built-in controllers' are left alone, so that
		// the default cluster's schedules stay as they were.
		gap := harness.SignalSpec{Name: SignalWatchGap}
		for _, e := range c.Components {
			gap.Roles = append(gap.Roles, e.Role())
		}
		kinds, signals = append(kinds, harness.KindSignal), []harness.SignalSpec{gap}
	}
	return harness.GenOptions{Duration: duration, Settle: c.Settle, Hosts: hosts, Procs: procs,
		Roles:   roles,
		Kinds:   kinds,
		Signals: signals,
		Cues:    sc.cues(),
		// Long enough to outlast what the control plane's defences wait
		// for: the LB's fall, a lease, the API availability grace, a
		// kubelet's minute without its node lease.
		MaxFor: 2 * time.Minute}
}

// cues are the moments the cluster's components announce: the members',
// the electors' and the informers', and the writes of the registered
// components (Elected.WriteCue and StatusWriteCue: aimed at users'
// controllers, which may not expect to die between two writes, or a status
// write to land late; the built-in controllers' are left out, so that the
// default cluster's schedules stay as they were). The
// registered components' come first: rapid, which draws small choices
// more often than large ones, then picks them more often, and shrinks
// toward them; a test of a user's controller is about its writes.
func (sc *Scenario) cues() []harness.CueSpec {
	c := sc.Cfg
	c.fill()
	var roles []harness.Role
	for _, e := range c.components() {
		roles = append(roles, e.Role())
	}
	var out []harness.CueSpec
	for _, e := range c.Components {
		// What strikes a controller between two writes: it dies (killed,
		// its host crashed), or its write goes astray (cut or isolated:
		// dropped, so that it fails or lands unanswered, or held, so that
		// it lands after its writer was deposed); at any of the next few
		// writes, so that a reconcile's last write (its status, say) is
		// struck as often as its first.
		out = append(out, harness.CueSpec{Name: e.WriteCue(), Late: 3 * time.Millisecond, Roles: []harness.Role{e.Role()}, Weight: 8,
			Kinds: []string{harness.KindKill, harness.KindCrash, harness.KindPartition, harness.KindIsolate}, Nth: 4})
		// A status write held until its writer's lease ran out, and its
		// successor (which retries every RetryPeriod) took over and wrote
		// a newer status, lands over it unless it was conditional: the
		// lost update of an operator's status. Its cue strikes only with a
		// held cut or isolation, long enough for that.
		out = append(out, harness.CueSpec{Name: e.StatusWriteCue(), Late: 3 * time.Millisecond, Roles: []harness.Role{e.Role()}, Weight: 4,
			Kinds: []string{harness.KindPartition, harness.KindIsolate}, Hold: true, MinFor: c.Timings.LeaseDuration + 2*c.Timings.RetryPeriod, Nth: 2})
	}
	out = append(append(out, store.Cues(store.RoleLeader)...), election.Cues(c.Timings, roles...)...)
	return append(out, harness.CueSpec{Name: CueRelist, Late: time.Second, Ahead: 30 * time.Second, Roles: []harness.Role{store.RoleLeader}, Weight: 2})
}

// Timeline draws faults, raft leaders, the active controller-manager and
// scheduler, the load balancer's backends and the pods.
func (sc *Scenario) Timeline(s *harness.Sim) []harness.Span {
	out := sc.store.Timeline(s)
	for _, e := range sc.comps {
		for _, t := range sc.Tenures(e.LeaseRef()) {
			stop := t.End
			if stop < 0 {
				stop = s.Now()
			}
			out = append(out, harness.Span{Lane: e.Lane(), Class: "leader", Label: t.Identity, Start: t.Start, End: stop})
		}
	}
	out = append(out, sc.spans...)
	if len(sc.lbs) > 1 {
		out = append(out, harness.Span{Lane: "VIP", Class: "leader", Label: "VIP on " + s.ProcHost(sc.vip), Start: sc.vipSince, End: s.Now()})
	}
	for i, r := range sc.apiRuns {
		end := s.Now()
		if i+1 < len(sc.apiRuns) {
			end = sc.apiRuns[i+1].from
		}
		class, label := "up", "users' calls answered"
		if !r.ok {
			class, label = "down", "calls fail: "+r.detail
		}
		out = append(out, harness.Span{Lane: "API through the LB", Class: class, Label: label, Start: r.from, End: end})
	}
	for i, t := range sc.backendUp {
		if t >= 0 {
			out = append(out, harness.Span{Lane: "LB backends", Class: "up", Label: sc.masters[i] + " up", Start: t, End: s.Now()})
		}
	}
	return out
}
