// Package train runs data-parallel training: replicas that compute loss and
// gradients on their share of each global batch, the all-reduce of one flat
// gradient buffer, the optimizer step on fp32 master weights, loss scaling,
// checkpoints, metrics, the hybrid GPU+CPU scheduler and pipeline stages.
package train
