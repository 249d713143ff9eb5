package kube

import (
	"slices"
	"time"

	"hasim/harness"
	"hasim/model/election"
)

// Informer is client-go's reflector and indexer for one resource: it lists
// (first with resourceVersion "0", from the server's watch cache; after a
// 410 without one, consistently), then watches from the list's revision,
// re-watching from the last revision it saw when the stream breaks and
// re-listing when that revision is gone. Handlers see every change.
//
// Deviations, named: no resync period, no watch timeout rotation (client-go
// ends each watch after 5–10 minutes and re-watches), no bookmarks.
type Informer struct {
	Kind   Kind
	Client *Client
	// OnChange is called for every object added, changed or deleted
	// (deleted true), after the informer's store reflects it, and once per
	// object on a (re)list.
	OnChange func(ctx *harness.Ctx, o Object, deleted bool)
	// OnSync is called when a list completes.
	OnSync func(ctx *harness.Ctx)

	objs     map[string]Object
	names    []string
	synced   bool
	rv       int64
	relistRV string
	watch    uint64
	running  bool
	backoff  time.Duration
	// relisting: a 410 sent the informer back to a consistent list, which
	// has not yet come back.
	relisting bool
}

// CueRelist is the cue an informer gives when a watch ends in 410 Gone:
// its deadline is when the consistent re-list goes out (after its
// backoff). StateRelist is its state until the list comes back.
const (
	CueRelist   = "relist-after-410"
	StateRelist = "relisting-after-410"
)

// States appends the informer's states that faults may strike.
func (in *Informer) States(dst []string) []string {
	if in.relisting {
		dst = append(dst, StateRelist)
	}
	return dst
}

func (in *Informer) tag() string { return "informer-" + string(in.Kind) }

// Start begins the list and watch.
func (in *Informer) Start(ctx *harness.Ctx) {
	if in.running {
		return
	}
	in.running = true
	in.objs = map[string]Object{}
	in.relistRV = RVCache
	in.list(ctx)
}

// Synced reports whether the first list has completed (HasSynced).
func (in *Informer) Synced() bool { return in.synced }

// Get returns an object from the informer's store.
func (in *Informer) Get(name string) (Object, bool) {
	o, ok := in.objs[name]
	return o, ok
}

// List returns the informer's objects in name order.
func (in *Informer) List() []Object {
	out := make([]Object, 0, len(in.names))
	for _, n := range in.names {
		out = append(out, in.objs[n])
	}
	return out
}

// Handle takes the informer's timers.
func (in *Informer) Handle(ctx *harness.Ctx, i harness.Input) bool {
	if i.Kind != harness.InputTimer || i.Tag != in.tag() {
		return false
	}
	if i.Arg == 0 {
		in.list(ctx)
	} else {
		in.startWatch(ctx)
	}
	return true
}

func (in *Informer) retry(ctx *harness.Ctx, relist bool) {
	// client-go's backoff manager: 800ms doubling to 30s, reset on success.
	if in.backoff == 0 {
		in.backoff = 800 * time.Millisecond
	} else if in.backoff < 30*time.Second {
		in.backoff = min(2*in.backoff, 30*time.Second)
	}
	arg := uint64(1)
	if relist {
		arg = 0
	}
	ctx.After(in.backoff, in.tag(), arg)
}

func (in *Informer) list(ctx *harness.Ctx) {
	in.Client.Do(ctx, Request{Verb: List, Kind: in.Kind, RV: in.relistRV}, time.Minute, func(r Response) {
		if r.Code != StatusOK {
			in.retry(ctx, true)
			return
		}
		in.backoff, in.relisting = 0, false
		fresh := make(map[string]bool, len(r.Items))
		for _, o := range r.Items {
			fresh[o.Name] = true
		}
		for _, n := range slices.Clone(in.names) {
			if !fresh[n] {
				o := in.objs[n]
				in.remove(n)
				if in.OnChange != nil {
					in.OnChange(ctx, o, true)
				}
			}
		}
		for _, o := range r.Items {
			in.put(o)
			if in.OnChange != nil {
				in.OnChange(ctx, o, false)
			}
		}
		in.rv = r.RV
		in.synced = true
		if in.OnSync != nil {
			in.OnSync(ctx)
		}
		in.startWatch(ctx)
	})
}

func (in *Informer) put(o Object) {
	if _, ok := in.objs[o.Name]; !ok {
		i, _ := slices.BinarySearch(in.names, o.Name)
		in.names = slices.Insert(in.names, i, o.Name)
	}
	in.objs[o.Name] = o
}

func (in *Informer) remove(name string) {
	delete(in.objs, name)
	if i, ok := slices.BinarySearch(in.names, name); ok {
		in.names = slices.Delete(in.names, i, i+1)
	}
}

func (in *Informer) startWatch(ctx *harness.Ctx) {
	in.watch = in.Client.Watch(ctx, in.Kind, itoa(in.rv), func(e Event) {
		switch e.Type {
		case Error:
			in.watch = 0
			if e.Code == StatusGone {
				in.relistRV, in.relisting = "", true
				in.retry(ctx, true)
				ctx.Cue(CueRelist, in.backoff)
			} else {
				in.retry(ctx, false)
			}
			return
		case Deleted:
			in.remove(e.Obj.Name)
		default:
			in.put(e.Obj)
		}
		in.backoff = 0
		if e.Obj.RV > in.rv {
			in.rv = e.Obj.RV
		}
		if in.OnChange != nil {
			in.OnChange(ctx, e.Obj, e.Type == Deleted)
		}
	})
}

// LeaseLock keeps a leader-election record in a Lease object behind an API
// server (coordination.k8s.io/v1 leases, as client-go's LeaseLock): GET
// without resourceVersion (a quorum read), then a create, or an update
// conditional on the resourceVersion read.
type LeaseLock struct {
	Lease   string // "kube-system/kube-scheduler"
	Client  *Client
	Timeout time.Duration
}

// Name implements election.Lock.
func (l *LeaseLock) Name() string { return string(Leases) + "/" + l.Lease }

// Handle implements election.Lock.
func (l *LeaseLock) Handle(ctx *harness.Ctx, in harness.Input) bool { return l.Client.Handle(ctx, in) }

// Get implements election.Lock.
func (l *LeaseLock) Get(ctx *harness.Ctx, cb func(election.Record, int64, bool, bool)) {
	l.Client.Do(ctx, Request{Verb: Get, Kind: Leases, Name: l.Lease}, l.Timeout, func(r Response) {
		switch r.Code {
		case StatusOK:
			o := r.Obj
			cb(election.Record{Holder: o.Holder, LeaseDuration: o.LeaseDuration, AcquireTime: o.AcquireTime,
				RenewTime: o.RenewTime, Transitions: o.Transitions}, o.RV, true, true)
		case StatusNotFound:
			cb(election.Record{}, 0, false, true)
		default:
			cb(election.Record{}, 0, false, false)
		}
	})
}

// Update implements election.Lock.
func (l *LeaseLock) Update(ctx *harness.Ctx, rec election.Record, version int64, exists bool, cb func(bool)) {
	o := Object{Kind: Leases, Name: l.Lease, RV: version, Holder: rec.Holder, LeaseDuration: rec.LeaseDuration,
		AcquireTime: rec.AcquireTime, RenewTime: rec.RenewTime, Transitions: rec.Transitions}
	verb := Update
	if !exists {
		verb = Create
	}
	l.Client.Do(ctx, Request{Verb: verb, Kind: Leases, Name: l.Lease, Obj: o}, l.Timeout, func(r Response) {
		cb(r.Code == StatusOK || r.Code == StatusCreated)
	})
}
