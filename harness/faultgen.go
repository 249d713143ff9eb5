package harness

import (
	"sort"
	"strings"
	"time"
)

// Fault kinds a generated schedule may use.
const (
	KindPartition = "partition"
	KindIsolate   = "isolate"
	KindCrash     = "crash"
	KindKill      = "kill"
	// KindTerm stops a process gracefully; not in AllKinds (scenarios
	// whose processes handle it ask for it).
	KindTerm      = "term"
	KindPause     = "pause"
	KindClockJump = "clock-jump"
	KindClockRate = "clock-rate"
	KindNet       = "net"
	KindComposite = "pause+isolate"
	KindDisk      = "disk"
)

// AllKinds lists every generated fault kind.
var AllKinds = []string{KindPartition, KindIsolate, KindCrash, KindKill, KindPause,
	KindClockJump, KindClockRate, KindNet, KindComposite, KindDisk}

// GenOptions shape a generated schedule.
type GenOptions struct {
	// Duration is the run's length; Settle the quiet tail at its end, by
	// which every fault has been undone (so recovery can be judged).
	Duration, Settle time.Duration
	// Hosts may be crashed, paused, isolated, skewed; Procs may be killed.
	Hosts, Procs []string
	// Roles may stand in for hosts and processes (about a third of targets
	// when given).
	Roles []string
	// Kinds enabled; empty means AllKinds.
	Kinds []string
	// Entries is the number of entries; 0 draws 1 to 8.
	Entries int
	// MaxDown bounds how many hosts are crashed or paused at once; 0 means
	// a minority of Hosts.
	MaxDown int
	// MaxFor bounds each fault's length; 0 means 20s.
	MaxFor time.Duration
}

