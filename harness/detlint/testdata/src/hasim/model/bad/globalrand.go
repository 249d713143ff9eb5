package bad

import (
	"math/rand"
	rand2 "math/rand/v2"
)

func globalRand(xs []int) {
	_ = rand.Intn(10)                                                     // want `rand.Intn \(math/rand\) draws from the process-global random source`
	_ = rand.Int63()                                                      // want `rand.Int63 \(math/rand\)`
	_ = rand.Float64()                                                    // want `rand.Float64 \(math/rand\)`
	rand.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] }) // want `rand.Shuffle \(math/rand\)`
	_ = rand.Perm(4)                                                      // want `rand.Perm \(math/rand\)`
	rand.Seed(1)                                                          // want `rand.Seed \(math/rand\)`
	_, _ = rand.Read(nil)                                                 // want `rand.Read \(math/rand\)`

	_ = rand2.N(10)       // want `rand.N \(math/rand/v2\)`
	_ = rand2.IntN(10)    // want `rand.IntN \(math/rand/v2\)`
	_ = rand2.Uint64()    // want `rand.Uint64 \(math/rand/v2\)`
	_ = rand2.Int()       // want `rand.Int \(math/rand/v2\)`
	rand2.Shuffle(0, nil) // want `rand.Shuffle \(math/rand/v2\)`
}

// References as values count as uses.
var (
	pick                 = rand.Intn      // want `rand.Intn \(math/rand\)`
	pick2 func() float64 = rand2.Float64  // want `rand.Float64 \(math/rand/v2\)`
	pickN                = rand2.N[int64] // want `rand.N \(math/rand/v2\)`
)

// Seeded generators and their methods are allowed.
var seeded = rand.New(rand.NewSource(1))

var _ = seeded.Intn(3)
