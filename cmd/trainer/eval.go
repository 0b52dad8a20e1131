package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/predict"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "evaluate a trained model on a labelled file",
		Description: "Prints accuracy, mean BCE loss, precision, recall, F1, balanced accuracy and the confusion\n" +
			"matrix; --json prints them as one JSON object. The file is read with the model's preprocessing.",
		Flags: append(scoringFlags(predict.FP32), testFlag(), jsonFlag(), labelMapFlag(), skipBadFlag()),
		Action: func(c *cli.Context) error {
			if err := requireNoArgs(c); err != nil {
				return err
			}
			s, err := parseScoring(c)
			if err != nil {
				return err
			}
			if c.String(flagTest) == "" {
				return usagef("eval: --test FILE is required")
			}
			// Without --label-map the test file's labels mean what they
			// meant in training.
			o := predict.EvalOptions{Options: s.Predict, Reader: data.ReaderOptions{SkipBad: c.Bool(flagSkipBad)},
				ModelLabels: !c.IsSet(flagLabelMap)}
			if o.Reader.LabelMap, err = parseLabelMap(c); err != nil {
				return err
			}
			r, err := predict.EvalFile(c.Context, s.Model, c.String(flagTest), o)
			if err != nil {
				return fmt.Errorf("eval: %w", err)
			}
			if c.Bool(flagJSON) {
				return json.NewEncoder(c.App.Writer).Encode(r)
			}
			return r.WriteText(c.App.Writer)
		},
	}
}
