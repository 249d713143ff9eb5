package kube

import (
	"slices"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
)

// BugActBeforeSync makes the ReplicaSet controller act before its pod
// informer has synced.
const BugActBeforeSync = "controller-act-before-sync"

func init() {
	model.Register(model.Bug{Name: BugActBeforeSync, Scenarios: []string{"cluster"}, Caught: "no-surplus-pods",
		Plants: "a new controller-manager leader syncs ReplicaSets before its pod cache is filled, and creates pods that already exist"})
}

// Lease names of the two elected components.
const (
	LeaseControllerManager = "kube-system/kube-controller-manager"
	LeaseScheduler         = "kube-system/kube-scheduler"
)

// actorHooks connect an elected component to the scenario's bookkeeping.
type actorHooks interface {
	started(ctx *harness.Ctx, lease, identity string, proc harness.ProcID)
	stopped(ctx *harness.Ctx, lease, identity string)
	issued(ctx *harness.Ctx, lease, identity string, id uint64, what string)
	// decided: a ReplicaSet sync is about to create pods for owner, having
	// seen saw of its pods in an informer that had (or had not) synced.
	decided(ctx *harness.Ctx, identity, owner string, saw int, synced bool)
	// createFailed: a pod create answered with an error, which the
	// controller takes for a failure though a 5xx or a time-out leaves the
	// outcome unknown.
	createFailed(ctx *harness.Ctx, identity, pod string)
	// acquiring: a takeover write for lease went out (on) or was answered.
	acquiring(ctx *harness.Ctx, lease, identity string, on bool)
}

// elected is what the controller-manager and the scheduler share: an API
// client to their local API server, and an elector on their lease.
type elected struct {
	hooks   actorHooks
	proc    harness.ProcID
	lease   string
	client  Client
	lock    LeaseLock
	elector election.Elector
}

func (e *elected) start(ctx *harness.Ctx, server harness.ProcID, clientID int, timings election.Timings, bugs model.Bugs, onLead func(*harness.Ctx)) {
	id := election.Identity(ctx)
	e.client = Client{Server: server, ID: clientID, Agent: id}
	e.lock = LeaseLock{Lease: e.lease, Client: &e.client, Timeout: timings.ClientTimeout}
	e.elector = election.Elector{Identity: id, Timings: timings, Lock: &e.lock, Bugs: bugs,
		Hooks: election.Hooks{
			StartedLeading: func(ctx *harness.Ctx, who string) {
				e.hooks.started(ctx, e.lease, who, e.proc)
				onLead(ctx)
			},
			StoppedLeading: func(ctx *harness.Ctx, who string) { e.hooks.stopped(ctx, e.lease, who) },
			Acquiring:      func(ctx *harness.Ctx, who string, on bool) { e.hooks.acquiring(ctx, e.lease, who, on) },
		}}
	e.elector.Start(ctx)
}

// write issues a write while acting, telling the scenario (the
// deposed-writer check follows it to where it lands).
func (e *elected) write(ctx *harness.Ctx, req Request, cb func(Response)) {
	id := e.client.Do(ctx, req, 30*time.Second, cb)
	what := string(req.Verb) + " " + string(req.Kind) + "/" + req.Name
	if req.Node != "" {
		what += " to " + req.Node
	}
	ctx.Notef("%s issues %s", e.elector.Identity, what)
	e.hooks.issued(ctx, e.lease, e.elector.Identity, id, what)
}

// ControllerManager is one kube-controller-manager replica running the
// ReplicaSet controller. Its informers start only once it leads (as
// kube-controller-manager builds its controllers in the leader callback).
type ControllerManager struct {
	elected
	server   harness.ProcID
	clientID int
	timings  election.Timings
	bugs     model.Bugs

	rsInf, podInf Informer
	expect        map[string]*expectation
	seen          map[string]bool // pods the informer has shown
	dirty         map[string]bool
	syncQueued    bool
}

// expectation is the ReplicaSet controller's ControllerExpectations entry:
// creates and deletes it issued and has not yet seen in its informer.
type expectation struct {
	adds, dels int
	at         time.Duration
}

// ExpectationsTimeout: expectations older than this are ignored
// (client-go's ExpectationsTimeout).
const ExpectationsTimeout = 5 * time.Minute

// BurstReplicas caps the creates or deletes of one sync.
const BurstReplicas = 500

// Step implements harness.Process.
func (c *ControllerManager) Step(ctx *harness.Ctx, in harness.Input) {
	if in.Kind == harness.InputStart {
		c.expect, c.dirty, c.seen = map[string]*expectation{}, map[string]bool{}, map[string]bool{}
		c.start(ctx, c.server, c.clientID, c.timings, c.bugs, c.lead)
		return
	}
	if c.elector.Handle(ctx, in) || c.rsInf.Handle(ctx, in) || c.podInf.Handle(ctx, in) {
		return
	}
	if in.Kind == harness.InputTimer && in.Tag == "rs-sync" {
		c.syncQueued = false
		c.syncAll(ctx)
	}
}

