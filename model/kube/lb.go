package kube

import (
	"strconv"
	"time"

	"hasim/harness"
	"hasim/model"
)

// The load balancer is haproxy in TCP mode, as the kubeadm HA guide sets it
// up in front of the API servers: "balance roundrobin", one server line per
// API server with "check" (an HTTPS GET /healthz expecting 200, every
// inter 2s, fall 3, rise 2). A client's connection is proxied whole to one
// backend, picked when the connection opens and kept for the connection's
// life: haproxy does not move or cut established sessions when a server
// goes down (no on-marked-down shutdown-sessions), so a client stays on a
// backend the checks have given up on until its own timeouts make it
// reconnect.
//
// Deviations, named: the LB keeps no state across restarts (haproxy does
// not either, but it may be run with a state file); a restarted LB starts
// every backend up, as haproxy does without one. Checks are timed start to
// start on a fixed period per backend, the first one a fraction of the
// period after start (haproxy's spread-checks without its random part).

// BugLBNoHealthCheck turns the load balancer's health checks off.
const BugLBNoHealthCheck = "lb-no-health-check"

func init() {
	model.Register(model.Bug{Name: BugLBNoHealthCheck, Scenarios: []string{"cluster"}, Caught: []harness.CheckName{model.CheckAPIAvailable},
		Plants: "the load balancer sends no health checks and keeps every backend in rotation"})
}

// LB defaults: haproxy's inter, fall and rise; the check timeout is inter.
const (
	DefaultLBCheckInterval = 2 * time.Second
	DefaultLBCheckTimeout  = 2 * time.Second
	DefaultLBFall          = 3
	DefaultLBRise          = 2
)

// LBConfig configures a load balancer.
type LBConfig struct {
	// Backends are the API server processes, in server-line order.
	Backends []harness.ProcID
	// Names are the backends' names for the trace ("m1/apiserver");
	// missing ones print as "backend-<i>".
	Names []string
	// CheckInterval is the period of each backend's health checks (inter);
	// CheckTimeout how long a check may take (timeout check). Zero means
	// the defaults.
	CheckInterval time.Duration
	CheckTimeout  time.Duration
	// Fall consecutive failed checks mark an up backend down; Rise
	// consecutive successful ones mark a down backend up. Zero means the
	// defaults.
	Fall, Rise int
	Bugs       model.Bugs
	// BackendState, if set, is called whenever a backend changes state,
	// and once per backend at every start with up=true.
	BackendState func(ctx *harness.Ctx, backend int, up bool)
}

// lbFront names a client's connection: the client and its number.
type lbFront struct {
	client harness.ProcID
	conn   uint64
}

// lbBack is one proxied connection, keyed by the LB's own number for it.
type lbBack struct {
	lbFront
	backend int
	// openID is the ID of the client's Open: a refusal of a message sent
	// before it does not concern this connection.
	openID uint64
}

// lbCheck is a backend's health-check state.
type lbCheck struct {
	up    bool
	fails int // consecutive failed checks
	oks   int // consecutive successful checks
	// The outstanding check, if conn != 0.
	conn     uint64
	deadline time.Duration // local time
	timer    harness.TimerID
}

// Connection numbers. A proxied connection's backend-side number carries the
// LB's incarnation, so that a restarted LB never reuses a number some
// backend still holds from its previous life (the backend's late messages
// on it must find no connection). Health checks use numbers of their own,
// which no proxied connection can take.
const (
	lbConnStride  = 1_000_000_000
	lbCheckConns  = 9_000_000_000_000_000_000
	lbTagCheck    = "lb-check"
	lbTagTimedOut = "lb-check-timeout"
)

// LB is the load balancer process.
type LB struct {
	cfg      LBConfig
	noChecks bool

	inc    uint64
	next   uint64 // last proxied connection number of this incarnation
	checks uint64 // last health check number
	rr     int    // the next backend round robin starts from

	be    []lbCheck
	front map[lbFront]uint64 // client connection -> LB connection
	back  map[uint64]lbBack  // LB connection -> client connection
}

var _ harness.Process = (*LB)(nil)

// NewLB returns a fresh load balancer (state is volatile: spawn a new one at
// every start).
func NewLB(cfg LBConfig) *LB {
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultLBCheckInterval
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = DefaultLBCheckTimeout
	}
	if cfg.Fall <= 0 {
		cfg.Fall = DefaultLBFall
	}
	if cfg.Rise <= 0 {
		cfg.Rise = DefaultLBRise
	}
	return &LB{
		cfg:      cfg,
		noChecks: cfg.Bugs.Has(BugLBNoHealthCheck),
		be:       make([]lbCheck, len(cfg.Backends)),
		front:    map[lbFront]uint64{},
		back:     map[uint64]lbBack{},
	}
}

