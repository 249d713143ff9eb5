package kube

import (
	"time"

	"hasim/harness"
)

// Client-side status codes (never sent by a server).
const (
	// StatusConnLost: the connection broke (reset, ping timeout) while the
	// call was in flight; a write's outcome is unknown.
	StatusConnLost = 1
)

// Indeterminate reports whether a write that ended with code may still
// have taken effect (or may take effect later).
func Indeterminate(code int) bool {
	switch code {
	case StatusClientTimeout, StatusConnLost, StatusInternal, StatusTimeout:
		return true
	}
	return false
}

// Client is client-go's REST client as a process embeds it: one HTTP/2
// connection to its server (the load balancer, or a local API server) that
// carries every call and watch, health-checked with pings the way
// client-go's transport does (a ping after ReadIdle without a frame; the
// connection is closed when no answer comes within PingTimeout); a broken
// connection fails what was in flight, and the next call opens a new one,
// which the load balancer may send to another backend. FreshConn makes
// every call use a connection of its own, as separate kubectl runs do.
//
// Deviation, named: client-go retries some idempotent requests on a
// connection error by itself; here the callers (controllers, kubelets,
// users) retry on their own schedule.
type Client struct {
	Server harness.ProcID
	// Resolve, if set, names the server a new connection goes to (the
	// holder of a floating virtual IP); Server is then unused.
	Resolve func() harness.ProcID
	// ID makes connection numbers and request IDs unique in the cluster.
	ID int
	// Agent is sent with every request.
	Agent     string
	FreshConn bool
	// ReadIdle [30s] and PingTimeout [15s]: client-go's HTTP/2 health check.
	ReadIdle, PingTimeout time.Duration

	conn     uint64 // 0: none open
	connSeq  uint64
	lastRead time.Duration
	pingN    uint64
	pingAt   time.Duration // -1: no ping out
	seq      uint64
	base     uint64
	calls    map[uint64]*apiCall
	connTo   map[uint64]harness.ProcID // where each open connection goes, with Resolve
	watches  map[uint64]*apiWatch
	// gap: the watches lose their events (WatchGap); dropped counts them.
	gap     bool
	dropped int
}

type apiCall struct {
	conn  uint64
	timer harness.TimerID
	msg   uint64
	cb    func(Response)
}

type apiWatch struct {
	conn uint64
	msg  uint64
	cb   func(Event)
}

const (
	tagCallDeadline = "kc-deadline"
	tagIdle         = "kc-idle"
	tagPong         = "kc-pong"
)

// Numbers on the wire (connections, requests): the client's ID in the top
// 32 bits, the process incarnation in the next 12, a sequence below, so
// that a restarted process never takes an answer meant for its previous
// life.
const incarnationShift = 20

func (c *Client) init(ctx *harness.Ctx) {
	if c.calls == nil {
		c.base = uint64(c.ID)<<32 | uint64(ctx.Incarnation()&0xfff)<<incarnationShift
		c.calls = map[uint64]*apiCall{}
		c.watches = map[uint64]*apiWatch{}
		c.pingAt = -1
	}
	if c.ReadIdle == 0 {
		c.ReadIdle = 30 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 15 * time.Second
	}
}

func (c *Client) mine(id uint64) bool { return id>>32 == uint64(c.ID) }

// to returns the server connection conn goes to.
func (c *Client) to(conn uint64) harness.ProcID {
	if c.Resolve == nil {
		return c.Server
	}
	return c.connTo[conn]
}

// closeConn says goodbye on a connection and forgets where it went.
func (c *Client) closeConn(ctx *harness.Ctx, conn uint64) {
	ctx.Send(c.to(conn), Close{Conn: conn})
	delete(c.connTo, conn)
}