// States implements harness.StateReporter.
func (c *ControllerManager) States(now time.Duration, dst []string) []string {
	dst = c.elector.States(now, dst)
	return c.podInf.States(c.rsInf.States(dst))
}

func (c *ControllerManager) lead(ctx *harness.Ctx) {
	c.rsInf = Informer{Kind: ReplicaSets, Client: &c.client, OnChange: c.rsChanged, OnSync: c.queueAll}
	c.podInf = Informer{Kind: Pods, Client: &c.client, OnChange: c.podChanged, OnSync: c.queueAll}
	c.rsInf.Start(ctx)
	c.podInf.Start(ctx)
}

func (c *ControllerManager) queueAll(ctx *harness.Ctx) {
	for _, rs := range c.rsInf.List() {
		c.dirty[rs.Name] = true
	}
	c.queue(ctx)
}

func (c *ControllerManager) queue(ctx *harness.Ctx) {
	if c.bugs.Has(BugActBeforeSync) {
		c.syncAll(ctx) // at once, whatever the pod cache holds yet
		return
	}
	if !c.syncQueued {
		c.syncQueued = true
		ctx.After(10*time.Millisecond, "rs-sync", 0)
	}
}

func (c *ControllerManager) rsChanged(ctx *harness.Ctx, o Object, deleted bool) {
	c.dirty[o.Name] = true
	if deleted {
		delete(c.expect, o.Name)
	}
	c.queue(ctx)
}

func (c *ControllerManager) podChanged(ctx *harness.Ctx, o Object, deleted bool) {
	if o.Owner == "" {
		return
	}
	added := !deleted && !c.seen[o.Name]
	if deleted {
		delete(c.seen, o.Name)
	} else {
		c.seen[o.Name] = true
	}
	if e := c.expect[o.Owner]; e != nil {
		if deleted && e.dels > 0 {
			e.dels--
		} else if added && e.adds > 0 {
			e.adds--
		}
	}
	c.dirty[o.Owner] = true
	c.queue(ctx)
}

func (c *ControllerManager) syncAll(ctx *harness.Ctx) {
	if !c.elector.Leading() || !c.rsInf.Synced() {
		return
	}
	if !c.podInf.Synced() && !c.bugs.Has(BugActBeforeSync) {
		return
	}
	for _, name := range harness.SortedKeys(c.dirty) {
		delete(c.dirty, name)
		if rs, ok := c.rsInf.Get(name); ok {
			c.syncRS(ctx, rs)
		}
	}
}

// syncRS is syncReplicaSet: compare the pods the cache holds with the
// desired count and create or delete the difference, unless earlier
// creates or deletes are still expected.
func (c *ControllerManager) syncRS(ctx *harness.Ctx, rs Object) {
	e := c.expect[rs.Name]
	if e != nil && (e.adds > 0 || e.dels > 0) && ctx.Now()-e.at < ExpectationsTimeout {
		return
	}
	var pods []Object
	for _, p := range c.podInf.List() {
		if p.Owner == rs.Name {
			pods = append(pods, p)
		}
	}
	diff := len(pods) - rs.Replicas
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		c.expect[rs.Name] = &expectation{adds: n, at: ctx.Now()}
		ctx.Notef("replicaset %s: %d pods, want %d: creating %d", rs.Name, len(pods), rs.Replicas, n)
		c.hooks.decided(ctx, c.elector.Identity, rs.Name, len(pods), c.podInf.Synced())
		c.slowStart(ctx, rs.Name, n, 1)
	case diff > 0:
		n := min(diff, BurstReplicas)
		// getPodsToDelete: unscheduled pods first, then the newest.
		slices.SortStableFunc(pods, func(a, b Object) int {
			if (a.Node == "") != (b.Node == "") {
				if a.Node == "" {
					return -1
				}
				return 1
			}
			return int(b.RV - a.RV)
		})
		c.expect[rs.Name] = &expectation{dels: n, at: ctx.Now()}
		ctx.Notef("replicaset %s: %d pods, want %d: deleting %d", rs.Name, len(pods), rs.Replicas, n)
		for _, p := range pods[:n] {
			owner := rs.Name
			c.write(ctx, Request{Verb: Delete, Kind: Pods, Name: p.Name}, func(r Response) {
				if r.Code != StatusOK {
					if e := c.expect[owner]; e != nil && e.dels > 0 {
						e.dels--
					}
				}
			})
		}
	}
}

