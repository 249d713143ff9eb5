package kube

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
	"hasim/model"
	"hasim/model/store"
)

// Bug switches of the API server.
const (
	BugHealthzNoEtcd = "apiserver-healthz-no-etcd"
	BugCacheReads    = "apiserver-cache-reads"
)

func init() {
	model.Register(model.Bug{Name: BugHealthzNoEtcd, Scenarios: []string{"cluster"}, Caught: []harness.CheckName{model.CheckAPIAvailable},
		Plants: "/healthz answers ok without checking etcd, so the load balancer keeps an API server that cannot reach quorum"})
	model.Register(model.Bug{Name: BugCacheReads, Scenarios: []string{"cluster"}, Caught: []harness.CheckName{model.CheckNoTimeTravel.Of("quorum"), model.CheckAPILinearizable},
		Plants: "GETs without a resourceVersion are served from the watch cache instead of a quorum read"})
}

// APIServerConfig wires one API server.
type APIServerConfig struct {
	// Name is how responses and the trace name the server ("m1/apiserver").
	Name string
	// Etcd lists the members it talks to: its local one when stacked, all
	// of them when external.
	Etcd []harness.ProcID
	// (The server's two store clients are numbered from its process:
	// Ctx.ClientID 0 and 1.)
	// (requests, health probes); unique in the cluster.
	// RequestTimeout bounds every call to etcd [60s].
	RequestTimeout time.Duration
	// HealthTimeout bounds the etcd health probe [2s]; HealthInterval is
	// the least time between two real probes [1s].
	HealthTimeout, HealthInterval time.Duration
	// WatchCacheSize is how many events per resource the watch cache keeps
	// for watchers that resume from a resourceVersion [100].
	WatchCacheSize int
	// ConsistentListWait is how long a consistent LIST waits for the cache
	// to catch up with etcd before reading etcd itself [3s].
	ConsistentListWait time.Duration
	// CompactInterval: how often the server compacts etcd's history to
	// the revision it saw one interval earlier [5m].
	CompactInterval time.Duration
	Bugs            model.Bugs
	// Resources are the generic resources the server serves (see
	// generic.go), besides the built-in kinds.
	Resources []Resource
	// Wrote, if set, is called when a write succeeded (before the answer
	// leaves): the scenario learns what landed, and when.
	Wrote func(ctx *harness.Ctx, req Request, obj Object)
}

func (c *APIServerConfig) fill() {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = 2 * time.Second
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = time.Second
	}
	if c.WatchCacheSize == 0 {
		c.WatchCacheSize = 100
	}
	if c.ConsistentListWait == 0 {
		c.ConsistentListWait = 3 * time.Second
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = 5 * time.Minute
	}
}

// APIServer is a stateless front of etcd with a watch cache.
type APIServer struct {
	cfg    APIServerConfig
	kv     store.Client
	health store.Client
	conns  map[peerConn]bool
	cache  cache

	// The etcd watch feeding the cache.
	watchID     uint64
	watchFrom   harness.ProcID
	lastWatch   time.Duration // local time of its last message
	progressAt  time.Duration // a progress request is out since then (-1: none)
	listing     bool
	watchers    []*watcher
	waitingList []*pendingList
	nextWatch   uint64

	// /healthz's etcd check.
	probing    bool
	probeAt    time.Duration
	probed     bool
	healthy    bool
	healthWait []pendingReply

	compactRev int64 // the revision to compact at the next round

	generic map[Kind]string // generic resource → its apiVersion
}

type peerConn struct {
	from harness.ProcID
	conn uint64
}

type pendingReply struct {
	to  harness.ProcID
	req Request
	// named counts the names generateName drew for a create (0: the
	// request named its object).
	named int
}

type pendingList struct {
	pendingReply
	target int64
	timer  harness.TimerID
	done   bool
}

type watcher struct {
	to   harness.ProcID
	conn uint64
	id   uint64
	kind Kind
	from int64 // events at or below this revision were asked not to be sent
}

// NewAPIServer returns an API server process.
func NewAPIServer(cfg APIServerConfig) *APIServer {
	cfg.fill()
	a := &APIServer{cfg: cfg, conns: map[peerConn]bool{}, progressAt: -1, generic: map[Kind]string{}}
	for _, r := range cfg.Resources {
		a.generic[r.Kind] = r.APIVersion
	}
	a.kv = store.Client{Endpoints: cfg.Etcd, Timeout: cfg.RequestTimeout}
	a.health = store.Client{Endpoints: cfg.Etcd, Timeout: cfg.HealthTimeout}
	a.cache.init(cfg.WatchCacheSize, cfg.Resources)
	return a
}

