// Writing a file so that a crash never leaves it half-written: the bytes go to
// a temporary file beside it ("<path>.tmp.<pid>"), are flushed to the disk,
// and the temporary file is renamed over the path. On any failure the
// temporary file is removed and an ember::Error names `who`, the path and
// the reason; the old file, if any, is untouched.
//
// Checkpoints (nn/safetensors.cpp), training records (train/progress.cpp) and
// plots (train/plot.cpp) are all written this way.
#pragma once

#include <string>
#include <string_view>

namespace ember::runtime {

void write_file_atomically(const std::string& path, std::string_view bytes, std::string_view who);

}  // namespace ember::runtime
