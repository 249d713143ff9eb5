package harness

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestClockReadOffsetAndRates(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset time.Duration
		rate   Rate
		at     time.Duration
		want   time.Duration
	}{
		{"perfect at 0", 0, RateOne, 0, 0},
		{"perfect", 0, RateOne, 7 * time.Second, 7 * time.Second},
		{"offset ahead", 5 * time.Second, RateOne, 3 * time.Second, 8 * time.Second},
		{"offset behind", -5 * time.Second, RateOne, 3 * time.Second, -2 * time.Second},
		{"1.3x", 0, 1_300_000, 10 * time.Second, 13 * time.Second},
		{"1.3x rounds down", 0, 1_300_000, 3, 3}, // 3.9ns
		{"1.3x one tick", 0, 1_300_000, 1, 1},    // 1.3ns
		{"0.7x", 0, 700_000, 10 * time.Second, 7 * time.Second},
		{"0.7x rounds down", 0, 700_000, 1, 0}, // 0.7ns
		{"0.7x two ticks", 0, 700_000, 2, 1},   // 1.4ns
		{"0.7x with offset", time.Hour, 700_000, 10 * time.Second, time.Hour + 7*time.Second},
		{"10x", 0, MaxRate, time.Second, 10 * time.Second},
		{"0.1x", 0, MinRate, time.Second, 100 * time.Millisecond},
	} {
		clk := NewClock(c.offset, c.rate)
		if got := clk.Read(c.at); got != c.want {
			t.Errorf("%s: NewClock(%s, %s).Read(%s) = %s, want %s", c.name, c.offset, c.rate, c.at, got, c.want)
		}
		if clk.Rate() != c.rate {
			t.Errorf("%s: Rate() = %s, want %s", c.name, clk.Rate(), c.rate)
		}
	}
}

