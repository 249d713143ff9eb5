package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	keys, ops, indeterminate, failed int
	violated, unknown                []string
	firstBad                         string // detail of the first violation
	html                             string
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
			opts.HTMLPath = filepath.Join(sc.artifacts, "api-linearizability.html")
		}
	}
	v, rep := checkers.CheckRegister(kh.ops, opts)
	t := &sc.lin
	t.keys++
	for _, op := range kh.ops {
		switch {
		case op.Failed:
			t.failed++
		case op.Indeterminate:
			t.indeterminate++
			t.ops++
		default:
			t.ops++
		}
	}
	switch v.Status {
	case harness.Violated:
		t.violated = append(t.violated, key)
		if t.firstBad == "" {
			t.firstBad = v.Detail
			t.html = rep.HTMLPath
			if rep.HTMLPath != "" {
				sc.artifactPaths = append(sc.artifactPaths, rep.HTMLPath)
			}
		}
	case harness.Unknown:
		t.unknown = append(t.unknown, key+": "+v.Detail)
	}
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
	v := harness.Verdict{Check: "api-linearizable"}
	summary := fmt.Sprintf("%d ops (%d indeterminate) on %d ConfigMaps through the load balancer, each judged once idle; %d failed ops ignored",
		t.ops, t.indeterminate, t.keys, t.failed)
	switch {
	case len(t.violated) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("not linearizable on %d of %d keys (%s); first: %s", len(t.violated), t.keys, strings.Join(t.violated, ", "), t.firstBad)
		if t.html != "" {
			v.Detail += "; view: " + t.html
		}
	case len(t.unknown) > 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("could not decide %d keys: %s", len(t.unknown), strings.Join(t.unknown, "; "))
	case t.ops == 0:
		v.Status = harness.Unknown
		v.Detail = "no ConfigMap calls were made"
	default:
		v.Status = harness.OK
		v.Detail = "linearizable: " + summary
	}
	return v
}
