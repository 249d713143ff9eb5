package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"hasim/checkers"
	"hasim/harness"
	"hasim/model/store"
)

// keyHistory is the register history of one ConfigMap, kept until every
// user has moved past its key epoch. Users move to fresh keys every epoch
// and never come back to an old one, so a key's history is complete once
// every user has called in a later epoch and none of its calls is in
// flight: it is judged then and dropped, and memory stays flat however
// long the run. (A key merely idle is not done: users cut off from the API
// for minutes come back to the keys of their epoch.)
type keyHistory struct {
	ops     []checkers.RegisterOp
	pending int
	epoch   int
}

// configMapEpoch returns the key epoch of a users' ConfigMap name
// ("default/cm-3-1" is of epoch 3).
func configMapEpoch(name string) int {
	rest, ok := strings.CutPrefix(name, "default/cm-")
	if !ok {
		return 0
	}
	e, _, _ := strings.Cut(rest, "-")
	n, _ := strconv.Atoi(e)
	return n
}

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

// sweepKeys judges the keys every user has moved past.
func (sc *Scenario) sweepKeys() {
	if len(sc.userEpoch) < sc.Cfg.Users {
		return // some user has not called yet
	}
	done := -1
	first := true
	for _, u := range harness.SortedKeys(sc.userEpoch) {
		if e := sc.userEpoch[u]; first || e < done {
			done, first = e, false
		}
	}
	for _, key := range harness.SortedKeys(sc.keys) {
		if kh := sc.keys[key]; kh.pending == 0 && kh.epoch < done {
			sc.checkKey(key)
		}
	}
}

func (t *linTally) verdict() harness.Verdict {
	v := t.Verdict(fmt.Sprintf("linearizable: %d ops (%d indeterminate) on %d ConfigMaps through the load balancer, each judged once every user had moved past its key epoch; %d failed ops ignored",
		t.Ops, t.indeterminate, t.Keys, t.failed), nil)
	if v.Status == harness.Violated {
		v.Detail = "not linearizable on " + v.Detail
	}
	return v
}
