package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"trainer/internal/predict"
)

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:      "predict",
		Usage:     "label reviews with a trained model",
		ArgsUsage: "(TEXT... | --file FILE | -)",
		Description: "Scores reviews given as arguments, one per line in --file FILE, or one per line on stdin (-).\n" +
			"A leading fastText label (__label__X) on a line is ignored, so labelled files work too.\n" +
			"Output, one line per review in input order: TSV \"label<TAB>probability<TAB>text\" where label is\n" +
			"pos or neg and probability is P(pos) with 4 decimals (tabs and newlines in the text become spaces),\n" +
			"or with --json one JSON object per line: {\"label\":\"pos\",\"prob\":0.9731,\"text\":\"...\"}.\n" +
			"A review with no words left after cleaning is scored as a single unknown word.",
		Flags: append(scoringFlags(predict.Int8), reviewsFileFlag(), jsonFlag()),
		Action: func(c *cli.Context) error {
			o, err := parseScoring(c)
			if err != nil {
				return err
			}
			src, err := parseReviews(c)
			if err != nil {
				return err
			}
			defer src.Close()
			m, err := predict.Load(o.Model, o.Predict)
			if err != nil {
				return fmt.Errorf("predict: %w", err)
			}
			asJSON := c.Bool(flagJSON)
			if err := predict.WriteEach(c.App.Writer, src, func(w io.Writer, texts []string) error { return m.Predict(w, texts, asJSON) }); err != nil {
				return fmt.Errorf("predict: %w", err)
			}
			return nil
		},
	}
}
