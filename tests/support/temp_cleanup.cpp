// Removes what a passing test left under test::temp_path (the "s3d_<test>_<pid>_" entries of the
// test temp folder) when it ends, so that runs of the suite do not fill /tmp: a failing test's files
// stay for a look. Registered once, before main, as a GoogleTest event listener.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace {

class TempCleanup : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result() == nullptr || info.result()->Failed()) return;
    const std::string prefix = std::string("s3d_") + info.name() + "_" + std::to_string(::getpid()) + "_";
    std::error_code ec;
    std::vector<std::filesystem::path> mine;
    for (std::filesystem::directory_iterator it(::testing::TempDir(), ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename().string().rfind(prefix, 0) == 0) mine.push_back(it->path());
    for (const auto& p : mine) std::filesystem::remove_all(p, ec);  // best effort
  }
};

const bool kRegistered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new TempCleanup);  // GoogleTest owns it
  return true;
}();

}  // namespace
