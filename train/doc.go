// Package train runs data-parallel training. Assemble turns a RunConfig
// (model, optimizer, devices, pipeline, ranks, loop) into a ready Run: the
// replicas of every device behind the train/device contract, the hybrid
// GPU+CPU scheduler, pipeline stages, the MPI rank wrapper, and the Engine
// (all-reduce of one flat gradient buffer, optimizer step on fp32 master
// weights) or a resident device that steps itself, under the Loop with its
// checkpoints and metrics log. Benchmarks and train/job, which runs a
// whole training job from typed options (the command line's train and
// tune), call Assemble.
package train
