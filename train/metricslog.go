package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// metricsLog is the run's JSON lines log, one object per epoch, each
// written once and whole by the loop.
type metricsLog struct {
	path string
	f    *os.File
}

// openMetricsLog opens the log at path for appending after its first keep
// lines: 0 starts a fresh log; a resumed run keeps the epochs its
// checkpoint completed and drops the lines of later ones (written after the
// checkpoint by a run that was then killed), which it writes again. A log
// with fewer than keep lines is kept whole.
func openMetricsLog(path string, keep int) (*metricsLog, error) {
	flag := os.O_CREATE | os.O_RDWR
	if keep == 0 {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics log: %w", err)
	}
	end, err := lineEnd(f, keep)
	if err == nil {
		err = f.Truncate(end)
	}
	if err == nil {
		_, err = f.Seek(end, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("metrics log %s: %w", path, err)
	}
	return &metricsLog{path: path, f: f}, nil
}

// lineEnd is the offset just after the first n lines of r (its size when it
// has fewer).
func lineEnd(r io.Reader, n int) (int64, error) {
	br := bufio.NewReader(r)
	var off int64
	for i := 0; i < n; i++ {
		line, err := br.ReadBytes('\n')
		off += int64(len(line))
		if errors.Is(err, io.EOF) {
			return off, nil
		}
		if err != nil {
			return 0, err
		}
	}
	return off, nil
}

// Write appends rec as one line.
func (m *metricsLog) Write(rec EpochRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("metrics log %s: %w", m.path, err)
	}
	if _, err := m.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics log %s: %w", m.path, err)
	}
	return nil
}

// Close closes the log.
func (m *metricsLog) Close() error { return m.f.Close() }
