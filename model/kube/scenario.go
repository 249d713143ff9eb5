package kube

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hasim/checkers"
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
			return fmt.Errorf("components[%d].lease: %q has the name of another component's lease", k, e.lease())
		}
		names[e.Name], leases[e.LeaseName()] = true, true
	}
	return nil
}

// RSName is the workload's ReplicaSet.
const RSName = "default/web"

// Scenario is a whole control plane under a workload; it implements
// harness.Scenario. One value serves one run at a time.
type Scenario struct {
	Cfg Config
	// LinearizabilityTimeout bounds porcupine [store.LinearizabilityTimeout].
	LinearizabilityTimeout time.Duration

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

	single     map[string]*checkers.SingleActive
	deposed    *checkers.DeposedWrites
	continuity *checkers.Continuity
	travel     *checkers.NoTimeTravel
	avail      *checkers.Availability
	surplus    *checkers.Surplus
	live       *checkers.Liveness
	keys       map[string]*keyHistory // register histories still open
	userEpoch  map[string]int         // by user, the newest key epoch it called in
	lin        linTally
	unknownKV  map[string]int
	lastOK     time.Duration // last user call answered through the LB
	downSince  time.Duration // every master down since (-1: not)
	spans      []harness.Span
	apiRuns    []apiRun // API availability through the LB, as users saw it: changes only
	applied    []revAt  // when the store first reached each new revision (recent ones)

	artifacts     string
	artifactPaths []string
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

// SetArtifacts sets where checkers write their views (the
// linearizability HTML view).
func (sc *Scenario) SetArtifacts(dir string) { sc.artifacts = dir }

// ArtifactPaths lists the files the last Check wrote.
func (sc *Scenario) ArtifactPaths() []string { return sc.artifactPaths }

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
	sc.store = store.Scenario{Cfg: store.Config{Members: c.Masters, Topology: c.Topology, Bugs: c.Bugs, Network: c.Network, NoWorkload: true}}
	if err := sc.store.Build(s); err != nil {
		return err
	}
	for _, cue := range sc.cues() {
		s.AddCue(cue.Name)
	}
	alive := func(p harness.ProcID, inc int) bool { return s.Running(p) && s.Incarnation(p) == inc }
	sc.comps = c.components()
	sc.races = map[string]*election.Race{}
	sc.single = map[string]*checkers.SingleActive{}
	for _, e := range sc.comps {
		sc.races[e.lease()] = &election.Race{Alive: alive}
		sc.single[e.lease()] = checkers.NewSingleActive(e.SingleActiveCheck())
	}
	s.OnFault(func(harness.FaultRecord) {
		for _, e := range sc.comps {
			if sc.races[e.lease()].Racing() {
				s.Mark(election.MarkFaultDuringRace)
			}
		}
	})
	sc.sim = s
	sc.applied, sc.truthRev, sc.surplusRev = nil, 0, 0
	sc.store.Safety().OnRevision = func(at time.Duration, rev int64) {
		if n := len(sc.applied); n == 0 || rev > sc.applied[n-1].rev {
			sc.applied = append(sc.applied, revAt{rev, at})
		}
	}
	sc.masters, sc.workers = Masters(c), Workers(c)
	sc.memberHosts = store.MemberHosts(sc.store.Cfg)
	sc.actors = map[string][]actor{}
	sc.running = map[string]map[string]bool{}
	sc.issuedAt = map[issueKey]issue{}
	sc.creators, sc.seenPods, sc.decisions = map[string]creation{}, map[string]seenPod{}, map[string]decision{}
	sc.unknownKV = map[string]int{}
	sc.keys, sc.lin = map[string]*keyHistory{}, linTally{KeyTally: checkers.KeyTally{Check: model.CheckAPILinearizable}}
	sc.userEpoch = map[string]int{}
	sc.spans, sc.apiservers, sc.apiRuns = nil, nil, nil
	sc.lastOK, sc.downSince = -1, -1
	sc.deposed = checkers.NewDeposedWrites(model.CheckDeposedWrites)
	sc.continuity = checkers.NewContinuity(model.CheckWorkloadContinuity)
	sc.travel = checkers.NewNoTimeTravel(model.CheckNoTimeTravel)
	grace := AvailabilityGrace
	if c.Topology == store.External {
		// An API server keeps sending to a dead external member until
		// its etcd client's keepalive gives up on it.
		grace += store.KeepaliveDead
	}
	sc.avail = checkers.NewAvailability(model.CheckAPIAvailable, grace)
	sc.avail.Resolution = 100 * time.Millisecond
	sc.surplus = checkers.NewSurplus(model.CheckNoSurplusPods, time.Minute)
	sc.live = checkers.NewLiveness(model.CheckRecoversAfterHeal)
	sc.live.Budget(RecoveryBudget(c.Timings))
	sc.live.Condition(condLeader)
	sc.live.Condition(condAPI)
	for _, e := range sc.comps {
		sc.live.Condition(e.activeCondition())
	}
	sc.live.Condition(condReplicas)
	for _, e := range sc.comps {
		if e.Recovered != nil {
			sc.live.Condition(e.recoveredCondition())
		}
	}

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
			s.OnStop(p, func(st harness.Stopped) { sc.replicaStopped(e.lease(), st) })
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
		s.AddRole(e.Role(), func() (harness.ProcID, bool) { return sc.active(e.lease()) })
	}
	s.At(0, func() { sc.observe(s) })
	return nil
}

