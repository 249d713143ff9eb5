package store

import (
	"time"

	"hasim/harness"
)

// Client is a clientv3-like client that a process embeds: it picks
// endpoints round robin, applies a per-call deadline, retries what is safe
// to retry, and records every call in a History.
//
// Retries follow clientv3's rules: a request that never reached a member
// (connection refused) is retried on the next endpoint, reads and writes
// alike; a read that the member answered with its request timeout (etcd's
// "request timed out", an Unavailable error) is retried too; a write that
// timed out is not retried, and its outcome is unknown. clientv3 also
// retries when a per-attempt gRPC deadline expires while the caller's is
// still alive; hasim's client has no per-attempt deadline apart from the
// caller's, so that case does not arise (a deviation, named here).
type Client struct {
	// Endpoints are the members, tried round robin.
	Endpoints []harness.ProcID
	// Timeout is the caller's deadline per call (local time); default 5s.
	Timeout time.Duration
	// ID names the client in the history and in request IDs (its high 32
	// bits), so that several clients can share one process.
	ID int
	// History receives every call; may be nil.
	History *History

	next  int
	seq   uint64
	calls map[uint64]*call
	// Endpoint health, as gRPC keepalive and reconnection give clientv3:
	// an endpoint that has left an attempt unanswered, and said nothing at
	// all, for KeepaliveDead is taken for dead: its calls in flight end
	// (reads move on, writes become indeterminate), and new calls avoid it
	// until it answers again. Meanwhile the client tries to reconnect, as
	// gRPC's subchannel does: a probe after ReconnectBase, then after
	// twice as long each time, up to ReconnectMax. (gRPC jitters its
	// backoff by 20%; hasim's does not, a deviation named here.)
	heard map[int]time.Duration // endpoint → when it last answered
	// answered: endpoint → the latest sending time of an attempt it
	// answered (see LostAfter).
	answered  map[int]time.Duration
	deadSince map[int]time.Duration // endpoint → when it was taken for dead
	probeAt   map[int]time.Duration // endpoint → when to try to reconnect
	probeWait map[int]time.Duration
}

// KeepaliveDead is clientv3's keepalive time plus its timeout (as
// kube-apiserver configures them: 30s and 10s); ReconnectBase and
// ReconnectMax bound gRPC's reconnection backoff.
//
// LostAfter: gRPC carries every call to a member over one TCP connection,
// which loses nothing in the middle: a member cannot answer a later call
// on it while an earlier one was lost, unless the connection broke and was
// made again, and a broken connection fails the calls it carried
// (Unavailable). hasim's Streams transport drops what a partition cuts
// while later messages get through, so the client takes an attempt for
// lost once its endpoint has answered an attempt sent after it and the
// attempt has waited LostAfter, longer than a member that received it
// would take to answer (its RequestTimeout, and time to deliver): a read
// moves on to the next endpoint, a write's outcome becomes unknown. Without
// this, a call cut by a brief partition would hang until its caller's
// deadline (a minute for an API server's LIST) on a connection that
// serves everything sent after it. (A member paused for longer than
// LostAfter answers, once resumed, the calls sent during its pause; the
// client may take an older call for lost just before its answer comes: a
// read is sent again, a write's outcome is unknown a moment early. A
// deviation, named here; both are outcomes a caller must handle anyway.)
const (
	KeepaliveDead = 40 * time.Second
	LostAfter     = RequestTimeout + 2*time.Second
	ReconnectBase = time.Second
	ReconnectMax  = 120 * time.Second
)

type call struct {
	txn          Txn
	sentAt       time.Duration // when the current attempt left
	serializable bool
	compact      int64
	endpoint     int
	timer        harness.TimerID
	op           int // index in the history, -1 if none
	cb           func(Response)
	attempts     int
	msg          uint64        // the network message of the current attempt
	timeout      time.Duration // 0: the client's
}

const clientTimerTag = "kv-deadline"

// Do sends txn and calls cb once with the outcome: a member's response, or
// CodeTimeout when the caller's deadline passed first (for a write: the
// outcome is unknown).
func (c *Client) Do(ctx *harness.Ctx, txn Txn, serializable bool, cb func(Response)) {
	c.do(ctx, &call{txn: txn, serializable: serializable, cb: cb})
}

