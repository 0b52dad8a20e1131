package tune

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSpaceValidate(t *testing.T) {
	cases := []struct {
		name  string
		space Space
		msg   string // "" for valid
	}{
		{"default", DefaultSpace(), ""},
		{"empty", Space{}, "empty"},
		{"twice", Space{Choice("a", "1"), Choice("a", "2")}, "twice"},
		{"dashes", Space{Choice("--a", "1")}, "without dashes"},
		{"no range", Space{LogUniform("lr", 0, 1)}, "no values"},
		{"reversed range", Space{LogUniform("lr", 1, 0.1)}, "no values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.space.Validate()
			if (c.msg == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.msg)) {
				t.Fatalf("got %v, want %q", err, c.msg)
			}
		})
	}
}

func TestSampleStaysInTheSpace(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	space := DefaultSpace()
	seen := map[string]bool{}
	for range 500 {
		p := space.sample(r)
		for _, d := range space {
			v := p[d.Flag]
			if len(d.Values) > 0 {
				if !slices.Contains(d.Values, v) {
					t.Fatalf("--%s %s is not one of %v", d.Flag, v, d.Values)
				}
				seen[d.Flag+"="+v] = true
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			// Rounding to 3 digits may step just outside by a rounding.
			if err != nil || x < d.Lo*0.999 || x > d.Hi*1.001 {
				t.Fatalf("--%s %s outside [%g, %g]", d.Flag, v, d.Lo, d.Hi)
			}
		}
	}
	for _, d := range space {
		for _, v := range d.Values {
			if !seen[d.Flag+"="+v] {
				t.Errorf("500 draws never gave --%s %s", d.Flag, v)
			}
		}
	}
}

func TestPointDiffAndEqual(t *testing.T) {
	base := Point{"lr": "0.002", "pool": "mean"}
	cases := []struct {
		p     Point
		diff  string
		equal bool
	}{
		{Point{"lr": "2e-03", "pool": "mean"}, "", true},
		{Point{"lr": "0.003", "pool": "mean"}, "--lr=0.003", false},
		{Point{"lr": "0.002", "pool": "max"}, "--pool=max", false},
		{Point{"lr": "0.002"}, "", false},
	}
	for _, c := range cases {
		if d := c.p.Diff(base); d != c.diff {
			t.Errorf("%v.Diff = %q, want %q", c.p, d, c.diff)
		}
		if e := c.p.Equal(base); e != c.equal {
			t.Errorf("%v.Equal = %v, want %v", c.p, e, c.equal)
		}
	}
	if got := (Point{"pool": "max", "lr": "0.1"}).Args(); !slices.Equal(got, []string{"--lr=0.1", "--pool=max"}) {
		t.Errorf("Args = %v, want sorted flags", got)
	}
}
