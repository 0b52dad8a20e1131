package data

import (
	"strings"
	"testing"
)

func TestParseLabelMap(t *testing.T) {
	cases := []struct {
		spec    string
		want    string            // canonical String(), "" when an error is expected
		lookups map[string]string // raw label -> "neg", "pos", "drop" or "unknown"
		errHas  string
	}{
		{spec: "1,2=neg 4,5=pos 3=drop", want: "1,2=neg 4,5=pos 3=drop",
			lookups: map[string]string{"1": "neg", "2": "neg", "3": "drop", "4": "pos", "5": "pos", "6": "unknown", "": "unknown"}},
		{spec: "__label__1=0;__label__2=1", want: "1=neg 2=pos", lookups: map[string]string{"1": "neg", "2": "pos", "__label__1": "unknown"}},
		{spec: " negative=negative\tpositive=POSITIVE  neutral=skip ", want: "negative=neg positive=pos neutral=drop",
			lookups: map[string]string{"negative": "neg", "positive": "pos", "neutral": "drop"}},
		// The comma spelling of train --help, and labels after a target's
		// comma starting the next group.
		{spec: "1=neg,2=pos", want: "1=neg 2=pos", lookups: map[string]string{"1": "neg", "2": "pos", "3": "unknown"}},
		{spec: "1,2=neg,4,5=pos;3=drop", want: "1,2=neg 4,5=pos 3=drop",
			lookups: map[string]string{"1": "neg", "2": "neg", "3": "drop", "4": "pos", "5": "pos"}},
		{spec: "1=neg,2", errHas: `no '=' after labels "2"`},
		{spec: "1=neg,1=pos", errHas: `label "1" listed twice`},
		{spec: "", errHas: "empty"},
		{spec: "1,2", errHas: `group "1,2" has no '='`},
		{spec: "1=good", errHas: `unknown target "good"`},
		{spec: "1,,2=neg", errHas: "empty label"},
		{spec: "1=neg 1=pos", errHas: `label "1" listed twice`},
	}
	for _, c := range cases {
		m, err := ParseLabelMap(c.spec)
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) || !strings.Contains(err.Error(), "label map") {
				t.Errorf("ParseLabelMap(%q) error %v, want one containing %q", c.spec, err, c.errHas)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseLabelMap(%q): %v", c.spec, err)
		}
		if m.String() != c.want {
			t.Errorf("ParseLabelMap(%q).String() = %q, want %q", c.spec, m.String(), c.want)
		}
		if again, err := ParseLabelMap(m.String()); err != nil || again.String() != m.String() {
			t.Errorf("String() of %q does not parse back: %v %q", c.spec, err, again.String())
		}
		for raw, want := range c.lookups {
			if got := actionName(m.Lookup([]byte(raw))); got != want {
				t.Errorf("%q: Lookup(%q) = %s, want %s", c.spec, raw, got, want)
			}
		}
	}
}

func TestDefaultLabelMap(t *testing.T) {
	var m LabelMap
	if m.String() != "1=neg 2=pos" || strings.Join(m.Known(), ",") != "1,2" {
		t.Fatalf("zero LabelMap = %q, known %v", m.String(), m.Known())
	}
	for raw, want := range map[string]string{"1": "neg", "2": "pos", "0": "unknown", "3": "unknown", "12": "unknown"} {
		if got := actionName(m.Lookup([]byte(raw))); got != want {
			t.Errorf("Lookup(%q) = %s, want %s", raw, got, want)
		}
	}
	if a, _ := m.Lookup([]byte("2")); uint8(a) != Positive {
		t.Fatal("LabelPositive does not convert to Positive")
	}
}

func actionName(a LabelAction, ok bool) string {
	switch {
	case !ok:
		return "unknown"
	case a == LabelNegative:
		return "neg"
	case a == LabelPositive:
		return "pos"
	case a == LabelDrop:
		return "drop"
	}
	return "invalid"
}