// GenerateSchedule draws a random valid schedule from r: every fault is
// undone by Duration-Settle, no concrete host is crashed or paused twice at
// once, and at most MaxDown hosts are down or paused together. Property tests
// draw schedules with rapid instead, so that they shrink; this generator
// serves `hasim run` and soaks, where a seed is all there is.
func GenerateSchedule(r *Rand, o GenOptions) Schedule {
	if len(o.Kinds) == 0 {
		o.Kinds = AllKinds
	}
	if o.MaxFor == 0 {
		o.MaxFor = 20 * time.Second
	}
	if o.MaxDown == 0 {
		o.MaxDown = (len(o.Hosts) - 1) / 2
	}
	horizon := o.Duration - o.Settle
	// Entries start in [0, horizon-1s), in whole milliseconds.
	if horizon < time.Second+time.Millisecond || len(o.Hosts) == 0 {
		return nil
	}
	n := o.Entries
	if n == 0 {
		n = 1 + r.Intn(8)
	}
	times := make([]time.Duration, n)
	for i := range times {
		// Millisecond resolution keeps schedules readable.
		times[i] = time.Duration(r.Int64n(int64(horizon-time.Second)/int64(time.Millisecond))) * time.Millisecond
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })

	type busy struct{ from, to time.Duration }
	hostBusy := map[string][]busy{}
	procBusy := map[string][]busy{}
	var downs []busy
	free := func(list []busy, from, to time.Duration) bool {
		for _, b := range list {
			if from < b.to && b.from < to {
				return false
			}
		}
		return true
	}
	overlapping := func(from, to time.Duration) int {
		c := 0
		for _, b := range downs {
			if from < b.to && b.from < to {
				c++
			}
		}
		return c
	}
	pickHost := func() Target {
		if len(o.Roles) > 0 && r.Intn(3) == 0 {
			return RoleT(o.Roles[r.Intn(len(o.Roles))])
		}
		return HostT(o.Hosts[r.Intn(len(o.Hosts))])
	}
	var out Schedule
	for _, at := range times {
		maxFor := horizon - at
		if maxFor > o.MaxFor {
			maxFor = o.MaxFor
		}
		if maxFor < 500*time.Millisecond {
			continue
		}
		d := r.Between(500*time.Millisecond, maxFor).Truncate(time.Millisecond)
		e := Entry{At: at, For: d}
		kind := o.Kinds[r.Intn(len(o.Kinds))]
		switch kind {
		case KindPartition:
			perm := make([]string, len(o.Hosts))
			for i, j := range permutation(r, len(o.Hosts)) {
				perm[i] = o.Hosts[j]
			}
			if len(perm) < 2 {
				continue
			}
			k := 1 + r.Intn(len(perm)-1)
			var a, b []Target
			for i, h := range perm {
				if i < k {
					a = append(a, HostT(h))
				} else {
					b = append(b, HostT(h))
				}
			}
			e.Faults = []Fault{Partition{A: a, B: b, OneWay: r.Intn(4) == 0, Hold: r.Intn(3) == 0}}
		case KindIsolate:
			e.Faults = []Fault{Isolate{Host: pickHost(), Hold: r.Intn(3) == 0}}
		case KindCrash, KindPause, KindComposite:
			t := pickHost()
			if !t.Role {
				if !free(hostBusy[t.Name], at, at+d) {
					continue
				}
				hostBusy[t.Name] = append(hostBusy[t.Name], busy{at, at + d})
			}
			if overlapping(at, at+d) >= o.MaxDown {
				continue
			}
			downs = append(downs, busy{at, at + d})
			switch kind {
			case KindCrash:
				e.Faults = []Fault{Crash{t}}
			case KindPause:
				e.Faults = []Fault{Pause{t}}
			default:
				e.Faults = []Fault{Pause{t}, Isolate{Host: t}}
			}
		case KindKill, KindTerm:
			if len(o.Procs) == 0 {
				continue
			}
			p := o.Procs[r.Intn(len(o.Procs))]
			h, _, _ := strings.Cut(p, "/")
			// A process is killed on a host that stays up meanwhile, and
			// the host is not crashed or paused while it is dead.
			if !free(procBusy[p], at, at+d) || !free(hostBusy[h], at, at+d) {
				continue
			}
			procBusy[p] = append(procBusy[p], busy{at, at + d})
			hostBusy[h] = append(hostBusy[h], busy{at, at + d})
			if kind == KindTerm {
				e.Faults = []Fault{Term{HostT(p)}}
			} else {
				e.Faults = []Fault{Kill{HostT(p)}}
			}
		case KindClockJump:
			by := r.Between(-2*time.Second, 2*time.Second).Truncate(time.Millisecond)
			if by == 0 {
				by = time.Millisecond
			}
			e.For = 0
			e.Faults = []Fault{ClockJump{Host: pickHost(), By: by}}
		case KindClockRate:
			// Rates from 0.5x to 2x, in steps of 0.05x.
			rate := Rate(500_000 + 50_000*r.Int64n(31))
			if rate == RateOne {
				rate = 1_100_000
			}
			e.Faults = []Fault{ClockRate{Host: pickHost(), Rate: rate}}
		case KindDisk:
			t := pickHost()
			if !t.Role {
				// One slow-disk fault per host at a time keeps each undo
				// meaningful.
				k := "disk/" + t.Name
				if !free(hostBusy[k], at, at+d) {
					continue
				}
				hostBusy[k] = append(hostBusy[k], busy{at, at + d})
			}
			e.Faults = []Fault{DiskSlow{Host: t, Latency: r.Between(20*time.Millisecond, time.Second).Truncate(time.Millisecond)}}
		case KindNet:
			f := NetFault{}
			switch r.Intn(4) {
			case 0:
				f.Set, f.Loss = SetLoss, tenths(r, 300)
			case 1:
				f.Set, f.Delay, f.Jitter = SetDelay|SetJitter, r.Between(time.Millisecond, 200*time.Millisecond).Truncate(time.Microsecond), r.Between(0, 50*time.Millisecond).Truncate(time.Microsecond)
			case 2:
				f.Set, f.Dup = SetDup, tenths(r, 200)
			default:
				f.Set, f.Reorder, f.Jitter = SetReorder|SetJitter, tenths(r, 500), r.Between(0, 20*time.Millisecond).Truncate(time.Microsecond)
			}
			if len(o.Hosts) >= 2 && r.Intn(2) == 0 {
				i := r.Intn(len(o.Hosts))
				j := (i + 1 + r.Intn(len(o.Hosts)-1)) % len(o.Hosts)
				f.A, f.B = []Target{HostT(o.Hosts[i])}, []Target{HostT(o.Hosts[j])}
			}
			e.Faults = []Fault{f}
		default:
			panic("hasim: unknown fault kind " + kind)
		}
		out = append(out, e)
	}
	return out
}

// tenths draws a probability from 0.1% to max/10 percent in steps of 0.1%,
// which keeps schedules readable.
func tenths(r *Rand, max int64) Prob { return Prob(1+r.Int64n(max)) * 1000 }

func permutation(r *Rand, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
