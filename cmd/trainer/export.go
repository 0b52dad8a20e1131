package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"trainer/internal/onnx"
	"trainer/model"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a model in a portable format (ONNX)",
		Description: "Writes OUT/model.onnx (opset 17): inputs ids int64 [batch, time] (trainer encode's ids, 0-padded)\n" +
			"and lengths int64 [batch]; outputs prob (P(positive)) and logit, float [batch]. The vocabulary,\n" +
			"preprocessing and max length are in the model's metadata (keys trainer.*).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "model file written by train (OUT/model.bin)"},
			&cli.StringFlag{Name: "format", Value: "onnx", Usage: "onnx (the only format so far)"},
			&cli.StringFlag{Name: "out", Usage: "output directory (created if missing)"},
		},
		Action: func(c *cli.Context) error {
			if err := requireNoArgs(c); err != nil {
				return err
			}
			switch {
			case c.String("model") == "":
				return usagef("export: --model FILE is required")
			case c.String("out") == "":
				return usagef("export: --out DIR is required")
			case c.String("format") != "onnx":
				return usagef("export: --format %q: want onnx", c.String("format"))
			}
			f, err := model.Load(c.String("model"))
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := os.MkdirAll(c.String("out"), 0o755); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			path := filepath.Join(c.String("out"), "model.onnx")
			if err := onnx.Write(path, f); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, path)
			return nil
		},
	}
}
