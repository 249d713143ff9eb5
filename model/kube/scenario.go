package kube

import (
	"cmp"
	"fmt"
	"slices"
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

// Scenario is a whole control plane under a workload. Its parts, by
// role: the wiring of hosts and processes (Build); the ground truth,
// read outside the simulated network (truth.go, servable, workload, the
// pods' runtime); the recorder of what users and replicas did; and the
// facts it reports to its Observer. It judges nothing: a judged scenario
// (checkers/judge, as the registry builds) sets Observer and Raft before
// Build and gives the verdicts. One value serves one run at a time.
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
	comps       []Elected                  // the elected components
	tenures     map[string]*tenureLog      // lease → its tenures
	actors      map[string][]actor         // lease → acting now, in order of starting
	running     map[string]map[string]bool // node → pods running
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

type revAt struct {
	rev int64
	at  time.Duration
}

type apiRun struct {
	from   time.Duration
	ok     bool
	detail string
}

type actor struct {
	identity string
	proc     harness.ProcID
	inc      int
}

type issueKey struct {
	agent string
	id    uint64
}

type issue struct {
	lease, what string
	at          time.Duration
}

// creation is a pod create a controller issued, and the decision it came
// from.
type creation struct {
	key issueKey
	decision
	failed bool // the controller was told it failed
}

// reported implements replicaHooks: the facts the ReplicaSet controller
// reports, for no-surplus-pods.
func (sc *Scenario) reported(_ *harness.Ctx, identity string, f Fact) {
	switch f := f.(type) {
	case CreateFailed:
		if c, ok := sc.creators[f.Pod]; ok {
			c.failed = true
			sc.creators[f.Pod] = c
		}
	case CreateDecided:
		sc.decided(identity, f)
	}
}

// decision is a ReplicaSet controller's decision to create pods: when, and
// whether it counted fewer pods than the store held though its informer
// had synced (stale), or read an older ReplicaSet than the store's
// (staleSpec).
type decision struct {
	at               time.Duration
	stale, staleSpec bool
}

// seenPod is a workload pod as the surplus sampling knows it.
type seenPod struct {
	creator string // "" when no controller's create is known
	landed  time.Duration
	failed  bool // its creator was told the create failed
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
		Raft: raftTap{sc: sc, next: sc.Raft}}
	if err := sc.store.Build(s); err != nil {
		return err
	}
	for _, cue := range sc.cues() {
		s.AddCue(cue.Name)
	}
	alive := func(p harness.ProcID, inc int) bool { return s.Running(p) && s.Incarnation(p) == inc }
	sc.comps = c.components()
	sc.races, sc.tenures = map[string]*election.Race{}, map[string]*tenureLog{}
	for _, e := range sc.comps {
		sc.races[e.LeaseRef()] = &election.Race{Alive: alive}
		sc.tenures[e.LeaseRef()] = &tenureLog{}
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

// raftTap hears the members' raft facts first (when the store first
// reached each revision, for when writes landed), then passes them on.
type raftTap struct {
	sc   *Scenario
	next store.RaftObserver
}

func (r raftTap) Leader(at time.Duration, member, term uint64) {
	if r.next != nil {
		r.next.Leader(at, member, term)
	}
}

func (r raftTap) LeaderLog(at time.Duration, member, leaderTerm, first uint64, term func(uint64) (uint64, bool)) {
	if r.next != nil {
		r.next.LeaderLog(at, member, leaderTerm, first, term)
	}
}

func (r raftTap) Applied(at time.Duration, member, index, term, digest, by uint64) {
	if r.next != nil {
		r.next.Applied(at, member, index, term, digest, by)
	}
}

func (r raftTap) Reset(member, index uint64) {
	if r.next != nil {
		r.next.Reset(member, index)
	}
}

func (r raftTap) Revision(at time.Duration, member uint64, rev int64) {
	if n := len(r.sc.applied); n == 0 || rev > r.sc.applied[n-1].rev {
		r.sc.applied = append(r.sc.applied, revAt{rev, at})
	}
	if r.next != nil {
		r.next.Revision(at, member, rev)
	}
}

func (r raftTap) Panicked(at time.Duration, member uint64, msg string) {
	if r.next != nil {
		r.next.Panicked(at, member, msg)
	}
}

func (sc *Scenario) active(lease string) (harness.ProcID, bool) {
	if a := sc.actors[lease]; len(a) > 0 {
		return a[len(a)-1].proc, true
	}
	return harness.NoProc, false
}

// started, stopped and issued implement replicaHooks.
func (sc *Scenario) started(ctx *harness.Ctx, lease, identity string, proc harness.ProcID) {
	sc.tenures[lease].start(sc.sim.Now(), identity)
	sc.obs.Acting(sc.sim.Now(), lease, identity, true)
	sc.actors[lease] = append(sc.actors[lease], actor{identity: identity, proc: proc, inc: ctx.Incarnation()})
}

func (sc *Scenario) stopped(_ *harness.Ctx, lease, identity string) {
	sc.tenures[lease].stop(sc.sim.Now(), identity)
	sc.obs.Acting(sc.sim.Now(), lease, identity, false)
	as := sc.actors[lease]
	for i, a := range as {
		if a.identity == identity {
			sc.actors[lease] = append(as[:i], as[i+1:]...)
			break
		}
	}
}

// replicaStopped ends the tenure of a replica whose process stopped while
// it acted: it acts no more, whatever its elector last said.
func (sc *Scenario) replicaStopped(lease string, st harness.Stopped) {
	now := sc.sim.Now()
	as := sc.actors[lease][:0]
	for _, a := range sc.actors[lease] {
		if a.proc == st.Proc && a.inc == st.Incarnation {
			sc.tenures[lease].stop(now, a.identity)
			sc.obs.Acting(now, lease, a.identity, false)
			continue
		}
		as = append(as, a)
	}
	sc.actors[lease] = as
}

func (sc *Scenario) issued(_ *harness.Ctx, lease, identity string, id uint64, what string) {
	sc.issuedAt[issueKey{identity, id}] = issue{lease: lease, what: what, at: sc.sim.Now()}
	if pod, ok := strings.CutPrefix(what, "create "+string(Pods)+"/"); ok {
		sc.creators[pod] = creation{key: issueKey{identity, id}, decision: sc.decisions[identity]}
	}
}

// acquiring implements replicaHooks.
func (sc *Scenario) acquiring(ctx *harness.Ctx, lease, identity string, on bool) {
	sc.races[lease].Acquiring(ctx, identity, on)
}

// decided is the ReplicaSet controller's hook: before it creates pods, the
// scenario notes whether its view was stale, as a list from a lagging watch
// cache (resourceVersion "0") may be: fewer pods than the store held though
// its informer had synced, or a ReplicaSet older than the store's (a spec
// that may want more replicas than it now does).
func (sc *Scenario) decided(identity string, f CreateDecided) {
	held, staleSpec := -1, false
	if f.Owner == RSName {
		if _, pods, ok := sc.workload(sc.sim); ok {
			held = len(pods)
		}
		if t := sc.truthNow(sc.sim); t != nil {
			if rs, ok := t.Get(ReplicaSets, RSName); ok && rs.RV > f.OwnerRV {
				staleSpec = true
			}
		}
	}
	sc.decisions[identity] = decision{at: sc.sim.Now(), stale: f.Synced && f.Saw < held, staleSpec: staleSpec}
}

// appliedAt returns when some member first reached revision rev (now if
// the record does not reach back that far).
func (sc *Scenario) appliedAt(rev int64) time.Duration {
	i, _ := slices.BinarySearchFunc(sc.applied, rev, func(r revAt, rev int64) int { return cmp.Compare(r.rev, rev) })
	if i < len(sc.applied) {
		return sc.applied[i].at
	}
	return sc.sim.Now()
}

// wrote is the API servers' hook: a write landed. A write to the
// workload is sampled at once, so that no brief surplus hides between two
// periodic samples. A controller's write landed when the store applied it
// (its revision), not when the API server heard back.
func (sc *Scenario) wrote(_ *harness.Ctx, req Request, obj Object) {
	if req.Kind == Pods || req.Kind == ReplicaSets {
		sc.sampleSurplus(sc.sim.Now())
	}
	k := issueKey{req.Agent, req.ID}
	if is, ok := sc.issuedAt[k]; ok {
		delete(sc.issuedAt, k)
		sc.obs.Landed(LandedWrite{Who: req.Agent, Lease: is.lease, What: is.what, Issued: is.at, Landed: sc.appliedAt(obj.RV)})
	}
}

func (sc *Scenario) backendState(_ *harness.Ctx, i int, up bool) {
	now := sc.sim.Now()
	was := sc.backendUp[i]
	switch {
	case up && was < 0:
		sc.backendUp[i] = now
	case !up && was >= 0:
		sc.spans = append(sc.spans, harness.Span{Lane: "LB backends", Class: "up", Label: sc.masters[i] + " up", Start: was, End: now})
		sc.backendUp[i] = -1
	}
}

// Running, IsRunning, StartPod and StopPod implement Runtime.
func (sc *Scenario) Running(node string) []string { return harness.SortedKeys(sc.running[node]) }

// IsRunning implements Runtime.
func (sc *Scenario) IsRunning(node, pod string) bool { return sc.running[node][pod] }

// StartPod implements Runtime.
func (sc *Scenario) StartPod(ctx *harness.Ctx, node, pod string) {
	if sc.running[node] == nil {
		sc.running[node] = map[string]bool{}
	}
	sc.running[node][pod] = true
	ctx.Notef("pod %s starts on %s", pod, node)
	sc.obs.PodStarted(sc.sim.Now(), node, pod)
}

// StopPod implements Runtime.
func (sc *Scenario) StopPod(ctx *harness.Ctx, node, pod, cause string) {
	if !sc.running[node][pod] {
		return
	}
	if cause == StopDeleted {
		// The kubelet's word is not enough: the pod must really be gone
		// (or bound elsewhere) in the store.
		if kv := sc.truth(sc.sim); kv != nil {
			if res, err := kv.Range(store.Op{Kind: store.OpRange, Key: Key(Pods, pod)}); err == nil && len(res.KVs) == 1 {
				if o, ok := decodeObject(res.KVs[0].Key, res.KVs[0].Value, res.KVs[0].ModRevision); ok && o.Node == node {
					cause = "stopped while still bound here"
				}
			}
		}
	}
	delete(sc.running[node], pod)
	if ctx != nil {
		ctx.Notef("pod %s stops on %s (%s)", pod, node, cause)
	} else {
		sc.sim.Notef("pod %s stops on %s (%s)", pod, node, cause)
	}
	sc.obs.PodStopped(sc.sim.Now(), node, pod, cause)
}

// Begin implements UserRecorder: it notes when the API last answered a
// user and how the users' calls fared (for the liveness condition and the
// timeline), and reports the call.
func (sc *Scenario) Begin(ctx *harness.Ctx, user string, req Request, prev string) func(Response) {
	heard := sc.obs.UserCall(UserCall{User: user, Client: int(ctx.Self()), Req: req, Prev: prev, Start: sc.sim.Now()})
	return func(r Response) {
		now := sc.sim.Now()
		answered := r.Code == StatusOK || r.Code == StatusCreated || r.Code == StatusNotFound || r.Code == StatusConflict
		if answered {
			sc.lastOK = now
		}
		if n := len(sc.apiRuns); n == 0 || sc.apiRuns[n-1].ok != answered {
			detail := ""
			if !answered {
				detail = fmt.Sprintf("%s %s: code %d%s", user, req.Verb, r.Code, ReasonSuffix(r.Reason))
			}
			sc.apiRuns = append(sc.apiRuns, apiRun{from: now, ok: answered, detail: detail})
		}
		heard(r)
	}
}

// ReasonSuffix is ", reason" for a response's reason, if it has one.
func ReasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ", " + r
}

// observe samples the ground truth every 100ms of true time: pods on a
// crashed worker stop; the availability oracle, the workload and the
// liveness conditions.
func (sc *Scenario) observe(s *harness.Sim) {
	now := s.Now()
	for _, w := range sc.workers {
		if !s.HostUp(w) {
			for _, pod := range sc.Running(w) {
				sc.StopPod(nil, w, pod, StopHostDown)
			}
		}
	}
	allDown := true
	for _, m := range sc.masters {
		if s.HostUp(m) && !s.HostPaused(m) {
			allDown = false
		}
	}
	switch {
	case allDown && sc.downSince < 0:
		sc.downSince = now
	case !allDown && sc.downSince >= 0:
		sc.obs.MastersDown(sc.downSince, now)
		sc.downSince = -1
	}
	serving, state := sc.servable(s)
	sc.obs.Servable(now, serving, state)
	if now%time.Second == 0 {
		sc.sample(s, now)
	}
	if now%(30*time.Second) == 0 {
		sc.obs.Tick(now)
		// Writes that never landed as far as any API server saw (failed,
		// or of unknown outcome) are forgotten after ten minutes.
		for len(sc.applied) > 1 && now-sc.applied[0].at > 10*time.Minute {
			sc.applied = sc.applied[1:]
		}
		//detlint:allow maprange deleting by a predicate: the result does not depend on the order
		for k, is := range sc.issuedAt {
			if now-is.at > 10*time.Minute {
				delete(sc.issuedAt, k)
			}
		}
		//detlint:allow maprange deleting by a predicate: the result does not depend on the order
		for pod, c := range sc.creators {
			if _, ok := sc.issuedAt[c.key]; !ok {
				delete(sc.creators, pod) // a create that never landed, forgotten
			}
		}
	}
	if next := now + 100*time.Millisecond; next < s.Duration() {
		s.At(next, func() { sc.observe(s) })
	}
}

// servable is the availability oracle: the API can serve through the load
// balancer when the LB runs, every user reaches it over a clear link, and
// some API server behind it runs, is reachable, and reaches an etcd member
// that is connected to a quorum. The state names the serving backends.
func (sc *Scenario) servable(s *harness.Sim) (bool, string) {
	net := s.Network()
	up := func(h string) bool { return s.HostUp(h) && !s.HostPaused(h) }
	lbHost := s.ProcHost(sc.vip)
	if !up(lbHost) || !s.Running(sc.vip) {
		return false, "load balancer down"
	}
	for i := range sc.Cfg.Users {
		u := "u" + strconv.Itoa(i+1)
		if !up(u) || !net.Clear(u, lbHost) || !net.Clear(lbHost, u) {
			return false, "user " + u + " cut off"
		}
	}
	if d := s.Impaired(); d != "" {
		return false, "degraded: " + d
	}
	both := func(a, b string) bool { return net.Clear(a, b) && net.Clear(b, a) }
	members := sc.memberHosts
	memberOK := make([]bool, len(members))
	for j := range members {
		memberOK[j] = up(members[j]) && s.Running(sc.store.Members()[j])
	}
	// A member serves while it and the raft leader reach each other and a
	// quorum: one cut from the leader alone, though connected to a
	// majority, stays without a leader as long as the others still hear
	// from it (CheckQuorum makes them refuse its votes).
	leaderProc, hasLeader := sc.store.Leader()
	if !hasLeader {
		return false, "no raft leader"
	}
	leader := s.ProcHost(leaderProc)
	quorum := make([]bool, len(members))
	for j := range members {
		if !memberOK[j] || !both(members[j], leader) {
			continue
		}
		n := 0
		for k := range members {
			if memberOK[k] && both(members[j], members[k]) {
				n++
			}
		}
		quorum[j] = n > len(members)/2
	}
	var good, flaky []string
	for i, m := range sc.masters {
		if !up(m) || !s.Running(sc.apiservers[i]) || !net.Clear(lbHost, m) || !net.Clear(m, lbHost) {
			continue
		}
		ok := false
		if sc.Cfg.Topology == store.Stacked {
			ok = quorum[i]
		} else {
			// Externally, an API server sends to every member in turn: the
			// members it reaches are part of the state, since calls sent
			// to one it cannot reach hang until its etcd client's
			// keepalive gives up on it. A member it reaches that is not
			// connected to the quorum (cut one way from the others) still
			// answers the client, so the client never gives up on it and
			// every call sent there fails. Its /healthz, answered through
			// the members in turn, passes at times, so the load balancer
			// may keep it in rotation for good: while such a server runs,
			// the API cannot be counted on.
			var reach, stray []string
			for j := range members {
				if both(m, members[j]) {
					reach = append(reach, members[j])
					ok = ok || quorum[j]
					if !quorum[j] {
						stray = append(stray, members[j])
					}
				}
			}
			if ok && len(stray) > 0 {
				return false, "degraded: " + m + " also sends to " + strings.Join(stray, ",") + ", cut from the etcd quorum, and its /healthz passes at times"
			}
			// Its /healthz probes the members in turn too, with a
			// deadline of its own: a probe sent to a member it cannot
			// reach fails, and the health client never gives up on that
			// member (its calls end too soon), so the health check fails
			// now and then, three times in a row at times, and the load
			// balancer takes the server out and back. Only a server that
			// reaches every member, all connected to the quorum, stays in
			// rotation for sure.
			if ok && len(reach) < len(members) {
				flaky = append(flaky, m+"("+strings.Join(reach, ",")+")")
				continue
			}
			m += "(" + strings.Join(reach, ",") + ")"
		}
		if ok {
			good = append(good, m)
		}
	}
	if len(good) == 0 && len(flaky) > 0 {
		return false, "degraded: the /healthz of " + strings.Join(flaky, ",") + " fails at times: some members are out of reach"
	}
	if len(good) == 0 {
		return false, "no API server reaches an etcd quorum"
	}
	// The members connected to a quorum are part of the state: when one is
	// cut off, API servers still send to it (externally: until their etcd
	// client's keepalive gives up on it), and the grace starts again.
	var live []string
	for j, h := range members {
		if quorum[j] {
			live = append(live, h)
		}
	}
	return true, "serving via " + lbHost + " and " + strings.Join(good, ",") + "; etcd quorum on " + strings.Join(live, ",") + " led by " + leader
}

// truth returns the freshest store state of a running member (the one
// that applied the most).
func (sc *Scenario) truth(s *harness.Sim) *store.MVCC {
	var best *store.Member
	for _, p := range sc.store.Members() {
		if m, ok := s.Instance(p).(*store.Member); ok && (best == nil || m.KV().Rev() > best.KV().Rev()) {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	return best.KV()
}

// truthNow is the ground truth for observers, or nil while it is
// unknown (no member runs, or the furthest one is down, so that what the
// others hold is older than what was already seen).
func (sc *Scenario) truthNow(s *harness.Sim) *Truth {
	kv := sc.truth(s)
	if kv == nil || kv.Rev() < sc.truthRev {
		return nil
	}
	return &Truth{kv: kv}
}

// workload reads the ReplicaSet's desired replicas and its pods from the
// store's truth. While the member that had got furthest is down, the
// others' state is older than what was already seen: the truth is unknown
// then (reading it would make pods deleted since come back, to an
// observer).
func (sc *Scenario) workload(s *harness.Sim) (want int, pods []Object, ok bool) {
	kv := sc.truth(s)
	sc.truthBehind = kv != nil && kv.Rev() < sc.truthRev
	if kv == nil || sc.truthBehind {
		return 0, nil, false
	}
	sc.truthRev = kv.Rev()
	rs, err := kv.Range(store.Op{Kind: store.OpRange, Key: Key(ReplicaSets, RSName)})
	if err != nil || len(rs.KVs) == 0 {
		return 0, nil, false
	}
	o, _ := decodeObject(rs.KVs[0].Key, rs.KVs[0].Value, rs.KVs[0].ModRevision)
	res, err := kv.Range(store.Op{Kind: store.OpRange, Key: KindPrefix(Pods), Prefix: true})
	if err != nil {
		return 0, nil, false
	}
	for _, p := range res.KVs {
		if po, ok := decodeObject(p.Key, p.Value, p.ModRevision); ok && po.Owner == RSName {
			po.Created = p.CreateRevision
			pods = append(pods, po)
		}
	}
	return o.Replicas, pods, true
}

// sampleSurplus samples the workload for no-surplus-pods. Four kinds of
// surplus creation are excused, as Kubernetes' design allows them (leader
// election has no fencing; lists from the watch cache may be stale):
//   - a create that landed after its controller stopped acting: a
//     partition may hold a deposed controller's create, its API server long
//     since answered 504, until after the successor made up for it
//     (deposed-writes reports it, and hears of it here when no API server
//     saw it succeed);
//   - a create decided before a create it could not count on landed (another
//     controller's, or one taken for failed): the controller could not
//     know;
//   - a create the controller was told had failed (the API server gave up:
//     504), which landed all the same; the ReplicaSet controller counts it
//     as failed, as Kubernetes' does;
//   - a create decided from an informer that had synced but counted fewer
//     pods than the store held, or from a ReplicaSet older than the
//     store's (lists from a lagging watch cache, as resourceVersion "0"
//     allows).
//
// What no-surplus-pods judges is a controller creating too many from what
// it could know. It returns the workload it read.
func (sc *Scenario) sampleSurplus(now time.Duration) (want int, pods []Object, ok bool) {
	want, pods, ok = sc.workload(sc.sim)
	if !ok {
		if sc.truthBehind {
			sc.obs.Workload(WorkloadSample{At: now, RS: RSName})
		}
		return
	}
	present := make(map[string]bool, len(pods))
	var fresh []Object
	made := map[string]creation{}
	for _, p := range pods {
		present[p.Name] = true
		if _, seen := sc.seenPods[p.Name]; seen {
			continue
		}
		sp := seenPod{landed: sc.appliedAt(p.Created)}
		if c, ok := sc.creators[p.Name]; ok {
			delete(sc.creators, p.Name)
			sp.creator, sp.failed, made[p.Name] = c.key.agent, c.failed, c
		}
		sc.seenPods[p.Name] = sp
		fresh = append(fresh, p)
	}
	for _, name := range harness.SortedKeys(sc.seenPods) {
		if !present[name] {
			delete(sc.seenPods, name)
		}
	}
	var excuses []string
	for _, p := range fresh {
		c, ok := made[p.Name]
		if !ok {
			continue
		}
		landed := sc.seenPods[p.Name].landed
		switch {
		case !sc.tenures[LeaseControllerManager].actedAt(c.key.agent, landed):
			excuses = append(excuses, "landed after its creator was deposed (see deposed-writes)")
			if is, pending := sc.issuedAt[c.key]; pending {
				delete(sc.issuedAt, c.key)
				sc.obs.Landed(LandedWrite{Who: c.key.agent, Lease: is.lease, What: is.what, Issued: is.at, Landed: landed})
			}
		case c.failed:
			excuses = append(excuses, "landed after its controller took it for failed (a 5xx or a time-out: outcome unknown)")
		case sc.racedBy(c):
			excuses = append(excuses, "decided before a create it could not count on landed (another controller's, or one taken for failed)")
		case c.stale:
			excuses = append(excuses, "decided from a synced but stale watch-cache list")
		case c.staleSpec:
			excuses = append(excuses, "decided from a ReplicaSet older than the store's (a lagging watch cache's)")
		}
	}
	sc.obs.Workload(WorkloadSample{At: now, RS: RSName, Known: true, Want: sc.peakWant(want), Pods: len(pods), Excuses: excuses})
	return
}

// peakWant returns the most replicas the ReplicaSet wanted at any revision
// since the last surplus sample, want (what it wants now) included. A
// spec may hold for only a few milliseconds between two samples (a late
// scale-up that landed after its writer gave up, overwritten at once), and
// a controller that saw it rightly created pods for it. Compaction keeps
// at least the last five minutes; should it have removed the revisions
// (the truth unknown for longer), only the current spec counts.
func (sc *Scenario) peakWant(want int) int {
	kv := sc.truth(sc.sim)
	if kv == nil {
		return want
	}
	from := sc.surplusRev + 1
	sc.surplusRev = kv.Rev()
	evs, err := kv.Events(Key(ReplicaSets, RSName), false, from)
	if err != nil {
		return want
	}
	for _, e := range evs {
		if o, ok := decodeObject(e.KV.Key, e.KV.Value, e.KV.ModRevision); ok && e.Type == store.EventPut {
			want = max(want, o.Replicas)
		}
	}
	return want
}

// racedBy reports whether, after c's decision, a create landed that its
// decider could not count on: another controller's, or one its creator
// had been told failed.
func (sc *Scenario) racedBy(c creation) bool {
	for _, name := range harness.SortedKeys(sc.seenPods) {
		if q := sc.seenPods[name]; q.creator != "" && (q.creator != c.key.agent || q.failed) && q.landed > c.at {
			return true
		}
	}
	return false
}

// sample runs once a second: surplus and liveness.
func (sc *Scenario) sample(s *harness.Sim, now time.Duration) {
	want, pods, ok := sc.sampleSurplus(now)
	_, leader := sc.store.Leader()
	sc.obs.Condition(now, condLeader, leader, "")
	apiOK := sc.lastOK >= 0 && now-sc.lastOK <= 5*time.Second
	sc.obs.Condition(now, condAPI, apiOK, "last answer "+harness.FormatTime(sc.lastOK))
	for _, e := range sc.comps {
		n := len(sc.actors[e.LeaseRef()])
		sc.obs.Condition(now, e.activeCondition(), n == 1, strconv.Itoa(n)+" acting")
	}
	running := 0
	for _, p := range pods {
		if p.Node != "" && sc.running[p.Node][p.Name] {
			running++
		}
	}
	sc.obs.Condition(now, condReplicas, ok && running == want && len(pods) == want,
		fmt.Sprintf("%d of %d pods running, %d exist", running, want, len(pods)))
	var truth *Truth
	for _, e := range sc.comps {
		if e.Recovered == nil {
			continue
		}
		if truth == nil {
			if truth = sc.truthNow(s); truth == nil {
				sc.obs.Condition(now, e.recoveredCondition(), false, "the store's truth is unknown (its furthest member is down)")
				continue
			}
		}
		err := e.Recovered(truth)
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		sc.obs.Condition(now, e.recoveredCondition(), err == nil, detail)
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
	return harness.GenOptions{Duration: duration, Settle: c.Settle, Hosts: hosts, Procs: procs,
		Roles: roles,
		Kinds: append(append([]string(nil), harness.AllKinds...), harness.KindTerm),
		Cues:  sc.cues(),
		// Long enough to outlast what the control plane's defences wait
		// for: the LB's fall, a lease, the API availability grace, a
		// kubelet's minute without its node lease.
		MaxFor: 2 * time.Minute}
}

// cues are the moments the cluster's components announce: the members',
// the electors' and the informers'.
func (sc *Scenario) cues() []harness.CueSpec {
	c := sc.Cfg
	c.fill()
	var roles []harness.Role
	for _, e := range c.components() {
		roles = append(roles, e.Role())
	}
	out := append(store.Cues(store.RoleLeader), election.Cues(c.Timings, roles...)...)
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
