#pragma once
// A small synthetic corpus for the evaluation's own test (the test suite must pass without the real
// corpus in ../shared): procedural benign parts from geometry/shapes.h (brackets, plates, gears,
// nuts, knobs, tubes, rings, ...) with parameters drawn from a seed, each its own family, written as
// binary STL with a MANIFEST.tsv in the corpus format (file, source, license, triangles, bytes,
// family). Most parts are printable-size with enough triangles to serve as references; a few tiny or
// coarse ones exercise the reference filter.
#include <cstddef>
#include <cstdint>
#include <string>

namespace s3d::eval {

// Writes the corpus into `dir` (created if needed; existing files of the same names are replaced).
// Returns the number of model files written. Deterministic for a given seed. Throws std::runtime_error
// when the folder or a file cannot be written.
size_t write_synthetic_corpus(const std::string& dir, uint64_t seed);

}  // namespace s3d::eval
