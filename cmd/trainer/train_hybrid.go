package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"trainer/train/device"

	"trainer/train"
)

// replicaShare is one replica's part of an epoch under the hybrid
// scheduler.
type replicaShare struct {
	Name          string  `json:"name"`
	Rows          int     `json:"rows"`           // reviews it trained on this epoch
	Share         float64 `json:"share"`          // Rows over all rows of the epoch
	IdleFrac      float64 `json:"idle_frac"`      // time waiting for the slowest, over the steps it worked in
	RowsPerS      float64 `json:"rows_per_s"`     // the scheduler's throughput estimate at the epoch's end
	ExcludedSteps int     `json:"excluded_steps"` // steps it was too slow to be given rows
}

// epochSchedule is the hybrid schedule of one epoch, as metrics.jsonl
// reports it under "schedule".
type epochSchedule struct {
	Steps       int            `json:"steps"`
	MaxIdleFrac float64        `json:"max_idle_frac"` // the worst IdleFrac of a replica that got rows
	Replicas    []replicaShare `json:"replicas"`
	Last        []int          `json:"last_split"` // rows per replica in the epoch's last step
}

// String is the schedule in one log line.
func (s epochSchedule) String() string {
	parts := make([]string, len(s.Replicas))
	for i, r := range s.Replicas {
		parts[i] = fmt.Sprintf("%s %.1f%% (idle %.1f%%)", r.Name, 100*r.Share, 100*r.IdleFrac)
	}
	return strings.Join(parts, ", ")
}

// scheduleTracker sums the hybrid scheduler's step schedules over an epoch.
// A nil scheduler makes a tracker that reports nothing.
type scheduleTracker struct {
	h        *train.Hybrid
	steps    int
	rows     []int
	idle     []float64 // seconds waiting, in steps with rows
	wall     []float64 // step seconds, in steps with rows
	excluded []int
	last     train.HybridSchedule
}

func newScheduleTracker(h *train.Hybrid) *scheduleTracker {
	return &scheduleTracker{h: h}
}

// step records the scheduler's latest step.
func (t *scheduleTracker) step() {
	if t.h == nil {
		return
	}
	s := t.h.Last()
	if t.rows == nil {
		n := len(s.Shares)
		t.rows, t.idle, t.wall, t.excluded = make([]int, n), make([]float64, n), make([]float64, n), make([]int, n)
	}
	t.steps++
	for i, sh := range s.Shares {
		if sh.Rows == 0 {
			t.excluded[i]++
			continue
		}
		t.rows[i] += sh.Rows
		t.idle[i] += sh.Idle
		t.wall[i] += s.Seconds
	}
	t.last = s
}

// epoch returns the metrics of the epoch so far ("schedule", or nothing
// without a scheduler) and starts the next.
func (t *scheduleTracker) epoch() map[string]any {
	extra := map[string]any{}
	if t.h == nil || t.steps == 0 {
		return extra
	}
	total := 0
	for _, r := range t.rows {
		total += r
	}
	s := epochSchedule{Steps: t.steps, Replicas: make([]replicaShare, len(t.rows)), Last: make([]int, len(t.rows))}
	for i, sh := range t.last.Shares {
		r := replicaShare{Name: sh.Name, Rows: t.rows[i], RowsPerS: sh.RowsPerSec, ExcludedSteps: t.excluded[i]}
		if total > 0 {
			r.Share = float64(t.rows[i]) / float64(total)
		}
		if t.wall[i] > 0 {
			r.IdleFrac = t.idle[i] / t.wall[i]
			s.MaxIdleFrac = max(s.MaxIdleFrac, r.IdleFrac)
		}
		s.Replicas[i] = r
		s.Last[i] = sh.Rows
	}
	extra["schedule"] = s
	t.steps, t.rows = 0, nil
	return extra
}

// addLossScale puts the fp16 loss scale into an epoch's metrics: the
// smallest scale over the GPU replicas (each stream scales its own loss) and
// the overflows, summed, that made a replica halve its scale and recompute
// a micro-batch.
func addLossScale(extra map[string]any, scalers []*device.LossScaler) {
	if len(scalers) == 0 {
		return
	}
	scale := scalers[0].Scale()
	var skipped int64
	for _, s := range scalers {
		scale = min(scale, s.Scale())
		skipped += s.Skipped()
	}
	extra["loss_scale"] = scale
	extra["skipped_steps"] = skipped
}

// mergeLastLine adds fields to the last object of a JSON lines file in
// place, leaving the fields already there as they were written. The
// training loop appends one object per epoch through its own append-mode
// handle, so rewriting the last line keeps the file one object per epoch.
func mergeLastLine(path string, extra map[string]any) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	body := bytes.TrimRight(b, "\n")
	start := bytes.LastIndexByte(body, '\n') + 1
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body[start:], &m); err != nil {
		return fmt.Errorf("metrics log %s: last line: %w", path, err)
	}
	for k, v := range extra {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("metrics log %s: %s: %w", path, k, err)
		}
		m[k] = raw
	}
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	line = append(line, '\n')
	if _, err := f.WriteAt(line, int64(start)); err != nil {
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	if err := f.Truncate(int64(start + len(line))); err != nil {
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	return nil
}