func TestClockTrueAt(t *testing.T) {
	for _, c := range []struct {
		name       string
		offset     time.Duration
		rate       Rate
		now, local time.Duration
		want       time.Duration
	}{
		{"perfect", 0, RateOne, 0, 5 * time.Second, 5 * time.Second},
		{"already reached", 0, RateOne, 6 * time.Second, 5 * time.Second, 6 * time.Second},
		{"exactly now", 0, RateOne, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{"offset ahead", 10 * time.Second, RateOne, 0, 12 * time.Second, 2 * time.Second},
		{"offset behind", -5 * time.Second, RateOne, 0, 0, 5 * time.Second},
		{"1.3x", 0, 1_300_000, 0, 13 * time.Second, 10 * time.Second},
		{"1.3x 1ns", 0, 1_300_000, 0, 1, 1},
		{"1.3x 2ns", 0, 1_300_000, 0, 2, 2}, // 1ns reads 1.3 -> 1, 2ns reads 2.6 -> 2
		{"1.3x 4ns", 0, 1_300_000, 0, 4, 4}, // 3ns reads 3.9 -> 3, 4ns reads 5.2 -> 5
		{"0.7x", 0, 700_000, 0, 7 * time.Second, 10 * time.Second},
		{"0.7x 1ns", 0, 700_000, 0, 1, 2}, // 1ns reads 0.7 -> 0, 2ns 1.4 -> 1
		{"0.7x 3ns", 0, 700_000, 0, 3, 5}, // 4ns reads 2.8 -> 2, 5ns 3.5 -> 3
		{"2x from later now", 0, 2 * RateOne, time.Second, 4 * time.Second, 2 * time.Second},
	} {
		clk := NewClock(c.offset, c.rate)
		got := clk.TrueAt(c.now, c.local)
		if got != c.want {
			t.Errorf("%s: TrueAt(%s, %s) = %s, want %s", c.name, c.now, c.local, got, c.want)
			continue
		}
		checkTrueAt(t, c.name, &clk, c.now, c.local)
	}
}

// checkTrueAt checks that t = TrueAt(now, local) is the earliest true time
// not before now at which the clock reads local or later.
func checkTrueAt(t *testing.T, name string, clk *Clock, now, local time.Duration) {
	t.Helper()
	got := clk.TrueAt(now, local)
	if got < now {
		t.Fatalf("%s: TrueAt(%s, %s) = %s is before now", name, now, local, got)
	}
	if r := clk.Read(got); r < local {
		t.Fatalf("%s: TrueAt(%s, %s) = %s but the clock reads only %s then", name, now, local, got, r)
	}
	if got > now {
		if r := clk.Read(got - 1); r >= local {
			t.Fatalf("%s: TrueAt(%s, %s) = %s is not the earliest: one nanosecond earlier the clock already reads %s", name, now, local, got, r)
		}
	}
}

func TestClockTrueAtIsEarliest(t *testing.T) {
	r := NewRand(1, "clock-test")
	for i := 0; i < 20000; i++ {
		offset := r.Between(-time.Hour, time.Hour)
		rate := Rate(r.Between(time.Duration(MinRate), time.Duration(MaxRate)))
		if i%4 == 0 {
			rate = []Rate{700_000, 1_300_000, RateOne, MinRate, MaxRate, 999_999, 1_000_001}[r.Intn(7)]
		}
		clk := NewClock(offset, rate)
		// Sometimes change rate or jump first, so the segment does not
		// start at 0.
		now := r.Between(0, time.Hour)
		switch r.Intn(3) {
		case 1:
			clk.SetRate(now/2, Rate(r.Between(time.Duration(MinRate), time.Duration(MaxRate))))
		case 2:
			clk.Jump(r.Between(-time.Minute, time.Minute))
		}
		local := clk.Read(now) + r.Between(-time.Second, time.Hour)
		if r.Intn(5) == 0 {
			local = clk.Read(now) + time.Duration(r.Intn(5))
		}
		checkTrueAt(t, "random", &clk, now, local)
	}
}

func TestClockSetRate(t *testing.T) {
	clk := NewClock(0, RateOne)
	clk.SetRate(10*time.Second, 2*RateOne)
	if got := clk.Read(10 * time.Second); got != 10*time.Second {
		t.Fatalf("a rate change must not jump: Read(10s) = %s, want 10s", got)
	}
	if got := clk.Read(15 * time.Second); got != 20*time.Second {
		t.Fatalf("at 2x from 10s: Read(15s) = %s, want 20s", got)
	}
	if got := clk.TrueAt(10*time.Second, 20*time.Second); got != 15*time.Second {
		t.Fatalf("at 2x from 10s: TrueAt(10s, 20s) = %s, want 15s", got)
	}
	clk.SetRate(15*time.Second, 500_000)
	if got := clk.Read(17 * time.Second); got != 21*time.Second {
		t.Fatalf("at 0.5x from 15s (reading 20s): Read(17s) = %s, want 21s", got)
	}
	if got := clk.TrueAt(15*time.Second, 22*time.Second); got != 19*time.Second {
		t.Fatalf("at 0.5x from 15s: TrueAt(15s, 22s) = %s, want 19s", got)
	}
	if clk.Rate() != 500_000 {
		t.Fatalf("Rate() = %s, want 0.5x", clk.Rate())
	}
}

func TestClockJump(t *testing.T) {
	c := NewClock(0, 1_300_000)
	c.Jump(-5 * time.Second) // at any instant: only the wall reading moves
	if got := c.Read(10 * time.Second); got != 13*time.Second {
		t.Fatalf("1.3x clock after a -5s jump: Read(10s) = %s, want 13s (monotonic, unaffected)", got)
	}
	if got := c.Wall(10 * time.Second); got != 8*time.Second {
		t.Fatalf("1.3x clock after a -5s jump: Wall(10s) = %s, want 8s", got)
	}
	c.Jump(2 * time.Second)
	if got := c.Wall(20 * time.Second); got != 23*time.Second {
		t.Fatalf("after -5s and +2s: Wall(20s) = %s, want 23s", got)
	}
	if got := c.TrueAt(10*time.Second, 26*time.Second); got != 20*time.Second {
		t.Fatalf("timers follow the monotonic reading: TrueAt(10s, 26s) = %s, want 20s", got)
	}
	c.SetRate(20*time.Second, RateOne)
	if got := c.Wall(21 * time.Second); got != 24*time.Second {
		t.Fatalf("a rate change keeps the jumps: Wall(21s) = %s, want 24s", got)
	}
}

// refMulDiv is mulDiv computed with big integers: floor, or ceiling when up.
func refMulDiv(d time.Duration, num, den int64, up bool) time.Duration {
	p := new(big.Int).Mul(big.NewInt(int64(d)), big.NewInt(num))
	q, m := new(big.Int).DivMod(p, big.NewInt(den), new(big.Int)) // Euclidean: floor for den > 0
	if up && m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return time.Duration(q.Int64())
}

func TestMulDivRounding(t *testing.T) {
	for _, c := range []struct {
		d        time.Duration
		num, den int64
		up       bool
		want     time.Duration
	}{
		{1, 1, 2, false, 0},
		{1, 1, 2, true, 1},
		{-1, 1, 2, false, -1},  // -0.5 toward -inf
		{-1, 1, 2, true, 0},    // -0.5 toward +inf
		{-3, 7, 10, false, -3}, // -2.1
		{-3, 7, 10, true, -2},
		{3, 7, 10, false, 2}, // 2.1
		{3, 7, 10, true, 3},
		{-10, 7, 10, false, -7}, // exact
		{-10, 7, 10, true, -7},
		{0, 7, 10, true, 0},
		{-7, 1_000_000, 1_300_000, false, -6}, // -5.38
		{-7, 1_000_000, 1_300_000, true, -5},
	} {
		if got := mulDiv(c.d, c.num, c.den, c.up); got != c.want {
			t.Errorf("mulDiv(%d, %d, %d, up=%v) = %d, want %d", c.d, c.num, c.den, c.up, got, c.want)
		}
	}
	r := NewRand(2, "muldiv")
	for i := 0; i < 20000; i++ {
		d := r.Between(-1e15, 1e15)
		num := r.Int64n(int64(MaxRate)) + 1
		den := r.Int64n(int64(MaxRate)) + 1000 // keeps d*num/den within int64
		up := r.Intn(2) == 0
		if got, want := mulDiv(d, num, den, up), refMulDiv(d, num, den, up); got != want {
			t.Fatalf("mulDiv(%d, %d, %d, up=%v) = %d, want %d", d, num, den, up, got, want)
		}
	}
	msg := panicMessage(t, func() { mulDiv(1<<62, 1<<10, 2, false) })
	if !strings.Contains(msg, "overflow") {
		t.Fatalf("overflowing mulDiv panicked with %q, want an overflow message", msg)
	}
}

func TestRateString(t *testing.T) {
	for _, c := range []struct {
		r    Rate
		want string
	}{
		{RateOne, "1x"}, {1_300_000, "1.3x"}, {700_000, "0.7x"}, {750_000, "0.75x"},
		{MinRate, "0.1x"}, {MaxRate, "10x"}, {1_000_001, "1.000001x"}, {2_500_000, "2.5x"},
		{-500_000, "-0.5x"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("Rate(%d).String() = %q, want %q", int64(c.r), got, c.want)
		}
	}
}

func TestProbString(t *testing.T) {
	for _, c := range []struct {
		p    Prob
		want string
	}{
		{0, "0%"}, {ProbOne, "100%"}, {50_000, "5%"}, {2_500, "0.25%"}, {1, "0.0001%"},
		{123_456, "12.3456%"}, {100, "0.01%"}, {Percent(5), "5%"}, {Percent(0.25), "0.25%"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("Prob(%d).String() = %q, want %q", int64(c.p), got, c.want)
		}
	}
	if Percent(5) != 50_000 || Percent(0.25) != 2_500 || Percent(100) != ProbOne {
		t.Errorf("Percent: 5%%=%d 0.25%%=%d 100%%=%d", Percent(5), Percent(0.25), Percent(100))
	}
}

func TestRateRoundTrip(t *testing.T) {
	check := func(r Rate) {
		got, err := ParseRate(r.String())
		if err != nil || got != r {
			t.Fatalf("ParseRate(%q) = %d, %v; want %d", r.String(), got, err, r)
		}
	}
	for r := MinRate; r <= MaxRate; r += 997 {
		check(r)
	}
	rnd := NewRand(3, "rates")
	for i := 0; i < 20000; i++ {
		check(Rate(rnd.Between(time.Duration(MinRate), time.Duration(MaxRate))))
	}
	check(MinRate)
	check(MaxRate)
	// Other spellings of the same value parse too.
	for s, want := range map[string]Rate{"1.30x": 1_300_000, "01x": RateOne, "1.000000x": RateOne, "10.0x": MaxRate} {
		if got, err := ParseRate(s); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

func TestProbRoundTrip(t *testing.T) {
	for p := Prob(0); p <= ProbOne; p++ {
		got, err := ParseProb(p.String())
		if err != nil || got != p {
			t.Fatalf("ParseProb(%q) = %d, %v; want %d", p.String(), got, err, p)
		}
	}
}

func TestParseRateErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1.3", "must end in x"},
		{"", "must end in x"},
		{"x", "missing number"},
		{"fastx", "not a decimal number"},
		{"-1x", "not a decimal number"},
		{".5x", "not a decimal number"},
		{"1e2x", "not a decimal number"},
		{"1.2.3x", "not a decimal number"},
		{"1.0000001x", "at most 6 decimals"},
		{"1234567890x", "too large"},
		{"0.05x", "out of range [0.1x, 10x]"},
		{"0x", "out of range [0.1x, 10x]"},
		{"10.000001x", "out of range [0.1x, 10x]"},
		{"11x", "out of range"},
	} {
		r, err := ParseRate(c.in)
		if err == nil {
			t.Errorf("ParseRate(%q) = %s, want an error containing %q", c.in, r, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRate(%q) error %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestParseProbErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"5", "must end in %"},
		{"0.05", "must end in %"},
		{"%", "missing number"},
		{"-1%", "not a decimal number"},
		{".5%", "not a decimal number"},
		{"five%", "not a decimal number"},
		{"5.00001%", "at most 4 decimals"},
		{"100.0001%", "out of range [0%, 100%]"},
		{"101%", "out of range [0%, 100%]"},
		{"1000000000%", "too large"},
	} {
		p, err := ParseProb(c.in)
		if err == nil {
			t.Errorf("ParseProb(%q) = %s, want an error containing %q", c.in, p, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseProb(%q) error %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Duration
		want string
	}{
		{0, "0.000000000"},
		{1, "0.000000001"},
		{12400 * time.Millisecond, "12.400000000"},
		{time.Second, "1.000000000"},
		{3 * time.Hour, "10800.000000000"},
		{time.Second + 20*time.Microsecond, "1.000020000"},
		{-1500 * time.Millisecond, "-1.500000000"},
		{-1, "-0.000000001"},
		{999_999_999, "0.999999999"},
	} {
		if got := FormatTime(c.t); got != c.want {
			t.Errorf("FormatTime(%d) = %q, want %q", int64(c.t), got, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	if d, err := ParseDuration("at", "1m30s"); err != nil || d != 90*time.Second {
		t.Fatalf("ParseDuration(1m30s) = %s, %v", d, err)
	}
	if _, err := ParseDuration("at", "soon"); err == nil || !strings.Contains(err.Error(), `at: "soon" is not a duration`) {
		t.Fatalf("ParseDuration(soon) error = %v, want it to name the field and the text", err)
	}
	if _, err := ParseDuration("for", "-1s"); err == nil || err.Error() != "for: negative duration -1s" {
		t.Fatalf("ParseDuration(-1s) error = %v, want \"for: negative duration -1s\"", err)
	}
}
