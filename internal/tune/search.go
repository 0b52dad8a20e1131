// Package tune searches the training settings of a model under a time
// budget: random search with successive halving, the defaults trained in
// full first, every finished trial recorded so that an interrupted search
// resumes where it stopped. How a trial trains is the caller's: Run gets a
// Runner and knows only points, epochs and dev accuracy. Session is the
// search `trainer tune` runs, its trials trained in process by train/job
// (Trainer) on data read once, with options the command line makes of a
// point (TrialOptions).
//
// The schedule is a sequence of successive-halving brackets (Jamieson and
// Talwalkar 2016; one bracket of Hyperband). A bracket draws Bracket random
// points and trains each for the first rung's epochs; the best 1/Eta go on
// to the next rung, retrained from scratch for its epochs, and so on to
// the last rung. Brackets repeat until the budget is spent. Promoted trials
// restart rather than continue because the learning rate decays to zero at
// the last step of the epochs a run is given: a 1-epoch run continued for
// two more would not be the 3-epoch run it stands for. Restarting costs a
// third more than continuing with rungs of 1, 3 and 5 epochs and keeps
// every score the score of a run `trainer train` would reproduce.
//
// Hyperband proper also runs brackets that start fewer points at more
// epochs, hedging against a first rung too short to rank points. The first
// trial covers that case here: it is the defaults at the last rung's
// epochs, so the best model found is never worse on dev than the defaults
// trained as `trainer train` trains them.
package tune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"trainer/internal/atomicfile"
)

// DefaultRungs are the epochs of the rungs unless Config says otherwise.
// They end at `trainer train`'s 5 epochs, so the winner is compared with
// the defaults at equal training; 1 and 3 epochs rank points cheaply (dev
// accuracy after 1 epoch orders settings much as after 5, except for slow
// starters, which is what the middle rung catches).
func DefaultRungs() []int { return []int{1, 3, 5} }

const (
	// DefaultBracket points start every bracket: with Eta 3, 9 -> 3 -> 1,
	// 23 epochs of training a bracket at the default rungs.
	DefaultBracket = 9
	// DefaultEta is the halving rate: the best third goes on.
	DefaultEta = 3
)

// ModelName is the best trial's model, copied into the tune directory.
const ModelName = "model.bin"

// LeaderboardName is the ranked trials as tab-separated values.
const LeaderboardName = "leaderboard.tsv"

// Runner trains a trial in dir (created by the runner, may hold an earlier
// attempt) and returns its score. It must stop soon after ctx ends: the
// budget's end cancels ctx.
type Runner func(ctx context.Context, t Trial, dir string) (Result, error)

// Result is what a finished trial gives the search.
type Result struct {
	DevAccuracy float64
	Epochs      int    // epochs trained, fewer than asked after early stopping
	Model       string // the model file it wrote, if any: copied when best, then removed
}

// Config is a search.
type Config struct {
	Dir      string // the tune directory: state, leaderboard, best model, trials/NNN
	Space    Space
	Defaults Point // the training defaults of every flag of Space: the first trial
	Rungs    []int // epochs of each rung, increasing (nil: DefaultRungs())
	Bracket  int   // points a bracket starts (0: DefaultBracket)
	Eta      int   // 1/Eta of a rung goes on (0: DefaultEta)
	Seed     uint64
	Budget   time.Duration
	// MaxTrials stops the search after that many trials (0: no limit).
	MaxTrials int
	// Settings are the training flags every trial shares and Inputs the
	// data's digests: a resume must have the same.
	Settings map[string]string
	Inputs   []Input

	// Now is the clock trials are timed by (nil: time.Now).
	Now func() time.Time
	// OnStart and OnTrial, if set, are told of a trial starting and of a
	// trial recorded (state saved).
	OnStart func(t Trial, s *State)
	OnTrial func(t Trial, s *State)
}

// ErrMismatch reports a tune directory holding another search.
var ErrMismatch = errors.New("cannot resume the search")

// errStop ends the search without error: the budget or trial limit.
var errStop = errors.New("stop")

// Run searches until the budget or MaxTrials is spent, resuming the search
// recorded in cfg.Dir if there is one. It returns the state, saved, also
// when it stops early with an error: ctx's end (the trial in flight is
// recorded as interrupted and rerun by the next Run) or a failed trial.
func Run(ctx context.Context, cfg Config, run Runner) (*State, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.Dir, StateName)
	st, err := LoadState(path)
	switch {
	case errors.Is(err, ErrNoState):
		st = &State{Space: cfg.Space, Defaults: cfg.Defaults, Rungs: cfg.Rungs, Bracket: cfg.Bracket, Eta: cfg.Eta,
			Seed: cfg.Seed, Settings: cfg.Settings, Inputs: cfg.Inputs}
	case err != nil:
		return nil, err
	default:
		if err := st.matches(cfg); err != nil {
			return nil, fmt.Errorf("%w in %s: %v; give another --out to start a new one", ErrMismatch, cfg.Dir, err)
		}
	}
	st.Budget = cfg.Budget.Seconds()
	s := &search{cfg: cfg, st: st, path: path, run: run}
	if err := s.search(ctx); err != nil && !errors.Is(err, errStop) {
		return st, err
	}
	return st, nil
}

