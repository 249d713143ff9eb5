package harness

import (
	"strings"
	"testing"
)

func TestParseEdgeCases(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"at 1s heal +", `schedule line 1: fault: missing fault after "+"`},
		{"at 1s crash m1 + for 2s", `schedule line 1: fault: missing fault after "+"`},
		{"at 1s clock m1 rate 1.x", `rate "1.x": not a decimal number`},
		{"at 1s net loss 5.%", `probability "5.%": not a decimal number`},
	} {
		_, err := ParseSchedule(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
}

func TestReservedHostNamesAndUnknownHosts(t *testing.T) {
	for _, name := range []string{"for", "hold", "at", "between"} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "word of the schedule language") {
					t.Errorf("host %q: recovered %v", name, r)
				}
			}()
			NewSim(1, TraceOptions{Off: true}).AddHost(HostConfig{Name: name})
		}()
	}
	s := NewSim(1, TraceOptions{Off: true})
	s.AddHost(HostConfig{Name: "m1"})
	for name, f := range map[string]func(){
		"LocalNow": func() { s.LocalNow("m9") },
		"Durable":  func() { s.Durable("m9", "x/y") },
		"SetLink":  func() { s.Network().SetLink("m1", "m9", DefaultLink) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), `no host "m9"`) {
					t.Errorf("%s of an unknown host: recovered %v", name, r)
				}
			}()
			f()
		}()
	}
}
