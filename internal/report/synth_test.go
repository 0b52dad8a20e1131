package report

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trainer/data"
)

// naiveBayes is a word-count classifier trained on the fastText synthetic
// corpus of a seed: a real, if simple, model of that seed's reviews, so
// that the report runs on text and not on given probabilities.
type naiveBayes struct {
	tok   *data.Tokenizer
	logit map[string]float64
}

func trainNaiveBayes(t *testing.T, seed uint64, n int64) *naiveBayes {
	t.Helper()
	var buf bytes.Buffer
	if _, err := data.WriteSynth(context.Background(), &buf, data.SynthOptions{N: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	nb := &naiveBayes{tok: data.NewTokenizer(data.DefaultPreprocess()), logit: map[string]float64{}}
	var count [2]map[string]float64
	count[0], count[1] = map[string]float64{}, map[string]float64{}
	var total [2]float64
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		label, text, _ := strings.Cut(sc.Text(), " ")
		c := int(label[len(label)-1] - '1')
		for _, w := range nb.tok.Tokens(text) {
			count[c][string(w)]++
			total[c]++
		}
	}
	for w := range count[0] {
		count[1][w] += 0
	}
	for w := range count[1] {
		nb.logit[w] = math.Log((count[1][w]+1)/(total[1]+1)) - math.Log((count[0][w]+1)/(total[0]+1))
	}
	return nb
}

func (nb *naiveBayes) Score(texts []string) ([]float64, error) {
	p := make([]float64, len(texts))
	for i, s := range texts {
		var z float64
		for _, w := range nb.tok.Tokens(s) {
			z += nb.logit[string(w)]
		}
		p[i] = 1 / (1 + math.Exp(-z))
	}
	return p, nil
}

func synthExport(t *testing.T, seed uint64, n int64, products int, plants ...string) string {
	t.Helper()
	meta := &data.SynthMeta{Products: products}
	for _, s := range plants {
		p, err := data.ParsePlant(s)
		if err != nil {
			t.Fatal(err)
		}
		meta.Plants = append(meta.Plants, p)
	}
	path := filepath.Join(t.TempDir(), "meta.jsonl")
	if _, err := data.SynthFile(context.Background(), path, data.SynthOptions{N: n, Seed: seed, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReportFindsPlantedTrendsInSynth: synth --meta with planted trends,
// scored from the text by a model of the corpus, yields an alert for each
// planted product, its period within one month of the plant, and none
// for the others.
func TestReportFindsPlantedTrendsInSynth(t *testing.T) {
	const seed = 11
	nb := trainNaiveBayes(t, seed, 10000)
	plants := map[string]string{"P0002": "2021-06", "P0007": "2022-03"}
	path := synthExport(t, seed, 30000, 20,
		"product=P0002,from=2021-06,negative=0.85", "product=P0007,from=2022-03,negative=0.9")
	r, err := Build(context.Background(), path, nb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ra := r.RatingAgreement; ra == nil || ra.Agreement < 0.65 {
		t.Fatalf("the model agrees with the ratings on %+v; it should be far better than chance", ra)
	}
	found := map[string]bool{}
	for _, a := range r.Alerts {
		from, ok := plants[a.Group]
		if !ok {
			t.Errorf("alert on %s, which has no plant: %+v", a.Group, a)
			continue
		}
		want, _ := ParsePeriod(Month, from)
		got, _ := ParsePeriod(Month, a.Period)
		if d := got - want; d < -1 || d > 1 || a.NegativeShareAfter <= a.NegativeShareBefore || len(a.Examples) != DefaultExamples {
			t.Errorf("%s planted from %s: alert %+v", a.Group, from, a)
		}
		found[a.Group] = true
	}
	for g := range plants {
		if !found[g] {
			t.Errorf("planted change of %s not found; alerts %+v", g, r.Alerts)
		}
	}
}

// TestReportSynthFalseAlarms: 20 seeds of synth --meta with no plant;
// at most 2 may raise an alert. (It caught the metadata and the text of a
// block drawn from correlated generators: 3 of 20 seeds alerted.)
func TestReportSynthFalseAlarms(t *testing.T) {
	if testing.Short() {
		t.Skip("20 synthetic exports")
	}
	start := time.Now()
	alarmed := 0
	for seed := uint64(200); seed < 220; seed++ {
		nb := trainNaiveBayes(t, seed, 3000)
		path := synthExport(t, seed, 7000, 10)
		r, err := Build(context.Background(), path, nb, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.GroupsTested != 10 {
			t.Fatalf("seed %d: %d products tested, want 10", seed, r.GroupsTested)
		}
		if len(r.Alerts) > 0 {
			alarmed++
			t.Logf("seed %d: alert %s %s q %.3g", seed, r.Alerts[0].Group, r.Alerts[0].Period, r.Alerts[0].QValue)
		}
		os.Remove(path)
	}
	t.Logf("%d of 20 seeds without a plant raised an alert (%.1fs)", alarmed, time.Since(start).Seconds())
	if alarmed > 2 {
		t.Fatalf("%d of 20 seeds without a plant raised alerts, want at most 2", alarmed)
	}
}
