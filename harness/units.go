package harness

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Prob is a probability in parts per million: 0 is never, ProbOne always.
// It is an integer so that every machine draws the same outcomes; floating
// point may be fused differently on different architectures.
type Prob int64

// ProbOne is the probability 1 (100%).
const ProbOne Prob = 1_000_000

// Percent returns the probability p percent, rounded to the nearest ppm.
func Percent(p float64) Prob { return Prob(p*10_000 + 0.5) }

// String prints the probability as a percentage with at most four decimals:
// "0%", "5%", "0.25%", "100%".
func (p Prob) String() string { return fixed(int64(p), 4) + "%" }

// Valid reports whether p lies in [0, 100%].
func (p Prob) Valid() bool { return p >= 0 && p <= ProbOne }

// ParseProb parses a percentage such as "5%" or "0.25%".
func ParseProb(s string) (Prob, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, fmt.Errorf("probability %q must end in %%", s)
	}
	v, err := parseFixed(num, 4)
	if err != nil {
		return 0, fmt.Errorf("probability %q: %v", s, err)
	}
	p := Prob(v)
	if !p.Valid() {
		return 0, fmt.Errorf("probability %s out of range [0%%, 100%%]", s)
	}
	return p, nil
}

// Rate is a clock rate in parts per million of true time: RateOne is a
// perfect clock, 1_300_000 a clock 1.3 times fast, 700_000 one 0.7 times
// slow (it counts 0.7s for every true second).
type Rate int64

// RateOne is the rate of a perfect clock.
const RateOne Rate = 1_000_000

// Bounds of a valid clock rate. Real clocks drift by ppm; rates this far
// out model VMs starved of CPU, broken NTP slewing or a stopped TSC.
const (
	MinRate Rate = 100_000    // 0.1x
	MaxRate Rate = 10_000_000 // 10x
)

// String prints the rate as a factor: "1x", "1.3x", "0.75x".
func (r Rate) String() string { return fixed(int64(r), 6) + "x" }

// Valid reports whether r lies in [MinRate, MaxRate].
func (r Rate) Valid() bool { return r >= MinRate && r <= MaxRate }

// ParseRate parses a factor such as "1.3x".
func ParseRate(s string) (Rate, error) {
	num, ok := strings.CutSuffix(s, "x")
	if !ok {
		return 0, fmt.Errorf("rate %q must end in x (e.g. 1.3x)", s)
	}
	v, err := parseFixed(num, 6)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %v", s, err)
	}
	r := Rate(v)
	if !r.Valid() {
		return 0, fmt.Errorf("rate %s out of range [%s, %s]", s, MinRate, MaxRate)
	}
	return r, nil
}

// fixed prints v/10^dec with trailing zeros trimmed.
func fixed(v int64, dec int) string {
	neg := v < 0
	if neg {
		v = -v
	}
	scale := int64(1)
	for i := 0; i < dec; i++ {
		scale *= 10
	}
	s := strconv.FormatInt(v/scale, 10)
	if frac := v % scale; frac != 0 {
		f := strconv.FormatInt(frac, 10)
		f = strings.Repeat("0", dec-len(f)) + f
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// parseFixed parses a non-negative decimal with at most dec fractional
// digits into v*10^dec, exactly.
func parseFixed(s string, dec int) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("missing number")
	}
	whole, frac, dot := strings.Cut(s, ".")
	if dot && frac == "" {
		return 0, fmt.Errorf("not a decimal number")
	}
	if len(frac) > dec {
		return 0, fmt.Errorf("at most %d decimals", dec)
	}
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("not a decimal number")
	}
	if len(whole) > 9 {
		return 0, fmt.Errorf("too large")
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", dec-len(frac)), 10, 64)
	}
	scale := int64(1)
	for i := 0; i < dec; i++ {
		scale *= 10
	}
	return w*scale + f, nil
}

// FormatTime prints a simulated instant as seconds with nanosecond
// precision, the form every trace line starts with: "12.400000000".
func FormatTime(t time.Duration) string { return string(appendTime(nil, t)) }

func appendTime(b []byte, t time.Duration) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, int64(t/time.Second), 10)
	b = append(b, '.')
	ns := int64(t % time.Second)
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, digits[:]...)
}

// ParseDuration parses a Go duration ("1.5s", "200ms", "1m30s") and rejects
// negative ones, naming what it parsed for.
func ParseDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration (e.g. 1.5s, 200ms, 1m30s)", field, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: negative duration %s", field, s)
	}
	return d, nil
}
