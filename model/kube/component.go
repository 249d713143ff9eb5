package kube

import (
	"fmt"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/election"
)

// Elected registers a leader-elected component of the control plane: one
// replica on every master, each talking to its own master's API server,
// active-standby through a Lease with client-go's leader election. The
// registration is all the cluster needs: the replicas' processes
// (<master>/<Name>), the role @active-<Name> that schedules may strike,
// the checks single-active/<lease name> and deposed-writes over what its
// replicas write, the liveness condition "one active <lease name>" (and
// Recovered's, if set), its timeline lane and the faults generated for it
// all follow from it. The built-in controller-manager and scheduler are
// registered the same way (ControllerManagerComponent, SchedulerComponent).
type Elected struct {
	// Name is the replicas' process name on every master ("cm" runs as
	// m1/cm, m2/cm, ...) and names the role @active-<Name>: a word of
	// lower-case letters, digits and dashes.
	Name string
	// Lease is the Lease object the replicas contend for, as
	// "namespace/name" [kube-system/<Name>].
	Lease string
	// New makes a replica's logic afresh at every start of its process,
	// so that nothing survives a restart but what the API holds.
	New func() Controller
	// ReleaseOnStop gives the lease up when the replica is asked to stop
	// (a term fault), as client-go's ReleaseOnCancel does, so a standby
	// takes over at its next retry; without it a stopped replica simply
	// dies and the lease runs out.
	ReleaseOnStop bool
	// Recovered says what "recovered" means for this component beyond one
	// replica acting: it is judged on the store's ground truth, once a
	// second after the faults heal, and must hold within the cluster's
	// recovery budget (recovers-after-heal). It returns why not, or nil.
	Recovered func(t *Truth) error
}

// Controller is a component's own logic, run by a Replica that holds its
// API client and elector. The replica hands it every input its elector did
// not take; the controller passes them on to its informers and handles its
// own timers. A Controller may also implement
// States(now time.Duration, dst []string) []string to report the states it
// is in, for faults aimed at them.
type Controller interface {
	// Start: the replica's process has started, and its elector with it;
	// start what stays warm while standing by (informers).
	Start(ctx *harness.Ctx, r *Replica)
	// Lead: the replica has just become the leader.
	Lead(ctx *harness.Ctx, r *Replica)
	// Handle takes an input the elector did not, reporting whether it was
	// the controller's.
	Handle(ctx *harness.Ctx, r *Replica, in harness.Input) bool
}

// LeaseName is the name part of the component's lease.
func (e Elected) LeaseName() string {
	_, name, _ := strings.Cut(e.LeaseRef(), "/")
	return name
}

// LeaseRef is the component's lease as "namespace/name", the default
// filled in.
func (e Elected) LeaseRef() string {
	if e.Lease == "" {
		return "kube-system/" + e.Name
	}
	return e.Lease
}

// Role is the role schedules strike the active replica with (without the
// "@").
func (e Elected) Role() harness.Role { return harness.Role("active-" + e.Name) }

// SingleActiveCheck is the name of the check that at most one replica
// acts at any instant.
func (e Elected) SingleActiveCheck() harness.CheckName {
	return model.CheckSingleActive.Of(e.LeaseName())
}

// WriteCue is the cue a replica of the component gives as each write it
// makes goes out ("<name>-write"): "at 40s on mirror-write +5ms crash
// @cued" crashes the mirror's active replica just after its first write
// from 40s on, before the answer comes, so that a controller which writes
// twice for one decision (a create, then the status that records it) dies
// between the two. Generated schedules aim at it for registered
// components.
func (e Elected) WriteCue() string { return e.Name + "-write" }

// StatusWriteCue is the cue a replica of the component gives, besides its
// WriteCue, as a write of an object's status subresource goes out
// ("<name>-status-write"): "at 40s on fleet-status-write isolate @cued
// hold for 20s" holds the fleet controller's next status write until after
// its lease ran out and a successor wrote its own, so that a status
// written without a resourceVersion precondition lands last.
func (e Elected) StatusWriteCue() string { return e.Name + "-status-write" }

// Lane is the timeline lane of the component's tenures.
func (e Elected) Lane() string { return "active " + e.LeaseName() }

// activeCondition is its liveness condition: one replica acting.
func (e Elected) activeCondition() string { return "one active " + e.LeaseName() }

