package main

import (
	"fmt"
	"math"
	"os"

	"trainer/model"
)

func main() {
	a, err := model.Load(os.Args[1])
	if err != nil {
		panic(err)
	}
	b, err := model.Load(os.Args[2])
	if err != nil {
		panic(err)
	}
	d := 0.0
	same := 0
	for i := range a.Params {
		d = math.Max(d, math.Abs(float64(a.Params[i]-b.Params[i])))
		if a.Params[i] == b.Params[i] {
			same++
		}
	}
	fmt.Printf("params %d, max |diff| %g, bit-equal %d\n", len(a.Params), d, same)
}
