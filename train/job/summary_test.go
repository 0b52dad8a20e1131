package job

import (
	"bytes"
	"testing"

	"trainer/train"
)

// TestWriteSummary: the closing table reports the best epoch's test
// scores when there are some, its dev scores otherwise, and names the
// model file only when one was written.
func TestWriteSummary(t *testing.T) {
	dev, test := &train.Metrics{Accuracy: 0.9, Loss: 0.25}, &train.Metrics{Accuracy: 0.875, Loss: 0.3}
	cases := []struct {
		name string
		best train.EpochRecord
		path string
		want string
	}{
		{"dev", train.EpochRecord{Dev: dev}, "run/model.bin",
			"CPUs used  approach      accuracy (dev)  loss    training time  tokens/s  epochs  best epoch\n" +
				"2          DDP x2 (CPU)  90.00%          0.2500  1.5s           1000      3       2\n" +
				"model: run/model.bin\n"},
		{"test", train.EpochRecord{Dev: dev, Test: test}, "",
			"CPUs used  approach      accuracy (test)  loss    training time  tokens/s  epochs  best epoch\n" +
				"2          DDP x2 (CPU)  87.50%           0.3000  1.5s           1000      3       2\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Result{Summary: train.Summary{Epochs: 3, BestEpoch: 2, BestRecord: c.best, Seconds: 1.54,
				Last: train.EpochRecord{TokensPerS: 1000}}, Approach: "DDP x2 (CPU)", CPUs: 2, ModelPath: c.path}
			var buf bytes.Buffer
			if err := r.WriteSummary(&buf); err != nil {
				t.Fatal(err)
			}
			if buf.String() != c.want {
				t.Fatalf("got\n%s\nwant\n%s", buf.String(), c.want)
			}
		})
	}
}
