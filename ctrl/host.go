package ctrl

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/harness"
	"hasim/model/kube"
)

// hostSpec is a registered reconciler, shared by its replicas.
type hostSpec struct {
	m       *Manager
	name    string
	forKind kindInfo
	owns    []kindInfo
	newRec  func(r Replica) reconcile.Reconciler
}

// tagDeadline is the timer of a context deadline over a write in flight;
// its argument names the call.
const tagDeadline = "ctrl-deadline"

// host is one replica's controller: the kube.Controller that runs the
// user's reconciler in a kube.Replica. It is made afresh at every start of
// the replica's process.
type host struct {
	spec *hostSpec
	r    *kube.Replica
	proc string
	rec  reconcile.Reconciler
	cl   *Client
	// kinds are the watched resources, For's first; infs their informers.
	kinds []kindInfo
	infs  map[kube.Kind]*kube.Informer
	// owners remembers the owner each owned object enqueued last
	// ("kind/namespace/name" → "namespace/name"), so that a change of
	// owner enqueues the former one too.
	owners map[string]string
	q      queue
	// working: the replica leads and every informer has synced, so the
	// queue is worked.
	working bool
	cur     *run
	calls   uint64
}

// replica is the Replica a host hands its reconciler's New.
type replica struct{ h *host }

func (r replica) GetClient() client.Client       { return r.h.cl }
func (r replica) GetAPIReader() client.Reader    { return apiReader{c: r.h.cl} }
func (r replica) GetScheme() *runtime.Scheme     { return r.h.spec.m.scheme }
func (r replica) GetRESTMapper() meta.RESTMapper { return r.h.spec.m.mapper }

// Start implements kube.Controller: the informers start at once and stay
// warm while the replica stands by, as a controller-runtime manager starts
// its caches before it is elected.
func (h *host) Start(ctx *harness.Ctx, r *kube.Replica) {
	if item := h.spec.m.abandon(ctx.Name()); item != "" {
		ctx.Notef("%s: abandoned the reconcile of %s that the former incarnation left in flight", h.spec.name, item)
	}
	h.r, h.proc = r, ctx.Name()
	h.q, h.owners, h.infs = newQueue(), map[string]string{}, map[kube.Kind]*kube.Informer{}
	h.cl = &Client{h: h}
	h.rec = h.spec.newRec(replica{h})
	h.kinds = append([]kindInfo{h.spec.forKind}, h.spec.owns...)
	for _, k := range h.kinds {
		inf := &kube.Informer{Kind: k.res, Client: r.Client(),
			OnChange: func(ctx *harness.Ctx, o kube.Object, deleted bool) { h.changed(ctx, k, o, deleted) },
			OnSync:   func(ctx *harness.Ctx) { h.startWorking(ctx) }}
		h.infs[k.res] = inf
		inf.Start(ctx)
	}
}

// Lead implements kube.Controller.
func (h *host) Lead(ctx *harness.Ctx, _ *kube.Replica) { h.startWorking(ctx) }

// Handle implements kube.Controller: the informers' timers, the queue's
// and the deadlines of writes in flight.
func (h *host) Handle(ctx *harness.Ctx, _ *kube.Replica, in harness.Input) bool {
	for _, k := range h.kinds {
		if h.infs[k.res].Handle(ctx, in) {
			return true
		}
	}
	if h.q.Due(in) {
		h.pump(ctx)
		return true
	}
	if in.Kind == harness.InputTimer && in.Tag == tagDeadline {
		h.deadline(ctx, in.Arg)
		return true
	}
	return false
}

// States reports the informers' states, for faults aimed at them.
func (h *host) States(_ time.Duration, dst []string) []string {
	for _, k := range h.kinds {
		dst = h.infs[k.res].States(dst)
	}
	return dst
}

