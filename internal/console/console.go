// Package console writes a command's status lines and progress meters to
// stderr: a progress bar on a terminal, plain lines in a log, or JSON lines
// (one object each) for machines.
package console

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"
)

// plainInterval spaces progress lines when stderr is not a terminal, so that
// logs stay readable.
const plainInterval = 2 * time.Second

// Logger writes a command's status lines and progress to stderr: a
// progress bar on a terminal, plain lines or JSON lines otherwise.
type Logger struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	tty  bool
}

// IsTerminal reports whether w is a terminal, where a progress bar can
// redraw itself.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Event writes one JSON line with the common fields and the given ones
// (which it extends).
func (l *Logger) Event(kind string, fields map[string]any) {
	fields["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	fields["event"] = kind
	b, _ := json.Marshal(fields)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(append(b, '\n'))
}

// Infof writes a status line.
func (l *Logger) Infof(format string, args ...any) { l.line("info", format, args...) }

// Warnf writes a warning line.
func (l *Logger) Warnf(format string, args ...any) { l.line("warning", format, args...) }

func (l *Logger) line(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.json {
		l.Event("log", map[string]any{"level": level, "msg": msg})
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if level == "warning" {
		msg = "warning: " + msg
	}
	fmt.Fprintf(l.w, "trainer: %s\n", msg)
}

// Meter reports the progress of one stage: done out of total units (bytes
// when bytes is set; total < 0 when unknown) and items processed (reviews).
type Meter struct {
	l       *Logger
	stage   string
	total   int64
	bytes   bool
	item    string
	start   time.Time
	last    time.Time
	bar     *progressbar.ProgressBar
	done    int64
	items   int64
	stopped bool
}

// Meter starts a progress meter for a stage; call Update as work is done
// and Finish at the end.
func (l *Logger) Meter(stage string, total int64, bytes bool, item string) *Meter {
	m := &Meter{l: l, stage: stage, total: total, bytes: bytes, item: item, start: time.Now()}
	m.last = m.start
	if l.tty {
		m.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(l.w),
			progressbar.OptionSetDescription(stage),
			progressbar.OptionShowBytes(bytes),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(l.w) }),
		)
	}
	return m
}

// Update records that done units and items are complete so far.
func (m *Meter) Update(done, items int64) {
	if m == nil || m.stopped {
		return
	}
	m.done, m.items = done, items
	now := time.Now()
	if m.bar != nil {
		if now.Sub(m.last) >= 250*time.Millisecond {
			m.last = now
			rate := float64(items) / max(now.Sub(m.start).Seconds(), 1e-9)
			m.bar.Describe(fmt.Sprintf("%s %s %s, %s/s", m.stage, Human(float64(items)), m.item, Human(rate)))
		}
		m.bar.Set64(done)
		return
	}
	if now.Sub(m.last) >= plainInterval {
		m.last = now
		m.report(now, false)
	}
}

// Finish ends the meter and reports the final totals.
func (m *Meter) Finish() {
	if m == nil || m.stopped {
		return
	}
	m.stopped = true
	if m.bar != nil {
		if m.total >= 0 {
			m.bar.Set64(m.total)
		}
		m.bar.Finish()
		return
	}
	m.report(time.Now(), true)
}

// Abort ends the meter without a final report, after a failure.
func (m *Meter) Abort() {
	if m == nil || m.stopped {
		return
	}
	m.stopped = true
	if m.bar != nil {
		m.bar.Exit()
		fmt.Fprintln(m.l.w)
	}
}

func (m *Meter) report(now time.Time, final bool) {
	secs := now.Sub(m.start).Seconds()
	rate := float64(m.items) / max(secs, 1e-9)
	unitRate := float64(m.done) / max(secs, 1e-9)
	eta := -1.0
	if m.total > 0 && m.done > 0 && !final {
		eta = secs * float64(m.total-m.done) / float64(m.done)
	}
	if m.l.json {
		f := map[string]any{"stage": m.stage, "done": m.done, "total": m.total, m.item: m.items,
			m.item + "_per_s": Round1(rate), "seconds": Round1(secs), "final": final}
		if m.bytes {
			f["mb_per_s"] = Round1(unitRate / 1e6)
		}
		if eta >= 0 {
			f["eta_s"] = Round1(eta)
		}
		m.l.Event("progress", f)
		return
	}
	var s string
	if m.total > 0 {
		s = fmt.Sprintf("%s: %3.0f%%", m.stage, 100*float64(m.done)/float64(m.total))
	} else {
		s = m.stage + ":"
	}
	s += fmt.Sprintf(" %s %s, %s %s/s", Human(float64(m.items)), m.item, Human(rate), m.item)
	if m.bytes {
		s += fmt.Sprintf(", %.0f MB/s", unitRate/1e6)
	}
	if eta >= 0 {
		s += fmt.Sprintf(", ETA %.0fs", eta)
	}
	if final {
		s += fmt.Sprintf(", done in %.1fs", secs)
	}
	m.l.Infof("%s", s)
}

// Human formats a count compactly: 950, 12.3k, 3.6M.
func Human(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	default:
		return fmt.Sprintf("%.0f", x)
	}
}

// Round1 rounds x to one decimal, for JSON figures people read.
func Round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

// New returns a logger on w: JSON lines when json is set, otherwise plain
// lines, with progress bars when w is a terminal.
func New(w io.Writer, json bool) *Logger {
	return &Logger{w: w, json: json, tty: !json && IsTerminal(w)}
}

// JSON reports whether the logger writes JSON lines.
func (l *Logger) JSON() bool { return l.json }

// SetStage renames the meter's stage, for a description that changes as
// the work goes (an epoch's running loss).
func (m *Meter) SetStage(stage string) {
	if m != nil {
		m.stage = stage
	}
}