// CacheRevision is the revision the watch cache has caught up with (0
// before its first list).
func (a *APIServer) CacheRevision() int64 { return a.cache.rev }

// Step implements harness.Process.
func (a *APIServer) Step(ctx *harness.Ctx, in harness.Input) {
	if a.kv.Handle(ctx, in) || a.health.Handle(ctx, in) {
		return
	}
	switch in.Kind {
	case harness.InputStart:
		a.kv.ID, a.health.ID = ctx.ClientID(0), ctx.ClientID(1)
		a.relist(ctx)
		ctx.After(5*time.Second, "as-keepalive", 0)
		ctx.After(a.cfg.CompactInterval, "as-compact", 0)
	case harness.InputTimer:
		a.timer(ctx, in)
	case harness.InputMessage:
		a.message(ctx, in.Msg)
	case harness.InputRefused:
		// A client or the load balancer went away: forget its connection.
		if c, ok := connOf(in.Msg.Payload); ok {
			a.closeConn(peerConn{in.Msg.To, c})
		}
	}
}

func (a *APIServer) timer(ctx *harness.Ctx, in harness.Input) {
	switch in.Tag {
	case "as-keepalive":
		// The etcd client's gRPC keepalive: after 30s without a word on
		// the watch stream, ask for progress; no answer in 10s and the
		// stream is given up and reopened.
		now := ctx.Now()
		switch {
		case a.listing:
		case a.progressAt >= 0 && now-a.progressAt >= 10*time.Second:
			ctx.Notef("etcd watch silent since %s: reopening", harness.FormatTime(a.lastWatch))
			a.rewatch(ctx)
		case a.progressAt < 0 && now-a.lastWatch >= 30*time.Second:
			a.requestProgress(ctx)
		}
		ctx.After(5*time.Second, "as-keepalive", 0)
	case "as-list-wait":
		for _, p := range a.waitingList {
			if p.timer == in.Timer && !p.done {
				p.done = true
				a.listFromEtcd(ctx, p.pendingReply)
			}
		}
		a.pruneLists()
	case "as-relist":
		a.relist(ctx)
	case "as-compact":
		// kube-apiserver's compactor: compact to what was the newest
		// revision one interval ago.
		if a.compactRev > 0 {
			a.kv.Compact(ctx, a.compactRev, nil)
		}
		a.compactRev = a.cache.rev
		ctx.After(a.cfg.CompactInterval, "as-compact", 0)
	}
}

func (a *APIServer) message(ctx *harness.Ctx, msg harness.Message) {
	switch p := msg.Payload.(type) {
	case store.WatchResponse:
		a.etcdWatch(ctx, msg.From, p)
	case Open:
		a.conns[peerConn{msg.From, p.Conn}] = true
	case Close:
		a.closeConn(peerConn{msg.From, p.Conn})
	case Reset:
		a.closeConn(peerConn{msg.From, p.Conn})
	case Ping:
		if a.conns[peerConn{msg.From, p.Conn}] {
			ctx.Send(msg.From, Pong(p))
		} else {
			ctx.Send(msg.From, Reset{Conn: p.Conn})
		}
	case StopWatch:
		for i, w := range a.watchers {
			if w.to == msg.From && w.conn == p.Conn && w.id == p.ID {
				a.watchers = append(a.watchers[:i], a.watchers[i+1:]...)
				break
			}
		}
	case Request:
		if p.Verb == Healthz {
			a.healthz(ctx, pendingReply{to: msg.From, req: p})
			return
		}
		if !a.conns[peerConn{msg.From, p.Conn}] {
			ctx.Send(msg.From, Reset{Conn: p.Conn})
			return
		}
		a.serve(ctx, pendingReply{to: msg.From, req: p})
	}
}

func (a *APIServer) closeConn(pc peerConn) {
	delete(a.conns, pc)
	n := 0
	for _, w := range a.watchers {
		if w.to != pc.from || w.conn != pc.conn {
			a.watchers[n] = w
			n++
		}
	}
	clear(a.watchers[n:])
	a.watchers = a.watchers[:n]
}

