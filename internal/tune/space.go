package tune

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Dim is one dimension of the search space: a flag of `trainer train` and
// the values a trial may give it, either a list (Values) or, when Values is
// empty, a log-uniform range [Lo, Hi] for a positive real like a learning
// rate, whose good values spread over orders of magnitude.
type Dim struct {
	Flag   string   `json:"flag"`
	Values []string `json:"values,omitempty"`
	Lo     float64  `json:"lo,omitempty"`
	Hi     float64  `json:"hi,omitempty"`
}

// Choice is a dimension that takes one of values.
func Choice(flag string, values ...string) Dim { return Dim{Flag: flag, Values: values} }

// LogUniform is a dimension drawn log-uniformly from [lo, hi].
func LogUniform(flag string, lo, hi float64) Dim { return Dim{Flag: flag, Lo: lo, Hi: hi} }

// String states the dimension the way --print-space shows it.
func (d Dim) String() string {
	if len(d.Values) > 0 {
		return fmt.Sprintf("--%s {%s}", d.Flag, strings.Join(d.Values, ", "))
	}
	return fmt.Sprintf("--%s log-uniform [%g, %g]", d.Flag, d.Lo, d.Hi)
}

// sample draws a value; every dimension takes exactly one draw from r, so
// the sequence of points depends on the seed alone.
func (d Dim) sample(r *rand.Rand) string {
	if len(d.Values) > 0 {
		return d.Values[r.IntN(len(d.Values))]
	}
	v := math.Exp(math.Log(d.Lo) + r.Float64()*(math.Log(d.Hi)-math.Log(d.Lo)))
	// Three significant digits: finer steps than that are noise in dev
	// accuracy, and the flag stays readable.
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func (d Dim) validate() error {
	switch {
	case d.Flag == "" || strings.HasPrefix(d.Flag, "-"):
		return fmt.Errorf("dimension %q: want a flag name without dashes", d.Flag)
	case len(d.Values) == 0 && !(d.Lo > 0 && d.Hi >= d.Lo && !math.IsInf(d.Hi, 0)):
		return fmt.Errorf("dimension --%s: no values and no positive range (lo %g, hi %g)", d.Flag, d.Lo, d.Hi)
	}
	return nil
}

// Space is what tune searches: one dimension per flag, in the order the
// flags are shown and passed.
type Space []Dim

// DefaultSpace is the search space of `trainer tune`. Adding a dimension
// is one line here naming a `trainer train` flag and its values; the
// runner passes the values to that flag, and nothing else needs to know.
// The ranges bracket the measured defaults (E=512, H=128, mean pooling,
// lr 2e-3, no weight decay, 256 tokens, batch 128) on both sides.
func DefaultSpace() Space {
	return Space{
		Choice("bidirectional", "false", "true"),
		Choice("pool", "last", "mean", "max"),
		Choice("embed-dim", "128", "256", "512"),
		Choice("hidden", "64", "128", "256"),
		Choice("layers", "1", "2"),
		LogUniform("lr", 5e-4, 5e-3),
		Choice("weight-decay", "0", "0.01", "0.1"),
		Choice("max-len", "128", "256", "400"),
		Choice("batch-size", "64", "128"),
		Choice("word-dropout", "0", "0.1", "0.2"),
		Choice("ngrams", "0", "1", "2", "3"),
		Choice("tokenizer", "split", "treebank"),
	}
}

// Validate checks every dimension and that no flag appears twice.
func (s Space) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("empty search space")
	}
	seen := map[string]bool{}
	for _, d := range s {
		if err := d.validate(); err != nil {
			return err
		}
		if seen[d.Flag] {
			return fmt.Errorf("dimension --%s appears twice", d.Flag)
		}
		seen[d.Flag] = true
	}
	return nil
}

// String lists the dimensions, one a line.
func (s Space) String() string {
	var b strings.Builder
	for _, d := range s {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Flags are the flags the space searches, in its order.
func (s Space) Flags() []string {
	flags := make([]string, len(s))
	for i, d := range s {
		flags[i] = d.Flag
	}
	return flags
}

// sample draws a point.
func (s Space) sample(r *rand.Rand) Point {
	p := make(Point, len(s))
	for _, d := range s {
		p[d.Flag] = d.sample(r)
	}
	return p
}

// Point is a trial's flag values, by flag name (without dashes).
type Point map[string]string

// Args are the point's flags as command-line arguments, in sorted flag
// order so that the same point always gives the same command line. Each
// is one --flag=value word: a boolean flag takes no separate value, and
// "--bidirectional false" would set it and end the flags.
func (p Point) Args() []string {
	var args []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		args = append(args, "--"+k+"="+p[k])
	}
	return args
}

// Diff is the point's flags whose values differ from base, as
// "--flag=value" in sorted order: what a leaderboard row needs to say.
func (p Point) Diff(base Point) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if v, ok := base[k]; !ok || !sameValue(v, p[k]) {
			parts = append(parts, "--"+k+"="+p[k])
		}
	}
	return strings.Join(parts, " ")
}

// Equal reports whether two points give every flag the same value.
func (p Point) Equal(q Point) bool {
	if len(p) != len(q) {
		return false
	}
	for k, v := range p {
		if w, ok := q[k]; !ok || !sameValue(v, w) {
			return false
		}
	}
	return true
}

// sameValue compares flag values as numbers when both are numbers, so that
// a default of "0.002" equals a drawn "2e-03".
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	return errA == nil && errB == nil && x == y
}
