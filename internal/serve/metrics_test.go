package serve

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestRateMeterAveragesOverTheWindow(t *testing.T) {
	var r rateMeter
	cases := []struct {
		total, want float64
	}{
		{0, 0},     // one sample: no rate yet
		{100, 100}, // 100 in 1 s
		{300, 150}, // 300 in 2 s
	}
	for i, c := range cases {
		if got := r.tick(c.total); got != c.want {
			t.Errorf("tick %d (total %v): %v/s, want %v", i, c.total, got, c.want)
		}
	}
	// A steady 50/s for longer than the window: the early burst is forgotten.
	total := 300.0
	var got float64
	for range 20 {
		total += 50
		got = r.tick(total)
	}
	if got != 50 {
		t.Errorf("steady 50/s after a burst: %v/s", got)
	}
}

// counterValue reads a counter of the server's registry.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestReloadIsCounted(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, s.metrics.reloads.WithLabelValues("unchanged")); got != 1 {
		t.Errorf("reload of the same file counted %v times as unchanged", got)
	}
	s.opt.ModelPath += ".missing"
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a missing file succeeded")
	}
	if got := counterValue(t, s.metrics.reloads.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed reload counted %v times", got)
	}
}

func TestParseLines(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{"", nil},
		{"\n", []string{""}},
		{"one", []string{"one"}},
		{"one\ntwo\n", []string{"one", "two"}},
		{"one\r\n\r\ntwo", []string{"one", "", "two"}},
		{"__label__2 great\n__label__1\n", []string{"great", ""}},
		// A tab ends the label as it does for predict and the reader.
		{"__label__1\tgreat product\n", []string{"great product"}},
	}
	for _, c := range cases {
		got := parseLines([]byte(c.body))
		if len(got) != len(c.want) {
			t.Errorf("%q: %q, want %q", c.body, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: %q, want %q", c.body, got, c.want)
			}
		}
	}
}