// recoveredCondition is the liveness condition of Recovered.
func (e Elected) recoveredCondition() string { return e.LeaseName() + " recovered" }

// validate checks a registration; i is its index in Config.Components.
func (e Elected) validate(i int) error {
	field := fmt.Sprintf("components[%d]", i)
	if err := harness.ValidName(e.Name); err != nil {
		return fmt.Errorf("%s.name: %v", field, err)
	}
	if reservedProcs[e.Name] {
		return fmt.Errorf("%s.name: %q is taken by the cluster's own processes", field, e.Name)
	}
	if ns, name, ok := strings.Cut(e.LeaseRef(), "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("%s.lease: %q is not namespace/name", field, e.Lease)
	}
	if e.New == nil {
		return fmt.Errorf("%s.new: no constructor for %s's replicas", field, e.Name)
	}
	return nil
}

// reservedProcs are the process names the cluster runs besides its
// elected components.
var reservedProcs = map[string]bool{"apiserver": true, "etcd": true, "kubelet": true, "user": true, "lb": true, "keepalived": true}

// Fact is something a replica's controller reports about what it decided,
// for the scenario's observers to judge (components never judge
// themselves).
type Fact interface{ fact() }

// replicaHooks connect replicas to the scenario's bookkeeping.
type replicaHooks interface {
	started(ctx *harness.Ctx, lease, identity string, proc harness.ProcID)
	stopped(ctx *harness.Ctx, lease, identity string)
	issued(ctx *harness.Ctx, lease, identity string, id uint64, what string)
	// acquiring: a takeover write for lease went out (on) or was answered.
	acquiring(ctx *harness.Ctx, lease, identity string, on bool)
	reported(ctx *harness.Ctx, identity string, f Fact)
	// reading: a quorum read went out; the function returned hears its
	// answer.
	reading(ctx *harness.Ctx, identity string, req Request) func(Response)
}

// Replica is one replica of an elected component: the process that runs
// its elector on the component's lease and its Controller, with an API
// client to its master's API server.
type Replica struct {
	comp    Elected
	hooks   replicaHooks
	proc    harness.ProcID
	server  harness.ProcID
	timings election.Timings
	bugs    model.Bugs
	res     []Resource

	ctl    Controller
	client Client
	// writeCue and statusCue are the component's WriteCue and
	// StatusWriteCue, made once.
	writeCue, statusCue string
	lock                LeaseLock
	elector             election.Elector
}

// Step implements harness.Process.
func (r *Replica) Step(ctx *harness.Ctx, in harness.Input) {
	switch in.Kind {
	case harness.InputStart:
		r.ctl, r.writeCue, r.statusCue = r.comp.New(), r.comp.WriteCue(), r.comp.StatusWriteCue()
		id := election.Identity(ctx)
		r.client = Client{Server: r.server, ID: ctx.ClientID(0), Agent: id}
		r.lock = LeaseLock{Lease: r.comp.LeaseRef(), Client: &r.client, Timeout: r.timings.ClientTimeout}
		r.elector = election.Elector{Identity: id, Timings: r.timings, Lock: &r.lock, Bugs: r.bugs,
			Hooks: election.Hooks{
				StartedLeading: func(ctx *harness.Ctx, who string) {
					r.hooks.started(ctx, r.comp.LeaseRef(), who, r.proc)
					r.ctl.Lead(ctx, r)
				},
				StoppedLeading: func(ctx *harness.Ctx, who string) { r.hooks.stopped(ctx, r.comp.LeaseRef(), who) },
				Acquiring:      func(ctx *harness.Ctx, who string, on bool) { r.hooks.acquiring(ctx, r.comp.LeaseRef(), who, on) },
			}}
		r.elector.Start(ctx)
		r.ctl.Start(ctx, r)
		return
	case harness.InputSignal:
		if in.Tag == SignalWatchGap {
			r.client.WatchGap(ctx, in.Arg == 1)
		}
		return
	case harness.InputStop:
		if !r.elector.Leading() {
			ctx.Exit(-1)
			return
		}
		ctx.Notef("stopping: releasing lease %s", r.lock.Name())
		r.elector.Release(ctx, func(ok bool) {
			ctx.Notef("lease released: %v; exiting", ok)
			ctx.Exit(-1)
		})
		return
	}
	if !r.elector.Handle(ctx, in) {
		r.ctl.Handle(ctx, r, in)
	}
}