// reply answers a request if its connection is still open.
func (a *APIServer) reply(ctx *harness.Ctx, p pendingReply, r Response) {
	if !a.conns[peerConn{p.to, p.req.Conn}] {
		return
	}
	r.Conn, r.ID, r.Server = p.req.Conn, p.req.ID, a.cfg.Name
	// Messages carry objects in memory: each receiver gets its own maps
	// and slices, never the cache's.
	if r.Obj.generic() {
		r.Obj = r.Obj.DeepCopy()
	}
	for i := range r.Items {
		if r.Items[i].generic() {
			r.Items[i] = r.Items[i].DeepCopy()
		}
	}
	ctx.Send(p.to, r)
}

func errorResponse(code store.Code) Response {
	switch code {
	case store.CodeTimeout:
		return Response{Code: StatusTimeout, Reason: "etcd request timed out"}
	case store.CodeUnavailable:
		return Response{Code: StatusUnavailable, Reason: "etcd unavailable"}
	case store.CodeCompacted:
		return Response{Code: StatusGone, Reason: "compacted"}
	}
	return Response{Code: StatusInternal, Reason: "etcd: " + string(code)}
}

// serve answers one API request.
func (a *APIServer) serve(ctx *harness.Ctx, p pendingReply) {
	req := p.req
	if req.Selector != "" {
		if _, err := ParseSelector(req.Selector); err != nil || req.Verb != List {
			reason := "unsupported by hasim: a label selector on " + string(req.Verb) + " (LIST only)"
			if err != nil {
				reason = err.Error()
			}
			a.reply(ctx, p, Response{Code: StatusBadRequest, Reason: reason})
			return
		}
	}
	_, generic := a.generic[req.Kind]
	if !generic && (req.Verb == Patch || req.Subresource != "") {
		a.reply(ctx, p, Response{Code: StatusBadRequest,
			Reason: "unsupported by hasim: " + string(req.Verb) + " of " + string(req.Kind) + " (PATCH and the status subresource serve registered resources only)"})
		return
	}
	if generic && req.Verb == Create && req.Obj.GenerateName != "" && strings.HasSuffix(req.Name, "/") {
		a.generateName(ctx, p)
		return
	}
	if generic && (req.Verb == Create || req.Verb == Update || req.Verb == Delete || req.Verb == Patch) {
		a.writeGeneric(ctx, p, 0)
		return
	}
	if !generic && (req.Verb == Create || req.Verb == Update) && req.Obj.hasGenericFields() {
		a.reply(ctx, p, Response{Code: StatusBadRequest,
			Reason: "unsupported by hasim: generic metadata, spec or status on " + string(req.Kind) + " (register a Resource for them)"})
		return
	}
	switch req.Verb {
	case Get:
		if req.RV == RVCache || req.RV == "" && a.cfg.Bugs.Has(BugCacheReads) && a.cache.ready {
			if !a.cache.ready {
				a.reply(ctx, p, Response{Code: StatusTooMany, Reason: "watch cache not ready"})
				return
			}
			o, ok := a.cache.get(req.Kind, req.Name)
			if !ok {
				a.reply(ctx, p, Response{Code: StatusNotFound, RV: a.cache.rev})
				return
			}
			a.reply(ctx, p, Response{Code: StatusOK, Obj: o})
			return
		}
		a.get(ctx, req.Kind, req.Name, func(o Object, found bool, r store.Response) {
			switch {
			case r.Err != store.CodeOK:
				a.reply(ctx, p, errorResponse(r.Err))
			case !found:
				a.reply(ctx, p, Response{Code: StatusNotFound, RV: r.Result.Revision})
			default:
				a.reply(ctx, p, Response{Code: StatusOK, Obj: o})
			}
		})
	case List:
		if req.RV == RVCache {
			if !a.cache.ready {
				a.reply(ctx, p, Response{Code: StatusTooMany, Reason: "watch cache not ready"})
				return
			}
			a.replyList(ctx, p, a.cache.list(req.Kind), a.cache.rev)
			return
		}
		a.consistentList(ctx, p)
	case Watch:
		a.watch(ctx, p)
	case Create, Update, Delete:
		a.write(ctx, p)
	case Bind:
		a.bind(ctx, p, 0)
	default:
		a.reply(ctx, p, Response{Code: 400, Reason: "unknown verb " + string(req.Verb)})
	}
}

// replyList answers a LIST with the items its label selector matches.
func (a *APIServer) replyList(ctx *harness.Ctx, p pendingReply, items []Object, rev int64) {
	if p.req.Selector != "" {
		sel, _ := ParseSelector(p.req.Selector) // checked by serve
		kept := items[:0:0]
		for _, o := range items {
			if sel.Matches(o.Labels) {
				kept = append(kept, o)
			}
		}
		items = kept
	}
	a.reply(ctx, p, Response{Code: StatusOK, Items: items, RV: rev})
}

