// Package election models client-go's leader election (the Lease lock, as
// kube-controller-manager and kube-scheduler use it) on hasim's kernel, on
// each process's own skewable clock, and a scenario of controller
// replicas that elect a leader through an etcd-like store.
//
// The algorithm (client-go's tryAcquireOrRenew, with its default timings):
// read the lease (a linearizable read); if its record differs from the last
// one seen, remember it with observedTime = the local monotonic now; the
// lease is held by someone else while observedTime + leaseDuration > now
// (the record's renewTime is never compared with a clock); otherwise write
// a record naming this process, conditional on the revision read (a
// conflict fails the attempt); taking over bumps leaseTransitions.
// Candidates retry every RetryPeriod·(1+U·JitterFactor). The leader renews
// every RetryPeriod; when renewing has failed for RenewDeadline it stops
// leading and the process exits, to be restarted with a new identity.
//
// Deviation, named: here the lease is an etcd key written through the
// store client directly; in a cluster it is a Lease object behind the API
// server, whose resourceVersion is the key's mod revision: the same
// conditional update.
package election

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// Bug switches of leader election.
const (
	BugRenewTimeClock  = "le-renewtime-clock"
	BugNoRenewDeadline = "le-no-renew-deadline"
)

func init() {
	model.Register(model.Bug{Name: BugRenewTimeClock, Scenarios: []string{"election", "cluster"}, Caught: []harness.CheckName{model.CheckSingleActive},
		Plants: "candidates judge expiry by the record's renewTime against their own wall clock"})
	model.Register(model.Bug{Name: BugNoRenewDeadline, Scenarios: []string{"election", "cluster"}, Caught: []harness.CheckName{model.CheckSingleActive},
		Plants: "a leader whose renewals fail keeps acting instead of stopping at the renew deadline"})
}

// Timings are client-go's election settings.
type Timings struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// JitterFactor spreads candidates' retries: RetryPeriod·(1+U·f).
	JitterFactor float64
	// ClientTimeout bounds each request of the election client.
	ClientTimeout time.Duration
}

// Defaults are kube-controller-manager's and kube-scheduler's.
var Defaults = Timings{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second,
	RetryPeriod: 2 * time.Second, JitterFactor: 1.2, ClientTimeout: 5 * time.Second}

// Record is the lease's content.
type Record struct {
	Holder        string
	LeaseDuration time.Duration
	AcquireTime   time.Duration // the holder's wall clock
	RenewTime     time.Duration // the holder's wall clock
	Transitions   int
}

func (r Record) encode() string {
	return fmt.Sprintf("holder=%q duration=%d acquire=%d renew=%d transitions=%d",
		r.Holder, r.LeaseDuration, r.AcquireTime, r.RenewTime, r.Transitions)
}

func decodeRecord(s string) (Record, error) {
	var r Record
	var dur, acq, renew int64
	if _, err := fmt.Sscanf(s, "holder=%q duration=%d acquire=%d renew=%d transitions=%d", &r.Holder, &dur, &acq, &renew, &r.Transitions); err != nil {
		return Record{}, fmt.Errorf("lease record %q: %v", s, err)
	}
	r.LeaseDuration, r.AcquireTime, r.RenewTime = time.Duration(dur), time.Duration(acq), time.Duration(renew)
	return r, nil
}

// Lock is where the lease record lives: a store key (StoreLock) or a Lease
// object behind an API server.
type Lock interface {
	// Get reads the record linearizably; ok false when the read failed,
	// exists false when there is no lease yet; version is the record's
	// resourceVersion (the key's mod revision).
	Get(ctx *harness.Ctx, cb func(rec Record, version int64, exists, ok bool))
	// Update writes rec if the lease is still at version (creates it when
	// !exists); ok false on a conflict or any failure.
	Update(ctx *harness.Ctx, rec Record, version int64, exists bool, cb func(ok bool))
	// Handle takes the lock client's own inputs.
	Handle(ctx *harness.Ctx, in harness.Input) bool
	// Name names the lease in the trace.
	Name() string
}

// StoreLock keeps the record in a store key, written through the store
// client directly.
type StoreLock struct {
	Key    string
	Client *store.Client
}

// Name implements Lock.
func (l StoreLock) Name() string { return l.Key }

// Handle implements Lock.
func (l StoreLock) Handle(ctx *harness.Ctx, in harness.Input) bool { return l.Client.Handle(ctx, in) }

