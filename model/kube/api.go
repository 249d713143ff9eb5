// Package kube models a highly available Kubernetes-style control plane on
// hasim's kernel: API servers running active-active in front of the raft
// store, a load balancer with health checks, controller-manager and
// scheduler replicas elected through Lease objects, kubelets on worker
// nodes, and users. The semantics follow kube-apiserver, client-go, haproxy
// and the kubelet; deviations are named where they are made.
//
// Everything speaks one small HTTP-like protocol over connections: a client
// opens a connection (Conn, chosen by the client) to a server (an API
// server, or the load balancer, which proxies the whole connection to one
// backend, as haproxy in TCP mode does), sends Requests on it and gets
// Responses, watch Events, Pongs to its Pings, and a Reset when the far end
// no longer knows the connection.
package kube

import (
	"hasim/harness"
	"strconv"
	"strings"
	"time"
)

// Kind is a resource type.
type Kind string

// The resources the model stores.
const (
	Pods        Kind = "pods"
	ReplicaSets Kind = "replicasets"
	Leases      Kind = "leases"
	Nodes       Kind = "nodes"
	ConfigMaps  Kind = "configmaps"
)

// Kinds lists every resource, in a fixed order.
var Kinds = []Kind{ConfigMaps, Leases, Nodes, Pods, ReplicaSets}

// RegistryPrefix is where the API servers keep objects in the store, as
// kube-apiserver does under /registry.
const RegistryPrefix = "/registry/"

// Key is an object's store key: /registry/<kind>/<namespace>/<name>.
// Names carry their namespace ("default/web-x7k2p").
func Key(k Kind, name string) string { return RegistryPrefix + string(k) + "/" + name }

// KindPrefix is the store prefix of every object of a kind.
func KindPrefix(k Kind) string { return RegistryPrefix + string(k) + "/" }

// splitKey undoes Key.
func splitKey(key string) (Kind, string, bool) {
	rest, ok := strings.CutPrefix(key, RegistryPrefix)
	if !ok {
		return "", "", false
	}
	k, name, ok := strings.Cut(rest, "/")
	return Kind(k), name, ok
}

// Object is any stored object; the fields a kind does not use stay zero.
// RV is the resourceVersion: the store's mod revision of the object's key
// (set by the server on every read and write; on an update it is the
// precondition).
type Object struct {
	Kind Kind
	Name string
	RV   int64
	// Created is the revision that created the object (the key's create
	// revision), where the scenario's observers read the store directly;
	// it is not sent on the wire.
	Created int64

	// Pods: the owning ReplicaSet and the node the pod is bound to.
	Owner string
	Node  string
	// ReplicaSets: desired replicas.
	Replicas int
	// Leases (coordination.k8s.io): holderIdentity, leaseDurationSeconds,
	// acquireTime and renewTime (the holder's wall clock), leaseTransitions.
	Holder        string
	LeaseDuration time.Duration
	AcquireTime   time.Duration
	RenewTime     time.Duration
	Transitions   int
	// Nodes: how many pods fit.
	Capacity int
	// ConfigMaps: the data.
	Data string

	// Generic objects (a registered Resource; see generic.go): their
	// group/version, metadata, and spec and status as JSON objects.
	APIVersion string
	// GenerateName, on a create whose name is empty ("namespace/"), asks
	// the server to name the object: GenerateName and a random suffix.
	GenerateName string
	UID          string
	Labels       map[string]string
	// Annotations are free-form metadata (not selectable).
	Annotations map[string]string
	OwnerRefs   []OwnerRef
	Finalizers  []string
	// CreationTimestamp is when the object was created, on the clock of
	// the API server that created it (never 0 for a stored object).
	CreationTimestamp time.Duration
	// DeletionTimestamp is when deletion began, on the API server's
	// clock (0: not being deleted).
	DeletionTimestamp time.Duration
	// Generation counts the changes of the spec (1 at creation).
	Generation   int64
	Spec, Status string
}

