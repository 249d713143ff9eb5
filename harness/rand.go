package harness

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// Rand is one named stream of the run's PRNG tree. Every stream is derived
// from the root seed and its own name alone, so a draw added to one stream
// never shifts the draws of another: adding jitter to one link does not
// change which host the fault generator picks.
//
// Rand is not safe for concurrent use; nothing in a simulation is.
type Rand struct {
	name string
	r    *rand.Rand
}

// NewRand returns the stream called name under the given root seed.
func NewRand(seed uint64, name string) *Rand {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], seed)
	h := sha256.New()
	h.Write([]byte("hasim/rand/v1\x00"))
	h.Write(buf[:])
	h.Write([]byte(name))
	sum := h.Sum(nil)
	return &Rand{
		name: name,
		r: rand.New(rand.NewPCG(
			binary.BigEndian.Uint64(sum[0:8]),
			binary.BigEndian.Uint64(sum[8:16]))),
	}
}

// Name returns the stream's name in the tree.
func (r *Rand) Name() string { return r.name }

// Uint64 returns a uniformly distributed 64-bit value.
func (r *Rand) Uint64() uint64 { return r.r.Uint64() }

// Intn returns a uniform value in [0, n). It panics if n <= 0.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("hasim: Rand.Intn: n must be positive")
	}
	return r.r.IntN(n)
}

// Int64n returns a uniform value in [0, n). It panics if n <= 0.
func (r *Rand) Int64n(n int64) int64 {
	if n <= 0 {
		panic("hasim: Rand.Int64n: n must be positive")
	}
	return r.r.Int64N(n)
}

// Between returns a uniform duration in [lo, hi]; lo when hi <= lo.
func (r *Rand) Between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.r.Int64N(int64(hi-lo)+1))
}

// Chance reports true with probability p. It draws nothing when p is 0 or
// 100%, so that turning a knob fully off leaves the stream untouched.
func (r *Rand) Chance(p Prob) bool {
	switch {
	case p <= 0:
		return false
	case p >= ProbOne:
		return true
	}
	return r.r.Int64N(int64(ProbOne)) < int64(p)
}

// Read fills p with pseudo-random bytes and never fails: it makes a stream
// usable as an io.Reader, which is how the runner feeds crypto/rand users
// such as raft's election-timeout draw.
func (r *Rand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], r.r.Uint64())
		copy(p[i:], b[:])
	}
	return len(p), nil
}