// Up reports whether backend i is in rotation.
func (l *LB) Up(i int) bool { return l.be[i].up }

// UpCount returns how many backends are in rotation.
func (l *LB) UpCount() int {
	n := 0
	for i := range l.be {
		if l.be[i].up {
			n++
		}
	}
	return n
}

// Conns returns how many connections the LB is proxying.
func (l *LB) Conns() int { return len(l.back) }

// BackendOf returns the backend a client's connection is pinned to.
func (l *LB) BackendOf(client harness.ProcID, conn uint64) (int, bool) {
	lc, ok := l.front[lbFront{client, conn}]
	if !ok {
		return 0, false
	}
	return l.back[lc].backend, true
}

// name returns backend i's display name.
func (l *LB) name(i int) string {
	if i < len(l.cfg.Names) && l.cfg.Names[i] != "" {
		return l.cfg.Names[i]
	}
	return "backend-" + strconv.Itoa(i)
}

// backendIndex returns the index of process p among the backends, or -1.
func (l *LB) backendIndex(p harness.ProcID) int {
	for i, b := range l.cfg.Backends {
		if b == p {
			return i
		}
	}
	return -1
}

// Step implements harness.Process.
func (l *LB) Step(ctx *harness.Ctx, in harness.Input) {
	switch in.Kind {
	case harness.InputStart:
		l.start(ctx)
	case harness.InputMessage:
		if b := l.backendIndex(in.Msg.From); b >= 0 {
			l.fromBackend(ctx, b, in.Msg.Payload)
		} else {
			l.fromClient(ctx, in.Msg.From, in.Msg.ID, in.Msg.Payload)
		}
	case harness.InputTimer:
		switch in.Tag {
		case lbTagCheck:
			l.tick(ctx, int(in.Arg))
		case lbTagTimedOut:
			for i := range l.be {
				if c := &l.be[i]; c.conn != 0 && c.conn == in.Arg {
					c.conn = 0
					l.result(ctx, i, false, "timed out")
					break
				}
			}
		}
	case harness.InputRefused:
		l.refused(ctx, in.Msg)
	}
}

func (l *LB) start(ctx *harness.Ctx) {
	l.inc = uint64(ctx.Incarnation())
	for i := range l.be {
		// haproxy starts a server up with health at rise: "up, but will
		// fall down at first failure".
		l.be[i].up = true
		l.be[i].fails = l.cfg.Fall - 1
		if l.cfg.BackendState != nil {
			l.cfg.BackendState(ctx, i, true)
		}
	}
	if l.noChecks {
		ctx.Notef("health checks off (bug %s): every backend stays in rotation", BugLBNoHealthCheck)
		return
	}
	// Spread the first checks over one period, in server order.
	n := time.Duration(len(l.be))
	for i := range l.be {
		ctx.After(l.cfg.CheckInterval*time.Duration(i)/n, lbTagCheck, uint64(i))
	}
}

// fromClient handles a message a client sent on one of its connections.
func (l *LB) fromClient(ctx *harness.Ctx, client harness.ProcID, id uint64, p harness.Payload) {
	c, ok := connOf(p)
	if !ok {
		return
	}
	key := lbFront{client, c}
	if _, open := p.(Open); open {
		l.open(ctx, key, id)
		return
	}
	lc, known := l.front[key]
	if !known {
		switch p.(type) {
		case Close, Reset:
		default:
			// This LB never saw the connection open (it restarted since).
			ctx.Send(client, Reset{Conn: c})
		}
		return
	}
	to := l.cfg.Backends[l.back[lc].backend]
	switch p.(type) {
	case Close, Reset:
		ctx.Send(to, Close{Conn: lc})
		l.forget(key, lc)
		return
	}
	fw, _ := withConn(p, lc)
	ctx.Send(to, fw)
}

// open proxies a new client connection to the next backend in rotation.
func (l *LB) open(ctx *harness.Ctx, key lbFront, id uint64) {
	if old, dup := l.front[key]; dup {
		// The client reuses a number (it restarted): its old connection
		// is gone.
		ctx.Send(l.cfg.Backends[l.back[old].backend], Close{Conn: old})
		l.forget(key, old)
	}
	b := -1
	for k := range l.be {
		i := (l.rr + k) % len(l.be)
		if l.be[i].up {
			b = i
			break
		}
	}
	if b < 0 {
		ctx.Notef("no backend up: conn %d reset", key.conn)
		ctx.Send(key.client, Reset{Conn: key.conn})
		return
	}
	l.rr = (b + 1) % len(l.be)
	l.next++
	lc := l.inc*lbConnStride + l.next
	l.front[key] = lc
	l.back[lc] = lbBack{lbFront: key, backend: b, openID: id}
	ctx.Send(l.cfg.Backends[b], Open{Conn: lc})
}

