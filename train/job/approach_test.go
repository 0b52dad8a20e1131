package job

import "testing"

func TestApproachName(t *testing.T) {
	cases := []struct {
		s    runShape
		want string
	}{
		{runShape{Device: "cpu", Workers: 1, Schedule: SplitEven, Ranks: 1}, "single worker (CPU)"},
		{runShape{Device: "cpu", Workers: 12, Schedule: SplitEven, Ranks: 1}, "DDP x12 (CPU)"},
		{runShape{Device: "cpu", Workers: 2, Schedule: SplitHybrid, Ranks: 1}, "DDP x2 (CPU, hybrid)"},
		{runShape{Device: "cpu", Workers: 2, Schedule: SplitEven, Ranks: 4}, "DDP x2 (CPU) x 4 ranks"},
		{runShape{Device: "cpu", Workers: 1, Schedule: SplitEven, Ranks: 2}, "DDP x1 (CPU) x 2 ranks"},
		{runShape{Device: "cuda:0", Workers: 0, AMP: AMPOff, Streams: 1, Ranks: 1}, "cuda:0"},
		{runShape{Device: "cuda:0", Workers: 12, AMP: AMPFP16, Streams: 1, Schedule: SplitHybrid, Ranks: 1}, "AMP fp16 cuda:0 + 12 CPU (hybrid)"},
		{runShape{Device: "cuda:1", Workers: 0, AMP: AMPBF16, Streams: 4, Ranks: 2}, "AMP bf16 cuda:1 x4 streams x 2 ranks"},
	}
	for _, c := range cases {
		if got := approachName(c.s); got != c.want {
			t.Errorf("approachName(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}