// startWorking starts working the queue once the replica leads and every
// informer has synced: as a controller-runtime controller starting on an
// informer that is already filled, it enqueues every object of For's kind
// and the owner of every owned object.
func (h *host) startWorking(ctx *harness.Ctx) {
	if h.working || !h.r.Leading() {
		return
	}
	for _, k := range h.kinds {
		if !h.infs[k.res].Synced() {
			return
		}
	}
	h.working = true
	for _, o := range h.infs[h.spec.forKind.res].List() {
		h.q.Add(o.Name)
	}
	for _, k := range h.spec.owns {
		for _, o := range h.infs[k.res].List() {
			if owner := h.controllerOwner(o); owner != "" {
				h.q.Add(owner)
			}
		}
	}
	ctx.Notef("%s: caches synced, %d requests queued", h.spec.name, h.q.Len())
	h.pump(ctx)
}

// changed is an informer's change: an object of For's kind enqueues
// itself, an owned one its controller owner (its former one too, if that
// changed).
func (h *host) changed(ctx *harness.Ctx, k kindInfo, o kube.Object, deleted bool) {
	if k.res == h.spec.forKind.res {
		if h.working {
			h.q.Add(o.Name)
		}
		h.pump(ctx)
		return
	}
	key := string(k.res) + "/" + o.Name
	owner, former := h.controllerOwner(o), h.owners[key]
	if deleted || owner == "" {
		delete(h.owners, key)
	} else {
		h.owners[key] = owner
	}
	if h.working {
		if owner != "" {
			h.q.Add(owner)
		}
		if former != "" && former != owner {
			h.q.Add(former)
		}
	}
	h.pump(ctx)
}

// controllerOwner returns the "namespace/name" of o's controller owner of
// For's kind, or "".
func (h *host) controllerOwner(o kube.Object) string {
	f := h.spec.forKind
	for _, ref := range o.OwnerRefs {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if ref.Controller && err == nil && ref.Kind == f.res && gv.Group == f.gvk.Group {
			return o.OwnerName(ref)
		}
	}
	return ""
}

// pump starts reconciles while the queue has work and none is running.
func (h *host) pump(ctx *harness.Ctx) {
	for h.cur == nil && h.working && h.r.Leading() {
		item, ok := h.q.Get()
		if !ok {
			return
		}
		h.start(ctx, item)
	}
}

// runKey keys a reconcile's run in the context its Reconcile is given.
type runKey struct{}

// run is one Reconcile call, running as a coroutine.
type run struct {
	h    *host
	item string
	// next resumes the coroutine until its next write (a call to send)
	// or its end; stop abandons it.
	next   func() (*call, bool)
	stop   func()
	yield  func(*call) bool
	cancel context.CancelFunc
	// pending is the write the coroutine waits on.
	pending *call
	aborted bool
	result  reconcile.Result
	err     error
}

// call is one write of a reconcile, or one read of its API reader: the
// request, then its answer.
type call struct {
	req  kube.Request
	read bool
	// timeout is what is left of the caller's context deadline (0: none).
	timeout time.Duration
	id      uint64
	timer   harness.TimerID
	resp    kube.Response
	// err is set instead of resp when the caller's deadline passed first.
	err error
}

// ErrAbandoned answers the client calls of a reconcile whose process
// stopped (or whose run ended): they reach nobody.
var ErrAbandoned = errors.New("hasim: the reconcile was abandoned: its process stopped")

// start runs the reconcile of item as a coroutine, up to its first write.
func (h *host) start(ctx *harness.Ctx, item string) {
	ns, name, _ := strings.Cut(item, "/")
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}
	base, cancel := context.WithCancel(context.Background())
	r := &run{h: h, item: item, cancel: cancel}
	rctx := context.WithValue(base, runKey{}, r)
	r.next, r.stop = iter.Pull(func(yield func(*call) bool) {
		r.yield = yield
		defer func() {
			// controller-runtime recovers a panicking Reconcile and
			// takes it as an error.
			if p := recover(); p != nil {
				r.result, r.err = reconcile.Result{}, fmt.Errorf("panic: %v [recovered]", p)
			}
		}()
		r.result, r.err = h.rec.Reconcile(rctx, req)
	})
	h.cur = r
	h.spec.m.live[h.proc] = r
	ctx.Notef("%s: reconcile %s", h.spec.name, item)
	h.resume(ctx)
}