// slowStart creates n pods in batches of 1, 2, 4, ...; a batch with a
// failure ends the run and forgets the creates it did not issue
// (slowStartBatch).
func (c *ControllerManager) slowStart(ctx *harness.Ctx, owner string, n, batch int) {
	if n <= 0 || !c.elector.Leading() {
		if e := c.expect[owner]; e != nil {
			e.adds = max(0, e.adds-n)
		}
		return
	}
	b := min(batch, n)
	left, failed := b, false
	for range b {
		name := owner + "-" + podSuffix(ctx)
		c.write(ctx, Request{Verb: Create, Kind: Pods, Name: name, Obj: Object{Owner: owner}}, func(r Response) {
			if r.Code != StatusCreated {
				c.hooks.createFailed(ctx, c.elector.Identity, name)
				failed = true
				if e := c.expect[owner]; e != nil && e.adds > 0 {
					e.adds--
				}
			}
			left--
			if left == 0 {
				if failed {
					if e := c.expect[owner]; e != nil {
						e.adds = max(0, e.adds-(n-b))
					}
					c.dirty[owner] = true
					ctx.After(time.Second, "rs-sync", 0)
					return
				}
				c.slowStart(ctx, owner, n-b, 2*batch)
			}
		})
	}
}

// podSuffix draws a generateName suffix: five characters from
// Kubernetes' alphabet without vowels and look-alikes.
func podSuffix(ctx *harness.Ctx) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b strings.Builder
	for range 5 {
		b.WriteByte(alphabet[ctx.Rand().Int64n(int64(len(alphabet)))])
	}
	return b.String()
}

// Scheduler is one kube-scheduler replica: its informers stay warm while
// it stands by; while it leads it binds pending pods to the node with the
// most room. It releases its lease when it stops gracefully.
type Scheduler struct {
	elected
	server   harness.ProcID
	clientID int
	timings  election.Timings
	bugs     model.Bugs

	podInf, nodeInf Informer
	assumed         map[string]string // pod → node, bound but not yet seen
	queued          bool
}

// States implements harness.StateReporter.
func (s *Scheduler) States(now time.Duration, dst []string) []string {
	dst = s.elector.States(now, dst)
	return s.nodeInf.States(s.podInf.States(dst))
}

// Terminates implements harness.Terminator: kube-scheduler runs its
// elector with ReleaseOnCancel, so a graceful stop gives the lease up
// first and a standby takes over at its next retry instead of after a
// whole lease duration. (kube-controller-manager does not: a stopped one
// simply dies.)
func (s *Scheduler) Terminates() bool { return true }

// Step implements harness.Process.
func (s *Scheduler) Step(ctx *harness.Ctx, in harness.Input) {
	if in.Kind == harness.InputStart {
		s.assumed = map[string]string{}
		s.start(ctx, s.server, s.clientID, s.timings, s.bugs, s.queue)
		s.podInf = Informer{Kind: Pods, Client: &s.client, OnChange: func(ctx *harness.Ctx, o Object, deleted bool) {
			if deleted || o.Node != "" {
				delete(s.assumed, o.Name)
			}
			if !deleted && o.Node == "" {
				s.queue(ctx)
			}
		}}
		s.nodeInf = Informer{Kind: Nodes, Client: &s.client, OnChange: func(ctx *harness.Ctx, _ Object, _ bool) { s.queue(ctx) }}
		s.podInf.Start(ctx)
		s.nodeInf.Start(ctx)
		return
	}
	if in.Kind == harness.InputStop {
		if !s.elector.Leading() {
			ctx.Exit(-1)
			return
		}
		ctx.Notef("stopping: releasing lease %s", s.lock.Name())
		s.elector.Release(ctx, func(ok bool) {
			ctx.Notef("lease released: %v; exiting", ok)
			ctx.Exit(-1)
		})
		return
	}
	if s.elector.Handle(ctx, in) || s.podInf.Handle(ctx, in) || s.nodeInf.Handle(ctx, in) {
		return
	}
	if in.Kind == harness.InputTimer && in.Tag == "schedule" {
		s.queued = false
		s.schedule(ctx)
	}
}

func (s *Scheduler) queue(ctx *harness.Ctx) {
	if !s.queued {
		s.queued = true
		ctx.After(10*time.Millisecond, "schedule", 0)
	}
}

func (s *Scheduler) schedule(ctx *harness.Ctx) {
	if !s.elector.Leading() || !s.podInf.Synced() || !s.nodeInf.Synced() {
		return
	}
	used := map[string]int{}
	var pending []Object
	for _, p := range s.podInf.List() {
		node := p.Node
		if node == "" {
			node = s.assumed[p.Name]
		}
		if node != "" {
			used[node]++
		} else {
			pending = append(pending, p)
		}
	}
	nodes := s.nodeInf.List()
	retry := false
	for _, p := range pending {
		best, room := "", 0
		for _, n := range nodes {
			if free := n.Capacity - used[n.Name]; free > room {
				best, room = n.Name, free
			}
		}
		if best == "" {
			retry = true
			break
		}
		used[best]++
		s.assumed[p.Name] = best
		pod := p.Name
		s.write(ctx, Request{Verb: Bind, Kind: Pods, Name: pod, Node: best}, func(r Response) {
			if r.Code != StatusCreated {
				delete(s.assumed, pod)
				s.queued = true
				ctx.After(time.Second, "schedule", 0)
			}
		})
	}
	if retry {
		s.queued = true
		ctx.After(time.Second, "schedule", 0)
	}
}
