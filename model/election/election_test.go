package election

import (
	"testing"

	"hasim/harness"
)

// A candidate with a takeover write in flight races another only while
// both live.
func TestRaceNeedsTwoLiveCandidates(t *testing.T) {
	alive := map[harness.ProcID]bool{1: true, 2: true}
	r := Race{Alive: func(p harness.ProcID, _ int) bool { return alive[p] }}
	r.acquiring = []racer{{"a", 1, 1}, {"b", 2, 1}}
	if !r.Racing() {
		t.Fatal("two acquiring are not racing")
	}
	alive[2] = false
	if r.Racing() {
		t.Fatal("a dead candidate still races")
	}
}