// Get implements Lock.
func (l StoreLock) Get(ctx *harness.Ctx, cb func(Record, int64, bool, bool)) {
	get := store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: l.Key}}}
	l.Client.Do(ctx, get, false, func(r store.Response) {
		if r.Err != store.CodeOK {
			cb(Record{}, 0, false, false)
			return
		}
		if len(r.Result.Results[0].KVs) == 0 {
			cb(Record{}, 0, false, true)
			return
		}
		kv := r.Result.Results[0].KVs[0]
		rec, err := decodeRecord(kv.Value)
		if err != nil {
			ctx.Notef("%v", err)
			cb(Record{}, 0, false, false)
			return
		}
		cb(rec, kv.ModRevision, true, true)
	})
}

// Update implements Lock.
func (l StoreLock) Update(ctx *harness.Ctx, rec Record, version int64, _ bool, cb func(bool)) {
	put := store.Txn{
		Compares: []store.Compare{{Key: l.Key, Target: store.TargetMod, Result: store.Equal, Num: version}},
		Success:  []store.Op{{Kind: store.OpPut, Key: l.Key, Value: rec.encode()}},
	}
	l.Client.Do(ctx, put, false, func(w store.Response) { cb(w.Err == store.CodeOK && w.Result.Succeeded) })
}

// Hooks tell the scenario what an elector does (true-time bookkeeping
// happens there: components never read true time).
type Hooks struct {
	StartedLeading func(ctx *harness.Ctx, identity string)
	StoppedLeading func(ctx *harness.Ctx, identity string)
	// Acquiring, if set, hears when a takeover write goes out (on) and
	// when it is answered: two electors of one lease acquiring at once
	// race for it.
	Acquiring func(ctx *harness.Ctx, identity string, on bool)
}

// Elector runs client-go's algorithm for one lease inside a process: the
// process hands it its inputs (Handle) and asks whether it leads.
type Elector struct {
	Identity string
	Timings  Timings
	Lock     Lock
	Bugs     model.Bugs
	Hooks    Hooks

	leading    bool
	trying     bool
	observed   string        // the raw record last seen
	observedAt time.Duration // local monotonic time it was first seen
	round      time.Duration // leader: when the current renew round began
	deadline   harness.TimerID

	// For the states faults may strike: a candidate's view of when the
	// holder's lease runs out (0: none held by another), whether a
	// leader's renewals are failing, whether a takeover write is out.
	expiresAt time.Duration
	failing   bool
	acquiring bool
}

// Cues electors give (harness.Ctx.Cue), and the states they report.
const (
	// CueLeaseExpiring: a candidate saw the lease held by another; its
	// deadline is when the candidate may take over.
	CueLeaseExpiring = "lease-expiring"
	// CueRenewFailing: a leader's renewal failed; its deadline is the
	// leader's renew deadline.
	CueRenewFailing = "renew-failing"
	// CueLeaseAcquire: a candidate found the lease free or expired and
	// writes to take it.
	CueLeaseAcquire = "lease-acquire"
	// CueLeaseRace: a second candidate's takeover write went out while
	// another's was in flight (given by Race, which sees both).
	CueLeaseRace = "lease-race"
	// StateDeadlineNear: a leader whose renewals fail is within
	// NearDeadline of its renew deadline, or a candidate within
	// NearDeadline of taking over.
	StateDeadlineNear = "lease-deadline-near"
	// StateAcquiring: a takeover write is in flight.
	StateAcquiring = "lease-acquiring"
)

// NearDeadline is how close to a lease deadline counts as near it.
const NearDeadline = 2 * time.Second

// Cues lists the cues electors give under timings t, with where aimed
// faults fit: around a candidate's takeover (striking the candidate or
// the leader, roles), around a failing leader's renew deadline, and in a
// takeover write.
func Cues(t Timings, roles ...harness.Role) []harness.CueSpec {
	return []harness.CueSpec{
		{Name: CueLeaseExpiring, Early: -3 * time.Second, Late: time.Second, Ahead: t.LeaseDuration, Roles: roles},
		{Name: CueRenewFailing, Early: -2 * time.Second, Late: time.Second, Ahead: t.RenewDeadline, Roles: roles},
		{Name: CueLeaseAcquire, Late: 50 * time.Millisecond, Roles: roles, Weight: 2},
		{Name: CueLeaseRace, Roles: roles, Weight: 8},
	}
}