// AvailabilityGrace is how long after any change the API may stay
// unavailable through the load balancer: three failed health checks of 2s
// each plus their timeouts, a raft election, and a call's timeout.
const AvailabilityGrace = 25 * time.Second

// RecoveryBudget is how long after the last fault the whole control plane
// may take to recover: a raft election, a lease duration and retry for the
// new leaders, the load balancer's rise, and slack for what callers need to
// notice broken connections (client-go's 30s read-idle ping and its 15s
// timeout) and for the workload to converge.
func RecoveryBudget(t election.Timings) time.Duration {
	rise := DefaultLBRise * DefaultLBCheckInterval
	slack := 45*time.Second + 2*t.RetryPeriod + 15*time.Second
	return checkers.RecoveryBudget(store.ElectionTicks*store.TickInterval, t.LeaseDuration, rise, slack)
}

// Liveness conditions.
const (
	condLeader   = "raft leader"
	condAPI      = "API answers through the LB"
	condReplicas = "desired replicas running"
)

func (sc *Scenario) active(lease string) (harness.ProcID, bool) {
	if a := sc.actors[lease]; len(a) > 0 {
		return a[len(a)-1].proc, true
	}
	return harness.NoProc, false
}

// started, stopped and issued implement replicaHooks.
func (sc *Scenario) started(ctx *harness.Ctx, lease, identity string, proc harness.ProcID) {
	sc.single[lease].Start(sc.sim.Now(), identity)
	sc.deposed.Start(lease, identity, sc.sim.Now())
	sc.actors[lease] = append(sc.actors[lease], actor{identity: identity, proc: proc, inc: ctx.Incarnation()})
}

func (sc *Scenario) stopped(_ *harness.Ctx, lease, identity string) {
	sc.single[lease].Stop(sc.sim.Now(), identity)
	sc.deposed.Stop(lease, identity, sc.sim.Now())
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
			sc.single[lease].Stop(now, a.identity)
			sc.deposed.Stop(lease, a.identity, now)
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
		sc.deposed.Write(checkers.ActorWrite{Who: req.Agent, Lease: is.lease, What: is.what, Issued: is.at, Landed: sc.appliedAt(obj.RV)})
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
	sc.continuity.Started(sc.sim.Now(), node, pod)
}

