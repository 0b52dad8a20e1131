package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"trainer/internal/predict"
)

func encodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "encode",
		Usage:     "print the token ids (and n-gram features) predict feeds the network",
		ArgsUsage: "(TEXT... | --file FILE | -)",
		Description: "One line per review in input order: the token ids, space separated, after the model's cleaning,\n" +
			"tokenizer, vocabulary and --max-len cut, exactly what predict scores (a review with no words left is\n" +
			"the unknown word, id 1). A model with the wide n-gram path (--ngrams) also reads each review's n-gram\n" +
			"features: they follow the ids after a tab, space separated. With --json: {\"ids\": [...], \"length\": N},\n" +
			"plus \"ngram_ids\": [...] for an n-gram model. A leading fastText label is ignored.\n" +
			"Feed these ids, lengths and n-gram features (padded with -1) to an exported model (trainer export)\n" +
			"to get predict's probabilities.",
		Flags: []cli.Flag{modelFileFlag(), reviewsFileFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			path, err := parseModelFile(c)
			if err != nil {
				return err
			}
			src, err := parseReviews(c)
			if err != nil {
				return err
			}
			defer src.Close()
			m, err := predict.Load(path, predict.Options{Workers: 1})
			if err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			asJSON := c.Bool(flagJSON)
			if err := predict.WriteEach(c.App.Writer, src, func(w io.Writer, texts []string) error { return m.WriteInputs(w, texts, asJSON) }); err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			return nil
		},
	}
}
