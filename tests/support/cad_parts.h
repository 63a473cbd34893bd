#pragma once
// A STEP file of a CAD part for tests outside cad_reader_test.cpp, which builds its parts with
// OpenCASCADE: an L-bracket 60 x 30 x 40 mm with a lug and a hole, written in millimetres.
#include <string>

namespace s3d::test {

// Writes the bracket as STEP to test::temp_path(name) and returns that path.
std::string write_bracket_step(const std::string& name);

}  // namespace s3d::test
