package election

import (
	"fmt"
	"strings"
	"time"

	"hasim/harness"
)

// Envelope is a leader-election safety envelope: every host's clock runs at
// a rate within [MinRate, MaxRate], and no host stays paused for longer
// than MaxPause. Single-active is claimed inside it; outside it, hasim's
// job is to find the overlap.
//
// The worst case: the leader's last renewal succeeded at S; it waits
// RetryPeriod, then retries for RenewDeadline, both on its own clock, and a
// pause that straddles its deadline makes it notice late. A candidate that
// saw the renewed record at once takes over LeaseDuration later on its own
// clock. So one controller at a time needs
//
//	MaxPause + (RetryPeriod + RenewDeadline)/MinRate < LeaseDuration/MaxRate
//
// With client-go's timings, 12s and 15s: the margin is 3s with perfect
// clocks (not LeaseDuration - RenewDeadline = 5s), and clock skew and
// pauses share it. Bounds of 0.85x to 1.15x and pauses of 3s (any two rates
// within LeaseDuration/RenewDeadline) break it: 12s/0.85 = 14.1s > 15s/1.15
// = 13.0s, and hasim finds the overlap.
type Envelope struct {
	MinRate, MaxRate harness.Rate
	MaxPause         time.Duration
}

// Safe is the envelope hasim claims single-active in under client-go's
// timings: 1s + 12s/0.95 = 13.6s < 15s/1.05 = 14.3s, which leaves 0.65s
// for a renewal's own latency.
var Safe = Envelope{MinRate: 950_000, MaxRate: 1_050_000, MaxPause: time.Second}

// Naive bounds any two rates within LeaseDuration/RenewDeadline and pauses
// under LeaseDuration - RenewDeadline less a retry: it is not safe, and
// hasim shows why.
var Naive = Envelope{MinRate: 850_000, MaxRate: 1_150_000, MaxPause: 3 * time.Second}

// Slack returns the worst case's margin under the given timings, in true
// time: LeaseDuration/MaxRate - MaxPause - (RetryPeriod +
// RenewDeadline)/MinRate. Negative: two controllers may act at once.
func (b Envelope) Slack(t Timings) time.Duration {
	real := func(local time.Duration, r harness.Rate) time.Duration {
		return time.Duration(int64(local) * int64(harness.RateOne) / int64(r))
	}
	return real(t.LeaseDuration, b.MaxRate) - b.MaxPause - real(t.RetryPeriod+t.RenewDeadline, b.MinRate)
}

// String prints the bounds: "clock rates 0.95x..1.05x, pauses up to 1s".
func (b Envelope) String() string {
	return fmt.Sprintf("clock rates %s..%s, pauses up to %s", b.MinRate, b.MaxRate, b.MaxPause)
}

// Bound narrows fault generation to the envelope: clock rates drawn within
// it, pauses no longer than MaxPause.
func (b Envelope) Bound(o harness.GenOptions) harness.GenOptions {
	o.MinClock, o.MaxClock, o.MaxPause = b.MinRate, b.MaxRate, b.MaxPause
	return o
}

// Outside says why a run's faults left the envelope ("" if they did not):
// a clock-rate fault outside the rates, or a host paused (by one fault or
// several back to back) for longer than MaxPause. A pause lasts until it
// is undone, a resume of its host, or a crash of its host, whichever comes
// first; end is when the run ended (a pause still in effect lasts until
// then). Faults that were skipped when they fired count for nothing.
func (b Envelope) Outside(faults []harness.FaultRecord, end time.Duration) string {
	return b.outside(faults, end, end)
}

// outside is Outside counting only the pauses and clock rates that fired
// by cutoff, and pauses only up to it (resumes and crashes count whenever
// they came).
func (b Envelope) outside(faults []harness.FaultRecord, end, cutoff time.Duration) string {
	type span struct{ from, to time.Duration }
	paused := map[string][]span{}
	// unpaused: by host, when a resume or a crash took effect on it.
	unpaused := map[string][]time.Duration{}
	for _, r := range faults {
		for i, f := range r.Faults {
			if !r.Applied(i) {
				continue
			}
			switch f := f.(type) {
			case harness.Resume:
				h := hostOf(f.Host, r)
				unpaused[h] = append(unpaused[h], r.At)
			case harness.Crash:
				h := hostOf(f.Host, r)
				unpaused[h] = append(unpaused[h], r.At)
			}
		}
	}
	var hosts []string
	var why []string
	for _, r := range faults {
		if r.At > cutoff {
			break // records come in firing order
		}
		for i, f := range r.Faults {
			if !r.Applied(i) {
				continue
			}
			switch f := f.(type) {
			case harness.ClockRate:
				if f.Rate < b.MinRate || f.Rate > b.MaxRate {
					why = append(why, fmt.Sprintf("clock %s rate %s at %s", hostOf(f.Host, r), f.Rate, r.At))
				}
			case harness.Pause:
				// A pause counts up to the cutoff: what it lasted after a
				// violation began cannot have caused it.
				to := r.End
				if to < 0 || to > cutoff {
					to = cutoff
				}
				h := hostOf(f.Host, r)
				for _, t := range unpaused[h] { // in firing order
					if t >= r.At {
						to = min(to, t)
						break
					}
				}
				if paused[h] == nil {
					hosts = append(hosts, h)
				}
				paused[h] = append(paused[h], span{r.At, to})
			}
		}
	}
	for _, h := range hosts {
		spans := paused[h]
		// Records come in firing order; merge pauses that touch.
		cur := spans[0]
		for _, s := range append(spans[1:], span{-1, -1}) {
			if s.from >= 0 && s.from <= cur.to {
				cur.to = max(cur.to, s.to)
				continue
			}
			if d := cur.to - cur.from; d > b.MaxPause {
				why = append(why, fmt.Sprintf("%s paused %s from %s", h, d, cur.from))
			}
			cur = s
		}
	}
	if len(why) == 0 {
		return ""
	}
	if len(why) > 3 {
		why = append(why[:3], fmt.Sprintf("%d more", len(why)-3))
	}
	return "outside the envelope (" + b.String() + "): " + strings.Join(why, ", ")
}

// hostOf names the host a fault's target stood for when it fired.
func hostOf(t harness.Target, r harness.FaultRecord) string {
	name := t.Name
	if t.Role {
		name = r.Resolved[t.Name]
	}
	h, _, _ := strings.Cut(name, "/")
	return h
}

// Judge says why a run under timings t left the envelope ("" if it did
// not): timings with no slack inside it leave every run outside.
func (b Envelope) Judge(t Timings, faults []harness.FaultRecord, end time.Duration) string {
	return b.judge(t, faults, end, end)
}

func (b Envelope) judge(t Timings, faults []harness.FaultRecord, end, cutoff time.Duration) string {
	if s := b.Slack(t); s <= 0 {
		return fmt.Sprintf("outside the envelope: the timings leave no margin within %s (slack %s)", b, s)
	}
	return b.outside(faults, end, cutoff)
}

// Excuse marks a single-active verdict Outside when the run had left the
// envelope by the time the violation began: a pause or a clock rate that
// came after its first overlap, or the part of a pause after it, cannot
// have caused it (a verdict without a time is judged on every fault).
// Other verdicts are left alone.
func (b Envelope) Excuse(t Timings, v *harness.Verdict, faults []harness.FaultRecord, end time.Duration) {
	if v.Status != harness.Violated {
		return
	}
	cutoff := end
	if v.At > 0 {
		cutoff = v.At
	}
	v.Outside = b.judge(t, faults, end, cutoff)
}