// writeGeneric runs a write to a generic object as kube-apiserver's
// GuaranteedUpdate does: read the object, compute the new one, and write
// it conditional on the read's revision, re-reading on a conflict (up to
// five times). A resourceVersion precondition in the request is checked
// against what was read.
func (a *APIServer) writeGeneric(ctx *harness.Ctx, p pendingReply, attempt int) {
	req := p.req
	bad := func(reason string) { a.reply(ctx, p, Response{Code: StatusBadRequest, Reason: reason}) }
	invalid := func(reason string) { a.reply(ctx, p, Response{Code: StatusInvalid, Reason: reason}) }
	a.get(ctx, req.Kind, req.Name, func(cur Object, found bool, r store.Response) {
		if r.Err != store.CodeOK {
			a.reply(ctx, p, errorResponse(r.Err))
			return
		}
		key := Key(req.Kind, req.Name)
		cmp := store.Compare{Key: key, Target: store.TargetMod, Result: store.Equal, Num: cur.RV}
		next, del := cur, false
		switch {
		case req.Verb == Create:
			if found && p.named > 0 && p.named <= generateNameRetries {
				a.generateName(ctx, p)
				return
			}
			if found {
				reason := "already exists"
				if p.named > 0 {
					reason += ", the server was not able to generate a unique name for the object"
				}
				a.reply(ctx, p, Response{Code: StatusConflict, Obj: cur, Reason: reason})
				return
			}
			if v := a.generic[req.Kind]; req.Obj.APIVersion != "" && req.Obj.APIVersion != v {
				bad(fmt.Sprintf("apiVersion %q: %s are served as %q", req.Obj.APIVersion, req.Kind, v))
				return
			}
			spec, err := canonicalJSON("spec", req.Obj.Spec)
			if err != nil {
				bad(err.Error())
				return
			}
			if strings.HasSuffix(req.Name, "/") {
				invalid("metadata.name: name or generateName is required")
				return
			}
			if err := validateMeta(req.Obj); err != nil {
				invalid(err.Error())
				return
			}
			next = req.Obj.DeepCopy()
			next.APIVersion, next.Spec = a.generic[req.Kind], spec
			next.UID, next.Generation, next.Status, next.DeletionTimestamp = newUID(ctx), 1, "", 0
			next.CreationTimestamp = max(ctx.Now(), 1)
			cmp.Num = 0
		case !found:
			a.reply(ctx, p, Response{Code: StatusNotFound, RV: r.Result.Revision})
			return
		case req.Verb == Update && req.Obj.RV == 0:
			// Custom resources allow no unconditional update.
			invalid("metadata.resourceVersion: must be specified for an update")
			return
		case req.Obj.RV > 0 && req.Obj.RV != cur.RV:
			a.reply(ctx, p, Response{Code: StatusConflict, Obj: cur, Reason: "the object has been modified"})
			return
		case req.Verb == Delete:
			if len(cur.Finalizers) == 0 {
				del = true
				break
			}
			if cur.Deleting() {
				a.reply(ctx, p, Response{Code: StatusOK, Obj: cur})
				return
			}
			// markAsDeleting: the deletionTimestamp, and a new generation.
			next.DeletionTimestamp = max(ctx.Now(), 1)
			next.Generation++
		default: // Update, Patch
			body := req.Obj
			if req.Verb == Patch {
				var err error
				if body, err = mergePatch(cur, req.PatchBody); err != nil {
					bad(err.Error())
					return
				}
			}
			spec, err := canonicalJSON("spec", body.Spec)
			if err != nil {
				bad(err.Error())
				return
			}
			status, err := canonicalJSON("status", body.Status)
			if err != nil {
				bad(err.Error())
				return
			}
			switch req.Subresource {
			case SubresourceStatus:
				next.Status = status
			case "":
				if err := validateMeta(body); err != nil {
					invalid(err.Error())
					return
				}
				if cur.Deleting() {
					for _, f := range body.Finalizers {
						if !slices.Contains(cur.Finalizers, f) {
							invalid("metadata.finalizers: no new finalizers can be added if the object is being deleted, found new finalizer " + strconv.Quote(f))
							return
						}
					}
				}
				next = body.DeepCopy()
				next.Spec, next.Status = spec, cur.Status
				next.APIVersion, next.UID, next.DeletionTimestamp, next.Generation = cur.APIVersion, cur.UID, cur.DeletionTimestamp, cur.Generation
				next.CreationTimestamp = cur.CreationTimestamp
				if spec != cur.Spec {
					next.Generation++
				}
				// The update that removes a deleting object's last
				// finalizer deletes it.
				del = cur.Deleting() && len(next.Finalizers) == 0
			default:
				bad("unsupported by hasim: subresource " + strconv.Quote(req.Subresource))
				return
			}
		}
		next.Kind, next.Name = req.Kind, req.Name
		op := store.Op{Kind: store.OpPut, Key: key, Value: next.encode()}
		if del {
			op = store.Op{Kind: store.OpDelete, Key: key}
		}
		code := StatusOK
		if req.Verb == Create {
			code = StatusCreated
		}
		a.commit(ctx, p, store.Txn{Compares: []store.Compare{cmp}, Success: []store.Op{op}}, attempt,
			func(n int) { a.writeGeneric(ctx, p, n) }, next, code)
	})
}