// open returns the connection a new call goes on, opening one if needed.
func (c *Client) open(ctx *harness.Ctx) uint64 {
	if c.conn != 0 && !c.FreshConn {
		return c.conn
	}
	c.connSeq++
	conn := c.base | c.connSeq
	if c.Resolve != nil {
		if c.connTo == nil {
			c.connTo = map[uint64]harness.ProcID{}
		}
		c.connTo[conn] = c.Resolve()
	}
	ctx.Send(c.to(conn), Open{Conn: conn})
	if !c.FreshConn {
		c.conn, c.lastRead, c.pingAt = conn, ctx.Now(), -1
		ctx.After(c.ReadIdle, tagIdle, conn)
	}
	return conn
}

// Do sends req and calls cb once with the answer, or with
// StatusClientTimeout when timeout passes first (0: no deadline of the
// caller's own; the server's request timeout still applies), or with
// StatusConnLost / StatusUnavailable when the connection broke.
func (c *Client) Do(ctx *harness.Ctx, req Request, timeout time.Duration, cb func(Response)) uint64 {
	c.init(ctx)
	c.seq++
	req.ID = c.base | c.seq
	req.Conn = c.open(ctx)
	req.Agent = c.Agent
	cl := &apiCall{conn: req.Conn, cb: cb}
	if timeout > 0 {
		cl.timer = ctx.After(timeout, tagCallDeadline, req.ID)
	}
	c.calls[req.ID] = cl
	cl.msg = ctx.Send(c.to(req.Conn), req)
	return req.ID
}

// Watch opens a watch of kind from resourceVersion rv; cb gets every event,
// the last of which is an Error when the stream ends (410: re-list; 503 or
// StatusConnLost: the connection broke). It returns the stream's ID.
func (c *Client) Watch(ctx *harness.Ctx, kind Kind, rv string, cb func(Event)) uint64 {
	c.init(ctx)
	c.seq++
	req := Request{ID: c.base | c.seq, Verb: Watch, Kind: kind, RV: rv, Agent: c.Agent}
	req.Conn = c.open(ctx)
	w := &apiWatch{conn: req.Conn, cb: cb}
	c.watches[req.ID] = w
	w.msg = ctx.Send(c.to(req.Conn), req)
	return req.ID
}

// StopWatch closes a watch stream.
func (c *Client) StopWatch(ctx *harness.Ctx, id uint64) {
	if w, ok := c.watches[id]; ok {
		delete(c.watches, id)
		ctx.Send(c.to(w.conn), StopWatch{Conn: w.conn, ID: id})
	}
}

// Pending is the number of calls in flight.
func (c *Client) Pending() int { return len(c.calls) }

// Handle takes the client's inputs and reports whether in was one.
func (c *Client) Handle(ctx *harness.Ctx, in harness.Input) bool {
	switch in.Kind {
	case harness.InputTimer:
		switch in.Tag {
		case tagCallDeadline:
			if !c.mine(in.Arg) {
				return false
			}
			if cl := c.calls[in.Arg]; cl != nil {
				if c.FreshConn {
					c.closeConn(ctx, cl.conn)
				}
				c.finish(ctx, in.Arg, Response{Code: StatusClientTimeout, Reason: "client deadline exceeded"})
			}
			return true
		case tagIdle:
			if in.Arg>>32 != uint64(c.ID) {
				return false
			}
			c.idle(ctx, in.Arg)
			return true
		case tagPong:
			if in.Arg>>32 != uint64(c.ID) {
				return false
			}
			if in.Arg == c.conn && c.pingAt >= 0 && c.lastRead <= c.pingAt {
				ctx.Notef("no ping answer in %s: closing connection %d", c.PingTimeout, c.conn)
				c.closeConn(ctx, c.conn)
				c.lost(ctx, c.conn, 0)
			}
			return true
		}
		return false
	case harness.InputRefused:
		conn, ok := connOf(in.Msg.Payload)
		if !ok || conn>>32 != uint64(c.ID) {
			return false
		}
		if _, open := in.Msg.Payload.(Open); open {
			c.lost(ctx, conn, 1) // nothing on the connection got through
		} else {
			c.lost(ctx, conn, in.Msg.ID)
		}
		return true
	case harness.InputMessage:
		conn, ok := connOf(in.Msg.Payload)
		if !ok || conn>>32 != uint64(c.ID) {
			return false
		}
		if conn&^(1<<incarnationShift-1) != c.base&^(1<<incarnationShift-1) {
			// A connection of this process's former life: the far end
			// still thinks it open. Say it is not (a TCP reset).
			switch in.Msg.Payload.(type) {
			case Reset, Close:
			default:
				ctx.Send(in.Msg.From, Reset{Conn: conn})
			}
			return true
		}
		if conn == c.conn {
			c.lastRead = ctx.Now()
		}
		switch m := in.Msg.Payload.(type) {
		case Response:
			if c.calls[m.ID] != nil {
				c.finish(ctx, m.ID, m)
			}
			if c.FreshConn {
				c.closeConn(ctx, conn)
			}
		case Event:
			if w := c.watches[m.ID]; w != nil {
				if c.gap && m.Type != Error {
					c.dropped++ // lost in the gap: the watch goes on from a later one
					return true
				}
				if m.Type == Error {
					delete(c.watches, m.ID)
				}
				w.cb(m)
			}
		case Reset:
			c.lost(ctx, conn, 0)
		case Pong:
			if m.N == c.pingN && conn == c.conn {
				c.pingAt = -1
			}
		}
		return true
	}
	return false
}