func (l *LB) forget(key lbFront, lc uint64) {
	delete(l.front, key)
	delete(l.back, lc)
}

// fromBackend handles a message from backend b: a health check's answer, or
// traffic on a proxied connection.
func (l *LB) fromBackend(ctx *harness.Ctx, b int, p harness.Payload) {
	lc, ok := connOf(p)
	if !ok {
		return
	}
	if lc > lbCheckConns {
		r, isResp := p.(Response)
		if c := &l.be[b]; isResp && c.conn == lc {
			ctx.Cancel(c.timer)
			c.conn = 0
			if r.Code == StatusOK {
				l.result(ctx, b, true, "")
			} else {
				l.result(ctx, b, false, "code "+strconv.Itoa(r.Code))
			}
		}
		return // a late answer counts for nothing
	}
	conn, known := l.back[lc]
	if !known || conn.backend != b {
		switch p.(type) {
		case Close, Reset:
		default:
			ctx.Send(l.cfg.Backends[b], Close{Conn: lc})
		}
		return
	}
	switch p.(type) {
	case Reset, Close:
		// The backend dropped the connection: so does the LB, both sides.
		ctx.Send(conn.client, Reset{Conn: conn.conn})
		l.forget(conn.lbFront, lc)
		return
	}
	fw, _ := withConn(p, conn.conn)
	ctx.Send(conn.client, fw)
}

// refused handles a message of the LB's that found no process listening.
func (l *LB) refused(ctx *harness.Ctx, m harness.Message) {
	c, ok := connOf(m.Payload)
	if !ok {
		return
	}
	if b := l.backendIndex(m.To); b >= 0 {
		if c > lbCheckConns {
			if ch := &l.be[b]; ch.conn == c {
				ctx.Cancel(ch.timer)
				ch.conn = 0
				l.result(ctx, b, false, "connection refused")
			}
			return
		}
		if conn, known := l.back[c]; known && conn.backend == b {
			ctx.Send(conn.client, Reset{Conn: conn.conn})
			l.forget(conn.lbFront, c)
		}
		return
	}
	key := lbFront{m.To, c}
	if lc, known := l.front[key]; known && l.back[lc].openID < m.ID {
		ctx.Send(l.cfg.Backends[l.back[lc].backend], Close{Conn: lc})
		l.forget(key, lc)
	}
}

// tick runs backend b's periodic health check.
func (l *LB) tick(ctx *harness.Ctx, b int) {
	c := &l.be[b]
	if c.conn != 0 && c.deadline <= ctx.Now() {
		ctx.Cancel(c.timer)
		c.conn = 0
		l.result(ctx, b, false, "timed out")
	}
	if c.conn == 0 {
		l.checks++
		c.conn = lbCheckConns + l.inc*lbConnStride + l.checks
		c.deadline = ctx.Now() + l.cfg.CheckTimeout
		c.timer = ctx.After(l.cfg.CheckTimeout, lbTagTimedOut, c.conn)
		ctx.Send(l.cfg.Backends[b], Request{Conn: c.conn, ID: l.checks, Verb: Healthz, Agent: "haproxy"})
	}
	ctx.After(l.cfg.CheckInterval, lbTagCheck, uint64(b))
}

// result counts one finished check of backend b.
func (l *LB) result(ctx *harness.Ctx, b int, ok bool, why string) {
	c := &l.be[b]
	if ok {
		c.fails = 0
		c.oks++
		if !c.up && c.oks >= l.cfg.Rise {
			c.up = true
			ctx.Notef("backend %s UP after %d successful checks", l.name(b), c.oks)
			if l.cfg.BackendState != nil {
				l.cfg.BackendState(ctx, b, true)
			}
		}
		return
	}
	c.oks = 0
	c.fails++
	if c.up && c.fails >= l.cfg.Fall {
		c.up = false
		ctx.Notef("backend %s DOWN after %d failed checks (last: %s)", l.name(b), c.fails, why)
		if l.cfg.BackendState != nil {
			l.cfg.BackendState(ctx, b, false)
		}
	}
}
