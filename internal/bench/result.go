package bench

import (
	"cmp"
	"fmt"
	"slices"
)

// Config is one cell of the matrix.
type Config struct {
	Approach string `json:"approach"`
	CPUs     int    `json:"cpus"`  // CPU workers over all ranks
	Ranks    int    `json:"ranks"` // MPI processes
}

// Label names c in progress lines.
func (c Config) Label() string {
	return fmt.Sprintf("%s cpus=%d ranks=%d", c.Approach, c.CPUs, c.Ranks)
}

// Point is one evaluation during a run, for the curves.
type Point struct {
	Seconds   float64 `json:"seconds"` // training time so far
	Steps     int64   `json:"steps"`
	TrainLoss float64 `json:"train_loss"` // mean over the steps since the previous point
	Loss      float64 `json:"loss"`       // on the test reviews
	Accuracy  float64 `json:"accuracy"`
}

// Result is one configuration's outcome, as bench.json lists it; Skipped
// or Error explain a configuration that did not run.
type Result struct {
	Config
	Name       string  `json:"name"` // the approach in the reference's words
	Skipped    string  `json:"skipped,omitempty"`
	Error      string  `json:"error,omitempty"`
	Accuracy   float64 `json:"accuracy"`
	Loss       float64 `json:"loss"`
	Seconds    float64 `json:"training_s"`
	Steps      int64   `json:"steps"`
	Tokens     int64   `json:"tokens"`
	TokensPerS float64 `json:"tokens_per_s"`
	Speedup    float64 `json:"speedup"` // tokens/s over the 1-CPU ddp single-process row
	// With Repeat: every round's tokens/s and speedup, in round order;
	// the fields above are the median round's.
	TokensPerSRuns []float64 `json:"tokens_per_s_runs,omitempty"`
	SpeedupRuns    []float64 `json:"speedup_runs,omitempty"`
	Bubble         float64   `json:"bubble,omitempty"`
	Shares         []string  `json:"hybrid_shares,omitempty"`
	Curve          []Point   `json:"curve"`
}

// approachTitle names a configuration in the reference's words.
func approachTitle(c Config, stages int) string {
	var s string
	switch c.Approach {
	case DDP:
		s = "DDP (CPU)"
	case DDPMP:
		s = fmt.Sprintf("DDP + model parallel, %d stages (CPU)", stages)
	case Hybrid:
		s = "AMP hybrid GPU + CPU"
	}
	if c.Ranks > 1 {
		s += fmt.Sprintf(", %d MPI ranks", c.Ranks)
	}
	return s
}

// medianRuns folds the rounds of a repeated matrix (runs[k]: configuration
// k's result in each round) into one result per configuration. Speedups
// are taken within a round, against that round's 1-CPU row; a
// configuration's result is then its run of median speedup (the lower
// median for an even count; ties by tokens/s), with every round's tokens/s
// and speedup listed beside it. A configuration that failed in any round
// is reported by its first failure.
func medianRuns(runs [][]Result) []Result {
	rounds := 0
	for _, rs := range runs {
		rounds = max(rounds, len(rs))
	}
	for round := 0; round < rounds; round++ {
		var rs []Result
		for _, r := range runs {
			rs = append(rs, r[round])
		}
		fillSpeedups(rs)
		for k := range runs {
			runs[k][round].Speedup = rs[k].Speedup
		}
	}
	out := make([]Result, len(runs))
	for k, rs := range runs {
		out[k] = rs[0]
		if i := slices.IndexFunc(rs, func(r Result) bool { return r.Error != "" }); i >= 0 {
			out[k] = rs[i]
			continue
		}
		if rounds < 2 || rs[0].Skipped != "" {
			continue
		}
		sorted := slices.Clone(rs)
		slices.SortStableFunc(sorted, func(a, b Result) int {
			if c := cmp.Compare(a.Speedup, b.Speedup); c != 0 {
				return c
			}
			return cmp.Compare(a.TokensPerS, b.TokensPerS)
		})
		out[k] = sorted[(len(sorted)-1)/2]
		for _, r := range rs {
			out[k].TokensPerSRuns = append(out[k].TokensPerSRuns, r.TokensPerS)
			out[k].SpeedupRuns = append(out[k].SpeedupRuns, r.Speedup)
		}
	}
	return out
}

// fillSpeedups sets each row's tokens/s relative to the single-process
// 1-CPU ddp row, when the matrix has one.
func fillSpeedups(rs []Result) {
	base := 0.0
	for _, r := range rs {
		if r.Approach == DDP && r.CPUs == 1 && r.Ranks == 1 && r.Skipped == "" && r.Error == "" {
			base = r.TokensPerS
		}
	}
	if base == 0 {
		return
	}
	for i := range rs {
		if rs[i].TokensPerS > 0 {
			rs[i].Speedup = rs[i].TokensPerS / base
		}
	}
}