// commit runs the write of a GuaranteedUpdate, conditional on what was
// read: a conflict runs the whole update again (retry, up to five times
// in all), then answers 409; success tells Wrote and answers code with obj
// at its new revision.
func (a *APIServer) commit(ctx *harness.Ctx, p pendingReply, txn store.Txn, attempt int, retry func(attempt int), obj Object, code int) {
	a.kv.Do(ctx, txn, false, func(w store.Response) {
		switch {
		case w.Err != store.CodeOK:
			a.reply(ctx, p, errorResponse(w.Err))
		case !w.Result.Succeeded && attempt < 5:
			retry(attempt + 1)
		case !w.Result.Succeeded:
			a.reply(ctx, p, Response{Code: StatusConflict, Reason: "too many conflicts"})
		default:
			obj.RV = w.Result.Revision
			if a.cfg.Wrote != nil {
				a.cfg.Wrote(ctx, p.req, obj)
			}
			a.reply(ctx, p, Response{Code: code, Obj: obj})
		}
	})
}

// generateNameRetries is how many more names kube-apiserver draws for a
// create whose generateName gave a name in use (RetryGenerateName, on by
// default since Kubernetes 1.32) before it answers 409.
const generateNameRetries = 7

// generateName names a create that gave generateName and no name: the
// prefix (cut to leave room for the suffix in 63 characters) and a suffix
// of five random characters from the API server's random source. A name
// in use draws another, up to generateNameRetries more times.
func (a *APIServer) generateName(ctx *harness.Ctx, p pendingReply) {
	ns, _, _ := strings.Cut(p.req.Name, "/")
	prefix := p.req.Obj.GenerateName
	if len(prefix) > 63-5 {
		prefix = prefix[:63-5]
	}
	p.named++
	p.req.Name = ns + "/" + prefix + nameSuffix(ctx)
	a.writeGeneric(ctx, p, 0)
}

// newUID draws an object's uid (from the server's random stream: the
// same in every run of a seed).
func newUID(ctx *harness.Ctx) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b = append(b, '-')
		}
		b = append(b, hex[ctx.Rand().Int64n(16)])
	}
	return string(b)
}

// get reads one object from etcd (a linearizable range).
func (a *APIServer) get(ctx *harness.Ctx, k Kind, name string, cb func(Object, bool, store.Response)) {
	key := Key(k, name)
	a.kv.Do(ctx, store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: key}}}, false, func(r store.Response) {
		if r.Err != store.CodeOK || len(r.Result.Results) == 0 || len(r.Result.Results[0].KVs) == 0 {
			cb(Object{}, false, r)
			return
		}
		kv := r.Result.Results[0].KVs[0]
		o, ok := decodeObject(kv.Key, kv.Value, kv.ModRevision)
		cb(o, ok, r)
	})
}

// consistentList serves a LIST without resourceVersion: read etcd's
// current revision with a quorum read, then serve from the cache once it
// has caught up, or from etcd after ConsistentListWait.
func (a *APIServer) consistentList(ctx *harness.Ctx, p pendingReply) {
	probe := store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: RegistryPrefix + "\x00", Limit: 1}}}
	a.kv.Do(ctx, probe, false, func(r store.Response) {
		if r.Err != store.CodeOK {
			a.reply(ctx, p, errorResponse(r.Err))
			return
		}
		target := r.Result.Revision
		if a.cache.ready && a.cache.rev >= target {
			a.replyList(ctx, p, a.cache.list(p.req.Kind), a.cache.rev)
			return
		}
		pl := &pendingList{pendingReply: p, target: target}
		pl.timer = ctx.After(a.cfg.ConsistentListWait, "as-list-wait", 0)
		a.waitingList = append(a.waitingList, pl)
		if a.progressAt < 0 && !a.listing {
			a.requestProgress(ctx)
		}
	})
}