func (c Config) withDefaults() Config {
	if c.Rungs == nil {
		c.Rungs = DefaultRungs()
	}
	if c.Bracket == 0 {
		c.Bracket = DefaultBracket
	}
	if c.Eta == 0 {
		c.Eta = DefaultEta
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if err := c.Space.Validate(); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	for _, d := range c.Space {
		if _, ok := c.Defaults[d.Flag]; !ok {
			return fmt.Errorf("tune: no default for --%s", d.Flag)
		}
	}
	switch {
	case c.Dir == "":
		return errors.New("tune: no directory")
	case c.Budget <= 0:
		return fmt.Errorf("tune: budget %v: want a positive duration", c.Budget)
	case len(c.Rungs) == 0 || c.Rungs[0] < 1 || !slices.IsSorted(c.Rungs) || len(slices.Compact(slices.Clone(c.Rungs))) != len(c.Rungs):
		return fmt.Errorf("tune: rungs %v: want increasing epochs, at least 1", c.Rungs)
	case c.Bracket < 1 || c.Eta < 2:
		return fmt.Errorf("tune: bracket %d and eta %d: want at least 1 and 2", c.Bracket, c.Eta)
	}
	return nil
}

// matches says how a stored search differs from the one asked for, if it
// does. The budget may differ: resuming with a larger one extends a search.
func (s *State) matches(c Config) error {
	same := func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
	switch {
	case !same(s.Space, c.Space):
		return fmt.Errorf("the search space differs (stored:\n%snow:\n%s)", s.Space, c.Space)
	case !s.Defaults.Equal(c.Defaults):
		return fmt.Errorf("the defaults differ (stored %v, now %v)", s.Defaults.Args(), c.Defaults.Args())
	case !slices.Equal(s.Rungs, c.Rungs) || s.Bracket != c.Bracket || s.Eta != c.Eta:
		return fmt.Errorf("the schedule differs (stored rungs %v, bracket %d, eta %d; now %v, %d, %d)",
			s.Rungs, s.Bracket, s.Eta, c.Rungs, c.Bracket, c.Eta)
	case s.Seed != c.Seed:
		return fmt.Errorf("the seed differs (stored %d, now %d)", s.Seed, c.Seed)
	case !maps.Equal(s.Settings, c.Settings):
		return fmt.Errorf("the training settings differ (stored %s; now %s)", flagList(s.Settings), flagList(c.Settings))
	}
	return diffInputs(s.Inputs, c.Inputs)
}

// flagList shows settings as sorted flags.
func flagList(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, "--"+k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// diffInputs names the first data file that differs between two searches.
func diffInputs(was, now []Input) error {
	byRole := func(in []Input) map[string]Input {
		m := map[string]Input{}
		for _, i := range in {
			m[i.Role] = i
		}
		return m
	}
	w, n := byRole(was), byRole(now)
	roles := maps.Collect(maps.All(w))
	maps.Copy(roles, n)
	for _, role := range slices.Sorted(maps.Keys(roles)) {
		a, inW := w[role]
		b, inN := n[role]
		switch {
		case !inW:
			return fmt.Errorf("this search has a %s file (%s) that the stored one did not", role, b.Path)
		case !inN:
			return fmt.Errorf("the stored search had a %s file (%s) that this one lacks", role, a.Path)
		case a.Digest != b.Digest:
			return fmt.Errorf("the %s data differ: %s has digest %s, the stored search used %s (%s)", role, b.Path, b.Digest, a.Digest, a.Path)
		}
	}
	return nil
}

type search struct {
	cfg  Config
	st   *State
	path string
	run  Runner
}

// search runs the defaults, then brackets until a stop.
func (s *search) search(ctx context.Context) error {
	top := len(s.cfg.Rungs) - 1
	if _, err := s.trial(ctx, Trial{ID: 1, Rung: top, Point: s.cfg.Defaults, Epochs: s.cfg.Rungs[top]}); err != nil {
		return err
	}
	// One generator for the whole search, drawn in the same order whatever
	// the results, so the same seed gives the same points.
	rng := rand.New(rand.NewPCG(s.cfg.Seed, 0x74756e65))
	id := 2
	for b := 1; ; b++ {
		var rung []Trial
		for range s.cfg.Bracket {
			rung = append(rung, Trial{ID: id, Bracket: b, Point: s.cfg.Space.sample(rng), Epochs: s.cfg.Rungs[0]})
			id++
		}
		for r := range s.cfg.Rungs {
			if r > 0 {
				rung = s.promote(rung, r, &id)
			}
			for i, t := range rung {
				done, err := s.trial(ctx, t)
				if err != nil {
					return err
				}
				rung[i] = done
			}
		}
	}
}

// promote is the next rung of a bracket: the best 1/Eta of this rung's
// finished trials (at least one), as new trials for more epochs.
func (s *search) promote(rung []Trial, r int, id *int) []Trial {
	var done []Trial
	for _, t := range rung {
		if t.Status == StatusDone {
			done = append(done, t)
		}
	}
	slices.SortStableFunc(done, compareTrials)
	keep := min(len(done), max(1, len(rung)/s.cfg.Eta))
	next := make([]Trial, 0, keep)
	for _, t := range done[:keep] {
		next = append(next, Trial{ID: *id, Bracket: t.Bracket, Rung: r, Parent: t.ID, Point: t.Point, Epochs: s.cfg.Rungs[r]})
		*id++
	}
	return next
}

// trial runs t unless an earlier run finished it, records the outcome and
// saves the state. It returns errStop when the budget or trial limit does
// not allow t.
func (s *search) trial(ctx context.Context, t Trial) (Trial, error) {
	if s.cfg.MaxTrials > 0 && t.ID > s.cfg.MaxTrials {
		return t, errStop
	}
	var prior float64
	if old, ok := s.find(t.ID); ok {
		if !old.Point.Equal(t.Point) || old.Epochs != t.Epochs {
			return t, fmt.Errorf("%w: trial %d in %s is %v for %d epochs, the search now makes it %v for %d",
				ErrMismatch, t.ID, s.path, old.Point.Args(), old.Epochs, t.Point.Args(), t.Epochs)
		}
		if old.Status == StatusDone {
			return old, nil
		}
		prior = old.Seconds
	}
	if err := ctx.Err(); err != nil {
		return t, fmt.Errorf("tune interrupted before trial %d: %w", t.ID, err)
	}
	remaining := s.cfg.Budget - time.Duration(s.st.Used()*float64(time.Second))
	if remaining <= 0 || s.estimate(t.Epochs) > remaining {
		return t, errStop
	}
	if s.cfg.OnStart != nil {
		s.cfg.OnStart(t, s.st)
	}
	tctx, cancel := context.WithTimeout(ctx, remaining)
	start := s.cfg.Now()
	res, err := s.run(tctx, t, filepath.Join(s.cfg.Dir, "trials", fmt.Sprintf("%03d", t.ID)))
	cut := errors.Is(err, context.DeadlineExceeded) || errors.Is(tctx.Err(), context.DeadlineExceeded)
	cancel()
	t.Seconds = prior + s.cfg.Now().Sub(start).Seconds()
	t.Error = ""
	switch {
	case err == nil:
		t.Status, t.DevAccuracy, t.EpochsDone = StatusDone, res.DevAccuracy, res.Epochs
	case ctx.Err() != nil:
		t.Status = StatusInterrupted
	case cut:
		t.Status = StatusCut
	default:
		t.Status, t.Error = StatusFailed, err.Error()
	}
	if err := s.record(t, res.Model); err != nil {
		return t, err
	}
	switch t.Status {
	case StatusInterrupted:
		return t, fmt.Errorf("tune interrupted in trial %d (%w); the same command resumes it", t.ID, context.Cause(ctx))
	case StatusCut:
		return t, errStop
	case StatusFailed:
		return t, fmt.Errorf("tune: trial %d (%v): %w", t.ID, t.Point.Args(), err)
	}
	return t, nil
}

// estimate is how long a trial of epochs will take: the mean seconds per
// epoch of the finished trials times epochs, 0 before any finished. The
// settings differ in cost several-fold, so this only keeps the search
// from starting a trial that would almost surely be cut.
func (s *search) estimate(epochs int) time.Duration {
	var secs float64
	var n int
	for _, t := range s.st.Trials {
		if t.Status == StatusDone && t.EpochsDone > 0 {
			secs += t.Seconds / float64(t.EpochsDone)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return time.Duration(secs / float64(n) * float64(epochs) * float64(time.Second))
}

func (s *search) find(id int) (Trial, bool) {
	for _, t := range s.st.Trials {
		if t.ID == id {
			return t, true
		}
	}
	return Trial{}, false
}

// record stores t in the state. A new best trial's model is copied into
// the tune directory first, so the saved state never names a best model
// that is not there; then the trial's own copy goes, since a finished
// search keeps one model.
func (s *search) record(t Trial, model string) error {
	if i := slices.IndexFunc(s.st.Trials, func(o Trial) bool { return o.ID == t.ID }); i >= 0 {
		s.st.Trials[i] = t
	} else {
		s.st.Trials = append(s.st.Trials, t)
	}
	if best, ok := s.st.Best(); ok && best.ID == t.ID && model != "" {
		if err := copyFile(model, filepath.Join(s.cfg.Dir, ModelName)); err != nil {
			return fmt.Errorf("tune: best model of trial %d: %w", t.ID, err)
		}
	}
	if err := s.st.Save(s.path); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if err := writeLeaderboard(filepath.Join(s.cfg.Dir, LeaderboardName), s.st); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if model != "" && t.Status == StatusDone {
		if err := os.Remove(model); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tune: %w", err)
		}
	}
	if s.cfg.OnTrial != nil {
		s.cfg.OnTrial(t, s.st)
	}
	return nil
}

// copyFile replaces dst atomically with a copy of src.
func copyFile(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}