// DoTimeout is Do with a deadline of its own for this call.
func (c *Client) DoTimeout(ctx *harness.Ctx, txn Txn, serializable bool, timeout time.Duration, cb func(Response)) {
	c.do(ctx, &call{txn: txn, serializable: serializable, cb: cb, timeout: timeout})
}

// Compact asks the cluster to compact its history up to rev; like a write,
// it is not retried once it may have reached a member.
func (c *Client) Compact(ctx *harness.Ctx, rev int64, cb func(Response)) {
	c.do(ctx, &call{compact: rev, cb: cb})
}

func (c *Client) do(ctx *harness.Ctx, cl *call) {
	if c.calls == nil {
		c.calls = map[uint64]*call{}
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	id := c.nextID(ctx)
	c.sweep(ctx)
	cl.endpoint, cl.op = c.pick(ctx), -1
	d := c.Timeout
	if cl.timeout > 0 {
		d = cl.timeout
	}
	cl.timer = ctx.After(d, clientTimerTag, id)
	if c.History != nil {
		cl.op = c.History.begin(c.ID, cl.txn, cl.serializable, cl.compact)
	}
	c.calls[id] = cl
	c.send(ctx, id, cl)
}

func (c *Client) mine(id uint64) bool { return id>>32 == uint64(c.ID) }

// nextID numbers a request: the client's ID in the top 32 bits, its
// process's incarnation in the next 12, a sequence below. A member may
// answer a request of the previous incarnation after the process
// restarted; in etcd that answer travels on the dead process's gRPC
// connection and is lost, so here it must not match a new request that
// happens to have the same sequence number.
func (c *Client) nextID(ctx *harness.Ctx) uint64 {
	c.seq = (c.seq + 1) & (1<<incarnationShift - 1)
	return uint64(c.ID)<<32 | uint64(ctx.Incarnation()&0xfff)<<incarnationShift | c.seq
}

// incarnationShift places the incarnation in a request ID.
const incarnationShift = 20

// pick chooses the next endpoint round robin, skipping endpoints taken for
// dead unless every one is (and trying to reconnect those due).
func (c *Client) pick(ctx *harness.Ctx) int {
	n := len(c.Endpoints)
	for range n {
		e := c.next % n
		c.next++
		if !c.dead(e) {
			return e
		}
		c.reconnect(ctx, e)
	}
	e := c.next % n
	c.next++
	return e
}

// dead reports whether endpoint e was taken for dead and has not answered
// since.
func (c *Client) dead(e int) bool {
	since, ok := c.deadSince[e]
	return ok && c.heard[e] <= since
}

// reconnect probes a dead endpoint when its backoff is up: any answer
// (to this or to anything sent to it before) brings it back.
func (c *Client) reconnect(ctx *harness.Ctx, e int) {
	now := ctx.Now()
	if now < c.probeAt[e] {
		return
	}
	wait := min(2*c.probeWait[e], ReconnectMax)
	c.probeWait[e], c.probeAt[e] = wait, now+wait
	ctx.Send(c.Endpoints[e], Request{ID: c.nextID(ctx), Serializable: true})
}

// sweep finds endpoints silent past KeepaliveDead with an attempt
// outstanding, and gives up on them (lazily: when the client is next
// used, which for the processes that care is often).
func (c *Client) sweep(ctx *harness.Ctx) {
	now := ctx.Now()
	var dead map[int]bool
	anyLost := false
	ids := harness.SortedKeys(c.calls)
	for _, id := range ids {
		cl := c.calls[id]
		e := cl.endpoint
		anyLost = anyLost || c.lost(now, cl)
		if now-cl.sentAt >= KeepaliveDead && now-c.heard[e] >= KeepaliveDead && !c.dead(e) {
			if c.deadSince == nil {
				c.deadSince, c.probeAt, c.probeWait = map[int]time.Duration{}, map[int]time.Duration{}, map[int]time.Duration{}
			}
			if dead == nil {
				dead = map[int]bool{}
			}
			c.deadSince[e], c.probeAt[e], c.probeWait[e] = now, now+ReconnectBase, ReconnectBase
			dead[e] = true
		}
	}
	if dead == nil && !anyLost {
		return
	}
	for _, id := range ids {
		// A callback of a call finished here may have used the client,
		// and so ended or re-sent others: take each as it is now.
		cl, ok := c.calls[id]
		if !ok || !dead[cl.endpoint] && !c.lost(now, cl) {
			continue
		}
		if cl.write() {
			c.finish(ctx, id, cl, Response{ID: id, Err: CodeTimeout}, false)
			continue
		}
		cl.endpoint = c.pick(ctx)
		c.send(ctx, id, cl)
	}
}

// lost reports whether cl's attempt was lost on its way (see LostAfter).
func (c *Client) lost(now time.Duration, cl *call) bool {
	return now-cl.sentAt >= LostAfter && c.answered[cl.endpoint] > cl.sentAt
}

func (c *Client) send(ctx *harness.Ctx, id uint64, cl *call) {
	cl.attempts++
	cl.sentAt = ctx.Now()
	cl.msg = ctx.Send(c.Endpoints[cl.endpoint], Request{ID: id, Txn: cl.txn, Serializable: cl.serializable, Compact: cl.compact})
}

// Pending reports how many calls are in flight.
func (c *Client) Pending() int { return len(c.calls) }

// Handle takes the inputs that belong to the client (responses, refusals,
// its deadline timers) and reports whether it did.
func (c *Client) Handle(ctx *harness.Ctx, in harness.Input) bool {
	switch in.Kind {
	case harness.InputTimer:
		if in.Tag != clientTimerTag || !c.mine(in.Arg) {
			return false
		}
		if cl := c.calls[in.Arg]; cl != nil {
			c.finish(ctx, in.Arg, cl, Response{ID: in.Arg, Err: CodeTimeout}, false)
		}
		return true
	case harness.InputRefused:
		req, ok := in.Msg.Payload.(Request)
		if !ok || !c.mine(req.ID) {
			return false
		}
		if cl := c.calls[req.ID]; cl != nil && in.Msg.ID == cl.msg {
			if cl.attempts >= 3*len(c.Endpoints) {
				// Every endpoint refused, repeatedly: nothing took effect.
				c.finish(ctx, req.ID, cl, Response{ID: req.ID, Err: CodeUnavailable}, true)
				return true
			}
			cl.endpoint = (cl.endpoint + 1) % len(c.Endpoints)
			c.send(ctx, req.ID, cl)
		}
		return true
	case harness.InputMessage:
		resp, ok := in.Msg.Payload.(Response)
		if !ok || !c.mine(resp.ID) {
			return false
		}
		for e, p := range c.Endpoints {
			if p == in.Msg.From {
				if c.heard == nil {
					c.heard = map[int]time.Duration{}
				}
				c.heard[e] = ctx.Now()
			}
		}
		cl := c.calls[resp.ID]
		if cl == nil {
			return true // a late answer to a call already given up on
		}
		if e := cl.endpoint; c.Endpoints[e] == in.Msg.From && cl.sentAt > c.answered[e] {
			if c.answered == nil {
				c.answered = map[int]time.Duration{}
			}
			c.answered[e] = cl.sentAt
		}
		if resp.Err == CodeTimeout && !cl.write() {
			cl.endpoint = (cl.endpoint + 1) % len(c.Endpoints)
			c.send(ctx, resp.ID, cl)
			return true
		}
		c.finish(ctx, resp.ID, cl, resp, resp.Err != CodeTimeout)
		return true
	}
	return false
}

// finish ends a call; known says whether its outcome is known (a write
// whose outcome is unknown is indeterminate).
func (c *Client) finish(ctx *harness.Ctx, id uint64, cl *call, resp Response, known bool) {
	delete(c.calls, id)
	ctx.Cancel(cl.timer)
	if c.History != nil && cl.op >= 0 {
		c.History.end(cl.op, resp, known)
	}
	if cl.cb != nil {
		cl.cb(resp)
	}
}

func (cl *call) write() bool { return cl.compact > 0 || cl.txn.IsWrite() }