func (a *APIServer) listFromEtcd(ctx *harness.Ctx, p pendingReply) {
	prefix := KindPrefix(p.req.Kind)
	a.kv.Do(ctx, store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: prefix, Prefix: true}}}, false, func(r store.Response) {
		if r.Err != store.CodeOK {
			a.reply(ctx, p, errorResponse(r.Err))
			return
		}
		items := []Object{}
		for _, kv := range r.Result.Results[0].KVs {
			if o, ok := decodeObject(kv.Key, kv.Value, kv.ModRevision); ok {
				items = append(items, o)
			}
		}
		a.replyList(ctx, p, items, r.Result.Revision)
	})
}

// serveWaitingLists answers the consistent lists the cache has caught up
// with.
func (a *APIServer) serveWaitingLists(ctx *harness.Ctx) {
	for _, pl := range a.waitingList {
		if !pl.done && a.cache.ready && a.cache.rev >= pl.target {
			pl.done = true
			ctx.Cancel(pl.timer)
			a.replyList(ctx, pl.pendingReply, a.cache.list(pl.req.Kind), a.cache.rev)
		}
	}
	a.pruneLists()
}

func (a *APIServer) pruneLists() {
	n := 0
	for _, pl := range a.waitingList {
		if !pl.done {
			a.waitingList[n] = pl
			n++
		}
	}
	clear(a.waitingList[n:])
	a.waitingList = a.waitingList[:n]
}

// write runs a create, update or delete as one etcd transaction with the
// API's preconditions.
func (a *APIServer) write(ctx *harness.Ctx, p pendingReply) {
	req := p.req
	key := Key(req.Kind, req.Name)
	var cmp store.Compare
	var op store.Op
	switch req.Verb {
	case Create:
		cmp = store.Compare{Key: key, Target: store.TargetMod, Result: store.Equal, Num: 0}
		op = store.Op{Kind: store.OpPut, Key: key, Value: req.Obj.encode()}
	case Update:
		op = store.Op{Kind: store.OpPut, Key: key, Value: req.Obj.encode()}
		cmp = store.Compare{Key: key, Target: store.TargetVersion, Result: store.Greater, Num: 0}
		if req.Obj.RV > 0 {
			cmp = store.Compare{Key: key, Target: store.TargetMod, Result: store.Equal, Num: req.Obj.RV}
		}
	case Delete:
		op = store.Op{Kind: store.OpDelete, Key: key}
		cmp = store.Compare{Key: key, Target: store.TargetVersion, Result: store.Greater, Num: 0}
		if req.Obj.RV > 0 {
			cmp = store.Compare{Key: key, Target: store.TargetMod, Result: store.Equal, Num: req.Obj.RV}
		}
	}
	txn := store.Txn{Compares: []store.Compare{cmp}, Success: []store.Op{op},
		Failure: []store.Op{{Kind: store.OpRange, Key: key}}}
	a.kv.Do(ctx, txn, false, func(r store.Response) {
		if r.Err != store.CodeOK {
			a.reply(ctx, p, errorResponse(r.Err))
			return
		}
		if !r.Result.Succeeded {
			kvs := r.Result.Results[0].KVs
			switch {
			case len(kvs) == 0 && req.Verb != Create:
				a.reply(ctx, p, Response{Code: StatusNotFound, RV: r.Result.Revision})
			// Deviation, named: a 409 carries the current object
			// (kube-apiserver's carries a status only); users learn its
			// resourceVersion from it instead of reading it again.
			case req.Verb == Create:
				o, _ := decodeObject(kvs[0].Key, kvs[0].Value, kvs[0].ModRevision)
				a.reply(ctx, p, Response{Code: StatusConflict, Obj: o, Reason: "already exists"})
			default:
				o, _ := decodeObject(kvs[0].Key, kvs[0].Value, kvs[0].ModRevision)
				a.reply(ctx, p, Response{Code: StatusConflict, Obj: o, Reason: "the object has been modified"})
			}
			return
		}
		o := req.Obj
		o.Kind, o.Name, o.RV = req.Kind, req.Name, r.Result.Revision
		code := StatusOK
		if req.Verb == Create {
			code = StatusCreated
		}
		if a.cfg.Wrote != nil {
			a.cfg.Wrote(ctx, req, o)
		}
		a.reply(ctx, p, Response{Code: code, Obj: o})
	})
}

