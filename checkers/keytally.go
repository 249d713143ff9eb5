package checkers

import (
	"fmt"
	"strings"

	"hasim/harness"
)

// KeyTally sums per-key verdicts of one check into one verdict, for
// scenarios that judge each key's history on its own once the key is done
// with (so that long runs keep flat memory). It keeps counts and the first
// few keys of each kind, not every key.
type KeyTally struct {
	// Check names the verdict.
	Check harness.CheckName
	// Keys and Ops count what was added.
	Keys, Ops int

	judged            int
	violated, unknown int
	badKeys, unsure   []string
	first             string // the first violation's detail
}

// Add records one key's verdict over ops operations. An unknown verdict
// that had nothing to judge ("nothing to …": only failed calls, or writes
// no read followed) says nothing either way and counts for neither side.
func (t *KeyTally) Add(key string, v harness.Verdict, ops int) {
	t.Keys++
	t.Ops += ops
	switch v.Status {
	case harness.Violated:
		if t.violated++; t.violated == 1 {
			t.first = v.Detail
		}
		if len(t.badKeys) < exampleCap {
			t.badKeys = append(t.badKeys, key)
		}
	case harness.OK:
		t.judged++
	case harness.Unknown:
		if strings.HasPrefix(v.Detail, "nothing to") {
			return
		}
		if t.unknown++; len(t.unsure) < exampleCap {
			t.unsure = append(t.unsure, key+": "+v.Detail)
		}
	}
}

// Verdict is violated when a key was (detail: how many, which, and the
// first one's evidence) or when extra names problems found outside any
// one key; unknown when a key could not be decided or nothing was judged;
// otherwise ok with summary.
func (t *KeyTally) Verdict(summary string, extra []string) harness.Verdict {
	v := harness.Verdict{Check: t.Check}
	more := func(n, shown int) string {
		if n > shown {
			return fmt.Sprintf(" and %d more", n-shown)
		}
		return ""
	}
	switch {
	case t.violated > 0 || len(extra) > 0:
		v.Status = harness.Violated
		var parts []string
		if t.violated > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d keys (%s%s); first: %s",
				t.violated, t.Keys, strings.Join(t.badKeys, ", "), more(t.violated, len(t.badKeys)), t.first))
		}
		v.Detail = strings.Join(append(parts, extra...), "; ")
	case t.unknown > 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("could not decide %d keys: %s%s", t.unknown, strings.Join(t.unsure, "; "), more(t.unknown, len(t.unsure)))
	case t.judged == 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("nothing to judge on %d keys (%d ops)", t.Keys, t.Ops)
	default:
		v.Status = harness.OK
		v.Detail = summary
	}
	return v
}
