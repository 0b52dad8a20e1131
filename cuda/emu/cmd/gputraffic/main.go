// Command gputraffic prints the GPU step budget of the default model: for
// each precision and for T=64 and T=256 at batch 128, one JSON object a
// line with the launches, host<->device bytes and host synchronisations of
// one warmed-up device-resident training step, measured on the emulated
// device (make gpu-traffic). With -run the kernels really execute (slow).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"trainer/cuda/emu"
)

func main() {
	run := flag.Bool("run", false, "execute the kernels instead of only counting them (minutes per step)")
	batch := flag.Int("batch", 128, "reviews per step")
	flag.Parse()
	enc := json.NewEncoder(os.Stdout)
	for _, prec := range []string{"fp32", "bf16", "fp16"} {
		for _, T := range []int{64, 256} {
			tr, err := emu.MeasureStep(emu.DefaultModel(), prec, *batch, T, !*run)
			if err != nil {
				fmt.Fprintln(os.Stderr, "gputraffic:", err)
				os.Exit(1)
			}
			if err := enc.Encode(tr); err != nil {
				fmt.Fprintln(os.Stderr, "gputraffic:", err)
				os.Exit(1)
			}
		}
	}
}
