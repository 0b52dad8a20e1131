package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"trainer/data"
	"trainer/internal/predict"
)

// predictChunk is how many reviews predict reads, scores and writes at a
// time: enough for long, well-filled batches on every worker, small enough
// that output starts at once and memory stays flat on any input size.
const predictChunk = 16384

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
		Flags: []cli.Flag{modelFileFlag(), &cli.StringFlag{Name: "file", Usage: "read reviews from this file, one per line"},
			jsonFlag(), workersFlag(), batchSizeFlag(256), precisionFlag(predict.Int8)},
		Action: func(c *cli.Context) error {
			if c.String(flagModel) == "" {
				return usagef("predict: --model FILE is required")
			}
			workers, err := parseWorkers(c)
			if err != nil {
				return err
			}
			batch, err := parseBatchSize(c)
			if err != nil {
				return err
			}
			args := c.Args().Slice()
			file := c.String("file")
			var src io.Reader
			switch {
			case file != "" && len(args) > 0:
				return usagef("predict: give texts as arguments or --file, not both")
			case len(args) > 1 && slices.Contains(args, "-"):
				return usagef("predict: - reads stdin and takes no other arguments, got %q", args)
			case len(args) == 1 && args[0] == "-":
				src = c.App.Reader
				if src == nil {
					src = os.Stdin
				}
			case file != "":
				f, err := os.Open(file)
				if err != nil {
					return fmt.Errorf("predict: %w", err)
				}
				defer f.Close()
				src = f
			case len(args) == 0:
				return usagef("predict: no reviews: give TEXT arguments, --file FILE or - for stdin")
			}
			q8, err := int8Precision("predict", c.String("precision"))
			if err != nil {
				return err
			}
			m, err := predict.Load(c.String("model"), predict.Options{Workers: workers, Int8: q8, BatchSize: batch})
			if err != nil {
				return fmt.Errorf("predict: %w", err)
			}
			p := &predictor{m: m, json: c.Bool("json")}
			out := bufio.NewWriterSize(c.App.Writer, 1<<16)
			if src == nil {
				err = p.run(slices.Values(args), out)
			} else {
				err = p.runReader(src, out, file)
			}
			if ferr := out.Flush(); err == nil && ferr != nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("predict: %w", err)
			}
			return nil
		},
	}
}

// predictor scores reviews chunk by chunk with one model.
type predictor struct {
	m    *predict.Model
	json bool
}

// runReader scores every line of r.
func (p *predictor) runReader(r io.Reader, out io.Writer, name string) error {
	if name == "" {
		name = "stdin"
	}
	// Compression and CR-only line endings are detected from the content,
	// as the review readers detect them.
	r, _, err := data.Decompress(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	sc := bufio.NewScanner(data.NormalizeCR(r))
	sc.Buffer(make([]byte, 0, 1<<16), data.DefaultMaxRecordBytes)
	line := 0
	var chunk []string
	for sc.Scan() {
		line++
		chunk = append(chunk, data.StripFastTextLabel(sc.Text()))
		if len(chunk) == predictChunk {
			if err := p.score(chunk, out); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", name, line+1, err)
	}
	return p.score(chunk, out)
}

// run scores texts given in memory.
func (p *predictor) run(texts func(func(string) bool), out io.Writer) error {
	var chunk []string
	for t := range texts {
		chunk = append(chunk, t)
	}
	return p.score(chunk, out)
}

// score runs texts through the model and writes one line per text in
// input order.
func (p *predictor) score(texts []string, out io.Writer) error {
	if len(texts) == 0 {
		return nil
	}
	prob, err := p.m.Score(texts)
	if err != nil {
		return err
	}
	return p.write(texts, prob, out)
}

type predictionJSON struct {
	Label string  `json:"label"`
	Prob  float64 `json:"prob"`
	Text  string  `json:"text"`
}

var tsvSpace = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func (p *predictor) write(texts []string, prob []float64, out io.Writer) error {
	var line []byte
	enc := json.NewEncoder(out)
	for i, t := range texts {
		label := "neg"
		if prob[i] > 0.5 {
			label = "pos"
		}
		pr := float64(int64(prob[i]*10000+0.5)) / 10000
		if p.json {
			if err := enc.Encode(predictionJSON{Label: label, Prob: pr, Text: t}); err != nil {
				return err
			}
			continue
		}
		line = append(line[:0], label...)
		line = append(line, '\t')
		line = strconv.AppendFloat(line, pr, 'f', 4, 64)
		line = append(line, '\t')
		line = append(line, tsvSpace.Replace(t)...)
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	return nil
}
