package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/predict"
	"trainer/model"
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
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "model file written by train (OUT/model.bin)"},
			&cli.StringFlag{Name: "file", Usage: "read reviews from this file, one per line"},
			&cli.BoolFlag{Name: "json", Usage: "JSON lines instead of space-separated ids"},
		},
		Action: func(c *cli.Context) error {
			if c.String("model") == "" {
				return usagef("encode: --model FILE is required")
			}
			texts, err := readReviews(c, "encode")
			if err != nil {
				return err
			}
			m, err := predict.Load(c.String("model"), predict.Options{Workers: 1})
			if err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			out := bufio.NewWriterSize(c.App.Writer, 1<<16)
			enc := json.NewEncoder(out)
			cfg := m.File.Config
			var line []byte
			var feats []int32 // stays empty without the n-gram path
			for _, ids := range m.Inputs(texts) {
				// The features of the ids the network reads, cut as
				// predict cuts them, so the graph's wide term is predict's.
				feats = model.NgramFeatures(ids, cfg, feats)
				if c.Bool("json") {
					if err := enc.Encode(struct {
						IDs      []int32 `json:"ids"`
						Length   int     `json:"length"`
						NgramIDs []int32 `json:"ngram_ids,omitempty"`
					}{ids, len(ids), feats}); err != nil {
						return fmt.Errorf("encode: %w", err)
					}
					continue
				}
				line = appendInts(line[:0], ids)
				if cfg.Ngrams > 0 {
					line = appendInts(append(line, '\t'), feats)
				}
				line = append(line, '\n')
				if _, err := out.Write(line); err != nil {
					return fmt.Errorf("encode: %w", err)
				}
			}
			if err := out.Flush(); err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			return nil
		},
	}
}

// appendInts appends v to line, space separated.
func appendInts(line []byte, v []int32) []byte {
	for k, x := range v {
		if k > 0 {
			line = append(line, ' ')
		}
		line = strconv.AppendInt(line, int64(x), 10)
	}
	return line
}

// readReviews collects a command's reviews from its arguments, --file or
// stdin (-), one review a line with any leading fastText label dropped, as
// predict reads them.
func readReviews(c *cli.Context, cmd string) ([]string, error) {
	args := c.Args().Slice()
	file := c.String("file")
	var src io.Reader
	name := file
	switch {
	case file != "" && len(args) > 0:
		return nil, usagef("%s: give texts as arguments or --file, not both", cmd)
	case len(args) == 1 && args[0] == "-":
		src, name = c.App.Reader, "stdin"
		if src == nil {
			src = os.Stdin
		}
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		defer f.Close()
		src = f
	case len(args) == 0:
		return nil, usagef("%s: no reviews: give TEXT arguments, --file FILE or - for stdin", cmd)
	default:
		return args, nil
	}
	// Compression and CR-only line endings are detected from the content,
	// as predict and the review readers detect them.
	src, _, err := data.Decompress(src)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", cmd, name, err)
	}
	sc := bufio.NewScanner(data.NormalizeCR(src))
	sc.Buffer(make([]byte, 0, 1<<16), data.DefaultMaxRecordBytes)
	var texts []string
	for sc.Scan() {
		texts = append(texts, data.StripFastTextLabel(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s line %d: %w", cmd, name, len(texts)+1, err)
	}
	return texts, nil
}
