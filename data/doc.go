// Package data turns raw review files into training batches: readers for
// fastText lines and Zhang's CSV (plain, gzip, bzip2, stdin), cleaning and
// tokenization, the vocabulary, the encoded on-disk cache, the batcher that
// shards batches over replicas, and the synthetic corpus generator.
package data