// encode renders the object's content (not its kind, name or RV, which the
// key and the store carry) as the stored value: short fields in a fixed
// order, the free-form data last.
func (o *Object) encode() string {
	b := make([]byte, 0, 48)
	field := func(tag, v string) {
		if len(b) > 0 {
			b = append(b, ';')
		}
		b = append(b, tag...)
		b = append(b, '=')
		b = append(b, v...)
	}
	num := func(tag string, v int64) {
		if v != 0 {
			field(tag, strconv.FormatInt(v, 10))
		}
	}
	if o.Owner != "" {
		field("owner", o.Owner)
	}
	if o.Node != "" {
		field("node", o.Node)
	}
	num("replicas", int64(o.Replicas))
	if o.Holder != "" {
		field("holder", o.Holder)
	}
	num("duration", int64(o.LeaseDuration))
	num("acquire", int64(o.AcquireTime))
	num("renew", int64(o.RenewTime))
	num("transitions", int64(o.Transitions))
	num("capacity", int64(o.Capacity))
	switch {
	case o.generic():
		// Last: a JSON document that holds the data too.
		field("json", o.encodeGeneric())
	case o.Data != "":
		field("data", o.Data)
	}
	return string(b)
}

// decodeObject rebuilds an object from its key, value and mod revision.
func decodeObject(key, value string, rv int64) (Object, bool) {
	k, name, ok := splitKey(key)
	if !ok {
		return Object{}, false
	}
	o := Object{Kind: k, Name: name, RV: rv}
	for value != "" {
		var f string
		if rest, ok := strings.CutPrefix(value, "json="); ok {
			if !o.decodeGeneric(rest) {
				return Object{}, false
			}
			break
		}
		if strings.HasPrefix(value, "data=") {
			f, value = value, ""
		} else {
			f, value, _ = strings.Cut(value, ";")
		}
		tag, v, ok := strings.Cut(f, "=")
		if !ok {
			return Object{}, false
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch tag {
		case "owner":
			o.Owner = v
		case "node":
			o.Node = v
		case "replicas":
			o.Replicas = int(n)
		case "holder":
			o.Holder = v
		case "duration":
			o.LeaseDuration = time.Duration(n)
		case "acquire":
			o.AcquireTime = time.Duration(n)
		case "renew":
			o.RenewTime = time.Duration(n)
		case "transitions":
			o.Transitions = int(n)
		case "capacity":
			o.Capacity = int(n)
		case "data":
			o.Data = v
		default:
			return Object{}, false
		}
	}
	return o, true
}

// String renders the object on one line for the trace.
func (o Object) String() string {
	s := string(o.Kind) + "/" + o.Name + "@" + strconv.FormatInt(o.RV, 10)
	if c := o.encode(); c != "" {
		s += "{" + c + "}"
	}
	return s
}

// Verb is what a Request asks.
type Verb string

// The verbs.
const (
	Get    Verb = "get"
	List   Verb = "list"
	Watch  Verb = "watch"
	Create Verb = "create"
	Update Verb = "update"
	Delete Verb = "delete"
	// Bind is POST pods/<name>/binding: sets the pod's node if it has none.
	Bind Verb = "bind"
	// Patch is a JSON merge patch of a generic object (or of its status).
	Patch Verb = "patch"
	// Healthz is GET /healthz (also /readyz: the model answers both alike).
	Healthz Verb = "healthz"
)

// Write reports whether the verb changes state.
func (v Verb) Write() bool {
	return v == Create || v == Update || v == Delete || v == Bind || v == Patch
}

// RVCache is the resourceVersion "0" of a GET, LIST or WATCH: any
// version will do, served from the API server's watch cache.
const RVCache = "0"

// Request is one API call on a connection. For a watch, ID names the
// stream in every Event.
type Request struct {
	Conn uint64
	ID   uint64
	Verb Verb
	Kind Kind
	Name string
	// RV is the resourceVersion parameter: "" (GET: a quorum read; LIST: a
	// consistent list; WATCH: from now, starting with the current
	// objects), RVCache, or a decimal revision (WATCH: events after it;
	// UPDATE and DELETE: the precondition, in Obj.RV).
	RV string
	// Obj is the body of a create or update; Node the target of a bind.
	Obj  Object
	Node string
	// Subresource SubresourceStatus makes an UPDATE or PATCH of a generic
	// object change its status only.
	Subresource string
	// Selector is a LIST's label selector (see ParseSelector).
	Selector string
	// PatchBody is a PATCH's JSON merge patch.
	PatchBody string
	// Agent names the caller (its identity, as a user agent does): the
	// trace and the deposed-writer check use it.
	Agent string
}

// SubresourceStatus is the status subresource, the only one served.
const SubresourceStatus = "status"

func (r Request) String() string {
	var b strings.Builder
	b.WriteString("api ")
	b.WriteString(string(r.Verb))
	b.WriteString(" conn=")
	b.WriteString(strconv.FormatUint(r.Conn, 10))
	b.WriteString(" id=")
	b.WriteString(strconv.FormatUint(r.ID, 10))
	if r.Kind != "" {
		b.WriteByte(' ')
		b.WriteString(string(r.Kind))
	}
	if r.Name != "" {
		b.WriteByte('/')
		b.WriteString(r.Name)
	}
	if r.RV != "" {
		b.WriteString(" rv=")
		b.WriteString(r.RV)
	}
	if r.Verb == Create || r.Verb == Update {
		b.WriteByte(' ')
		b.WriteString(r.Obj.String())
	}
	if r.Node != "" {
		b.WriteString(" node=")
		b.WriteString(r.Node)
	}
	if r.Subresource != "" {
		b.WriteString(" subresource=")
		b.WriteString(r.Subresource)
	}
	if r.Selector != "" {
		b.WriteString(" selector=")
		b.WriteString(strconv.Quote(r.Selector))
	}
	if r.PatchBody != "" {
		b.WriteString(" patch=")
		b.WriteString(r.PatchBody)
	}
	if r.Agent != "" {
		b.WriteString(" by=")
		b.WriteString(r.Agent)
	}
	return b.String()
}

// HTTP-like status codes of Responses (and of watch Events of type Error).
const (
	StatusOK            = 200
	StatusCreated       = 201
	StatusBadRequest    = 400 // invalid, or unsupported by hasim (the reason says which)
	StatusNotFound      = 404
	StatusConflict      = 409 // AlreadyExists on create, Conflict on update/bind
	StatusInvalid       = 422 // refused by validation (the reason names the field)
	StatusGone          = 410 // watch: the resourceVersion is too old
	StatusTooMany       = 429 // the watch cache is not ready yet; retry
	StatusInternal      = 500 // etcd said no (no leader, ...); a write's outcome is unknown
	StatusUnavailable   = 503 // never reached a server (connection reset or refused)
	StatusTimeout       = 504 // the server or the client gave up; a write's outcome is unknown
	StatusClientTimeout = 0   // not sent by servers: the client's own deadline passed (see Response.Code)
)

// Response answers a Request. For a LIST, Items holds the objects and RV
// the list's resourceVersion; for other verbs Obj is the object (with its
// RV).
type Response struct {
	Conn   uint64
	ID     uint64
	Code   int
	Obj    Object
	Items  []Object
	RV     int64
	Server string // the API server that answered
	Reason string
}

func (r Response) String() string {
	var b strings.Builder
	b.WriteString("api-resp conn=")
	b.WriteString(strconv.FormatUint(r.Conn, 10))
	b.WriteString(" id=")
	b.WriteString(strconv.FormatUint(r.ID, 10))
	b.WriteString(" code=")
	b.WriteString(strconv.Itoa(r.Code))
	if r.Server != "" {
		b.WriteString(" from=")
		b.WriteString(r.Server)
	}
	if r.Reason != "" {
		b.WriteString(" reason=")
		b.WriteString(strconv.Quote(r.Reason))
	}
	if r.Obj.Kind != "" {
		b.WriteByte(' ')
		b.WriteString(r.Obj.String())
	}
	if r.Items != nil || r.RV != 0 && r.Obj.Kind == "" {
		b.WriteString(" rv=")
		b.WriteString(strconv.FormatInt(r.RV, 10))
		b.WriteString(" items=")
		b.WriteString(strconv.Itoa(len(r.Items)))
	}
	return b.String()
}

// EventType is a watch event's type.
type EventType string

// Watch event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	// Error ends the stream; Code says why (410: re-list).
	Error EventType = "ERROR"
)

