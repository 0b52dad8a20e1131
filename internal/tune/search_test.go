package tune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testSpace has a known best point, a=3 b=y, under fakeScore; lr does not
// matter to the score.
func testSpace() Space {
	return Space{Choice("a", "1", "2", "3"), Choice("b", "x", "y", "z"), LogUniform("lr", 1e-3, 1e-2)}
}

var testDefaults = Point{"a": "1", "b": "x", "lr": "0.002"}

// fakeScore rises with a, prefers b=y and grows a little with epochs, so
// longer rungs rank the same way and promotions have a right answer.
func fakeScore(p Point, epochs int) float64 {
	s := 0.5 + 0.1*float64(strings.Index("123", p["a"])) + 0.01*float64(epochs)
	if p["b"] == "y" {
		s += 0.05
	}
	return s
}

// fake is a runner on a fake clock: a trial costs perEpoch per epoch (or
// cost(t)), is cut when that overruns its context's deadline, and can
// cancel the whole search when it reaches trial stopAt, as a Ctrl-C would.
type fake struct {
	now      time.Time
	perEpoch time.Duration
	cost     func(Trial) time.Duration
	score    func(Point, int) float64
	stopAt   int
	cancel   context.CancelFunc
	models   bool // write a model file per trial
	ran      []int
}

func newFake() *fake {
	return &fake{now: time.Unix(0, 0), perEpoch: 10 * time.Second, score: fakeScore}
}

func (f *fake) clock() time.Time { return f.now }

func (f *fake) run(ctx context.Context, t Trial, dir string) (Result, error) {
	f.ran = append(f.ran, t.ID)
	cost := f.perEpoch * time.Duration(t.Epochs)
	if f.cost != nil {
		cost = f.cost(t)
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); cost > left {
			f.now = f.now.Add(left)
			return Result{}, context.DeadlineExceeded
		}
	}
	if t.ID == f.stopAt {
		f.now = f.now.Add(cost / 2)
		f.cancel()
		return Result{}, ctx.Err()
	}
	f.now = f.now.Add(cost)
	res := Result{DevAccuracy: f.score(t.Point, t.Epochs), Epochs: t.Epochs}
	if f.models {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return res, err
		}
		res.Model = filepath.Join(dir, "model.bin")
		if err := os.WriteFile(res.Model, []byte(fmt.Sprintf("model of trial %d", t.ID)), 0o644); err != nil {
			return res, err
		}
	}
	return res, nil
}

func testConfig(t *testing.T, f *fake) Config {
	return Config{Dir: t.TempDir(), Space: testSpace(), Defaults: testDefaults, Seed: 1, Budget: time.Hour,
		Now: f.clock, Settings: map[string]string{"train": "t.txt"}, Inputs: []Input{{Role: "train", Path: "t.txt", Digest: "d1"}}}
}

func TestSearchFindsBestPoint(t *testing.T) {
	f := newFake()
	cfg := testConfig(t, f)
	cfg.MaxTrials = 1 + 3*13 // the defaults and three brackets of 9 -> 3 -> 1
	st, err := Run(context.Background(), cfg, f.run)
	if err != nil {
		t.Fatal(err)
	}
	best, ok := st.Best()
	if !ok {
		t.Fatal("no best trial")
	}
	if best.Point["a"] != "3" || best.Point["b"] != "y" || best.Epochs != 5 {
		t.Fatalf("best trial %d is %v at %d epochs, want a=3 b=y at 5", best.ID, best.Point, best.Epochs)
	}
	if len(st.Trials) != cfg.MaxTrials {
		t.Fatalf("%d trials, want %d", len(st.Trials), cfg.MaxTrials)
	}
}

func TestFirstTrialIsTheDefaultsAtTheLastRung(t *testing.T) {
	f := newFake()
	cfg := testConfig(t, f)
	cfg.MaxTrials = 1
	st, err := Run(context.Background(), cfg, f.run)
	if err != nil {
		t.Fatal(err)
	}
	first, rungs := st.Trials[0], DefaultRungs()
	if !first.Point.Equal(testDefaults) || first.Epochs != rungs[len(rungs)-1] || first.Status != StatusDone {
		t.Fatalf("first trial %+v, want the defaults done at %d epochs", first, rungs[len(rungs)-1])
	}
}

