package main

import (
	"os"

	"github.com/urfave/cli/v2"

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