// Event is one watch event on stream ID of connection Conn. A Deleted
// event's object carries the deletion's revision as its RV.
type Event struct {
	Conn uint64
	ID   uint64
	Type EventType
	Obj  Object
	Code int
}

func (e Event) String() string {
	s := "api-event conn=" + strconv.FormatUint(e.Conn, 10) + " id=" + strconv.FormatUint(e.ID, 10) + " " + string(e.Type)
	if e.Type == Error {
		return s + " code=" + strconv.Itoa(e.Code)
	}
	return s + " " + e.Obj.String()
}

// StopWatch ends watch stream ID (the client closed it).
type StopWatch struct{ Conn, ID uint64 }

func (s StopWatch) String() string {
	return "api-stop-watch conn=" + strconv.FormatUint(s.Conn, 10) + " id=" + strconv.FormatUint(s.ID, 10)
}

// Ping is an HTTP/2 PING on a connection; the far end answers Pong.
type Ping struct{ Conn, N uint64 }

func (p Ping) String() string {
	return "ping conn=" + strconv.FormatUint(p.Conn, 10) + " n=" + strconv.FormatUint(p.N, 10)
}

// Pong answers a Ping.
type Pong struct{ Conn, N uint64 }

func (p Pong) String() string {
	return "pong conn=" + strconv.FormatUint(p.Conn, 10) + " n=" + strconv.FormatUint(p.N, 10)
}

