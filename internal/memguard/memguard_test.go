package memguard

import (
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		val  string
		mb   int64
		ok   bool
		fail string
	}{
		{"", 0, false, ""},
		{"512", 512, true, ""},
		{"64", 64, true, ""},
		{"63", 0, false, "at least 64"},
		{"lots", 0, false, Env},
	} {
		t.Setenv(Env, c.val)
		mb, ok, err := FromEnv()
		switch {
		case c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)):
			t.Errorf("%q: %v, want an error saying %q", c.val, err, c.fail)
		case c.fail == "" && (err != nil || mb != c.mb || ok != c.ok):
			t.Errorf("%q: %d %t %v, want %d %t", c.val, mb, ok, err, c.mb, c.ok)
		}
	}
}
