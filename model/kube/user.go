package kube

import (
	"strconv"
	"strings"
	"time"

	"hasim/harness"
)

// UserRecorder is where users report their calls: the scenario records
// each one for the checkers (linearizability of objects, resourceVersions
// seen, availability through the load balancer). Begin returns the
// function to call with the answer.
type UserRecorder interface {
	// Begin records a call; for a conditional update, prev is the data
	// the user saw at the resourceVersion it sends.
	Begin(ctx *harness.Ctx, user string, req Request, prev string) func(Response)
}

// User is a kubectl-like user on its own host, talking to the load
// balancer with a fresh connection per call. It reads and writes
// ConfigMaps (creates, and updates conditional on the resourceVersion it
// last saw), and the first user owns the workload: it creates the
// ReplicaSet and scales it now and then.
type User struct {
	Name    string
	Server  harness.ProcID
	Resolve func() harness.ProcID // the VIP's holder, when the LB floats
	// Keys is the number of ConfigMaps users share.
	Keys int
	// Interval is the mean time between calls [500ms].
	Interval time.Duration
	// Epoch: the ConfigMaps change every Epoch of the user's local time
	// [5m].
	Epoch time.Duration
	// CacheReads makes reads use resourceVersion "0".
	CacheReads bool
	// Workload: this user creates ReplicaSet RS with Replicas and rescales
	// it every ScaleEvery (0: never) to 1..MaxReplicas.
	Workload    bool
	RS          string
	Replicas    int
	MaxReplicas int
	ScaleEvery  time.Duration
	Recorder    UserRecorder
	// Indeterminate caps, per key, the writes of unknown outcome; past it
	// the user only reads that key (keeps linearizability checking
	// tractable) [3].
	Indeterminate int

	client  Client
	n       int
	known   map[string]int64  // key → last resourceVersion seen (0: absent)
	data    map[string]string // key → the data seen with it
	unknown map[string]int
	busy    bool
	created bool
	epoch   int
}

// ConfigMap returns the name of shared ConfigMap i of key epoch e.
func ConfigMap(e, i int) string { return "default/cm-" + strconv.Itoa(e) + "-" + strconv.Itoa(i) }

// ConfigMapEpoch returns the key epoch of a users' ConfigMap name (that of
// ConfigMap(3, 1) is 3); 0 for any other name.
func ConfigMapEpoch(name string) int {
	rest, ok := strings.CutPrefix(name, "default/cm-")
	if !ok {
		return 0
	}
	e, _, _ := strings.Cut(rest, "-")
	n, _ := strconv.Atoi(e)
	return n
}

// Step implements harness.Process.
func (u *User) Step(ctx *harness.Ctx, in harness.Input) {
	if in.Kind == harness.InputStart {
		u.client = Client{Server: u.Server, Resolve: u.Resolve, ID: ctx.ClientID(0), Agent: u.Name, FreshConn: true}
		u.known, u.unknown, u.data = map[string]int64{}, map[string]int{}, map[string]string{}
		if u.Interval == 0 {
			u.Interval = 500 * time.Millisecond
		}
		if u.Epoch == 0 {
			u.Epoch = 5 * time.Minute
		}
		if u.Indeterminate == 0 {
			u.Indeterminate = 3
		}
		u.next(ctx)
		if u.Workload {
			u.createRS(ctx)
		}
		return
	}
	if u.client.Handle(ctx, in) || in.Kind != harness.InputTimer {
		return
	}
	switch in.Tag {
	case "user-op":
		u.op(ctx)
		u.next(ctx)
	case "user-create-rs":
		u.createRS(ctx)
	case "user-scale":
		u.scale(ctx, 0)
	}
}

func (u *User) next(ctx *harness.Ctx) {
	// Exponential-ish spacing: uniform in [0.5, 1.5) of the interval.
	d := u.Interval/2 + time.Duration(ctx.Rand().Int64n(int64(u.Interval)))
	ctx.After(d, "user-op", 0)
}

const userTimeout = 10 * time.Second