// Open starts connection Conn (a TCP connect): it precedes every other
// message of the connection on the same FIFO link, so a server that gets a
// message on a connection it never saw opened knows it restarted since, and
// answers Reset.
type Open struct{ Conn uint64 }

func (o Open) String() string { return "open conn=" + strconv.FormatUint(o.Conn, 10) }

// Close ends a connection from the client's side.
type Close struct{ Conn uint64 }

func (c Close) String() string { return "close conn=" + strconv.FormatUint(c.Conn, 10) }

// Reset tells a client that the far end does not know its connection (the
// server restarted, the load balancer lost its backend): every request
// still open on it is lost and the client must reconnect.
type Reset struct{ Conn uint64 }

func (r Reset) String() string { return "reset conn=" + strconv.FormatUint(r.Conn, 10) }

// connPayload is a message that travels on a connection: the load
// balancer moves it from one side's connection number to the other's.
type connPayload interface {
	harness.Payload
	connID() uint64
	onConn(c uint64) harness.Payload
}

func (m Request) connID() uint64                    { return m.Conn }
func (m Request) onConn(c uint64) harness.Payload   { m.Conn = c; return m }
func (m Response) connID() uint64                   { return m.Conn }
func (m Response) onConn(c uint64) harness.Payload  { m.Conn = c; return m }
func (m Event) connID() uint64                      { return m.Conn }
func (m Event) onConn(c uint64) harness.Payload     { m.Conn = c; return m }
func (m StopWatch) connID() uint64                  { return m.Conn }
func (m StopWatch) onConn(c uint64) harness.Payload { m.Conn = c; return m }
func (m Ping) connID() uint64                       { return m.Conn }
func (m Ping) onConn(c uint64) harness.Payload      { m.Conn = c; return m }
func (m Pong) connID() uint64                       { return m.Conn }
func (m Pong) onConn(c uint64) harness.Payload      { m.Conn = c; return m }
func (m Close) connID() uint64                      { return m.Conn }
func (m Close) onConn(c uint64) harness.Payload     { m.Conn = c; return m }
func (m Open) connID() uint64                       { return m.Conn }
func (m Open) onConn(c uint64) harness.Payload      { m.Conn = c; return m }
func (m Reset) connID() uint64                      { return m.Conn }
func (m Reset) onConn(c uint64) harness.Payload     { m.Conn = c; return m }

// connOf returns the connection a payload belongs to.
func connOf(p harness.Payload) (uint64, bool) {
	if m, ok := p.(connPayload); ok {
		return m.connID(), true
	}
	return 0, false
}

// withConn returns the payload moved onto connection c (the load balancer
// rewrites connection numbers between its two sides).
func withConn(p harness.Payload, c uint64) (harness.Payload, bool) {
	if m, ok := p.(connPayload); ok {
		return m.onConn(c), true
	}
	return nil, false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
