package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
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
			modelFileFlag(),
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address (port 0: any free port, logged at start)"},
			precisionFlag(predict.Int8),
			workersFlag(),
			&cli.IntFlag{Name: "max-batch", Value: serve.DefaultMaxBatch, Usage: "reviews per scored batch (concurrent requests are coalesced up to this)"},
			&cli.DurationFlag{Name: "max-delay", Value: serve.DefaultMaxDelay, Usage: "longest a review waits for others to fill its batch while a scorer is free"},
			&cli.Int64Flag{Name: "max-body", Value: serve.DefaultMaxBody, Usage: "largest request body in bytes (413 above)"},
			&cli.IntFlag{Name: "max-texts", Value: serve.DefaultMaxTexts, Usage: "most reviews per request (413 above)"},
			&cli.IntFlag{Name: "max-inflight", Value: serve.DefaultMaxInflight, Usage: "prediction requests answered at once (503 with Retry-After above)"},
			&cli.DurationFlag{Name: "timeout", Value: serve.DefaultTimeout, Usage: "per prediction request (504 after)"},
			&cli.DurationFlag{Name: "drain-timeout", Value: serve.DefaultDrain, Usage: "on SIGTERM, longest wait for requests in flight"},
			&cli.BoolFlag{Name: "watch", Usage: "reload the model when its file changes (polled every --watch-interval)"},
			&cli.DurationFlag{Name: "watch-interval", Value: 2 * time.Second, Usage: "how often --watch looks at the model file"},
			logFormatFlag(),
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug (one line per request), info, warn or error"},
		},
		Action: func(c *cli.Context) error {
			opt, err := parseServe(c)
			if err != nil {
				return err
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

// parseServe reads serve's flags into the server's options.
func parseServe(c *cli.Context) (o serve.Options, err error) {
	if err := requireNoArgs(c); err != nil {
		return o, err
	}
	if o.ModelPath, err = parseModelFile(c); err != nil {
		return o, err
	}
	if o.Workers, err = parseWorkers(c); err != nil {
		return o, err
	}
	for _, name := range []string{"max-batch", "max-texts", "max-inflight"} {
		if c.Int(name) < 1 {
			return o, usagef("serve: --%s must be at least 1, got %d", name, c.Int(name))
		}
	}
	if c.Int64("max-body") < 1 || c.Duration("timeout") <= 0 || c.Duration("max-delay") < 0 {
		return o, usagef("serve: --max-body and --timeout must be positive, --max-delay not negative")
	}
	if o.Int8, err = parsePrecision(c); err != nil {
		return o, err
	}
	// The server logs through log/slog, in the --log-format every command
	// takes.
	log, err := newLogger(c)
	if err != nil {
		return o, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return o, usagef("serve: --log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	o.Logger = serve.NewLogger(c.App.ErrWriter, log.JSON(), level)
	o.MaxBatch, o.MaxDelay, o.MaxBody = c.Int("max-batch"), c.Duration("max-delay"), c.Int64("max-body")
	o.MaxTexts, o.MaxInflight, o.Timeout = c.Int("max-texts"), c.Int("max-inflight"), c.Duration("timeout")
	o.Drain = c.Duration("drain-timeout")
	if o.MaxDelay == 0 {
		o.MaxDelay = -1 // an explicit 0: no waiting at all
	}
	if c.Bool("watch") {
		o.Watch = c.Duration("watch-interval")
	}
	return o, nil
}