// WatchGap starts (on) or ends a gap in the client's watches: while it
// lasts their events are lost, as if each watch had been restarted from a
// later resourceVersion, and what changed meanwhile is seen only when it
// changes again or a relist reads it. A watch that ends (an error event)
// still says so. It is a fault (the cluster's watch-gap signal), for the
// controllers that trust their watches to see every change.
func (c *Client) WatchGap(ctx *harness.Ctx, on bool) {
	if on == c.gap {
		return
	}
	c.gap = on
	if on {
		c.dropped = 0
		ctx.Notef("watch gap: the watches lose their events")
		return
	}
	ctx.Notef("watch gap over: %d events lost; the watches go on from later ones", c.dropped)
}

// idle is the HTTP/2 read-idle check of connection conn.
func (c *Client) idle(ctx *harness.Ctx, conn uint64) {
	if conn != c.conn {
		return
	}
	quiet := ctx.Now() - c.lastRead
	if quiet < c.ReadIdle {
		ctx.After(c.ReadIdle-quiet, tagIdle, conn)
		return
	}
	if c.pingAt < 0 {
		c.pingN++
		c.pingAt = ctx.Now()
		ctx.Send(c.to(conn), Ping{Conn: conn, N: c.pingN})
		ctx.After(c.PingTimeout, tagPong, conn)
	}
	ctx.After(c.ReadIdle, tagIdle, conn)
}

// lost handles a broken connection: every call and watch on it ends. When
// the connection was refused at message ID refused (0: not refused), that
// message and every later one on the FIFO connection reached nobody: those
// calls fail with StatusUnavailable; the earlier ones may have landed.
func (c *Client) lost(ctx *harness.Ctx, conn uint64, refused uint64) {
	if conn == c.conn {
		c.conn, c.pingAt = 0, -1
	}
	delete(c.connTo, conn)
	for _, id := range harness.SortedKeys(c.calls) {
		cl := c.calls[id]
		if cl.conn != conn {
			continue
		}
		code, reason := StatusConnLost, "connection lost"
		if refused != 0 && cl.msg >= refused {
			code, reason = StatusUnavailable, "connection refused"
		}
		c.finish(ctx, id, Response{Code: code, Reason: reason})
	}
	for _, id := range harness.SortedKeys(c.watches) {
		w := c.watches[id]
		if w.conn != conn {
			continue
		}
		delete(c.watches, id)
		w.cb(Event{Conn: conn, ID: id, Type: Error, Code: StatusConnLost})
	}
}

func (c *Client) finish(ctx *harness.Ctx, id uint64, r Response) {
	cl := c.calls[id]
	delete(c.calls, id)
	ctx.Cancel(cl.timer)
	if cl.cb != nil {
		cl.cb(r)
	}
}