// States reports the elector's states that faults may strike (for a
// process's harness.StateReporter).
func (e *Elector) States(now time.Duration, dst []string) []string {
	near := false
	if e.leading && e.failing && e.round >= 0 {
		near = e.round+e.Timings.RenewDeadline-now <= NearDeadline
	} else if !e.leading && e.expiresAt > 0 {
		left := e.expiresAt - now
		near = left >= -NearDeadline && left <= NearDeadline
	}
	if near {
		dst = append(dst, StateDeadlineNear)
	}
	if e.acquiring {
		dst = append(dst, StateAcquiring)
	}
	return dst
}

func (e *Elector) setAcquiring(ctx *harness.Ctx, on bool) {
	if e.acquiring == on {
		return
	}
	e.acquiring = on
	if e.Hooks.Acquiring != nil {
		e.Hooks.Acquiring(ctx, e.Identity, on)
	}
}

// Race counts, for one lease, the electors with a takeover write in
// flight, as their Acquiring hooks report: two or more are racing. Alive
// tells whether an elector's process incarnation still runs (one that died
// mid-write stops racing).
type Race struct {
	Alive     func(p harness.ProcID, incarnation int) bool
	acquiring []racer
}

type racer struct {
	identity string
	proc     harness.ProcID
	inc      int
}

// MarkLeaseRace is the coverage mark of two candidates racing for one
// lease; MarkFaultDuringRace that of a fault firing meanwhile.
const (
	MarkLeaseRace       = "lease-race"
	MarkFaultDuringRace = "fault-during/lease-race"
)

// Acquiring is an elector's Acquiring hook; it marks a race as it begins.
func (r *Race) Acquiring(ctx *harness.Ctx, identity string, on bool) {
	r.prune(identity)
	if on {
		r.acquiring = append(r.acquiring, racer{identity, ctx.Self(), ctx.Incarnation()})
		if len(r.acquiring) == 2 {
			ctx.Mark(MarkLeaseRace)
			ctx.Cue(CueLeaseRace, 0)
		}
	}
}

// prune forgets the given elector and those whose process died.
func (r *Race) prune(identity string) {
	n := 0
	for _, a := range r.acquiring {
		if a.identity != identity && (r.Alive == nil || r.Alive(a.proc, a.inc)) {
			r.acquiring[n] = a
			n++
		}
	}
	r.acquiring = r.acquiring[:n]
}

// Racing reports whether two or more electors are racing.
func (r *Race) Racing() bool {
	r.prune("")
	return len(r.acquiring) >= 2
}

// Leading reports whether this elector holds the lease (as far as it knows).
func (e *Elector) Leading() bool { return e.leading }

// Start begins campaigning (call it on InputStart).
func (e *Elector) Start(ctx *harness.Ctx) { e.retryLater(ctx) }

func (e *Elector) retryLater(ctx *harness.Ctx) {
	d := e.Timings.RetryPeriod
	if e.Timings.JitterFactor > 0 {
		// wait.Jitter: d + U[0,1)·factor·d, drawn in integer steps.
		d += time.Duration(ctx.Rand().Int64n(1_000_000)) * time.Duration(e.Timings.JitterFactor*float64(d)) / 1_000_000
	}
	ctx.After(d, "le-retry", 0)
}

// Handle takes the elector's inputs; it reports whether the input was its.
func (e *Elector) Handle(ctx *harness.Ctx, in harness.Input) bool {
	if e.Lock.Handle(ctx, in) {
		return true
	}
	if in.Kind != harness.InputTimer {
		return false
	}
	switch in.Tag {
	case "le-retry":
		if !e.leading {
			e.try(ctx)
		}
	case "le-renew":
		if e.leading {
			e.round = ctx.Now()
			e.deadline = ctx.After(e.Timings.RenewDeadline, "le-deadline", 0)
			e.try(ctx)
		}
	case "le-renew-retry":
		if e.leading && e.round >= 0 {
			e.try(ctx)
		}
	case "le-deadline":
		if e.leading && e.round >= 0 {
			if e.Bugs.Has(BugNoRenewDeadline) {
				ctx.Notef("renewals failing for %s; keeps leading (bug %s)", e.Timings.RenewDeadline, BugNoRenewDeadline)
				e.round = ctx.Now()
				e.deadline = ctx.After(e.Timings.RenewDeadline, "le-deadline", 0)
				return true
			}
			ctx.Notef("failed to renew the lease for %s: stops leading", e.Timings.RenewDeadline)
			e.leading = false
			if e.Hooks.StoppedLeading != nil {
				e.Hooks.StoppedLeading(ctx, e.Identity)
			}
			// As kube-controller-manager does: exit, to be restarted.
			ctx.Exit(RestartDelay)
		}
	default:
		return false
	}
	return true
}

