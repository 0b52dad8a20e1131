// Command modeltool is the part of the hostile suite (scripts/abuse.sh)
// that needs the model file's structure: it compares two models' weights
// bit for bit, and writes a well-formed model file whose weights include a
// NaN, as a hostile user could craft one.
//
//	modeltool same-weights A B   exit 0 if A and B hold bit-identical weights, 1 if not
//	modeltool poison IN OUT      OUT = IN with its first weight set to NaN, saved as a valid file
package main

import (
	"fmt"
	"math"
	"os"

	"trainer/model"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "modeltool: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: modeltool same-weights A B | poison IN OUT")
	}
	a, err := model.Load(args[1])
	if err != nil {
		return err
	}
	switch args[0] {
	case "same-weights":
		b, err := model.Load(args[2])
		if err != nil {
			return err
		}
		if len(a.Params) != len(b.Params) {
			return fmt.Errorf("%d weights against %d", len(a.Params), len(b.Params))
		}
		for i := range a.Params {
			if math.Float32bits(a.Params[i]) != math.Float32bits(b.Params[i]) {
				return fmt.Errorf("weight %d of %d differs: %g against %g", i, len(a.Params), a.Params[i], b.Params[i])
			}
		}
		return nil
	case "poison":
		a.Params[0] = float32(math.NaN())
		return model.Save(args[2], a)
	}
	return fmt.Errorf("unknown action %q", args[0])
}
