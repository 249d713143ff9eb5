// Package clean is realistic deterministic model code: no diagnostics.
package clean

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Node is a simulated node. Its randomness comes from a seeded generator.
type Node struct {
	rng     *rand.Rand
	now     time.Duration // simulated time since start
	timeout time.Duration
	peers   map[string]int
	log     []string
}

// NewNode builds a node from the seed the host provides.
func NewNode(seed1, seed2 uint64) *Node {
	return &Node{
		rng:     rand.New(rand.NewPCG(seed1, seed2)),
		timeout: 3 * time.Second,
		peers:   make(map[string]int),
	}
}

// NewChaChaNode uses the other seeded source.
func NewChaChaNode(seed [32]byte) *rand.Rand {
	return rand.New(rand.NewChaCha8(seed))
}

// Zipf draws from a seeded Zipf distribution.
func Zipf(r *rand.Rand) uint64 {
	return rand.NewZipf(r, 1.5, 2, 100).Uint64()
}

// Advance moves simulated time forward.
func (n *Node) Advance(d time.Duration) {
	n.now += d
	if n.now > n.timeout {
		n.now = n.now.Truncate(time.Millisecond) + 500*time.Microsecond
	}
}

// Jitter uses methods of the seeded generator.
func (n *Node) Jitter() time.Duration {
	base := time.Duration(n.rng.IntN(100)) * time.Millisecond
	if n.rng.Float64() < 0.5 {
		base += time.Duration(n.rng.Int64N(int64(time.Second)))
	}
	perm := n.rng.Perm(3)
	n.rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	intn := n.rng.IntN // a method value is fine
	_ = intn(4)
	return base
}

// Broadcast visits peers in sorted order.
func (n *Node) Broadcast(msg string) {
	for _, name := range slices.Sorted(maps.Keys(n.peers)) {
		n.peers[name]++
		n.log = append(n.log, name+": "+msg)
	}
	for i, line := range n.log {
		_, _ = i, line
	}
	for i := range 3 {
		_ = i
	}
}

// SortedKeys is a sorted-keys helper.
func SortedKeys[K interface{ ~string | ~int }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		keys = append(keys, k)
	}
	return keys
}

// Totals uses a sorted-keys helper built with sort.Strings.
func (n *Node) Totals() int {
	names := make([]string, 0, len(n.peers))
	names = slices.AppendSeq(names, maps.Keys(n.peers))
	sort.Strings(names)
	total := 0
	for _, name := range names {
		total += n.peers[name]
	}
	delete(n.peers, "gone")
	return total + len(n.peers)
}

// Deadline is time arithmetic on simulated values, not the wall clock.
func Deadline(start time.Time, d time.Duration) time.Time {
	t := start.Add(d).Add(-time.Nanosecond)
	if t.Sub(start) > time.Hour {
		return start
	}
	return t.Round(time.Second)
}

// Timers of package time as types only (no real timer is created).
type Scheduled struct {
	At    time.Duration
	Timer *time.Timer
}

// Iterate ranges over a function iterator that is not map order.
func Iterate(xs []int) int {
	sum := 0
	for _, x := range slices.Backward(xs) {
		sum += x
	}
	for x := range slices.Values(xs) {
		sum += x
	}
	return sum
}