// StopPod implements Runtime.
func (sc *Scenario) StopPod(ctx *harness.Ctx, node, pod, cause string) {
	if !sc.running[node][pod] {
		return
	}
	if cause == string(checkers.StopDeleted) {
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
	sc.continuity.Stopped(sc.sim.Now(), node, pod, checkers.StopCause(cause))
}

// Begin implements UserRecorder: it records a user's call for the
// checkers and returns what to call with the answer. ConfigMap calls that
// are not cache reads become register operations for the linearizability
// check (values are unique per write, so an update conditional on a
// resourceVersion is a compare-and-set on the data seen with it).
func (sc *Scenario) Begin(ctx *harness.Ctx, user string, req Request, prev string) func(Response) {
	start := sc.sim.Now()
	key := string(req.Kind) + "/" + req.Name
	if req.Kind == ConfigMaps {
		if e, seen := sc.userEpoch[user]; !seen || configMapEpoch(req.Name) > e {
			sc.userEpoch[user] = configMapEpoch(req.Name)
		}
	}
	var kh *keyHistory
	lin := -1
	if req.Kind == ConfigMaps && req.RV != RVCache {
		op := checkers.RegisterOp{Client: int(ctx.Self()), Key: key, Start: start, End: -1}
		switch req.Verb {
		case Get:
			op.Kind = checkers.RegisterRead
		case Create:
			op.Kind, op.FromNone, op.To = checkers.RegisterCas, true, req.Obj.Data
		case Update:
			op.Kind, op.From, op.To = checkers.RegisterCas, prev, req.Obj.Data
		}
		kh = sc.keys[key]
		if kh == nil {
			kh = &keyHistory{epoch: configMapEpoch(req.Name)}
			sc.keys[key] = kh
		}
		lin = len(kh.ops)
		kh.ops = append(kh.ops, op)
		kh.pending++
	}
	return func(r Response) {
		now := sc.sim.Now()
		answered := r.Code == StatusOK || r.Code == StatusCreated || r.Code == StatusNotFound || r.Code == StatusConflict
		if answered {
			sc.lastOK = now
		}
		if n := len(sc.apiRuns); n == 0 || sc.apiRuns[n-1].ok != answered {
			detail := ""
			if !answered {
				detail = fmt.Sprintf("%s %s: code %d%s", user, req.Verb, r.Code, reasonSuffix(r.Reason))
			}
			sc.apiRuns = append(sc.apiRuns, apiRun{from: now, ok: answered, detail: detail})
		}
		sc.avail.Call(start, now, answered, fmt.Sprintf("%s %s %s (code %d%s)", user, req.Verb, key, r.Code, reasonSuffix(r.Reason)))
		if lin >= 0 {
			kh.pending--
			op := &kh.ops[lin]
			op.End = now
			switch {
			case answered && req.Verb == Get:
				op.Value, op.None = r.Obj.Data, r.Code == StatusNotFound
			case answered:
				op.OK = r.Code == StatusOK || r.Code == StatusCreated
			case req.Verb.Write() && Indeterminate(r.Code):
				op.Indeterminate = true
			default:
				op.Failed = true
			}
		}
		if r.Code == StatusOK || r.Code == StatusCreated {
			mode := checkers.RVQuorum
			switch {
			case req.Verb.Write():
				mode = checkers.RVWrite
			case req.RV == RVCache:
				mode = checkers.RVCache
			}
			sc.travel.Observe(checkers.RVObservation{Client: user, Mode: mode, Key: key, RV: r.Obj.RV, Found: true,
				At: now, Start: start, Server: r.Server})
		}
	}
}

func reasonSuffix(r string) string {
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
				sc.StopPod(nil, w, pod, string(checkers.StopHostDown))
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
		sc.continuity.MastersDown(sc.downSince, now)
		sc.downSince = -1
	}
	serving, state := sc.servable(s)
	sc.avail.State(now, serving, state)
	if now%time.Second == 0 {
		sc.sample(s, now)
	}
	if now%(30*time.Second) == 0 {
		sc.sweepKeys()
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
			sc.surplus.Skip()
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
		case !sc.single[LeaseControllerManager].ActedAt(c.key.agent, landed):
			excuses = append(excuses, "landed after its creator was deposed (see deposed-writes)")
			if is, pending := sc.issuedAt[c.key]; pending {
				delete(sc.issuedAt, c.key)
				sc.deposed.Write(checkers.ActorWrite{Who: c.key.agent, Lease: is.lease, What: is.what, Issued: is.at, Landed: landed})
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
	sc.surplus.Sample(now, RSName, sc.peakWant(want), len(pods), excuses...)
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
	sc.live.Observe(now, condLeader, leader, "")
	apiOK := sc.lastOK >= 0 && now-sc.lastOK <= 5*time.Second
	sc.live.Observe(now, condAPI, apiOK, "last answer "+harness.FormatTime(sc.lastOK))
	for _, e := range sc.comps {
		n := len(sc.actors[e.lease()])
		sc.live.Observe(now, e.activeCondition(), n == 1, strconv.Itoa(n)+" acting")
	}
	running := 0
	for _, p := range pods {
		if p.Node != "" && sc.running[p.Node][p.Name] {
			running++
		}
	}
	sc.live.Observe(now, condReplicas, ok && running == want && len(pods) == want,
		fmt.Sprintf("%d of %d pods running, %d exist", running, want, len(pods)))
	var truth *Truth
	for _, e := range sc.comps {
		if e.Recovered == nil {
			continue
		}
		if truth == nil {
			if truth = sc.truthNow(s); truth == nil {
				sc.live.Observe(now, e.recoveredCondition(), false, "the store's truth is unknown (its furthest member is down)")
				continue
			}
		}
		err := e.Recovered(truth)
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		sc.live.Observe(now, e.recoveredCondition(), err == nil, detail)
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

// Check implements harness.Scenario.
func (sc *Scenario) Check(s *harness.Sim) []harness.Verdict {
	now := s.Now()
	if sc.downSince >= 0 {
		sc.continuity.MastersDown(sc.downSince, -1)
	}
	sc.artifactPaths = nil
	for _, key := range harness.SortedKeys(sc.keys) {
		kh := sc.keys[key]
		for i := range kh.ops {
			if op := &kh.ops[i]; op.End < 0 && !op.Indeterminate && !op.Failed {
				// Still in flight when the run ended.
				if op.Kind == checkers.RegisterRead {
					op.Failed = true
				} else {
					op.Indeterminate = true
				}
			}
		}
		sc.checkKey(key)
	}
	linV := sc.lin.verdict()
	sc.live.Healed(s.LastFaultEnd())
	liveV := sc.live.Verdict(now)
	if dist := s.Disturbed(); len(dist) > 0 {
		liveV = harness.Verdict{Check: liveV.Check, Status: harness.Unknown,
			Detail: "faults still in effect at the end: " + strings.Join(dist, ", ")}
	}
	// Single-active is claimed inside leader election's envelope; a
	// violation outside it is expected and says so. Deposed writes are
	// worth knowing but not required (leader election has no fencing),
	// nor is time travel of reads from the watch cache (resourceVersion
	// "0" reads may go back in time, as in real clusters).
	out := []harness.Verdict{sc.store.SafetyVerdict()}
	for _, e := range sc.comps {
		v := sc.single[e.lease()].Verdict(now)
		election.Safe.Excuse(sc.Cfg.Timings, &v, s.FaultLog(), now)
		out = append(out, v)
	}
	deposedV := sc.deposed.Verdict(now)
	deposedV.Advisory = true
	out = append(out,
		deposedV,
		linV,
		sc.travel.Verdict(checkers.RVQuorum),
	)
	if sc.Cfg.CacheReads {
		cacheV := sc.travel.Verdict(checkers.RVCache)
		cacheV.Advisory = true
		out = append(out, cacheV)
	}
	return append(out,
		sc.continuity.Verdict(now),
		sc.surplus.Verdict(),
		sc.avail.Verdict(now),
		liveV,
	)
}

// Timeline draws faults, raft leaders, the active controller-manager and
// scheduler, the load balancer's backends and the pods.
func (sc *Scenario) Timeline(s *harness.Sim) []harness.Span {
	out := sc.store.Timeline(s)
	for _, e := range sc.comps {
		who, start, end := sc.single[e.lease()].Spans()
		for i := range who {
			stop := end[i]
			if stop < 0 {
				stop = s.Now()
			}
			out = append(out, harness.Span{Lane: e.Lane(), Class: "leader", Label: who[i], Start: start[i], End: stop})
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