func (u *User) call(ctx *harness.Ctx, req Request, cb func(Response)) {
	done := func(Response) {}
	if u.Recorder != nil {
		done = u.Recorder.Begin(ctx, u.Name, req, u.data[string(req.Kind)+"/"+req.Name])
	}
	u.client.Do(ctx, req, userTimeout, func(r Response) {
		done(r)
		if cb != nil {
			cb(r)
		}
	})
}

// op runs one ConfigMap call: a read, or a write (a create when the user
// has not seen the object, else an update conditional on what it saw).
func (u *User) op(ctx *harness.Ctx) {
	if u.busy || u.Keys == 0 {
		return // one call at a time: each user is a sequential client
	}
	if e := int(ctx.Now() / u.Epoch); e != u.epoch {
		// A new key epoch: the previous keys are left alone for good, so
		// their histories can be judged and dropped (memory stays flat
		// over long runs).
		u.epoch = e
		clear(u.known)
		clear(u.data)
		clear(u.unknown)
	}
	name := ConfigMap(u.epoch, int(ctx.Rand().Int64n(int64(u.Keys))))
	key := string(ConfigMaps) + "/" + name
	read := ctx.Rand().Int64n(2) == 0 || u.unknown[key] >= u.Indeterminate
	var req Request
	switch {
	case read:
		req = Request{Verb: Get, Kind: ConfigMaps, Name: name}
		if u.CacheReads {
			req.RV = RVCache
		}
	default:
		u.n++
		obj := Object{Data: u.Name + "-" + strconv.Itoa(u.n)}
		rv, seen := u.known[key]
		if !seen || rv == 0 {
			req = Request{Verb: Create, Kind: ConfigMaps, Name: name, Obj: obj}
		} else {
			obj.RV = rv
			req = Request{Verb: Update, Kind: ConfigMaps, Name: name, Obj: obj}
		}
	}
	u.busy = true
	u.call(ctx, req, func(r Response) {
		u.busy = false
		switch {
		case r.Code == StatusOK || r.Code == StatusCreated || r.Code == StatusConflict && r.Obj.Kind != "":
			u.known[key], u.data[key] = r.Obj.RV, r.Obj.Data
		case r.Code == StatusNotFound:
			u.known[key] = 0
		case req.Verb.Write() && Indeterminate(r.Code):
			u.unknown[key]++
			delete(u.known, key)
		}
	})
}

func (u *User) createRS(ctx *harness.Ctx) {
	u.call(ctx, Request{Verb: Create, Kind: ReplicaSets, Name: u.RS, Obj: Object{Replicas: u.Replicas}}, func(r Response) {
		if r.Code == StatusCreated || r.Code == StatusConflict {
			u.created = true
			if u.ScaleEvery > 0 {
				ctx.After(u.ScaleEvery, "user-scale", 0)
			}
			return
		}
		ctx.After(2*time.Second, "user-create-rs", 0)
	})
}

// scale reads the ReplicaSet and writes a new replica count conditional on
// what it read (kubectl scale), retrying a few times on conflicts and
// errors.
func (u *User) scale(ctx *harness.Ctx, attempt int) {
	retry := func() {
		if attempt < 5 {
			u.scale(ctx, attempt+1)
			return
		}
		ctx.After(u.ScaleEvery, "user-scale", 0)
	}
	u.call(ctx, Request{Verb: Get, Kind: ReplicaSets, Name: u.RS}, func(r Response) {
		if r.Code != StatusOK {
			retry()
			return
		}
		rs := r.Obj
		want := 1 + int(ctx.Rand().Int64n(int64(u.MaxReplicas)))
		if want == rs.Replicas {
			want = rs.Replicas%u.MaxReplicas + 1
		}
		rs.Replicas = want
		u.call(ctx, Request{Verb: Update, Kind: ReplicaSets, Name: u.RS, Obj: rs}, func(w Response) {
			if w.Code != StatusOK {
				retry()
				return
			}
			ctx.Notef("scaled %s to %d", u.RS, want)
			ctx.After(u.ScaleEvery, "user-scale", 0)
		})
	})
}