// bind sets a pod's node if it has none: kube-apiserver's binding storage
// runs a GuaranteedUpdate, which re-reads and retries on a conflict.
func (a *APIServer) bind(ctx *harness.Ctx, p pendingReply, attempt int) {
	req := p.req
	a.get(ctx, Pods, req.Name, func(pod Object, found bool, r store.Response) {
		switch {
		case r.Err != store.CodeOK:
			a.reply(ctx, p, errorResponse(r.Err))
			return
		case !found:
			a.reply(ctx, p, Response{Code: StatusNotFound, RV: r.Result.Revision})
			return
		case pod.Node != "":
			a.reply(ctx, p, Response{Code: StatusConflict, Obj: pod, Reason: "pod is already assigned to node " + pod.Node})
			return
		}
		key := Key(Pods, req.Name)
		bound := pod
		bound.Node = req.Node
		txn := store.Txn{Compares: []store.Compare{{Key: key, Target: store.TargetMod, Result: store.Equal, Num: pod.RV}},
			Success: []store.Op{{Kind: store.OpPut, Key: key, Value: bound.encode()}}}
		a.commit(ctx, p, txn, attempt, func(n int) { a.bind(ctx, p, n) }, bound, StatusCreated)
	})
}

// healthz answers /healthz: ok when a linearizable etcd read succeeds
// within HealthTimeout, probing at most once per HealthInterval (a caller
// in between gets the last result).
func (a *APIServer) healthz(ctx *harness.Ctx, p pendingReply) {
	if a.cfg.Bugs.Has(BugHealthzNoEtcd) {
		a.answerHealth(ctx, p, true)
		return
	}
	if a.probed && !a.probing && ctx.Now()-a.probeAt < a.cfg.HealthInterval {
		a.answerHealth(ctx, p, a.healthy)
		return
	}
	a.healthWait = append(a.healthWait, p)
	if a.probing {
		return
	}
	a.probing, a.probeAt = true, ctx.Now()
	a.health.Do(ctx, store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: "health"}}}, false, func(r store.Response) {
		a.probing, a.probed, a.healthy = false, true, r.Err == store.CodeOK
		for _, w := range a.healthWait {
			a.answerHealth(ctx, w, a.healthy)
		}
		clear(a.healthWait)
		a.healthWait = a.healthWait[:0]
	})
}

// answerHealth answers a /healthz (on any connection: a health check
// needs no open one).
func (a *APIServer) answerHealth(ctx *harness.Ctx, p pendingReply, ok bool) {
	r := Response{Code: StatusOK, Conn: p.req.Conn, ID: p.req.ID, Server: a.cfg.Name}
	if !ok {
		r.Code, r.Reason = StatusInternal, "[-]etcd failed"
	}
	ctx.Send(p.to, r)
}

// relist (re)builds the watch cache from a quorum list of every object,
// then watches etcd from there.
func (a *APIServer) relist(ctx *harness.Ctx) {
	if a.listing {
		return
	}
	a.listing = true
	a.stopEtcdWatch(ctx)
	// The reflector's list has a deadline of its own (a member that dies
	// with the request would otherwise hold the cache unready for the
	// whole request timeout): the model's stand-in for the connection
	// reset a real client would see.
	txn := store.Txn{Success: []store.Op{{Kind: store.OpRange, Key: RegistryPrefix, Prefix: true}}}
	a.kv.DoTimeout(ctx, txn, false, 10*time.Second, func(r store.Response) {
		a.listing = false
		if r.Err != store.CodeOK {
			ctx.After(time.Second, "as-relist", 0)
			return
		}
		wasReady := a.cache.ready
		a.cache.reset(r.Result.Revision)
		for _, kv := range r.Result.Results[0].KVs {
			if o, ok := decodeObject(kv.Key, kv.Value, kv.ModRevision); ok {
				a.cache.load(o)
			}
		}
		if wasReady {
			// Watchers cannot follow a cache rebuilt from scratch: end
			// their streams; they will re-list (410).
			for _, w := range a.watchers {
				ctx.Send(w.to, Event{Conn: w.conn, ID: w.id, Type: Error, Code: StatusGone})
			}
			clear(a.watchers)
			a.watchers = a.watchers[:0]
		}
		ctx.Notef("watch cache listed at revision %d", a.cache.rev)
		a.startEtcdWatch(ctx)
		a.serveWaitingLists(ctx)
	})
}

