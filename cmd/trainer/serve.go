package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"trainer/internal/predict"
	"trainer/internal/serve"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "answer predictions over HTTP",
		Description: "POST /v1/predict {\"texts\": [...]} (or {\"text\": \"...\"}, or text/plain, one review a line) returns\n" +
			"{\"predictions\": [{\"label\": \"pos\", \"prob\": 0.97}, ...]} in request order, scored exactly as predict\n" +
			"scores them. GET /v1/model, /healthz, /readyz, /metrics (Prometheus). SIGHUP (or --watch) reloads the\n" +
			"model file, keeping the old model if the new one is damaged; SIGTERM or SIGINT drains and exits 0.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "model file written by train (OUT/model.bin)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address (port 0: any free port, logged at start)"},
			precisionFlag(predict.Int8),
			&cli.IntFlag{Name: "workers", Value: runtime.NumCPU(), Usage: "scorer goroutines"},
			&cli.IntFlag{Name: "max-batch", Value: serve.DefaultMaxBatch, Usage: "reviews per scored batch (concurrent requests are coalesced up to this)"},
			&cli.DurationFlag{Name: "max-delay", Value: serve.DefaultMaxDelay, Usage: "longest a review waits for others to fill its batch while a scorer is free"},
			&cli.Int64Flag{Name: "max-body", Value: serve.DefaultMaxBody, Usage: "largest request body in bytes (413 above)"},
			&cli.IntFlag{Name: "max-texts", Value: serve.DefaultMaxTexts, Usage: "most reviews per request (413 above)"},
			&cli.IntFlag{Name: "max-inflight", Value: serve.DefaultMaxInflight, Usage: "prediction requests answered at once (503 with Retry-After above)"},
			&cli.DurationFlag{Name: "timeout", Value: serve.DefaultTimeout, Usage: "per prediction request (504 after)"},
			&cli.DurationFlag{Name: "drain-timeout", Value: serve.DefaultDrain, Usage: "on SIGTERM, longest wait for requests in flight"},
			&cli.BoolFlag{Name: "watch", Usage: "reload the model when its file changes (polled every --watch-interval)"},
			&cli.DurationFlag{Name: "watch-interval", Value: 2 * time.Second, Usage: "how often --watch looks at the model file"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json (log/slog, on stderr)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug (one line per request), info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			if err := requireNoArgs(c); err != nil {
				return err
			}
			if c.String("model") == "" {
				return usagef("serve: --model FILE is required")
			}
			for _, name := range []string{"workers", "max-batch", "max-texts", "max-inflight"} {
				if c.Int(name) < 1 {
					return usagef("serve: --%s must be at least 1, got %d", name, c.Int(name))
				}
			}
			if c.Int64("max-body") < 1 || c.Duration("timeout") <= 0 || c.Duration("max-delay") < 0 {
				return usagef("serve: --max-body and --timeout must be positive, --max-delay not negative")
			}
			q8, err := int8Precision("serve", c.String("precision"))
			if err != nil {
				return err
			}
			logger, err := serveLogger(c)
			if err != nil {
				return err
			}
			opt := serve.Options{ModelPath: c.String("model"), Int8: q8, Workers: c.Int("workers"),
				MaxBatch: c.Int("max-batch"), MaxDelay: c.Duration("max-delay"), MaxBody: c.Int64("max-body"),
				MaxTexts: c.Int("max-texts"), MaxInflight: c.Int("max-inflight"), Timeout: c.Duration("timeout"),
				Drain: c.Duration("drain-timeout"), Logger: logger}
			if opt.MaxDelay == 0 {
				opt.MaxDelay = -1 // an explicit 0: no waiting at all
			}
			if c.Bool("watch") {
				opt.Watch = c.Duration("watch-interval")
			}
			s, err := serve.New(opt)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return s.Run(ctx, c.String("addr"), nil)
		},
	}
}

// serveLogger builds serve's structured logger on stderr from --log-format
// and --log-level.
func serveLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usagef("serve: --log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	ho := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(c.App.ErrWriter, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.App.ErrWriter, ho)), nil
	}
	return nil, usagef("serve: --log-format %q: want text or json", c.String("log-format"))
}
