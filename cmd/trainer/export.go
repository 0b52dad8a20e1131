package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"trainer/internal/onnx"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a model in a portable format (ONNX)",
		Description: "Writes OUT/model.onnx (opset 17): inputs ids int64 [batch, time] (trainer encode's ids, 0-padded)\n" +
			"and lengths int64 [batch]; outputs prob (P(positive)) and logit, float [batch]. The vocabulary,\n" +
			"preprocessing and max length are in the model's metadata (keys trainer.*).",
		Flags: []cli.Flag{
			modelFileFlag(),
			&cli.StringFlag{Name: "format", Value: "onnx", Usage: "onnx (the only format so far)"},
			outFlag("", "output directory (created if missing)"),
		},
		Action: func(c *cli.Context) error {
			if err := requireNoArgs(c); err != nil {
				return err
			}
			modelPath, err := parseModelFile(c)
			if err != nil {
				return err
			}
			out, err := parseOut(c, "DIR")
			if err != nil {
				return err
			}
			if c.String("format") != "onnx" {
				return usagef("export: --format %q: want onnx", c.String("format"))
			}
			path, err := onnx.Export(modelPath, out)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, path)
			return nil
		},
	}
}
