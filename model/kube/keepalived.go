package kube

import (
	"strconv"
	"time"

	"hasim/harness"
)

// Keepalived floats the cluster's virtual IP between two load balancers
// with VRRP, as the kubeadm HA guide pairs keepalived with haproxy: the
// master advertises every AdvertInterval; a backup that hears nothing for
// three intervals plus its skew time ((256-priority)/256 of an interval)
// takes the VIP over (a gratuitous ARP: clients' new connections go to its
// host from then on); a higher priority preempts a lower one. A check
// script tracks the local haproxy every CheckInterval: while it is down,
// the node's priority drops by Weight, so a backup with a live haproxy
// wins.
//
// Deviations, named: adverts are unicast to the peer (unicast_peer), and
// the ARP table is the scenario's: the last claim wins at once.
type Keepalived struct {
	Priority int
	Peer     harness.ProcID // the other node's keepalived
	LB       harness.ProcID // the haproxy on this host
	// Claim is the gratuitous ARP: the VIP now leads to this host's LB.
	Claim func(ctx *harness.Ctx, lb harness.ProcID)
	// Weight is what a failed haproxy check takes off the priority [50].
	Weight int

	master    bool
	lbDown    bool
	lastHeard time.Duration
	downTimer harness.TimerID
	probe     uint64
	probeOut  bool
}

// VRRP timings (keepalived's defaults and the kubeadm guide's check).
const (
	AdvertInterval   = time.Second
	KeepalivedChecks = 2 * time.Second
)

// Advert is a VRRP advertisement.
type Advert struct{ Priority int }

func (a Advert) String() string { return "vrrp advert priority=" + strconv.Itoa(a.Priority) }

func (k *Keepalived) prio() int {
	if k.lbDown {
		w := k.Weight
		if w == 0 {
			w = 50
		}
		return k.Priority - w
	}
	return k.Priority
}

func (k *Keepalived) downTimeout() time.Duration {
	return 3*AdvertInterval + time.Duration(256-k.prio())*AdvertInterval/256
}

// Step implements harness.Process.
func (k *Keepalived) Step(ctx *harness.Ctx, in harness.Input) {
	switch in.Kind {
	case harness.InputStart:
		// Start as backup; become master if nobody advertises.
		k.lastHeard = ctx.Now()
		k.armDown(ctx)
		ctx.After(AdvertInterval, "vrrp-tick", 0)
		ctx.After(KeepalivedChecks, "vrrp-check", 0)
	case harness.InputTimer:
		switch in.Tag {
		case "vrrp-tick":
			ctx.After(AdvertInterval, "vrrp-tick", 0)
			if k.master {
				ctx.Send(k.Peer, Advert{Priority: k.prio()})
			}
		case "vrrp-down":
			if !k.master {
				k.becomeMaster(ctx, "no advert for "+(ctx.Now()-k.lastHeard).String())
			}
		case "vrrp-check":
			// killall -0 haproxy: a refusal from the local haproxy means
			// it is not running; an unanswered probe means the same.
			ctx.After(KeepalivedChecks, "vrrp-check", 0)
			if k.probeOut {
				k.setLB(ctx, true)
			}
			k.probe++
			k.probeOut = true
			ctx.Send(k.LB, Ping{Conn: lbProbeConn, N: k.probe})
		}
	case harness.InputMessage:
		switch m := in.Msg.Payload.(type) {
		case Advert:
			k.lastHeard = ctx.Now()
			k.armDown(ctx)
			switch {
			case k.master && m.Priority > k.prio():
				k.master = false
				ctx.Notef("vrrp: peer has priority %d > %d: backup", m.Priority, k.prio())
			case !k.master && m.Priority < k.prio():
				k.becomeMaster(ctx, "preempting priority "+strconv.Itoa(m.Priority))
			case k.master && m.Priority < k.prio():
				// Two masters (both timed out at once, or a healed
				// split): the higher stays and sends gratuitous ARPs
				// again, taking the VIP back from the one stepping
				// down.
				k.Claim(ctx, k.LB)
			}
		case Reset:
			// The local haproxy answered (it knows no such connection):
			// it runs.
			if m.Conn == lbProbeConn {
				k.probeOut = false
				k.setLB(ctx, false)
			}
		}
	case harness.InputRefused:
		if p, ok := in.Msg.Payload.(Ping); ok && p.Conn == lbProbeConn {
			k.probeOut = false
			k.setLB(ctx, true)
		}
	}
}

// lbProbeConn is the connection number of keepalived's haproxy check.
const lbProbeConn = 1

func (k *Keepalived) setLB(ctx *harness.Ctx, down bool) {
	if down == k.lbDown {
		return
	}
	k.lbDown = down
	state := "passes"
	if down {
		state = "fails"
	}
	ctx.Notef("vrrp: haproxy check %s: priority %d", state, k.prio())
	if k.master {
		ctx.Send(k.Peer, Advert{Priority: k.prio()})
	}
}

// armDown (re)starts the master-down timer.
func (k *Keepalived) armDown(ctx *harness.Ctx) {
	ctx.Cancel(k.downTimer)
	k.downTimer = ctx.After(k.downTimeout(), "vrrp-down", 0)
}

func (k *Keepalived) becomeMaster(ctx *harness.Ctx, why string) {
	k.master = true
	ctx.Notef("vrrp: master (%s): claiming the VIP", why)
	k.Claim(ctx, k.LB)
	ctx.Send(k.Peer, Advert{Priority: k.prio()})
}
