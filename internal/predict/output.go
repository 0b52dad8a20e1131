package predict

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"trainer/data"
	"trainer/model"
)

// Chunk is how many reviews of a file or stdin predict and encode read,
// handle and write at a time: enough for long, well-filled batches on
// every worker, small enough that output starts at once and memory stays
// flat on any input size.
const Chunk = 16384

// WriteEach hands src's reviews in input order to write, Chunk at a time
// from a file or stdin, all at once when they were given, with w buffered
// and flushed at the end.
func WriteEach(w io.Writer, src data.TextSource, write func(w io.Writer, texts []string) error) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	err := src.Each(Chunk, func(texts []string) error { return write(bw, texts) })
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// Line is one review's prediction as `trainer predict --json` prints it.
type Line struct {
	Label string  `json:"label"` // Label(P(positive))
	Prob  float64 `json:"prob"`  // P(positive), rounded to 4 decimals
	Text  string  `json:"text"`
}

// Label names the class of P(positive) prob: "pos" above one half, else
// "neg", the rule of every surface that labels a review.
func Label(prob float64) string {
	if prob > 0.5 {
		return "pos"
	}
	return "neg"
}

// tsvSpace keeps a review on its line and in its column.
var tsvSpace = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

// WritePredictions writes one line per text in order: TSV
// "label<TAB>probability<TAB>text", the probability with 4 decimals and
// tabs and line breaks of the text as spaces, or with asJSON one Line.
func WritePredictions(w io.Writer, texts []string, prob []float64, asJSON bool) error {
	var line []byte
	enc := json.NewEncoder(w)
	for i, t := range texts {
		label := Label(prob[i])
		p := float64(int64(prob[i]*10000+0.5)) / 10000
		if asJSON {
			if err := enc.Encode(Line{Label: label, Prob: p, Text: t}); err != nil {
				return err
			}
			continue
		}
		line = append(line[:0], label...)
		line = append(line, '\t')
		line = strconv.AppendFloat(line, p, 'f', 4, 64)
		line = append(line, '\t')
		line = append(line, tsvSpace.Replace(t)...)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// Predict scores texts and writes their predictions (WritePredictions).
func (m *Model) Predict(w io.Writer, texts []string, asJSON bool) error {
	if len(texts) == 0 {
		return nil
	}
	prob, err := m.Score(texts)
	if err != nil {
		return err
	}
	return WritePredictions(w, texts, prob, asJSON)
}

// WriteInputs writes what the network reads for each text, one line per
// text in order, so that another runtime (an exported ONNX model) can be
// fed exactly what Predict scores: the token ids (Inputs), space
// separated, followed for a model with the wide n-gram path by a tab and
// the ids' n-gram features; with asJSON one {"ids", "length"} object, with
// "ngram_ids" for an n-gram model.
func (m *Model) WriteInputs(w io.Writer, texts []string, asJSON bool) error {
	enc := json.NewEncoder(w)
	cfg := m.File.Config
	var line []byte
	var feats []int32 // stays empty without the n-gram path
	for _, ids := range m.Inputs(texts) {
		// The features of the ids the network reads, cut as Predict cuts
		// them, so that the graph's wide term is Predict's.
		feats = model.NgramFeatures(ids, cfg, feats)
		if asJSON {
			if err := enc.Encode(struct {
				IDs      []int32 `json:"ids"`
				Length   int     `json:"length"`
				NgramIDs []int32 `json:"ngram_ids,omitempty"`
			}{ids, len(ids), feats}); err != nil {
				return err
			}
			continue
		}
		line = appendInts(line[:0], ids)
		if cfg.Ngrams > 0 {
			line = appendInts(append(line, '\t'), feats)
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
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
