package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model/store"
)

// keyHistory is the register history of one ConfigMap, kept until the key
// goes idle. Users move to fresh keys every epoch, so each key's history
// is complete once it has been idle for KeyIdle: it is judged then and
// dropped, and memory stays flat however long the run.
type keyHistory struct {
	ops     []checkers.RegisterOp
	pending int
	last    time.Duration
}

// KeyIdle is how long a key must see no call (and have none in flight)
// before its history is judged.
const KeyIdle = 2 * time.Minute

// linTally sums the per-key verdicts of the API linearizability check.
type linTally struct {
	checkers.KeyTally
	indeterminate, failed int
	html                  string // the view of the first violation
}

// checkKey judges one key's history with porcupine and forgets it.
func (sc *Scenario) checkKey(key string) {
	kh := sc.keys[key]
	delete(sc.keys, key)
	opts := checkers.LinearizableOptions{Timeout: store.LinearizabilityTimeout}
	if sc.LinearizabilityTimeout > 0 {
		opts.Timeout = sc.LinearizabilityTimeout
	}
	if sc.artifacts != "" && sc.lin.html == "" {
		if err := os.MkdirAll(sc.artifacts, 0o755); err == nil {
			// Named by seed: a later failure must not overwrite the
			// view an earlier failure file points to.
			opts.HTMLPath = filepath.Join(sc.artifacts, fmt.Sprintf("api-linearizability-%d.html", sc.sim.Seed()))
		}
	}
	v, rep := checkers.CheckRegister(kh.ops, opts)
	t := &sc.lin
	ops := 0
	for _, op := range kh.ops {
		switch {
		case op.Failed:
			t.failed++
		case op.Indeterminate:
			t.indeterminate++
			ops++
		default:
			ops++
		}
	}
	if v.Status == harness.Violated && t.html == "" && rep.HTMLPath != "" {
		t.html = rep.HTMLPath
		v.Detail += "; view: " + rep.HTMLPath
		sc.artifactPaths = append(sc.artifactPaths, rep.HTMLPath)
	}
	t.Add(key, v, ops)
}

// sweepKeys judges the keys that have gone idle.
func (sc *Scenario) sweepKeys(now time.Duration) {
	for _, key := range harness.SortedKeys(sc.keys) {
		if kh := sc.keys[key]; kh.pending == 0 && now-kh.last >= KeyIdle {
			sc.checkKey(key)
		}
	}
}

func (t *linTally) verdict() harness.Verdict {
	v := t.Verdict(fmt.Sprintf("linearizable: %d ops (%d indeterminate) on %d ConfigMaps through the load balancer, each judged once idle; %d failed ops ignored",
		t.Ops, t.indeterminate, t.Keys, t.failed), nil)
	if v.Status == harness.Violated {
		v.Detail = "not linearizable on " + v.Detail
	}
	return v
}
