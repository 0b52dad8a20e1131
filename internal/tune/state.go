package tune

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"strconv"

	"trainer/internal/atomicfile"
)

// StateName is the file in the tune directory that records the search.
const StateName = "tune.json"

// stateFormat and stateVersion open every state file; a file of another
// format or a newer version is refused rather than misread.
const (
	stateFormat  = "trainer-tune-state"
	stateVersion = 1
)

// Trial statuses.
const (
	StatusDone        = "done"        // trained its epochs; scored
	StatusCut         = "cut"         // stopped when the budget ran out; not scored
	StatusInterrupted = "interrupted" // stopped by a signal; rerun on resume
	StatusFailed      = "failed"      // the runner failed; rerun on resume
)

// Trial is one point trained for some epochs, and what came of it.
type Trial struct {
	ID      int   `json:"id"`      // 1, 2, ... in the order trials start
	Bracket int   `json:"bracket"` // 0: the defaults; 1, 2, ...: successive-halving brackets
	Rung    int   `json:"rung"`    // index into the rungs' epochs
	Parent  int   `json:"parent,omitempty"`
	Point   Point `json:"point"`
	Epochs  int   `json:"epochs"`

	Status      string  `json:"status,omitempty"`
	DevAccuracy float64 `json:"dev_accuracy,omitempty"`
	EpochsDone  int     `json:"epochs_done,omitempty"` // fewer than Epochs after early stopping
	Seconds     float64 `json:"seconds,omitempty"`     // every attempt's, so that the budget carries over
	Error       string  `json:"error,omitempty"`
}

// Input is one data file the search trained on, by digest; a resume with
// other data is refused.
type Input struct {
	Role   string `json:"role"`
	Path   string `json:"path"`
	Digest string `json:"digest"`
}

// State is everything a search needs to resume: what it searches, how, on
// what data, and every trial so far.
type State struct {
	Space    Space             `json:"space"`
	Defaults Point             `json:"defaults"`
	Rungs    []int             `json:"rungs"`
	Bracket  int               `json:"bracket"`
	Eta      int               `json:"eta"`
	Seed     uint64            `json:"seed"`
	Settings map[string]string `json:"settings,omitempty"` // the fixed training flags of every trial
	Inputs   []Input           `json:"inputs,omitempty"`
	Budget   float64           `json:"budget_seconds"` // the latest run's budget
	Trials   []Trial           `json:"trials"`
}

// Used is the budget spent so far: the seconds of every trial attempt.
func (s *State) Used() float64 {
	var sum float64
	for _, t := range s.Trials {
		sum += t.Seconds
	}
	return sum
}

// Ranked is the scored trials, best first: higher dev accuracy, then more
// epochs (the same score from longer training is the safer pick), then the
// earlier trial, so the defaults win every tie they are in and the order
// never depends on map or sort instability.
func (s *State) Ranked() []Trial {
	var done []Trial
	for _, t := range s.Trials {
		if t.Status == StatusDone {
			done = append(done, t)
		}
	}
	slices.SortStableFunc(done, compareTrials)
	return done
}

// compareTrials orders trials best first.
func compareTrials(a, b Trial) int {
	switch {
	case a.DevAccuracy != b.DevAccuracy:
		if a.DevAccuracy > b.DevAccuracy {
			return -1
		}
		return 1
	case a.Epochs != b.Epochs:
		return b.Epochs - a.Epochs
	}
	return a.ID - b.ID
}

// Best is the best scored trial, if any.
func (s *State) Best() (Trial, bool) {
	r := s.Ranked()
	if len(r) == 0 {
		return Trial{}, false
	}
	return r[0], true
}

// envelope is the file: the state's exact bytes with their checksum, so a
// torn or edited file is detected before any of it is trusted, and the file
// stays readable JSON.
type envelope struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	CRC32C  string          `json:"crc32c"`
	State   json.RawMessage `json:"state"`
}

// checksum is the CRC-32C of b in hex (the table is built once, by
// hash/crc32).
func checksum(b []byte) string {
	return strconv.FormatUint(uint64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))), 16)
}

// Save writes the state to path atomically.
func (s *State) Save(path string) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	b, err := json.MarshalIndent(envelope{Format: stateFormat, Version: stateVersion, CRC32C: checksum(body), State: body}, "", " ")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// ErrNoState reports that a directory holds no search to resume.
var ErrNoState = errors.New("no tune state")

// LoadState reads and verifies a state file; a missing file wraps
// ErrNoState.
func LoadState(path string) (*State, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("load %s: not a tune state file: %w", path, err)
	}
	switch {
	case env.Format != stateFormat:
		return nil, fmt.Errorf("load %s: format %q, not a %s", path, env.Format, stateFormat)
	case env.Version != stateVersion:
		return nil, fmt.Errorf("load %s: version %d; this build reads version %d", path, env.Version, stateVersion)
	}
	// MarshalIndent re-indents the raw state, so compact it back to the
	// bytes the checksum was taken of.
	body, err := compact(env.State)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if sum := checksum(body); sum != env.CRC32C {
		return nil, fmt.Errorf("load %s: damaged: checksum %s, file says %s", path, sum, env.CRC32C)
	}
	var s State
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return &s, nil
}

func compact(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	err := json.Compact(&buf, b)
	return buf.Bytes(), err
}