func TestSuccessiveHalvingPromotesTheBestThird(t *testing.T) {
	f := newFake()
	cfg := testConfig(t, f)
	cfg.MaxTrials = 1 + 9 + 3 + 1 // the defaults and one bracket
	st, err := Run(context.Background(), cfg, f.run)
	if err != nil {
		t.Fatal(err)
	}
	byRung := map[int][]Trial{}
	for _, tr := range st.Trials[1:] {
		byRung[tr.Rung] = append(byRung[tr.Rung], tr)
	}
	for r, want := range []int{9, 3, 1} {
		if len(byRung[r]) != want {
			t.Fatalf("rung %d has %d trials, want %d", r, len(byRung[r]), want)
		}
		for _, tr := range byRung[r] {
			if tr.Epochs != DefaultRungs()[r] {
				t.Fatalf("trial %d in rung %d trains %d epochs, want %d", tr.ID, r, tr.Epochs, DefaultRungs()[r])
			}
		}
	}
	for r := 1; r < 3; r++ {
		prev := slices.Clone(byRung[r-1])
		slices.SortStableFunc(prev, compareTrials)
		for i, tr := range byRung[r] {
			if tr.Parent != prev[i].ID || !tr.Point.Equal(prev[i].Point) {
				t.Fatalf("rung %d trial %d: parent %d, want %d (rank %d of rung %d)", r, tr.ID, tr.Parent, prev[i].ID, i+1, r-1)
			}
		}
	}
}

func TestBudgetIsRespected(t *testing.T) {
	cases := []struct {
		name    string
		budget  time.Duration
		cost    func(Trial) time.Duration
		wantCut bool
	}{
		// Equal costs: the estimate stops the search before a trial
		// that would overrun, so none is cut.
		{"estimate", 95 * time.Second, nil, false},
		// Trials of b=z cost 10x the estimate: the one that overruns is
		// stopped at the budget through its context.
		{"deadline", 10 * time.Minute, func(tr Trial) time.Duration {
			if tr.Point["b"] == "z" {
				return 10 * time.Minute
			}
			return 10 * time.Second * time.Duration(tr.Epochs)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			f.cost = c.cost
			cfg := testConfig(t, f)
			cfg.Budget = c.budget
			st, err := Run(context.Background(), cfg, f.run)
			if err != nil {
				t.Fatal(err)
			}
			if used := st.Used(); used > c.budget.Seconds()+1e-6 {
				t.Fatalf("used %.1fs of a %v budget", used, c.budget)
			}
			cut := slices.ContainsFunc(st.Trials, func(tr Trial) bool { return tr.Status == StatusCut })
			if cut != c.wantCut {
				t.Fatalf("a trial cut: %v, want %v; trials %+v", cut, c.wantCut, st.Trials)
			}
			if _, ok := st.Best(); !ok {
				t.Fatal("no finished trial")
			}
		})
	}
}

func TestTiesAreBrokenByEpochsThenTrial(t *testing.T) {
	f := newFake()
	f.score = func(Point, int) float64 { return 0.8 }
	cfg := testConfig(t, f)
	cfg.MaxTrials = 1 + 9 + 3
	st, err := Run(context.Background(), cfg, f.run)
	if err != nil {
		t.Fatal(err)
	}
	ranked := st.Ranked()
	if ranked[0].ID != 1 {
		t.Fatalf("best of equal scores is trial %d, want the defaults (1)", ranked[0].ID)
	}
	for i := 1; i < len(ranked); i++ {
		a, b := ranked[i-1], ranked[i]
		if a.Epochs < b.Epochs || (a.Epochs == b.Epochs && a.ID > b.ID) {
			t.Fatalf("rank %d (trial %d, %d epochs) before rank %d (trial %d, %d epochs)", i, a.ID, a.Epochs, i+1, b.ID, b.Epochs)
		}
	}
}