// RestartDelay is how long after exiting a controller is restarted (by
// the kubelet of a static pod, say).
const RestartDelay = 5 * time.Second

// try runs one tryAcquireOrRenew: read, then maybe write.
func (e *Elector) try(ctx *harness.Ctx) {
	if e.trying {
		return
	}
	e.trying = true
	e.Lock.Get(ctx, func(rec Record, version int64, exists, ok bool) {
		if !ok {
			e.done(ctx, false)
			return
		}
		now, wall := ctx.Now(), ctx.WallNow()
		if exists {
			if raw := rec.encode(); raw != e.observed {
				e.observed, e.observedAt = raw, now
			}
			if rec.Holder != e.Identity && rec.Holder != "" {
				valid := e.observedAt+rec.LeaseDuration > now
				if e.Bugs.Has(BugRenewTimeClock) {
					valid = rec.RenewTime+rec.LeaseDuration > wall
				}
				if valid {
					if !e.leading {
						e.expiresAt = e.observedAt + rec.LeaseDuration
						ctx.Cue(CueLeaseExpiring, e.expiresAt-now)
					}
					e.done(ctx, false)
					return
				}
			}
		}
		e.expiresAt = 0
		next := Record{Holder: e.Identity, LeaseDuration: e.Timings.LeaseDuration, AcquireTime: wall, RenewTime: wall}
		if exists && rec.Holder == e.Identity {
			next.AcquireTime, next.Transitions = rec.AcquireTime, rec.Transitions
		} else if exists {
			next.Transitions = rec.Transitions + 1
		}
		takeover := !exists || rec.Holder != e.Identity
		if takeover {
			e.setAcquiring(ctx, true)
			ctx.Cue(CueLeaseAcquire, 0)
		}
		e.Lock.Update(ctx, next, version, exists, func(ok bool) {
			e.setAcquiring(ctx, false)
			if ok {
				e.observed, e.observedAt = next.encode(), ctx.Now()
			}
			e.done(ctx, ok)
		})
	})
}

// Release gives the lease up, as client-go does on a graceful stop when
// ReleaseOnCancel is set (kube-scheduler): the record keeps its
// transitions but names no holder and lasts one second, so a candidate may
// take it at its next try. cb (may be nil) learns whether the write
// landed.
func (e *Elector) Release(ctx *harness.Ctx, cb func(ok bool)) {
	if !e.leading {
		if cb != nil {
			cb(false)
		}
		return
	}
	e.leading = false
	if e.Hooks.StoppedLeading != nil {
		e.Hooks.StoppedLeading(ctx, e.Identity)
	}
	e.Lock.Get(ctx, func(rec Record, version int64, exists, ok bool) {
		if !ok || !exists || rec.Holder != e.Identity {
			if cb != nil {
				cb(false)
			}
			return
		}
		wall := ctx.WallNow()
		next := Record{LeaseDuration: time.Second, AcquireTime: wall, RenewTime: wall, Transitions: rec.Transitions}
		e.Lock.Update(ctx, next, version, true, func(ok bool) {
			if cb != nil {
				cb(ok)
			}
		})
	})
}

// done ends an attempt.
func (e *Elector) done(ctx *harness.Ctx, ok bool) {
	e.trying = false
	switch {
	case ok && !e.leading:
		e.leading, e.failing = true, false
		ctx.Notef("acquired lease %s as %s", e.Lock.Name(), e.Identity)
		if e.Hooks.StartedLeading != nil {
			e.Hooks.StartedLeading(ctx, e.Identity)
		}
		e.round = -1
		ctx.After(e.Timings.RetryPeriod, "le-renew", 0)
	case ok:
		ctx.Cancel(e.deadline)
		e.round, e.failing = -1, false
		ctx.After(e.Timings.RetryPeriod, "le-renew", 0)
	case e.leading:
		// PollImmediateUntil: try again every RetryPeriod until the
		// round's deadline.
		if !e.failing && e.round >= 0 {
			e.failing = true
			ctx.Cue(CueRenewFailing, e.round+e.Timings.RenewDeadline-ctx.Now())
		}
		ctx.After(e.Timings.RetryPeriod, "le-renew-retry", 0)
	default:
		e.retryLater(ctx)
	}
}

// Identity makes a process's identity for one incarnation, as client-go's
// hostname plus a fresh UUID does.
func Identity(ctx *harness.Ctx) string {
	return strings.ReplaceAll(ctx.Name(), "/", "-") + "-" + strconv.Itoa(ctx.Incarnation())
}
