package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// tinyOptions is a matrix of a tiny model on train and test, a few steps
// per configuration.
func tinyOptions(trainPath, testPath, out string) Options {
	return Options{
		Out: out, Approaches: []string{DDP}, CPUs: []int{1, 2}, Ranks: []int{1},
		Budget: time.Minute, Steps: 3, Repeat: 1, Evals: 1, EvalMax: 5000, Seed: 1,
		Data:  data.PrepOptions{Train: trainPath, Test: testPath, Workers: 1},
		Model: model.Config{EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolLast}, MaxLen: 32,
		BatchSize: 16, LR: 1e-3, Optim: device.DefaultOptimConfig(), Clip: 1,
		Pipeline: train.PipelineOptions{Stages: 2},
		MPI:      Launcher{MPIRun: []string{"mpirun"}},
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(o *Options)
		want string // "" is valid
	}{
		{"valid", func(o *Options) {}, ""},
		{"unknown approach", func(o *Options) { o.Approaches = []string{DDP, "fsdp"} }, `--approaches: unknown approach "fsdp"`},
		{"no cpus", func(o *Options) { o.CPUs = nil }, "--cpus"},
		{"zero ranks", func(o *Options) { o.Ranks = []int{1, 0} }, "--ranks"},
		{"no test", func(o *Options) { o.Data.Test = "" }, "bench: --train FILE and --test FILE are required"},
		{"negative steps", func(o *Options) { o.Steps = -1 }, "bench: --steps must be >= 0, got -1"},
		{"no budget", func(o *Options) { o.Steps, o.Budget = 0, 0 }, "bench: --budget must be positive, got 0s"},
		{"budget or steps", func(o *Options) { o.Budget = 0 }, ""},
		{"no rounds", func(o *Options) { o.Repeat = 0 }, "bench: --repeat must be at least 1, got 0"},
		{"no evals", func(o *Options) { o.Evals = 0 }, "bench: --evals and --eval-max must be at least 1"},
		{"no launcher", func(o *Options) { o.MPI.MPIRun = nil }, "bench: --mpirun is empty"},
		{"child of two", func(o *Options) { o.RankChild = "r.json" }, "bench --rank-child: exactly one approach, cpus and ranks value"},
		{"child of one", func(o *Options) { o.RankChild, o.CPUs = "r.json", []int{2} }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions("train", "test", "out")
			c.edit(&o)
			err := o.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
}

func TestMatrixOrder(t *testing.T) {
	o := Options{Approaches: []string{DDP, DDPMP}, Ranks: []int{1, 2}, CPUs: []int{1, 4}}
	var got []string
	for _, c := range o.matrix() {
		got = append(got, c.Label())
	}
	want := []string{"ddp cpus=1 ranks=1", "ddp cpus=4 ranks=1", "ddp cpus=1 ranks=2", "ddp cpus=4 ranks=2",
		"ddp-mp cpus=1 ranks=1", "ddp-mp cpus=4 ranks=1", "ddp-mp cpus=1 ranks=2", "ddp-mp cpus=4 ranks=2"}
	if !slices.Equal(got, want) {
		t.Fatalf("matrix %v, want %v", got, want)
	}
}

func TestSkipReason(t *testing.T) {
	o := tinyOptions("train", "test", "out")
	o.Model.Layers = 2 // units: embed, proj1, rec1, head
	cases := []struct {
		c    Config
		want string
	}{
		{Config{DDP, 1, 1}, ""},
		{Config{DDPMP, 2, 1}, ""},
		{Config{DDPMP, 1, 1}, "1 CPUs per rank do not hold whole pipelines of 2 stages"},
		{Config{DDPMP, 3, 1}, "3 CPUs per rank do not hold whole pipelines of 2 stages"},
	}
	if !device.Available("cuda") {
		cases = append(cases, struct {
			c    Config
			want string
		}{Config{Hybrid, 1, 1}, "needs a GPU: this binary has no CUDA support (make cuda)"})
	}
	for _, c := range cases {
		if got := skipReason(&o, c.c); got != c.want {
			t.Errorf("%s: %q, want %q", c.c.Label(), got, c.want)
		}
	}
	o.Pipeline.Stages = 5
	if got := skipReason(&o, Config{DDPMP, 10, 1}); !strings.HasPrefix(got, "5 pipeline stages need more than the model's 4 units") {
		t.Errorf("too many stages: %q", got)
	}
}

func TestMedianRuns(t *testing.T) {
	ddp1 := func(tps float64) Result { return Result{Config: Config{DDP, 1, 1}, TokensPerS: tps} }
	ddp2 := func(tps float64) Result { return Result{Config: Config{DDP, 2, 1}, TokensPerS: tps} }
	skipped := Result{Config: Config{Hybrid, 1, 1}, Skipped: "no GPU"}
	failed := ddp2(0)
	failed.Error = "boom"
	cases := []struct {
		name         string
		runs         [][]Result
		wantSpeedup  []float64
		wantRounds   []int
		wantErrorRow int // -1: none
	}{
		{"one round", [][]Result{{ddp1(100)}, {ddp2(150)}, {skipped}}, []float64{1, 1.5, 0}, []int{0, 0, 0}, -1},
		{"median of three, each round its own base", [][]Result{
			{ddp1(100), ddp1(200), ddp1(100)},
			{ddp2(150), ddp2(200), ddp2(300)},
			{skipped, skipped, skipped},
		}, []float64{1, 1.5, 0}, []int{3, 3, 0}, -1},
		{"lower median of two", [][]Result{{ddp1(100), ddp1(100)}, {ddp2(300), ddp2(150)}}, []float64{1, 1.5}, []int{2, 2}, -1},
		{"a failed round wins", [][]Result{{ddp1(100), ddp1(100)}, {ddp2(150), failed}}, []float64{1, 0}, []int{2, 0}, 1},
		{"no base row", [][]Result{{ddp2(150)}}, []float64{0}, []int{0}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := medianRuns(c.runs)
			for k, r := range got {
				if r.Speedup != c.wantSpeedup[k] || len(r.SpeedupRuns) != c.wantRounds[k] || len(r.TokensPerSRuns) != c.wantRounds[k] {
					t.Errorf("row %d: speedup %v, rounds %v; want %v and %d rounds", k, r.Speedup, r.SpeedupRuns, c.wantSpeedup[k], c.wantRounds[k])
				}
				if (r.Error != "") != (k == c.wantErrorRow) {
					t.Errorf("row %d: error %q", k, r.Error)
				}
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	rs := []Result{
		{Config: Config{DDP, 1, 1}, Name: "DDP (CPU)", Accuracy: .8125, Loss: .41234, Seconds: 1.26, Steps: 10, TokensPerS: 1234.4, Speedup: 1},
		{Config: Config{DDPMP, 2, 1}, Name: "DDP + model parallel, 2 stages (CPU)", Accuracy: .75, Loss: .5, Seconds: 2, Steps: 10,
			TokensPerS: 2000, Speedup: 1.62, Bubble: .25, SpeedupRuns: []float64{1.5, 1.62, 1.7}},
		{Config: Config{Hybrid, 1, 1}, Name: "AMP hybrid GPU + CPU", Skipped: "needs a GPU"},
		{Config: Config{DDP, 2, 2}, Name: "DDP (CPU), 2 MPI ranks", Error: "mpirun: exit 1"},
	}
	var b strings.Builder
	if err := WriteTable(&b, rs); err != nil {
		t.Fatal(err)
	}
	want := `CPUs used  ranks  approach                              accuracy  loss    training time  steps  tokens/s  speedup  bubble  note
1          1      DDP (CPU)                             81.25%    0.4123  1.3s           10     1234      1.00x    -       
2          1      DDP + model parallel, 2 stages (CPU)  75.00%    0.5000  2s             10     2000      1.62x    25.0%   median of 3 rounds: 1.50x 1.62x 1.70x
1          1      AMP hybrid GPU + CPU                  -         -       -              -      -         -        -       skipped: needs a GPU
2          2      DDP (CPU), 2 MPI ranks                -         -       -              -      -         -        -       FAILED: mpirun: exit 1
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestRunUnderMPI starts a stand-in launcher that checks its command line
// and writes rank 0's result where the child arguments say.
func TestRunUnderMPI(t *testing.T) {
	o := tinyOptions("train", "test", t.TempDir())
	o.MPI.Exe = "prog"
	o.MPI.Args = func(c Config, result string) []string { return []string{"--cpus=" + c.Label(), result} }
	c := Config{DDP, 2, 2}
	cases := []struct {
		name, script, wantErr string
	}{
		{"result", `test "$1 $2 $3 $4" = "-np 2 prog --cpus=ddp cpus=2 ranks=2" && printf '{"name":"child","steps":3,"accuracy":0.5}' >"$5"`, ""},
		{"launcher fails", `echo one; echo two; exit 3`, "exit status 3: one | two"},
		{"no result", `true`, "rank 0 wrote no result"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o.MPI.MPIRun = []string{"sh", "-c", tc.script, "launcher"}
			r := Result{Config: c, Name: "parent"}
			err := runUnderMPI(context.Background(), &o, c, &r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || r.Name != "parent" || r.Steps != 3 || r.Accuracy != .5 || r.Config != c {
				t.Fatalf("%+v, %v", r, err)
			}
		})
	}
}

// TestRunRepeat checks Repeat: every configuration runs once per round,
// odd rounds in reverse order, and reports its median round with all
// rounds' speedups, each taken against its own round's 1-CPU row.
func TestRunRepeat(t *testing.T) {
	dir := t.TempDir()
	tr, out := filepath.Join(dir, "train.ft.txt"), filepath.Join(dir, "out")
	if _, err := data.SynthFile(context.Background(), tr, data.SynthOptions{N: 200, Seed: 3, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	o := tinyOptions(tr, tr, out)
	o.Repeat = 3
	var stdout, stderr strings.Builder
	if err := Run(context.Background(), o, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	log := stderr.String()
	first2 := strings.Index(log, "(round 2 of 3) ...")
	if first2 < 0 || !strings.Contains(log[first2-40:first2], "cpus=2") {
		t.Errorf("round 2 does not start with the last configuration:\n%s", log)
	}
	if !strings.Contains(stdout.String(), "median of 3 rounds:") {
		t.Errorf("table does not show the rounds:\n%s", stdout.String())
	}
	results := readResults(t, out)
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for _, r := range results {
		if len(r.SpeedupRuns) != 3 || len(r.TokensPerSRuns) != 3 {
			t.Fatalf("%s: rounds %v / %v, want 3 each", r.Label(), r.SpeedupRuns, r.TokensPerSRuns)
		}
		sorted := slices.Clone(r.SpeedupRuns)
		slices.Sort(sorted)
		if r.Speedup != sorted[1] || !slices.Contains(r.TokensPerSRuns, r.TokensPerS) {
			t.Errorf("%s: speedup %v, tokens/s %v; rounds %v, %v", r.Label(), r.Speedup, r.TokensPerS, r.SpeedupRuns, r.TokensPerSRuns)
		}
		if r.CPUs == 1 && !slices.Equal(r.SpeedupRuns, []float64{1, 1, 1}) {
			t.Errorf("the 1-CPU row is each round's base: %v", r.SpeedupRuns)
		}
		if r.Steps != 3 || len(r.Curve) != 2 {
			t.Errorf("%s: %d steps, %d points; want 3 and 2", r.Label(), r.Steps, len(r.Curve))
		}
	}
}

// readResults reads the results of bench.json in out.
func readResults(t *testing.T, out string) []Result {
	t.Helper()
	var doc struct {
		Results []Result `json:"results"`
	}
	b, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Results
}