func TestSameSeedSameTrials(t *testing.T) {
	points := func(seed uint64) []string {
		f := newFake()
		cfg := testConfig(t, f)
		cfg.Seed, cfg.MaxTrials = seed, 12
		st, err := Run(context.Background(), cfg, f.run)
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, tr := range st.Trials {
			ps = append(ps, fmt.Sprint(tr.Point.Args(), tr.Epochs))
		}
		return ps
	}
	a, b, c := points(7), points(7), points(8)
	if !slices.Equal(a, b) {
		t.Fatalf("seed 7 twice gave different trials:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatal("seeds 7 and 8 gave the same trials")
	}
}

func TestInterruptedSearchResumes(t *testing.T) {
	// The uninterrupted search, for comparison.
	whole := newFake()
	cfg := testConfig(t, whole)
	cfg.MaxTrials = 14
	want, err := Run(context.Background(), cfg, whole.run)
	if err != nil {
		t.Fatal(err)
	}

	f := newFake()
	cfg = testConfig(t, f)
	cfg.MaxTrials = 14
	ctx, cancel := context.WithCancel(context.Background())
	f.stopAt, f.cancel = 4, cancel
	st, err := Run(ctx, cfg, f.run)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted search: %v, want context.Canceled", err)
	}
	if got := st.Trials[len(st.Trials)-1]; got.ID != 4 || got.Status != StatusInterrupted {
		t.Fatalf("last trial %+v, want 4 interrupted", got)
	}
	spent := st.Used()

	f.stopAt, f.ran = 0, nil
	st, err = Run(context.Background(), cfg, f.run)
	if err != nil {
		t.Fatal(err)
	}
	if f.ran[0] != 4 {
		t.Fatalf("resumed search ran trials %v, want from 4 on", f.ran)
	}
	for i, tr := range st.Trials {
		w := want.Trials[i]
		if tr.ID != w.ID || !tr.Point.Equal(w.Point) || tr.Epochs != w.Epochs || tr.DevAccuracy != w.DevAccuracy {
			t.Fatalf("trial %d resumed %+v, uninterrupted %+v", tr.ID, tr, w)
		}
	}
	if st.Used() <= spent || st.Trials[3].Seconds <= want.Trials[3].Seconds {
		t.Fatalf("budget used %.0fs (trial 4 %.0fs): the interrupted attempt's %.0fs did not carry over",
			st.Used(), st.Trials[3].Seconds, spent)
	}
}

func TestResumeRefusesAnotherSearch(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		msg    string
	}{
		{"space", func(c *Config) { c.Space = append(c.Space, Choice("c", "1", "2")) }, "search space differs"},
		{"seed", func(c *Config) { c.Seed = 2 }, "seed differs"},
		{"settings", func(c *Config) { c.Settings = map[string]string{"train": "other.txt"} }, "training settings differ"},
		{"data", func(c *Config) { c.Inputs = []Input{{Role: "train", Path: "t.txt", Digest: "d2"}} }, "train data differ"},
		{"dev file", func(c *Config) { c.Inputs = append(c.Inputs, Input{Role: "dev", Path: "d.txt", Digest: "d3"}) }, "has a dev file"},
		{"rungs", func(c *Config) { c.Rungs = []int{1, 2} }, "schedule differs"},
	}
	f := newFake()
	cfg := testConfig(t, f)
	cfg.MaxTrials = 3
	if _, err := Run(context.Background(), cfg, f.run); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			other := cfg
			c.change(&other)
			if c.name == "space" {
				other.Defaults = Point{"a": "1", "b": "x", "lr": "0.002", "c": "1"}
			}
			_, err := Run(context.Background(), other, f.run)
			if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want ErrMismatch saying %q", err, c.msg)
			}
		})
	}
}

func TestBestModelIsCopiedAndTrialModelsRemoved(t *testing.T) {
	f := newFake()
	f.models = true
	cfg := testConfig(t, f)
	cfg.MaxTrials = 10
	st, err := Run(context.Background(), cfg, f.run)
	if err != nil {
		t.Fatal(err)
	}
	best, _ := st.Best()
	got, err := os.ReadFile(filepath.Join(cfg.Dir, ModelName))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("model of trial %d", best.ID); string(got) != want {
		t.Fatalf("%s holds %q, want %q", ModelName, got, want)
	}
	left, _ := filepath.Glob(filepath.Join(cfg.Dir, "trials", "*", "model.bin"))
	if len(left) != 0 {
		t.Fatalf("trial models left behind: %v", left)
	}
	tsv, err := os.ReadFile(filepath.Join(cfg.Dir, LeaderboardName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(tsv)), "\n")
	if len(lines) != 1+len(st.Ranked()) || !strings.HasPrefix(lines[1], fmt.Sprintf("1\t%d\t", best.ID)) {
		t.Fatalf("leaderboard.tsv:\n%s", tsv)
	}
}

func TestConfigIsValidated(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		msg    string
	}{
		{"no budget", func(c *Config) { c.Budget = 0 }, "budget"},
		{"rungs not increasing", func(c *Config) { c.Rungs = []int{3, 1} }, "rungs"},
		{"no default", func(c *Config) { c.Defaults = Point{"a": "1"} }, "no default for --b"},
		{"eta 1", func(c *Config) { c.Eta = 1 }, "eta"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			cfg := testConfig(t, f)
			c.change(&cfg)
			if _, err := Run(context.Background(), cfg, f.run); err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want an error saying %q", err, c.msg)
			}
		})
	}
}
