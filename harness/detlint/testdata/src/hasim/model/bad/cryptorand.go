package bad

import (
	crand "crypto/rand"
	"io"
	"math/big"
)

func cryptoRand(buf []byte) {
	_, _ = crand.Read(buf)                         // want `crypto/rand.Read \(function\) draws from the operating system's entropy`
	_, _ = crand.Int(crand.Reader, big.NewInt(10)) // want `crypto/rand.Int \(function\)` `crypto/rand.Reader \(variable\)`
	_, _ = crand.Prime(crand.Reader, 64)           // want `crypto/rand.Prime` `crypto/rand.Reader`
	_ = crand.Text()                               // want `crypto/rand.Text`
}

var entropy io.Reader = crand.Reader // want `crypto/rand.Reader \(variable\)`

var reader = crand.Read // want `crypto/rand.Read \(function\)`