// resume runs the current reconcile's user code, at the replica's local
// time, until its next write or its end.
func (h *host) resume(ctx *harness.Ctx) {
	r := h.cur
	h.spec.m.clock.advance(ctx.Now())
	if c, ok := r.next(); ok {
		h.send(ctx, r, c)
		return
	}
	r.cancel()
	h.cur = nil
	delete(h.spec.m.live, h.proc)
	h.finish(ctx, r)
}

// send issues a reconcile's write (or its API reader's read) through the
// replica, and resumes the reconcile with the answer.
func (h *host) send(ctx *harness.Ctx, r *run, c *call) {
	h.calls++
	c.id = h.calls
	r.pending = c
	answered := func(resp kube.Response) {
		if h.cur != r || r.pending != c {
			return // abandoned, or its deadline passed
		}
		ctx.Cancel(c.timer)
		r.pending, c.resp = nil, resp
		h.resume(ctx)
		h.pump(ctx)
	}
	if c.read {
		what := string(c.req.Verb) + " " + string(c.req.Kind)
		if c.req.Name != "" {
			what += " " + c.req.Name
		}
		ctx.Notef("%s: reconcile %s: reads %s from the API", h.spec.name, r.item, what)
		h.r.Read(ctx, c.req, answered)
	} else {
		h.r.Write(ctx, c.req, answered)
	}
	if c.timeout > 0 {
		c.timer = ctx.After(c.timeout, tagDeadline, c.id)
	}
}

// deadline ends the wait of a write whose caller's context deadline
// passed; the write itself may still land.
func (h *host) deadline(ctx *harness.Ctx, id uint64) {
	r := h.cur
	if r == nil || r.pending == nil || r.pending.id != id {
		return
	}
	c := r.pending
	r.pending, c.err = nil, context.DeadlineExceeded
	ctx.Notef("%s: reconcile %s: context deadline passed with %s %s/%s in flight", h.spec.name, r.item, c.req.Verb, c.req.Kind, c.req.Name)
	h.resume(ctx)
	h.pump(ctx)
}

// finish files a finished reconcile's outcome with the queue, as
// controller-runtime's reconcileHandler does: an error backs off (unless
// terminal), RequeueAfter waits, Requeue backs off, success forgets the
// item's failures.
func (h *host) finish(ctx *harness.Ctx, r *run) {
	item, res := r.item, r.result
	switch {
	case r.err != nil && errors.Is(r.err, reconcile.TerminalError(nil)):
		ctx.Notef("%s: reconciled %s: %v (not requeued)", h.spec.name, item, r.err)
	case r.err != nil:
		h.q.AddRateLimited(ctx, item)
		ctx.Notef("%s: reconciled %s: error (retry after backoff): %v", h.spec.name, item, r.err)
	case res.RequeueAfter > 0:
		h.q.Forget(item)
		h.q.AddAfter(ctx, item, res.RequeueAfter)
		ctx.Notef("%s: reconciled %s: requeue after %s", h.spec.name, item, res.RequeueAfter)
	case res.Requeue: //nolint:staticcheck // controller-runtime still honours it
		h.q.AddRateLimited(ctx, item)
		ctx.Notef("%s: reconciled %s: requeue", h.spec.name, item)
	default:
		h.q.Forget(item)
		ctx.Notef("%s: reconciled %s", h.spec.name, item)
	}
	h.q.Done(item)
}

// abandon stops a reconcile whose process stopped: its context is
// cancelled and the rest of its user code runs at once, every client call
// failing without reaching the simulation.
func (r *run) abandon() {
	r.aborted = true
	r.cancel()
	if r.h.cur == r {
		r.h.cur = nil
	}
	r.stop()
}
