package checkers

import (
	"fmt"
	"math/rand"
	"testing"

	"hasim/harness"
)

type depTenureCall struct {
	lease, who string
	start, end float64 // end < 0: still acting
}

const depKCM = "kube-controller-manager"

func dTen(who string, start, end float64) depTenureCall {
	return depTenureCall{lease: depKCM, who: who, start: start, end: end}
}

func dWrite(who, what string, issued, landed float64) ActorWrite {
	return ActorWrite{Who: who, Lease: depKCM, What: what, Issued: ttSec(issued), Landed: ttSec(landed)}
}

func depChecker(tenures []depTenureCall, writes []ActorWrite) *DeposedWrites {
	c := NewDeposedWrites("no-deposed-writes")
	for _, t := range tenures {
		end := ttSec(t.end)
		if t.end < 0 {
			end = -1
		}
		c.Tenure(t.lease, t.who, ttSec(t.start), end)
	}
	for _, w := range writes {
		c.Write(w)
	}
	return c
}

func TestDeposedWrites(t *testing.T) {
	const web = "create pods/default/web-abcde"
	tests := []struct {
		name    string
		tenures []depTenureCall
		writes  []ActorWrite
		end     float64
		want    harness.Status
		substr  []string
		absent  []string
	}{
		{
			name:    "writes land while their writer acts",
			tenures: []depTenureCall{dTen("m1", 0, 40), dTen("m2", 45, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 10, 10.1), dWrite("m2", "delete pods/default/web-abcde", 50, 50.2)},
			end:     100, want: harness.OK,
			substr: []string{"2 writes under 1 lease judged: each was made under its lease and landed while its writer still acted or before a successor began (0 landed after their writer stopped, with no successor yet); run ended at 1m40s"},
		},
		{
			name:    "a deposed leader's write lands after its successor began",
			tenures: []depTenureCall{dTen("m1", 0, 41), dTen("m2", 42, -1)},
			writes:  []ActorWrite{dWrite("m1", "create pods/default/web-1", 10, 10.1), dWrite("m1", web, 40.5, 43.2)},
			end:     100, want: harness.Violated,
			substr: []string{`1 of 2 writes landed after their writer was deposed or were made without the lease: ` +
				`m1 stopped acting under kube-controller-manager at 41s, but its write "create pods/default/web-abcde" issued at 40.5s landed at 43.2s, 1.2s after m2 began acting at 42s`},
			absent: []string{"web-1"},
		},
		{
			name:    "the successor overlapped the writer's tenure",
			tenures: []depTenureCall{dTen("m1", 0, 41), dTen("m2", 40, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 39, 42)},
			end:     100, want: harness.Violated,
			substr: []string{"landed at 42s, 2s after m2 had been acting at 40s"},
		},
		{
			name:    "a successor whose tenure already ended still counts",
			tenures: []depTenureCall{dTen("m1", 0, 41), dTen("m2", 42, 43)},
			writes:  []ActorWrite{dWrite("m1", web, 40, 44)},
			end:     100, want: harness.Violated,
			substr: []string{"landed at 44s, 2s after m2 began acting at 42s"},
		},
		{
			name:    "the earliest successor is named",
			tenures: []depTenureCall{dTen("m1", 0, 41), dTen("m3", 43, -1), dTen("m2", 42, 42.5)},
			writes:  []ActorWrite{dWrite("m1", web, 40, 44)},
			end:     100, want: harness.Violated,
			substr: []string{"2s after m2 began acting at 42s"},
			absent: []string{"m3"},
		},
		{
			name:    "late but nobody else acted yet",
			tenures: []depTenureCall{dTen("m1", 0, 41), dTen("m2", 50, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 40.5, 43)},
			end:     100, want: harness.OK,
			substr: []string{"1 write under 1 lease judged", "(1 landed after their writer stopped, with no successor yet)"},
		},
		{
			name:    "predecessors are not successors",
			tenures: []depTenureCall{dTen("m0", 0, 12), dTen("m1", 10, 20), dTen("m0", 5, 10)},
			writes:  []ActorWrite{dWrite("m1", web, 19, 25)},
			end:     100, want: harness.OK,
			substr: []string{"(1 landed after their writer stopped, with no successor yet)"},
		},
		{
			name:    "another lease's actor is no successor",
			tenures: []depTenureCall{dTen("m1", 0, 41), {lease: "kube-scheduler", who: "m2", start: 42, end: -1}},
			writes:  []ActorWrite{dWrite("m1", web, 40.5, 43.2)},
			end:     100, want: harness.OK,
		},
		{
			name:    "the writer acting again when it lands",
			tenures: []depTenureCall{dTen("m1", 0, 10), dTen("m2", 11, 12), dTen("m1", 13, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 9, 14)},
			end:     100, want: harness.OK,
		},
		{
			name:    "of overlapping tenures covering the issue, the longest counts",
			tenures: []depTenureCall{dTen("m1", 0, 10), dTen("m1", 5, 15), dTen("m1", 2, 12), dTen("m2", 12, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 8, 17)},
			end:     100, want: harness.Violated,
			substr: []string{"m1 stopped acting under kube-controller-manager at 15s", "landed at 17s, 5s after m2 had been acting at 12s"},
		},
		{
			name:    "an open tenure is the longest",
			tenures: []depTenureCall{dTen("m1", 0, 10), dTen("m1", 5, -1), dTen("m1", 6, 9), dTen("m2", 12, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 8, 17)},
			end:     100, want: harness.OK,
		},
		{
			name:    "tenure bounds are inclusive",
			tenures: []depTenureCall{dTen("m1", 0, 10), dTen("m2", 10, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 10, 10), dWrite("m1", web, 0, 0)},
			end:     100, want: harness.OK,
		},
		{
			name:    "an open tenure outlasts the end given",
			tenures: []depTenureCall{dTen("m1", 0, -1), dTen("m2", 0.5, 1)},
			writes:  []ActorWrite{dWrite("m1", web, 100, 101)},
			end:     50, want: harness.OK,
		},
		{
			name:    "acting without ever holding the lease",
			tenures: []depTenureCall{{lease: "kube-scheduler", who: "m1", start: 0, end: -1}},
			writes:  []ActorWrite{dWrite("m1", web, 5, 5.1)},
			end:     100, want: harness.Violated,
			substr: []string{`m1 acted without the lease kube-controller-manager: its write "create pods/default/web-abcde" issued at 5s (landed at 5.1s), it never held the lease`},
		},
		{
			name:    "acting after its tenure ended",
			tenures: []depTenureCall{dTen("m1", 0, 5), dTen("m1", 6, 10), dTen("m2", 20, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 25, 25.1)},
			end:     100, want: harness.Violated,
			substr: []string{"m1 acted without the lease kube-controller-manager", "its tenure had ended at 10s; m2 was acting (since 20s)"},
		},
		{
			name:    "acting before its tenure began",
			tenures: []depTenureCall{dTen("m1", 30, -1)},
			writes:  []ActorWrite{dWrite("m1", web, 25, 26)},
			end:     100, want: harness.Violated,
			substr: []string{"issued at 25s (landed at 26s), its tenure began only at 30s"},
			absent: []string{"was acting"},
		},
		{
			name:    "an end before the start is taken as the start",
			tenures: []depTenureCall{dTen("m1", 10, 5)},
			writes:  []ActorWrite{dWrite("m1", web, 10, 10), dWrite("m1", "x", 7, 7)},
			end:     100, want: harness.Violated,
			substr: []string{"1 of 2 writes", `its write "x" issued at 7s (landed at 7s), its tenure began only at 10s`},
		},
		{
			name:    "no writes",
			tenures: []depTenureCall{dTen("m1", 0, 10), dTen("m2", 10, -1)},
			end:     100, want: harness.Unknown,
			substr: []string{"no writes (2 tenures)"},
		},
		{
			name: "nothing at all",
			end:  100, want: harness.Unknown,
			substr: []string{"no writes (0 tenures)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := depChecker(tc.tenures, tc.writes).Verdict(ttSec(tc.end))
			if v.Check != "no-deposed-writes" {
				t.Errorf("check %q", v.Check)
			}
			ttWant(t, v, tc.want, tc.substr, tc.absent)
		})
	}
}

// Evidence is bounded, in order of landing, whatever the order of the calls.
func TestDeposedWritesBoundedDeterministic(t *testing.T) {
	tenures := []depTenureCall{dTen("m1", 0, 41), dTen("m2", 42, -1)}
	var writes []ActorWrite
	for i := range 7 {
		writes = append(writes, dWrite("m1", fmt.Sprintf("update pods/default/p-%d", i), 40, 50-float64(i)))
	}
	var first string
	rng := rand.New(rand.NewSource(3))
	for round := range 5 {
		ws := make([]ActorWrite, len(writes))
		for i, j := range rng.Perm(len(writes)) {
			ws[i] = writes[j]
		}
		v := depChecker(tenures, ws).Verdict(ttSec(100))
		ttWant(t, v, harness.Violated, []string{"7 of 7 writes", `but its write "update pods/default/p-6" issued at 40s landed at 44s`, "; and 2 more"},
			[]string{"p-0", "p-1"})
		if round == 0 {
			first = v.Detail
		} else if v.Detail != first {
			t.Errorf("detail depends on call order:\n%s\n%s", first, v.Detail)
		}
	}
}
