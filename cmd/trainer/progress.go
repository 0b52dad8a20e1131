package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/console"
)

// Log formats for status and progress lines on stderr.
const (
	logText = "text"
	logJSON = "json"
)

// logFormatFlag is the --log-format flag every long-running command takes.
func logFormatFlag() cli.Flag {
	return &cli.StringFlag{
		Name:  "log-format",
		Value: logText,
		Usage: "status and progress lines on stderr: text or json (json lines, one object each)",
	}
}

// newLogger reads --log-format from c: status lines and progress on the
// app's error writer.
func newLogger(c *cli.Context) (*console.Logger, error) {
	format := c.String("log-format")
	if format == "" {
		format = logText
	}
	if format != logText && format != logJSON {
		return nil, usagef("--log-format: %q is not text or json", format)
	}
	w := c.App.ErrWriter
	if w == nil {
		w = os.Stderr
	}
	return console.New(w, format == logJSON), nil
}

// stageMeters shows data.Prepare's events on log: a meter per stage
// (stages may overlap), warnings as warning lines. Call done when Prepare
// returns, with whether it succeeded: the meters still open end with their
// totals, or without them after a failure.
func stageMeters(log *console.Logger) (progress func(data.ProgressEvent), done func(ok bool)) {
	meters := map[string]*console.Meter{}
	var order []*console.Meter // for done, in the order the stages began
	progress = func(e data.ProgressEvent) {
		if e.Warning != "" {
			log.Warnf("%s", e.Warning)
			return
		}
		m := meters[e.Stage]
		if m == nil {
			m = log.Meter(e.Stage, e.Total, true, "reviews")
			meters[e.Stage] = m
			order = append(order, m)
		}
		m.Update(e.Done, e.Reviews)
		if e.Final {
			m.Finish()
		}
	}
	return progress, func(ok bool) {
		for _, m := range order {
			if ok {
				m.Finish()
			} else {
				m.Abort()
			}
		}
	}
}
