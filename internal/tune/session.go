package tune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"trainer/internal/runlock"
)

// LeaderboardRows is how many trials the live leaderboard shows.
const LeaderboardRows = 10

// ErrNotTuneDir reports a search asked to write where a training run is.
var ErrNotTuneDir = errors.New("not a tune directory")

// Session is a search whose trials train in this process, as `trainer
// tune` runs it: the directory locked, the data read once, the leaderboard
// after every trial and the best trial at the end.
type Session struct {
	// Config is the search; Inputs are filled in from the data, and
	// OnTrial, when set, is told of a trial after the leaderboard.
	Config
	Trainer *Trainer
	Out     io.Writer // the leaderboards and the closing lines
}

// Run searches until the budget or MaxTrials is spent, resuming the search
// in Dir if there is one.
func (s *Session) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	lock, err := runlock.Acquire(s.Dir)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	defer lock.Release()
	// Never replace a training run's model with a search's.
	_, noState := os.Stat(filepath.Join(s.Dir, StateName))
	if _, err := os.Stat(filepath.Join(s.Dir, ModelName)); err == nil && noState != nil {
		return fmt.Errorf("tune: %s holds a model.bin but no %s: %w; give another --out", s.Dir, StateName, ErrNotTuneDir)
	}
	defer s.Trainer.Close()
	cfg, err := s.config(ctx)
	if err != nil {
		return err
	}
	st, err := Run(ctx, cfg, s.Trainer.Run)
	if err != nil {
		return err
	}
	best, ok := st.Best()
	if !ok {
		return fmt.Errorf("tune: no trial finished within the %v budget (the defaults train %d epochs first; give a larger --budget)", s.Budget, cfg.Rungs[len(cfg.Rungs)-1])
	}
	fmt.Fprintf(s.Out, "\nbest: trial %d, dev accuracy %.2f%% after %d epochs (%s); %d trials, %s of %s\n",
		best.ID, 100*best.DevAccuracy, best.Epochs, pointLabel(best, s.Defaults), len(st.Trials), seconds(st.Used()), s.Budget)
	fmt.Fprintf(s.Out, "model: %s\nreproduce: %s\n", filepath.Join(s.Dir, ModelName), reproduce(s.Trainer.Base, best, s.Defaults))
	return nil
}

// config reads the data, once for every trial and digested for the resume
// check, and completes the search's config with them and the reports.
func (s *Session) config(ctx context.Context) (Config, error) {
	first, err := s.Trainer.options(s.Defaults, 1, s.Dir)
	if err != nil {
		return Config{}, err
	}
	td, err := s.Trainer.Data(ctx, first)
	if err != nil {
		return Config{}, err
	}
	log := s.Trainer.Report.Log
	for _, line := range td.DroppedLines {
		log.Warnf("%s", line)
	}
	cfg := s.Config.withDefaults()
	cfg.Inputs = nil
	for _, in := range td.Inputs {
		cfg.Inputs = append(cfg.Inputs, Input{Role: in.Role, Path: in.Path, Digest: in.Digest})
	}
	cfg.OnStart = func(t Trial, st *State) {
		log.Infof("trial %d (bracket %d, rung %d): %d epochs, %s; budget used %s of %s", t.ID, t.Bracket, t.Rung, t.Epochs,
			pointLabel(t, s.Defaults), seconds(st.Used()), s.Budget)
	}
	cfg.OnTrial = func(t Trial, st *State) {
		fmt.Fprintf(s.Out, "\nafter trial %d (%s, %s; budget used %s of %s):\n", t.ID, t.Status, seconds(t.Seconds), seconds(st.Used()), s.Budget)
		WriteLeaderboard(s.Out, st, LeaderboardRows)
		if s.OnTrial != nil {
			s.OnTrial(t, st)
		}
	}
	return cfg, nil
}

// ResumeMayChange reports whether a resume may change a training flag
// every trial shares: the workers and the cache change how fast trials
// run, not what they learn, and the data files are compared by digest, so
// a moved file still resumes and a changed one does not. The others are
// the search's Settings.
func ResumeMayChange(flag string) bool {
	switch flag {
	case "cpu-workers", "workers", "cache-dir", "train", "test", "dev":
		return true
	}
	return false
}

// pointLabel is a trial's flags that differ from the defaults.
func pointLabel(t Trial, defaults Point) string {
	if d := t.Point.Diff(defaults); d != "" {
		return d
	}
	return "the defaults"
}

// seconds is a duration in seconds, rounded for people.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// reproduce is the train command line that trains the best trial again.
func reproduce(base []string, best Trial, defaults Point) string {
	args := []string{"trainer", "train"}
	for _, a := range base {
		args = append(args, shellQuote(a))
	}
	args = append(args, "--epochs", strconv.Itoa(best.Epochs), "--out", "DIR")
	for _, k := range slices.Sorted(maps.Keys(best.Point)) {
		if d := (Point{k: best.Point[k]}).Diff(Point{k: defaults[k]}); d != "" {
			args = append(args, shellQuote(d))
		}
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