// startEtcdWatch opens the etcd watch that feeds the cache. Deviation,
// named: kube-apiserver's etcd watches require a leader (a member that
// loses its leader cancels them); here a member in a minority keeps the
// watch open and silent, and the cache stays stale until the keepalive
// reopens it or the member rejoins.
func (a *APIServer) startEtcdWatch(ctx *harness.Ctx) {
	a.nextWatch++
	// The incarnation is in the ID: a previous life's watch may still be
	// answered after a restart (see store.Client's request numbers).
	a.watchID = uint64(a.kv.ID)<<32 | uint64(ctx.Incarnation()&0xfff)<<20 | a.nextWatch
	a.watchFrom = a.cfg.Etcd[int(a.nextWatch)%len(a.cfg.Etcd)]
	a.lastWatch, a.progressAt = ctx.Now(), -1
	ctx.Send(a.watchFrom, store.WatchRequest{ID: a.watchID, Key: RegistryPrefix, Prefix: true, FromRev: a.cache.rev + 1})
}

func (a *APIServer) stopEtcdWatch(ctx *harness.Ctx) {
	if a.watchID != 0 {
		ctx.Send(a.watchFrom, store.WatchCancel{ID: a.watchID})
		a.watchID = 0
	}
}

// rewatch reopens the etcd watch after the cache's revision.
func (a *APIServer) rewatch(ctx *harness.Ctx) {
	a.stopEtcdWatch(ctx)
	a.startEtcdWatch(ctx)
}

func (a *APIServer) requestProgress(ctx *harness.Ctx) {
	if a.watchID == 0 {
		return
	}
	a.progressAt = ctx.Now()
	ctx.Send(a.watchFrom, store.WatchProgress{})
}

// etcdWatch applies what the etcd watch delivers to the cache and passes
// it on to the API watchers.
func (a *APIServer) etcdWatch(ctx *harness.Ctx, from harness.ProcID, w store.WatchResponse) {
	if w.ID != a.watchID || a.watchID == 0 {
		return
	}
	a.lastWatch, a.progressAt = ctx.Now(), -1
	if w.Canceled {
		a.watchID = 0
		if w.Err == store.CodeCompacted {
			ctx.Notef("etcd watch compacted at revision %d: re-listing", a.cache.rev)
			a.relist(ctx)
			return
		}
		a.startEtcdWatch(ctx)
		return
	}
	for _, e := range w.Events {
		ev, ok := a.cache.apply(e)
		if !ok {
			continue
		}
		for _, wt := range a.watchers {
			if wt.kind == ev.Obj.Kind && ev.Obj.RV > wt.from {
				ctx.Send(wt.to, Event{Conn: wt.conn, ID: wt.id, Type: ev.Type, Obj: ev.Obj.copyOut()})
			}
		}
	}
	if w.Revision > a.cache.rev {
		a.cache.rev = w.Revision
	}
	a.serveWaitingLists(ctx)
}

// watch serves an API WATCH from the cache.
func (a *APIServer) watch(ctx *harness.Ctx, p pendingReply) {
	req := p.req
	if !a.cache.ready {
		ctx.Send(p.to, Event{Conn: req.Conn, ID: req.ID, Type: Error, Code: StatusTooMany})
		return
	}
	w := &watcher{to: p.to, conn: req.Conn, id: req.ID, kind: req.Kind}
	if req.RV == "" || req.RV == RVCache {
		// Start with the current state, as ADDED events.
		for _, o := range a.cache.list(req.Kind) {
			ctx.Send(p.to, Event{Conn: req.Conn, ID: req.ID, Type: Added, Obj: o.copyOut()})
		}
	} else {
		from, err := strconv.ParseInt(req.RV, 10, 64)
		if err != nil || from < 0 {
			ctx.Send(p.to, Event{Conn: req.Conn, ID: req.ID, Type: Error, Code: 400})
			return
		}
		// Deviation, named: a watch from a revision this cache has not
		// reached yet is served from there on, skipping what the client
		// already has; kube-apiserver waits up to 3s for its cache and
		// then answers "too large resource version".
		w.from = from
		evs, ok := a.cache.since(req.Kind, from)
		if !ok {
			ctx.Send(p.to, Event{Conn: req.Conn, ID: req.ID, Type: Error, Code: StatusGone})
			return
		}
		for _, ev := range evs {
			ctx.Send(p.to, Event{Conn: req.Conn, ID: req.ID, Type: ev.Type, Obj: ev.Obj.copyOut()})
		}
	}
	a.watchers = append(a.watchers, w)
}