// SignalWatchGap is the signal that makes a replica's watches lose their
// events for a while (Client.WatchGap): "at 1m signal @active-mirror
// watch-gap for 30s". Generated schedules send it to the registered
// components.
const SignalWatchGap = "watch-gap"

// Terminates implements harness.Terminator: only a replica that releases
// its lease on stop handles InputStop.
func (r *Replica) Terminates() bool { return r.comp.ReleaseOnStop }

// States implements harness.StateReporter.
func (r *Replica) States(now time.Duration, dst []string) []string {
	dst = r.elector.States(now, dst)
	if s, ok := r.ctl.(interface {
		States(time.Duration, []string) []string
	}); ok {
		dst = s.States(now, dst)
	}
	return dst
}

// Client is the replica's API client, to its master's API server; reads
// and informers use it. Writes made while acting go through Write.
func (r *Replica) Client() *Client { return &r.client }

// Leading reports whether the replica holds the lease.
func (r *Replica) Leading() bool { return r.elector.Leading() }

// Identity is the replica's identity in the lease: its process and
// incarnation ("m1-cm-2").
func (r *Replica) Identity() string { return r.elector.Identity }

// Resources are the generic resources the cluster serves.
func (r *Replica) Resources() []Resource { return r.res }

// Bugs are the bug switches turned on in the cluster.
func (r *Replica) Bugs() model.Bugs { return r.bugs }

// Write issues a write the component makes as the leader, with a 30s
// timeout: deposed-writes follows it to where it lands in the store.
func (r *Replica) Write(ctx *harness.Ctx, req Request, cb func(Response)) {
	id := r.client.Do(ctx, req, 30*time.Second, cb)
	what := string(req.Verb) + " " + string(req.Kind) + "/" + req.Name
	if req.Node != "" {
		what += " to " + req.Node
	}
	ctx.Notef("%s issues %s", r.elector.Identity, what)
	r.hooks.issued(ctx, r.comp.LeaseRef(), r.elector.Identity, id, what)
	ctx.Cue(r.writeCue, 0)
	if req.Subresource == SubresourceStatus {
		ctx.Cue(r.statusCue, 0)
	}
}

// Read issues a quorum read the component makes (a GET or a consistent
// LIST: resourceVersion ""), with a 30s timeout: observers judge what it
// returns against the store's timeline (api-linearizable/objects, for
// registered resources). Reads from a cache (RVCache) go through Client.
func (r *Replica) Read(ctx *harness.Ctx, req Request, cb func(Response)) {
	if req.Verb != Get && req.Verb != List || req.RV != "" {
		panic(fmt.Sprintf("hasim: Replica.Read takes quorum GETs and LISTs (resourceVersion \"\"), not %s with resourceVersion %q", req.Verb, req.RV))
	}
	heard := r.hooks.reading(ctx, r.elector.Identity, req)
	r.client.Do(ctx, req, 30*time.Second, func(resp Response) {
		heard(resp)
		cb(resp)
	})
}

// Report tells the scenario's observers a fact about what the controller
// decided.
func (r *Replica) Report(ctx *harness.Ctx, f Fact) { r.hooks.reported(ctx, r.elector.Identity, f) }

// SyncQueue coalesces a controller's requests for a sync pass: any number
// of Adds before the pass runs make one timer, SyncDelay later (on the
// process's clock), tagged Tag. A controller hands its inputs to Due and
// runs its pass when Due says the timer fired.
type SyncQueue struct {
	Tag    string
	queued bool
}

// SyncDelay is how long after the first request a sync pass runs.
const SyncDelay = 10 * time.Millisecond

// Add asks for a pass, unless one is already due.
func (q *SyncQueue) Add(ctx *harness.Ctx) {
	if !q.queued {
		q.queued = true
		ctx.After(SyncDelay, q.Tag, 0)
	}
}

// Retry asks for a pass after d (after a failure), whatever is due.
func (q *SyncQueue) Retry(ctx *harness.Ctx, d time.Duration) {
	q.queued = true
	ctx.After(d, q.Tag, 0)
}

// Due reports whether in is the queue's timer: the pass is to run now.
func (q *SyncQueue) Due(in harness.Input) bool {
	if in.Kind != harness.InputTimer || in.Tag != q.Tag {
		return false
	}
	q.queued = false
	return true
}
